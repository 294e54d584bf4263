"""The identity endpoint: msal's confidential-client flow over TLS, assertions, federation, token checks."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import msal
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from bench.certificate import self_signed
from reconciler.emulator.app import Emulator
from reconciler.emulator.config import AppConfig, EmulatorConfig, FederatedCredential
from reconciler.emulator.server import EmulatorServer
from reconciler.emulator.transport import EmulatorTransport

TENANT = "contoso.onmicrosoft.com"
SCOPE = ["https://outlook.office365.com/.default"]
GET = {"CmdletInput": {"CmdletName": "Get-InboundConnector", "Parameters": {}}}


def _certificate() -> tuple[str, str]:
    """(private key PEM, certificate PEM) of a fresh self-signed certificate."""
    key, cert = self_signed("exoform-test")
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


class MsalClient(httpx.Client):
    """httpx.Client as msal's ``http_client`` for certificate credentials.

    msal passes the signed client assertion as *bytes* in ``data``; httpx form-encodes a bytes value as
    ``b'...'``, which no token endpoint accepts.  Decoding such values first is all it takes.
    """

    def post(self, url: Any, *args: Any, data: Any = None, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        if isinstance(data, dict):
            data = {k: v.decode() if isinstance(v, bytes) else v for k, v in data.items()}
        return super().post(url, *args, data=data, **kwargs)


def _invoke(server: EmulatorServer, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with server.client() as client:
        return client.post(f"/adminapi/beta/{TENANT}/InvokeCommand", json=GET, headers=headers)


def test_msal_with_a_secret_over_tls_and_raw_invoke(emulator_server: EmulatorServer) -> None:
    with emulator_server.client() as http:
        app = msal.ConfidentialClientApplication(
            "any-client-id",
            client_credential="emulator",
            authority=emulator_server.authority(TENANT),
            http_client=http,
            instance_discovery=False,
        )
        result = app.acquire_token_for_client(scopes=SCOPE)
    assert "access_token" in result, result
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "https://outlook.office365.com" and claims["roles"] == ["Exchange.ManageAsApp"]
    assert claims["appid"] == "any-client-id" and claims["exp"] > time.time()
    assert _invoke(emulator_server, result["access_token"]).status_code == 200
    assert _invoke(emulator_server, None).status_code == 401


def test_msal_with_a_certificate_over_tls(make_emulator_server: Callable[..., EmulatorServer]) -> None:
    key_pem, cert_pem = _certificate()
    config = EmulatorConfig(apps=(AppConfig(client_id="cert-app", certificates=(cert_pem,)),))
    server = make_emulator_server(config=config)
    with MsalClient(base_url=server.base_url, verify=server.ssl_context()) as http:
        app = msal.ConfidentialClientApplication(
            "cert-app",
            client_credential={"private_key": key_pem, "public_certificate": cert_pem},
            authority=server.authority(TENANT),
            http_client=http,
            instance_discovery=False,
        )
        result = app.acquire_token_for_client(scopes=SCOPE)
        assert "access_token" in result, result
        assert _invoke(server, result["access_token"]).status_code == 200

        other_key, _ = _certificate()
        intruder = msal.ConfidentialClientApplication(
            "cert-app",
            client_credential={"private_key": other_key, "public_certificate": cert_pem},
            authority=server.authority(TENANT),
            http_client=http,
            instance_discovery=False,
        )
        refused = intruder.acquire_token_for_client(scopes=SCOPE)
    assert refused.get("error") == "invalid_client" and "AADSTS700027" in refused["error_description"]


def test_msal_in_process_through_the_transport() -> None:
    with httpx.Client(
        transport=EmulatorTransport(Emulator()), base_url="https://local.exoform.invalid"
    ) as http:
        app = msal.ConfidentialClientApplication(
            "x",
            client_credential="emulator",
            authority=f"https://local.exoform.invalid/{TENANT}",
            http_client=http,
            instance_discovery=False,
        )
        assert "access_token" in app.acquire_token_for_client(scopes=SCOPE)
        # msal's default instance discovery is answered too (any host reaches the emulator in-process)
        validated = msal.ConfidentialClientApplication(
            "x",
            client_credential="emulator",
            authority=f"https://local.exoform.invalid/{TENANT}",
            http_client=http,
        )
        assert "access_token" in validated.acquire_token_for_client(scopes=SCOPE)


@pytest.fixture
def http() -> Any:
    def make(emulator: Emulator) -> httpx.Client:
        return httpx.Client(transport=EmulatorTransport(emulator), base_url="https://login.test")

    return make


def _token(http: httpx.Client, **form: str) -> httpx.Response:
    data = {"grant_type": "client_credentials", "scope": SCOPE[0], **form}
    return http.post(f"/{TENANT}/oauth2/v2.0/token", data=data)


def test_wrong_secret_and_unknown_app_are_refused_without_echoing_the_secret(http: Any) -> None:
    config = EmulatorConfig(apps=(AppConfig(client_id="app", client_secret="s3cret-value"),))
    client = http(Emulator(config=config))
    wrong = _token(client, client_id="app", client_secret="guess-value")
    assert wrong.status_code == 401 and "AADSTS7000215" in wrong.json()["error_description"]
    assert "guess-value" not in wrong.text and "s3cret-value" not in wrong.text
    unknown = _token(client, client_id="stranger", client_secret="s3cret-value")
    assert unknown.status_code == 400 and "AADSTS700016" in unknown.json()["error_description"]
    assert _token(client, client_id="app", client_secret="s3cret-value").status_code == 200
    assert _token(client, client_id="app", client_secret="s3cret-value", scope="openid").status_code == 400


def _assertion(
    key_pem: str, cert_pem: str, audience: str, lifetime: int = 300, client_id: str = "app"
) -> str:
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    import base64

    x5t = base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA1())).rstrip(b"=").decode()
    now = int(time.time())
    claims = {
        "aud": audience,
        "iss": client_id,
        "sub": client_id,
        "jti": "1",
        "nbf": now - 1,
        "exp": now + lifetime,
    }
    return jwt.encode(claims, key_pem, algorithm="RS256", headers={"x5t": x5t})


def test_certificate_assertion_checks_audience_and_expiry(http: Any) -> None:
    key_pem, cert_pem = _certificate()
    client = http(
        Emulator(config=EmulatorConfig(apps=(AppConfig(client_id="app", certificates=(cert_pem,)),)))
    )
    good_aud = f"https://login.test/{TENANT}/oauth2/v2.0/token"
    form = {
        "client_id": "app",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    assert _token(client, **form, client_assertion=_assertion(key_pem, cert_pem, good_aud)).status_code == 200
    wrong_aud = _token(
        client, **form, client_assertion=_assertion(key_pem, cert_pem, "https://elsewhere/token")
    )
    assert wrong_aud.status_code == 401 and "audience" in wrong_aud.json()["error_description"]
    expired = _token(client, **form, client_assertion=_assertion(key_pem, cert_pem, good_aud, lifetime=-60))
    assert expired.status_code == 401 and "AADSTS700024" in expired.json()["error_description"]


def test_github_oidc_federation_end_to_end(http: Any) -> None:
    subject = "repo:acme/mail:ref:refs/heads/main"
    config = EmulatorConfig(
        apps=(
            AppConfig(client_id="fed-app", federated=(FederatedCredential(subject=subject),)),
            AppConfig(
                client_id="other-app", federated=(FederatedCredential(subject="repo:acme/other:ref:x"),)
            ),
        ),
        github={"request_token": "gh-request-token", "subject": subject},  # type: ignore[arg-type]
    )
    client = http(Emulator(config=config))
    refused = client.get("/_github/oidc/token", params={"audience": "api://AzureADTokenExchange"})
    assert refused.status_code == 401
    github = client.get(
        "/_github/oidc/token",
        params={"audience": "api://AzureADTokenExchange"},
        headers={"Authorization": "Bearer gh-request-token"},
    )
    assert github.status_code == 200
    assertion = github.json()["value"]
    claims = jwt.decode(assertion, options={"verify_signature": False})
    assert claims["iss"] == "https://token.actions.githubusercontent.com" and claims["sub"] == subject
    form = {
        "client_id": "fed-app",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    assert _token(client, **form, client_assertion=assertion).status_code == 200

    wrong_audience = client.get(
        "/_github/oidc/token",
        params={"audience": "api://other"},
        headers={"Authorization": "Bearer gh-request-token"},
    ).json()["value"]
    assert _token(client, **form, client_assertion=wrong_audience).status_code == 400

    mismatch = _token(client, **{**form, "client_id": "other-app"}, client_assertion=assertion)
    assert mismatch.status_code == 400 and "AADSTS700213" in mismatch.json()["error_description"]


def test_missing_role_is_403(http: Any) -> None:
    config = EmulatorConfig(apps=(AppConfig(client_id="reader", client_secret="s", roles=()),))
    client = http(Emulator(config=config))
    token = _token(client, client_id="reader", client_secret="s").json()["access_token"]
    response = client.post(
        f"/adminapi/beta/{TENANT}/InvokeCommand", json=GET, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403


def test_short_token_lifetime_expires(http: Any) -> None:
    now = [float(int(time.time()))]  # tokens are dated in whole seconds
    client = http(Emulator(config=EmulatorConfig(token_lifetime_seconds=1), clock=lambda: now[0]))
    body = _token(client, client_id="a", client_secret="emulator").json()
    assert body["expires_in"] == 1
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.post(f"/adminapi/beta/{TENANT}/InvokeCommand", json=GET, headers=headers).status_code == 200
    now[0] += 0.9
    assert client.post(f"/adminapi/beta/{TENANT}/InvokeCommand", json=GET, headers=headers).status_code == 200
    now[0] += 0.2  # the token's lifetime has passed
    answer = client.post(f"/adminapi/beta/{TENANT}/InvokeCommand", json=GET, headers=headers)
    assert answer.status_code == 401


def test_openid_configuration(http: Any) -> None:
    client = http(Emulator())
    config = client.get(f"/{TENANT}/v2.0/.well-known/openid-configuration").json()
    assert config["token_endpoint"] == f"https://login.test/{TENANT}/oauth2/v2.0/token"
    assert "authorization_endpoint" in config
    keys = client.get(config["jwks_uri"]).json()["keys"]
    assert keys and keys[0]["kty"] == "RSA"


@pytest.mark.parametrize(
    ("app", "tenant", "client_id", "secret", "status", "error", "code"),
    [
        (
            AppConfig(client_id="a", client_secret="right-secret"),
            TENANT,
            "unknown-app",
            "right-secret",
            400,
            "unauthorized_client",
            700016,
        ),
        (
            AppConfig(client_id="a", client_secret="right-secret", tenants=("other.onmicrosoft.com",)),
            TENANT,
            "a",
            "right-secret",
            400,
            "invalid_client",
            7000229,
        ),
        (
            AppConfig(client_id="a", client_secret="right-secret"),
            TENANT,
            "a",
            "wrong-secret",
            401,
            "invalid_client",
            7000215,
        ),
        (
            AppConfig(client_id="a", client_secret="right-secret", secret_expired=True),
            TENANT,
            "a",
            "right-secret",
            401,
            "invalid_client",
            7000222,
        ),
        (
            AppConfig(client_id="a", client_secret="right-secret"),
            "nowhere.onmicrosoft.com",
            "a",
            "right-secret",
            400,
            "invalid_request",
            90002,
        ),
    ],
)
def test_token_refusals_have_entra_ids_shape(
    app: AppConfig, tenant: str, client_id: str, secret: str, status: int, error: str, code: int
) -> None:
    """error, error_description starting with the AADSTS code, error_codes and error_uri, as Entra ID sends
    them; never the secret sent."""
    config = EmulatorConfig(apps=(app,), tenants=({"name": TENANT},))  # type: ignore[arg-type]
    http = httpx.Client(transport=EmulatorTransport(Emulator(config=config)))
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": secret,
        "scope": SCOPE[0],
    }
    response = http.post(f"https://login.emulator.invalid/{tenant}/oauth2/v2.0/token", data=form)
    body = response.json()
    assert response.status_code == status
    assert body["error"] == error and body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert body["error_uri"].endswith(f"?code={code}")
    assert secret not in response.text
