"""What providers share across tenants: TLS contexts and connection pools, never trust or state.

And the per-tenant retry limits of exoform.yaml (``retry_max_attempts``, ``retry_max_seconds``).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import trustme

from reconciler.errors import ReadError
from reconciler.providers.auth import tls_context
from reconciler.providers.exchange import open_exchange
from reconciler.providers.registry import open_provider
from tests.providers.conftest import Rig

SEED = {"InboundConnector": [{"Name": "In", "ConnectorType": "Partner", "SenderDomains": ["in.example.com"]}]}


def _subjects(context: ssl.SSLContext) -> set[str]:
    return {str(cert.get("subject")) for cert in context.get_ca_certs()}


def test_tls_context_is_built_once_per_bundle_and_again_when_the_file_changes(tmp_path: Path) -> None:
    first, second = trustme.CA(organization_name="first CA"), trustme.CA(organization_name="second CA")
    bundle = tmp_path / "ca.pem"
    first.cert_pem.write_to_path(str(bundle))
    context = tls_context(bundle)
    assert tls_context(bundle) is context
    assert tls_context(tmp_path / "." / "ca.pem") is context  # the same file by another spelling
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert any("first CA" in s for s in _subjects(context))

    second.cert_pem.write_to_path(str(bundle))  # replaced on disk (another size or mtime)
    renewed = tls_context(bundle)
    assert renewed is not context
    assert any("second CA" in s for s in _subjects(renewed))
    assert tls_context(None) is tls_context(None)


def test_providers_reuse_connections_across_tenants(make_rig: Callable[..., Rig]) -> None:
    """Six providers one after the other: each would open at least one connection of its own; shared, the
    pool never needs more than the three concurrent listings of one read."""
    rig = make_rig(seed=SEED)
    for _ in range(6):
        provider = rig.provider()
        assert [c.name for c in provider.read().connectors] == ["In"]
        provider.close()
    assert rig.server.connections_accepted <= 3


def test_a_closed_provider_does_not_close_another_ones_connections(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(seed=SEED)
    one, two = rig.provider(), rig.provider()
    one.read()
    two.read()
    one.close()
    one.close()  # closing twice releases once
    assert [c.name for c in two.read().connectors] == ["In"]


def test_pools_are_not_shared_between_different_trust(make_rig: Callable[..., Rig], tmp_path: Path) -> None:
    """A pooled, verified connection to a host never serves a provider that does not trust that host."""
    rig = make_rig(seed=SEED)
    rig.provider().read()  # a verified keep-alive connection to the server now sits in the pool
    stranger = tmp_path / "other-ca.pem"
    trustme.CA(organization_name="unrelated CA").cert_pem.write_to_path(str(stranger))
    with pytest.raises(Exception, match="not trusted"):
        rig.provider(ca_bundle=str(stranger)).read()


def test_retry_max_attempts_1_fails_fast_while_the_default_retries_through(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig(seed=SEED)
    faults = rig.server.emulator.faults
    settings, config = rig.settings(retry_max_attempts=1)
    faults.add("503:cmdlet=Get-InboundConnector,count=1,retry_after=0")
    provider = open_exchange("contoso", settings, config)
    with pytest.raises(ReadError, match=r"HTTP 503.*limits: 1 attempts"):
        provider.read()
    provider.close()
    assert rig.cmdlets()["Get-InboundConnector"] == 1

    faults.add("503:cmdlet=Get-InboundConnector,count=1,retry_after=0")
    settings, config = rig.settings()
    assert settings.retry_max_attempts == 6
    started = time.monotonic()
    provider = open_exchange("contoso", settings, config)
    state = provider.read()
    provider.close()
    assert [c.name for c in state.connectors] == ["In"]
    assert rig.cmdlets()["Get-InboundConnector"] == 1 + 2  # failed once, then succeeded
    assert time.monotonic() - started < 5


def test_retry_max_seconds_bounds_the_time_spent_retrying(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(seed=SEED)
    rig.server.emulator.faults.add("503:cmdlet=Get-InboundConnector,retry_after=0.2")
    settings, config = rig.settings(retry_max_attempts=20, retry_max_seconds=0.5)
    started = time.monotonic()
    provider = open_exchange("contoso", settings, config)
    with pytest.raises(ReadError, match="gave up after retries"):
        provider.read()
    provider.close()
    assert time.monotonic() - started < 3
    assert 2 <= rig.cmdlets()["Get-InboundConnector"] < 20


def test_local_provider_takes_the_retry_limits_of_the_tenant(tmp_path: Path) -> None:
    from reconciler.config import ExoformConfig

    values = {"connectors": "c", "provider": "local", "retry_max_attempts": 2, "retry_max_seconds": 7}
    config = ExoformConfig.model_validate({"tenants": {"demo": values}})
    config = config.model_copy(update={"base_dir": tmp_path})
    provider = open_provider("demo", config.tenants["demo"], config)
    policy = provider.client.policy  # type: ignore[attr-defined]
    assert (policy.max_attempts, policy.max_total) == (2, 7.0)
    provider.close()


def test_cookies_the_service_sets_are_sent_back() -> None:
    """The cheaper cookie handling keeps httpx's behaviour: a Set-Cookie set is sent back."""
    import httpx

    from reconciler.providers.pool import Client

    seen: list[str | None] = []

    def service(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        if request.url.path == "/set":
            return httpx.Response(200, headers={"set-cookie": "affinity=node7; Path=/; Secure"})
        return httpx.Response(200)

    with Client(transport=httpx.MockTransport(service), base_url="https://outlook.example") as client:
        client.get("/plain")
        assert not list(client.cookies.jar)
        client.get("/set")
        client.get("/again")
    assert seen == [None, None, "affinity=node7"]
