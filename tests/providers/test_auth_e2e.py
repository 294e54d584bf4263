"""Every way of signing in, end to end over TLS against the emulator's token endpoint."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from reconciler.emulator.app import Emulator
from reconciler.emulator.config import OPEN_SECRET, AppConfig, EmulatorConfig, FederatedCredential
from reconciler.emulator.server import EmulatorServer
from reconciler.errors import AuthError, ConfigError
from reconciler.model import InboundConnector
from reconciler.providers.auth import TokenSource, tls_context
from reconciler.providers.exchange import open_exchange
from reconciler.providers.retry import RetryPolicy
from reconciler.providers.session import Session
from tests.providers.conftest import FAST, TENANT, Rig
from tests.providers.fake import FakeClock

CLIENT_ID = "11111111-aaaa-bbbb-cccc-222222222222"


def _emulator_with(app: AppConfig, **extra: object) -> EmulatorConfig:
    return EmulatorConfig.model_validate({"apps": [app.model_dump()], **extra})


def _works(rig: Rig, auth: dict[str, object]) -> None:
    provider = rig.provider(auth)
    provider.create(
        InboundConnector(name="Partner in", connector_type="Partner", sender_domains=["fabrikam.com"])
    )
    assert [c.name for c in provider.read().connectors] == ["Partner in"]


def test_client_secret(make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch) -> None:
    rig = make_rig(config=_emulator_with(AppConfig(client_id=CLIENT_ID, client_secret="right-secret")))
    monkeypatch.setenv("EXO_APP_SECRET", "right-secret")
    _works(rig, {"client_id": CLIENT_ID, "client_secret": "env:EXO_APP_SECRET"})


def test_wrong_secret_is_refused_without_echoing_it(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig(config=_emulator_with(AppConfig(client_id=CLIENT_ID, client_secret="right-secret")))
    monkeypatch.setenv("EXO_APP_SECRET", "wrong-secret-value")
    provider = rig.provider({"client_id": CLIENT_ID, "client_secret": "env:EXO_APP_SECRET"})
    with pytest.raises(AuthError) as caught:
        provider.read()
    message = str(caught.value)
    assert message.startswith("tenant contoso:")
    assert "invalid_client" in message
    assert "wrong-secret-value" not in message and "right-secret" not in message


def test_unset_secret_variable_is_named(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXO_NOT_SET", raising=False)
    provider = rig.provider({"client_id": CLIENT_ID, "client_secret": "env:EXO_NOT_SET"})
    with pytest.raises(ConfigError, match="EXO_NOT_SET is not set"):
        provider.read()


@pytest.mark.parametrize("variant", ["file", "encrypted file", "pem from env", "encrypted pem from env"])
def test_certificate(
    variant: str,
    make_rig: Callable[..., Rig],
    pem_files: dict[str, bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rig = make_rig(
        config=_emulator_with(AppConfig(client_id=CLIENT_ID, certificates=(pem_files["cert"].decode(),)))
    )
    blob = pem_files["encrypted" if "encrypted" in variant else "plain"]
    certificate: dict[str, str] = {}
    if "env" in variant:
        monkeypatch.setenv("EXO_CERT_PEM", blob.decode())
        certificate["pem"] = "env:EXO_CERT_PEM"
    else:
        (tmp_path / "app.pem").write_bytes(blob)
        certificate["path"] = "app.pem"  # relative to exoform.yaml's folder
    if "encrypted" in variant:
        monkeypatch.setenv("EXO_CERT_PASS", "s3cret")
        certificate["passphrase"] = "env:EXO_CERT_PASS"
    _works(rig, {"client_id": CLIENT_ID, "certificate": certificate})


def test_certificate_the_app_does_not_know_is_refused(
    make_rig: Callable[..., Rig], pem_files: dict[str, bytes], tmp_path: Path
) -> None:
    rig = make_rig(config=_emulator_with(AppConfig(client_id=CLIENT_ID, client_secret="only-a-secret")))
    (tmp_path / "app.pem").write_bytes(pem_files["plain"])
    provider = rig.provider({"client_id": CLIENT_ID, "certificate": {"path": "app.pem"}})
    with pytest.raises(AuthError, match="invalid_client") as caught:
        provider.read()
    assert "PRIVATE KEY" not in str(caught.value)


def test_missing_certificate_file_is_named(rig: Rig) -> None:
    provider = rig.provider({"client_id": CLIENT_ID, "certificate": {"path": "nowhere.pem"}})
    with pytest.raises(ConfigError, match=r"certificate .*nowhere\.pem"):
        provider.read()


def _github_app() -> AppConfig:
    return AppConfig(
        client_id=CLIENT_ID, federated=(FederatedCredential(subject="repo:exoform/demo:ref:refs/heads/main"),)
    )


def _in_actions(rig: Rig, monkeypatch: pytest.MonkeyPatch, *, request_token: str) -> None:
    """The environment a GitHub Actions job with ``id-token: write`` has, pointing at the emulator."""
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", f"{rig.server.base_url}/_github/oidc/token")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", request_token)


def test_github_federation(make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch) -> None:
    rig = make_rig(config=_emulator_with(_github_app()))
    # GitHub's URL already carries a query string; the audience is appended to it.
    monkeypatch.setenv(
        "ACTIONS_ID_TOKEN_REQUEST_URL", f"{rig.server.base_url}/_github/oidc/token?api-version=2.0"
    )
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "emulator")
    _works(rig, {"client_id": CLIENT_ID, "federated": "github"})


def test_the_tenants_of_one_run_share_the_jobs_oidc_token(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job signing in to many tenants asks GitHub for its OIDC token once; a new run asks again."""
    rig = make_rig(config=_emulator_with(_github_app()))
    _in_actions(rig, monkeypatch, request_token="emulator")
    for _ in range(3):  # three tenants of one run (one session)
        rig.provider({"client_id": CLIENT_ID, "federated": "github"}).read()
    assert rig.server.emulator.stats.snapshot()["identity"]["github"] == 1
    settings, config = rig.settings({"client_id": CLIENT_ID, "federated": "github"})
    with Session() as another_run:
        open_exchange("contoso", settings, config, session=another_run, policy=FAST).read()
    assert rig.server.emulator.stats.snapshot()["identity"]["github"] == 2


