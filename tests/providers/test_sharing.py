"""What the providers of one session share: HTTP clients per trust store, never trust, tokens or cookies.

And the per-tenant retry limits of exoform.yaml (``retry_max_attempts``, ``retry_max_seconds``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import trustme

from reconciler.errors import ReadError
from reconciler.providers.exchange import open_exchange
from reconciler.providers.registry import open_provider
from reconciler.providers.session import Session
from tests.providers.conftest import TENANT, Rig

SEED = {"InboundConnector": [{"Name": "In", "ConnectorType": "Partner", "SenderDomains": ["in.example.com"]}]}


def test_a_session_has_one_client_per_trust_store(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    trustme.CA(organization_name="first CA").cert_pem.write_to_path(str(bundle))
    with Session() as session:
        client = session.http(bundle)
        assert session.http(tmp_path / "." / "ca.pem") is client  # the same file by another spelling
        assert session.http(None) is not client
        assert session.http(None) is session.http(None)
    with Session() as other:
        assert other.http(bundle) is not client  # nothing outlives its session


def test_a_new_session_loads_a_replaced_bundle(make_rig: Callable[..., Rig], tmp_path: Path) -> None:
    rig = make_rig(seed=SEED)
    bundle = tmp_path / "ca.pem"
    trustme.CA(organization_name="unrelated CA").cert_pem.write_to_path(str(bundle))
    settings, config = rig.settings(ca_bundle=str(bundle))
    with Session() as session, pytest.raises(Exception, match="not trusted"):
        open_exchange("contoso", settings, config, session=session).read()
    bundle.write_bytes(Path(rig.server.ca_path).read_bytes())  # the right CA now
    with Session() as session:
        assert [
            c.name for c in open_exchange("contoso", settings, config, session=session).read().connectors
        ] == ["In"]


def test_the_shared_client_keeps_no_cookie() -> None:
    """The protocol needs no cookie, and a jar shared by tenants would hand one tenant's to another."""
    with Session() as session:
        client = session.http(None)
        request = httpx.Request("POST", "https://outlook.office365.com/adminapi/beta/a/InvokeCommand")
        response = httpx.Response(
            200, headers={"set-cookie": "affinity=node7; Path=/; Secure"}, request=request
        )
        client.cookies.extract_cookies(response)
        assert not list(client.cookies.jar)


def test_tenants_sharing_a_session_never_see_each_others_token_or_anchor(
    make_rig: Callable[..., Rig],
) -> None:
    """Two tenants of one service read at once over the one shared client: every request carries its own
    tenant's token and X-AnchorMailbox, and no cookie."""
    rig = make_rig(seed=SEED)
    seen: list[httpx.Request] = []
    settings, config = rig.settings()
    orgs = {"contoso": TENANT, "fabrikam": "fabrikam.onmicrosoft.com"}
    providers = {}
    for name, org in orgs.items():
        tenant_settings = settings.model_copy(
            update={"organization": org, "authority": rig.server.authority(org)}
        )
        providers[name] = open_exchange(name, tenant_settings, config, session=rig.session)
    rig.session.http(Path(rig.server.ca_path).resolve()).event_hooks["request"].append(seen.append)
    with ThreadPoolExecutor(max_workers=2) as pool:
        states = dict(zip(providers, pool.map(lambda p: p.read(), providers.values()), strict=True))
    assert all([c.name for c in state.connectors] == ["In"] for state in states.values())  # both seeded
    tokens = {name: provider.client.tokens.token() for name, provider in providers.items()}
    assert tokens["contoso"] != tokens["fabrikam"]
    calls = [r for r in seen if r.url.path.endswith("/InvokeCommand")]
    assert len(calls) >= 2 * 3
    for request in calls:
        name = next(n for n, org in orgs.items() if f"/{org}/" in request.url.path)
        assert request.headers["authorization"] == f"Bearer {tokens[name]}"
        assert request.headers["x-anchormailbox"].endswith("@" + orgs[name])
        assert "cookie" not in request.headers
    for provider in providers.values():
        provider.close()


def test_providers_reuse_connections_across_tenants(make_rig: Callable[..., Rig]) -> None:
    """Six providers one after the other: each would open at least one connection of its own; shared, the
    pool never needs more than the three concurrent listings of one read."""
    rig = make_rig(seed=SEED)
    before = rig.server.connections_accepted
    for _ in range(6):
        provider = rig.provider()
        assert [c.name for c in provider.read().connectors] == ["In"]
        provider.close()
    assert rig.server.connections_accepted - before <= 3


def test_a_closed_provider_does_not_close_another_ones_connections(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(seed=SEED)
    one, two = rig.provider(), rig.provider()
    one.read()
    two.read()
    one.close()
    one.close()  # closing twice is harmless
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
    with pytest.raises(ReadError, match=r"listing ran out of time after .* \(retry_max_seconds: 0\.5 s"):
        provider.read()
    provider.close()
    assert time.monotonic() - started < 3
    assert 2 <= rig.cmdlets()["Get-InboundConnector"] < 20


def test_local_provider_takes_the_retry_limits_of_the_tenant(tmp_path: Path) -> None:
    from reconciler.desired.config import ExoformConfig

    values = {"connectors": "c", "provider": "local", "retry_max_attempts": 2, "retry_max_seconds": 7}
    config = ExoformConfig.model_validate({"tenants": {"demo": values}})
    config = config.model_copy(update={"base_dir": tmp_path})
    provider = open_provider("demo", config.tenants["demo"], config)
    policy = provider.client.policy  # type: ignore[attr-defined]
    assert (policy.max_attempts, policy.max_total) == (2, 7.0)
    provider.close()
