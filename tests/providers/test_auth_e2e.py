"""Every way of signing in, end to end over TLS against the emulator's token endpoint."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.emulator.config import AppConfig, EmulatorConfig, FederatedCredential
from reconciler.errors import AuthError, ConfigError
from reconciler.model import InboundConnector
from tests.providers.conftest import Rig

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


def test_github_federation(make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch) -> None:
    rig = make_rig(config=_emulator_with(_github_app()))
    # GitHub's URL already carries a query string; the audience is appended to it.
    monkeypatch.setenv(
        "ACTIONS_ID_TOKEN_REQUEST_URL", f"{rig.server.base_url}/_github/oidc/token?api-version=2.0"
    )
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "emulator")
    _works(rig, {"client_id": CLIENT_ID, "federated": "github"})


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
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", f"{rig.server.base_url}/_github/oidc/token")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "not-the-runner-token")
    with pytest.raises(AuthError, match="GitHub OIDC token endpoint answered HTTP 401") as caught:
        rig.provider({"client_id": CLIENT_ID, "federated": "github"}).read()
    assert "not-the-runner-token" not in str(caught.value)


def test_token_is_cached_across_reads(rig: Rig) -> None:
    provider = rig.provider()
    provider.read()
    provider.read()
    assert rig.server.emulator.stats.snapshot()["tokens_issued"] == 1


def test_token_is_refreshed_before_it_expires(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(config=EmulatorConfig(token_lifetime_seconds=1))
    provider = rig.provider()
    provider.read()
    time.sleep(1.0)  # the token's whole (emulated) lifetime
    provider.read()
    stats = rig.server.emulator.stats.snapshot()
    assert stats["tokens_issued"] == 2
    assert stats["cmdlets"]["Get-InboundConnector"] == 2  # no 401 and retry happened


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
    assert "Exchange.ManageAsApp" in message and "Remote and Accepted Domains" in message
    assert "Get-InboundConnector" in message or "Get-OutboundConnector" in message
    assert "expired" not in message


def test_untrusted_server_certificate_is_refused_clearly(rig: Rig) -> None:
    settings, config = rig.settings()
    settings = settings.model_copy(update={"ca_bundle": None})
    from reconciler.providers.exchange import open_exchange

    provider = open_exchange("contoso", settings, config)
    try:
        with pytest.raises(AuthError, match=r"TLS certificate is not trusted.*ca_bundle"):
            provider.read()
    finally:
        provider.close()
    assert rig.server.emulator.stats.snapshot()["tokens_issued"] == 0
