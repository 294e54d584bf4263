"""``federated: azure-devops`` and ``federated: gitlab``: each CI system's token, as it issues it (issuer,
subject, audience), signs in against the emulator; a missing or refused token is an error saying what to
set, never a secret."""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable

import httpx
import pytest

from reconciler.emulator.config import AppConfig, EmulatorConfig, FederatedCredential
from reconciler.errors import AuthError
from reconciler.model import InboundConnector
from tests.providers.conftest import Rig

CLIENT_ID = "11111111-aaaa-bbbb-cccc-333333333333"
ORG_ID = "7a1b2c3d-0000-4000-8000-00000000c0de"
ADO_ISSUER = f"https://vstoken.dev.azure.com/{ORG_ID}"
READ_CONNECTION = "5e0c0f2a-1111-4222-8333-444455556666"
WRITE_CONNECTION = "5e0c0f2a-9999-4222-8333-444455556666"
GITLAB_ISSUER = "https://gitlab.example.com"
GITLAB_SUBJECT = "project_path:acme/mail-flow:ref_type:branch:ref:main"


def _config(audience: str = "api://AzureADTokenExchange") -> EmulatorConfig:
    app = AppConfig(
        client_id=CLIENT_ID,
        federated=(
            FederatedCredential(issuer=ADO_ISSUER, subject="sc://acme/mail-flow/exoform-read"),
            FederatedCredential(issuer=GITLAB_ISSUER, subject=GITLAB_SUBJECT, audience=audience),
        ),
    )
    return EmulatorConfig.model_validate(
        {
            "apps": [app.model_dump()],
            "azure_devops": {
                "access_token": "pipeline-token",
                "organization_id": ORG_ID,
                "connections": {
                    READ_CONNECTION: "sc://acme/mail-flow/exoform-read",
                    WRITE_CONNECTION: "sc://acme/mail-flow/exoform-write",
                },
            },
            "gitlab": {"issuer": GITLAB_ISSUER, "subject": GITLAB_SUBJECT},
        }
    )


def _works(rig: Rig, ci: str) -> None:
    provider = rig.provider({"client_id": CLIENT_ID, "federated": ci})
    provider.create(InboundConnector(name="Partner in", connector_type="Partner", sender_domains=["a.com"]))
    assert [c.name for c in provider.read().connectors] == ["Partner in"]


def _in_pipeline(rig: Rig, monkeypatch: pytest.MonkeyPatch, connection: str, token: str) -> None:
    """What an Azure Pipelines step has: SYSTEM_OIDCREQUESTURI, the mapped System.AccessToken and the
    service connection's id."""
    monkeypatch.setenv("SYSTEM_OIDCREQUESTURI", f"{rig.server.base_url}/_azure_devops/oidctoken")
    monkeypatch.setenv("SYSTEM_ACCESSTOKEN", token)
    monkeypatch.setenv("EXOFORM_SERVICE_CONNECTION_ID", connection)


def _gitlab_token(rig: Rig, audience: str) -> str:
    """The ID token GitLab puts in a job's ``id_tokens:`` variable (the emulator's stand-in)."""
    with httpx.Client(verify=ssl.create_default_context(cafile=rig.server.ca_path)) as http:
        response = http.get(f"{rig.server.base_url}/_gitlab/id_token", params={"aud": audience})
    token: str = response.json()["value"]
    return token


def test_azure_devops_service_connection_token_signs_in(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig(config=_config())
    _in_pipeline(rig, monkeypatch, READ_CONNECTION, "pipeline-token")
    _works(rig, "azure-devops")


def test_azure_devops_outside_a_pipeline_says_what_is_missing(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig(config=_config())
    for name in ("SYSTEM_OIDCREQUESTURI", "SYSTEM_ACCESSTOKEN", "EXOFORM_SERVICE_CONNECTION_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SYSTEM_OIDCREQUESTURI", f"{rig.server.base_url}/_azure_devops/oidctoken")
    with pytest.raises(AuthError, match=r"needs SYSTEM_ACCESSTOKEN, EXOFORM_SERVICE_CONNECTION_ID; .*"):
        rig.provider({"client_id": CLIENT_ID, "federated": "azure-devops"}).read()


@pytest.mark.parametrize(
    ("connection", "token", "says"),
    [
        (READ_CONNECTION, "not-the-pipeline-token", "Azure DevOps OIDC token endpoint answered HTTP 401"),
        ("unknown-connection", "pipeline-token", "allowed to use the service connection"),
        # the write connection's token: the app trusts only the read connection's subject
        (WRITE_CONNECTION, "pipeline-token", "AADSTS700213"),
    ],
)
def test_azure_devops_refusals_name_the_cause_never_the_token(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch, connection: str, token: str, says: str
) -> None:
    rig = make_rig(config=_config())
    _in_pipeline(rig, monkeypatch, connection, token)
    with pytest.raises(AuthError, match=says) as caught:
        rig.provider({"client_id": CLIENT_ID, "federated": "azure-devops"}).read()
    assert token not in str(caught.value)


def test_gitlab_id_token_signs_in(make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch) -> None:
    rig = make_rig(config=_config())
    monkeypatch.setenv("EXOFORM_ID_TOKEN", _gitlab_token(rig, "api://AzureADTokenExchange"))
    _works(rig, "gitlab")


def test_gitlab_without_the_id_token_names_the_id_tokens_entry(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig(config=_config())
    monkeypatch.delenv("EXOFORM_ID_TOKEN", raising=False)
    with pytest.raises(
        AuthError, match=re.escape("id_tokens: EXOFORM_ID_TOKEN: {aud: api://AzureADTokenExchange}")
    ):
        rig.provider({"client_id": CLIENT_ID, "federated": "gitlab"}).read()


def test_gitlab_id_token_for_another_audience_is_refused(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig(config=_config())
    monkeypatch.setenv("EXOFORM_ID_TOKEN", _gitlab_token(rig, "https://gitlab.example.com"))
    with pytest.raises(AuthError, match="AADSTS700212"):
        rig.provider({"client_id": CLIENT_ID, "federated": "gitlab"}).read()