def test_github_federation_outside_actions_says_what_is_missing(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig(config=_emulator_with(_github_app()))
    monkeypatch.delenv("ACTIONS_ID_TOKEN_REQUEST_URL", raising=False)
    monkeypatch.delenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", raising=False)
    with pytest.raises(AuthError, match="id-token: write"):
        rig.provider({"client_id": CLIENT_ID, "federated": "github"}).read()


def test_github_federation_with_a_bad_request_token(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig(config=_emulator_with(_github_app()))
    _in_actions(rig, monkeypatch, request_token="not-the-runner-token")
    with pytest.raises(AuthError, match="GitHub OIDC token endpoint answered HTTP 401") as caught:
        rig.provider({"client_id": CLIENT_ID, "federated": "github"}).read()
    assert "not-the-runner-token" not in str(caught.value)
    assert rig.server.emulator.stats.snapshot()["identity"]["github"] == 1  # refused: not retried


@pytest.mark.parametrize(
    "fault", ["503:on=github,count=2", "reset:on=github,count=1", "429:on=github,count=1"]
)
def test_a_transient_github_oidc_failure_is_retried(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    rig = make_rig(config=_emulator_with(_github_app()))
    rig.server.emulator.faults.add(fault + ",retry_after=0.01" if fault.startswith("429") else fault)
    _in_actions(rig, monkeypatch, request_token="emulator")
    _works(rig, {"client_id": CLIENT_ID, "federated": "github"})
    failures = 2 if "count=2" in fault else 1
    assert rig.server.emulator.stats.snapshot()["identity"]["github"] == failures + 1


def test_token_is_cached_across_reads(rig: Rig) -> None:
    provider = rig.provider()
    provider.read()
    provider.read()
    assert rig.server.emulator.stats.snapshot()["tokens_issued"] == 1


def test_token_is_refreshed_before_it_expires(
    make_emulator_server: Callable[..., EmulatorServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(start=int(time.time()))  # one clock for both sides: the service dates tokens by it
    emulator = Emulator(config=EmulatorConfig(token_lifetime_seconds=1), clock=clock)
    with Session(clock=clock, sleep=clock.sleep) as session:
        rig = Rig(make_emulator_server(emulator=emulator), tmp_path, monkeypatch, session)
        provider = rig.provider()
        provider.read()
        provider.read()  # within the lifetime: the same token
        assert emulator.stats.snapshot()["tokens_issued"] == 1
        clock.sleep(1.0)  # the token's whole lifetime
        provider.read()
        rig.close()
    stats = emulator.stats.snapshot()
    assert stats["tokens_issued"] == 2
    assert stats["cmdlets"]["Get-InboundConnector"] == 3  # no 401 and retry happened


def test_token_expiring_mid_run_is_refreshed_once(rig: Rig) -> None:
    rig.server.emulator.faults.add("expire_tokens:after=1,count=1")
    provider = rig.provider()
    state = provider.read()
    assert state.connectors == []
    assert rig.server.emulator.stats.snapshot()["tokens_issued"] == 2


def test_tokens_always_refused_as_expired_say_so_not_missing_permissions(rig: Rig) -> None:
    rig.server.emulator.faults.add("expire_tokens")  # every token is refused as expired, new ones too
    provider = rig.provider()
    with pytest.raises(AuthError) as caught:
        provider.read()
    message = str(caught.value)
    assert message.startswith("tenant contoso:")
    assert "refused the access token as expired" in message and "clock" in message
    assert "invalid_token" in message
    assert "ManageAsApp" not in message and "role" not in message
    # Each concurrent listing refreshes at most once, then gives up: one token, plus one refresh for the
    # first 401 and at most one more per listing that started after that refresh.
    issued = rig.server.emulator.stats.snapshot()["tokens_issued"]
    assert 2 <= issued <= 1 + len(provider.listings())


def test_missing_role_fails_with_the_permission_to_check(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig(config=_emulator_with(AppConfig(client_id=CLIENT_ID, client_secret="s", roles=())))
    monkeypatch.setenv("EXO_APP_SECRET", "s")
    provider = rig.provider({"client_id": CLIENT_ID, "client_secret": "env:EXO_APP_SECRET"})
    with pytest.raises(AuthError) as caught:
        provider.read()
    message = str(caught.value)
    assert "Exchange.ManageAsApp" in message and "Global Reader" in message
    assert "Get-InboundConnector" in message or "Get-OutboundConnector" in message
    assert "expired" not in message


def test_untrusted_server_certificate_is_refused_clearly(rig: Rig) -> None:
    settings, config = rig.settings()
    settings = settings.model_copy(update={"ca_bundle": None})
    provider = open_exchange("contoso", settings, config)
    try:
        with pytest.raises(AuthError, match=r"TLS certificate is not trusted.*ca_bundle"):
            provider.read()
    finally:
        provider.close()
    assert rig.server.emulator.stats.snapshot()["tokens_issued"] == 0


# -- transient sign-in failures are retried, permanent ones are not ---------------------------------------

SCOPE = "https://outlook.office365.com/.default"
#: Small waits: a retry waits what Retry-After says or a few milliseconds of backoff.
FAST_SIGN_IN = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, max_total=10, retry_after_cap=2)


def _identity(rig: Rig) -> tuple[dict[str, int], dict[str, int], int]:
    """(requests per identity endpoint, faults injected, tokens issued) as the emulator counted them."""
    stats = rig.server.emulator.stats.snapshot()
    return stats["identity"], stats["faults"], stats["tokens_issued"]


def _retries_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "sign-in attempt" in r.getMessage()]


@pytest.mark.parametrize(
    ("spec", "token_requests", "discovery_requests"),
    [
        # Retry-After given as a fraction of a second: msal would have cached the failure for 5 s.
        ("503:on=token,count=2,retry_after=0.05", 3, 1),
        ("503:on=token,count=1", 2, 1),  # no Retry-After: msal's default 5 s cache would answer the retry
        ("429:on=token,count=1,retry_after=0.1", 2, 1),
        ("html:on=token,status=500,count=1,retry_after=0.05", 2, 1),
        ("reset:on=token,count=1", 2, 1),
        ("503:on=discovery,count=1,retry_after=0.05", 1, 2),
        ("close:on=discovery,count=1", 1, 2),
    ],
)
def test_transient_sign_in_failure_is_retried_and_the_read_succeeds(
    rig: Rig, caplog: pytest.LogCaptureFixture, spec: str, token_requests: int, discovery_requests: int
) -> None:
    rig.provider().create(
        InboundConnector(name="Partner in", connector_type="Partner", sender_domains=["fabrikam.com"])
    )
    rig.server.emulator.stats.reset()
    rig.server.emulator.faults.add(spec)
    caplog.set_level(logging.DEBUG, logger="reconciler.providers.auth")
    provider = rig.provider()  # a new provider signs in anew
    assert [c.name for c in provider.read().connectors] == ["Partner in"]
    requests, faults, issued = _identity(rig)
    # Every retry reached the emulator (none was answered from msal's cache), and a token-endpoint retry
    # did not fetch the metadata again.
    assert requests == {"token": token_requests, "discovery": discovery_requests}
    assert sum(faults.values()) == token_requests + discovery_requests - 2 and issued == 1
    logged = _retries_logged(caplog)
    assert len(logged) == sum(faults.values())
    assert all("tenant contoso" in m and "retrying in" in m for m in logged)
    assert OPEN_SECRET not in caplog.text


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("wrong secret", "invalid_client"),
        ("unknown app", "unauthorized_client"),
        ("400 from the token endpoint", "invalid_request"),
    ],
)
def test_permanent_sign_in_failure_is_not_retried(
    make_rig: Callable[..., Rig],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    case: str,
    error: str,
) -> None:
    rig = make_rig(config=_emulator_with(AppConfig(client_id=CLIENT_ID, client_secret="right-secret")))
    monkeypatch.setenv("EXO_APP_SECRET", "wrong-secret-value" if case == "wrong secret" else "right-secret")
    if case == "400 from the token endpoint":
        rig.server.emulator.faults.add("400:on=token,error=invalid_request")
    client_id = "99999999-0000-0000-0000-999999999999" if case == "unknown app" else CLIENT_ID
    caplog.set_level(logging.DEBUG, logger="reconciler.providers.auth")
    provider = rig.provider({"client_id": client_id, "client_secret": "env:EXO_APP_SECRET"})
    with pytest.raises(AuthError, match=error) as caught:
        provider.read()
    assert "gave up" not in str(caught.value)
    requests, _, issued = _identity(rig)
    assert requests == {"discovery": 1, "token": 1} and issued == 0
    assert _retries_logged(caplog) == []
    assert "wrong-secret-value" not in caplog.text and "right-secret" not in caplog.text


def test_untrusted_certificate_at_sign_in_is_not_retried(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="reconciler.providers.auth")
    with httpx.Client(verify=tls_context()) as http:  # the system store only: the emulator's CA is unknown
        tokens = _token_source(rig, http, FAST_SIGN_IN)
        with pytest.raises(AuthError, match=r"TLS certificate is not trusted"):
            tokens.token()
    assert _retries_logged(caplog) == []


def _token_source(rig: Rig, http: httpx.Client, retry: RetryPolicy) -> TokenSource:
    return TokenSource(
        "contoso",
        client_id="exoform-tests",
        credential=lambda: OPEN_SECRET,
        authority=rig.server.authority(TENANT),
        scope=SCOPE,
        http=http,
        retry=retry,
    )


def test_a_fault_that_never_ends_gives_up_after_the_attempts(rig: Rig) -> None:
    rig.server.emulator.faults.add("503:on=token")
    started = time.monotonic()
    with rig.server.client() as http, pytest.raises(AuthError) as caught:
        _token_source(rig, http, FAST_SIGN_IN).token()
    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert message.startswith("tenant contoso: signing in failed:")
    assert "answered HTTP 503 (temporarily_unavailable: AADSTS" in message
    assert "gave up after 4 attempts" in message and "limits: 4 attempts, 10 s" in message
    assert _identity(rig)[0]["token"] == 4
    assert elapsed < 2.0


def test_sign_in_stops_within_its_time_limit(rig: Rig) -> None:
    rig.server.emulator.faults.add("reset:on=identity")
    patient = RetryPolicy(max_attempts=100, base_delay=0.2, max_delay=0.2, max_total=0.7, retry_after_cap=2)
    started = time.monotonic()
    with rig.server.client() as http, pytest.raises(AuthError) as caught:
        _token_source(rig, http, patient).token()
    assert time.monotonic() - started < 1.0
    # The last attempt ends with the reset, or, on a slow machine, is cut at the time limit while the
    # emulator is still answering it (it may not have counted it yet).
    last = r"(cannot reach the authority|sent no complete answer in time)"
    found = re.search(last + r" .*gave up after (\d+) attempts in 0\.\d s", str(caught.value))
    assert found is not None, str(caught.value)
    attempts = int(found.group(2))
    # Waits of 0.1-0.2 s within 0.7 s: a handful of attempts, each of them sent to the emulator.
    assert 3 <= attempts <= 8
    assert _identity(rig)[0]["discovery"] in (attempts - 1, attempts)


def test_a_retry_after_beyond_the_time_limit_is_not_waited_for(rig: Rig) -> None:
    rig.server.emulator.faults.add("429:on=token,retry_after=30")
    started = time.monotonic()
    with (
        rig.server.client() as http,
        pytest.raises(AuthError, match=r"answered HTTP 429.*gave up after 1 attempt in"),
    ):
        _token_source(rig, http, RetryPolicy(max_total=5, retry_after_cap=60)).token()
    assert time.monotonic() - started < 1.0


def test_provider_sign_in_that_never_recovers_names_the_tenant_and_the_attempts(rig: Rig) -> None:
    rig.server.emulator.faults.add("503:on=token,retry_after=0.02")
    provider = rig.provider()
    with pytest.raises(AuthError) as caught:
        provider.read()
    attempts = provider.client.tokens.retry.max_attempts
    assert str(caught.value).startswith("tenant contoso: signing in failed:")
    assert f"gave up after {attempts} attempts" in str(caught.value)
    assert _identity(rig)[0]["token"] == attempts


def test_sign_in_keeps_to_the_tenants_retry_limits(rig: Rig) -> None:
    rig.server.emulator.faults.add("503:on=token,retry_after=0.02")
    settings, config = rig.settings(retry_max_attempts=2, retry_max_seconds=5)
    provider = open_exchange("contoso", settings, config)
    try:
        with pytest.raises(AuthError, match=r"gave up after 2 attempts .*limits: 2 attempts, 5 s"):
            provider.read()
    finally:
        provider.close()
    assert _identity(rig)[0]["token"] == 2


@pytest.mark.timeout(20)
def test_a_ca_bundle_that_is_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    import os

    from reconciler.errors import ConfigError
    from reconciler.providers.auth import tls_context

    os.mkfifo(tmp_path / "cas.pem")
    with pytest.raises(ConfigError, match="named pipe"):
        tls_context(tmp_path / "cas.pem")


# -- refusals say what to do: Entra ID's AADSTS codes, as the emulator answers them -----------------------


def _refusal(rig: Rig, auth: dict[str, object], **extra: object) -> str:
    with pytest.raises(AuthError) as caught:
        rig.provider(auth, **extra).read()
    return str(caught.value)


def test_an_app_not_consented_in_the_customer_tenant_gets_that_tenants_consent_url(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch
) -> None:
    """AADSTS7000229: the multi-tenant app has no service principal here; the admin-consent URL is the
    customer tenant's own, at the authority the tenant signs in at."""
    app = AppConfig(client_id=CLIENT_ID, client_secret="right-secret", tenants=("fabrikam.onmicrosoft.com",))
    rig = make_rig(config=_emulator_with(app))
    monkeypatch.setenv("EXO_APP_SECRET", "right-secret")
    message = _refusal(rig, {"client_id": CLIENT_ID, "client_secret": "env:EXO_APP_SECRET"})
    assert "AADSTS7000229" in message and "no service principal in this tenant" in message
    assert f"{rig.server.authority(TENANT)}/adminconsent?client_id={CLIENT_ID}" in message
    assert "right-secret" not in message


@pytest.mark.parametrize(
    ("case", "code", "advice"),
    [
        ("unknown app", 700016, "no app with client id"),
        ("wrong secret", 7000215, "use the secret's value (not its secret ID)"),
        ("expired secret", 7000222, "the client secret has expired: create a new secret"),
        ("unknown certificate", 700027, "upload its public certificate to the app registration"),
        ("unknown tenant", 90002, "the tenant nowhere.onmicrosoft.com was not found"),
    ],
)
def test_sign_in_refusals_say_what_to_do(
    make_rig: Callable[..., Rig],
    monkeypatch: pytest.MonkeyPatch,
    pem_files: dict[str, bytes],
    tmp_path: Path,
    case: str,
    code: int,
    advice: str,
) -> None:
    app = AppConfig(
        client_id=CLIENT_ID, client_secret="right-secret", secret_expired=case == "expired secret"
    )
    rig = make_rig(config=_emulator_with(app, tenants=[{"name": TENANT}]))  # no other tenant exists
    monkeypatch.setenv("EXO_APP_SECRET", "wrong-secret-value" if case == "wrong secret" else "right-secret")
    auth: dict[str, object] = {"client_id": CLIENT_ID, "client_secret": "env:EXO_APP_SECRET"}
    extra: dict[str, object] = {}
    if case == "unknown app":
        auth["client_id"] = "99999999-0000-0000-0000-999999999999"
    if case == "unknown certificate":
        (tmp_path / "app.pem").write_bytes(pem_files["plain"])
        auth = {"client_id": CLIENT_ID, "certificate": {"path": "app.pem"}}
    if case == "unknown tenant":
        extra = {
            "organization": "nowhere.onmicrosoft.com",
            "authority": rig.server.authority("nowhere.onmicrosoft.com"),
        }
    message = _refusal(rig, auth, **extra)
    assert message.startswith("tenant contoso: token request failed:"), message
    assert f"AADSTS{code}" in message and advice in message, message
    assert "gave up" not in message  # a refusal is not retried
    assert "wrong-secret-value" not in message and "right-secret" not in message
    assert "PRIVATE KEY" not in message
