"""Pieces of the protocol a user notices without a server: clouds, Retry-After, error texts, certificates."""

from __future__ import annotations

import email.utils
import ssl
import time
from pathlib import Path

import httpx
import pytest

from reconciler.desired.config import TenantConfig
from reconciler.errors import ConfigError
from reconciler.providers.auth import load_certificate, resolve_endpoints, tls_context
from reconciler.providers.invoke import service_error, token_expired_reason
from reconciler.providers.retry import parse_retry_after


def _tenant(**extra: object) -> TenantConfig:
    values: dict[str, object] = {
        "connectors": "c",
        "provider": "exchange",
        "organization": "contoso.onmicrosoft.com",
        "auth": {"client_id": "app", "client_secret": "env:SECRET"},
    }
    values.update(extra)
    return TenantConfig.model_validate(values)


@pytest.mark.parametrize(
    ("cloud", "api", "scope", "authority"),
    [
        ("commercial", "https://outlook.office365.com", "https://outlook.office365.com/.default",
         "https://login.microsoftonline.com/contoso.onmicrosoft.com"),
        ("gcc", "https://outlook.office365.com", "https://outlook.office365.com/.default",
         "https://login.microsoftonline.com/contoso.onmicrosoft.com"),
        ("gcc-high", "https://outlook.office365.us", "https://outlook.office365.us/.default",
         "https://login.microsoftonline.us/contoso.onmicrosoft.com"),
        ("dod", "https://outlook-dod.office365.us", "https://outlook-dod.office365.us/.default",
         "https://login.microsoftonline.us/contoso.onmicrosoft.com"),
        ("china", "https://partner.outlook.cn", "https://partner.outlook.cn/.default",
         "https://login.chinacloudapi.cn/contoso.onmicrosoft.com"),
    ],
)  # fmt: skip
def test_cloud_selects_host_scope_and_authority(cloud: str, api: str, scope: str, authority: str) -> None:
    endpoints = resolve_endpoints("t", _tenant(cloud=cloud))
    assert (endpoints.api_base, endpoints.scope, endpoints.authority) == (api, scope, authority)
    assert endpoints.tenant_segment == "contoso.onmicrosoft.com"


def test_overrides_win_and_tenant_id_names_the_tenant() -> None:
    settings = _tenant(
        cloud="gcc-high",
        tenant_id="11111111-2222-3333-4444-555555555555",
        endpoint="https://proxy.example/",
        authority="https://idp.example/tenant-x",
    )
    endpoints = resolve_endpoints("t", settings)
    assert endpoints.api_base == "https://proxy.example"
    assert endpoints.authority == "https://idp.example/tenant-x"
    assert endpoints.scope == "https://outlook.office365.us/.default"
    assert endpoints.tenant_segment == "11111111-2222-3333-4444-555555555555"


def test_plain_http_endpoint_is_refused() -> None:
    with pytest.raises(ConfigError, match="endpoint must be an https:// URL"):
        resolve_endpoints("t", _tenant(endpoint="http://proxy.example"))


def test_retry_after_in_seconds_and_as_http_date() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    now = time.time()
    date = email.utils.formatdate(now + 20, usegmt=True)
    assert 18 <= (parse_retry_after(date, now=lambda: now) or 0) <= 21
    assert parse_retry_after(email.utils.formatdate(now - 60, usegmt=True)) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_service_error_reads_the_triple_and_falls_back_to_text() -> None:
    triple = {
        "error": {
            "code": "BadRequest",
            "message": "Error executing cmdlet",
            "details": [{"code": "Client", "message": "Ex1A2B3C|Some.Type|The value is wrong."}],
        }
    }
    assert service_error(httpx.Response(400, json=triple)) == ("Ex1A2B3C", "Some.Type", "The value is wrong.")
    inner = {
        "error": {
            "message": "Error executing cmdlet",
            "innererror": {"internalexception": {"message": "Deep"}},
        }
    }
    assert service_error(httpx.Response(500, json=inner))[2] == "Deep"
    html = httpx.Response(502, text="<html><body><h1>Bad   Gateway</h1></body></html>")
    assert service_error(html)[2] == "Bad Gateway"
    assert "empty body" in service_error(httpx.Response(503, text=""))[2]


def test_unreadable_ca_bundle_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ConfigError, match=r"ca_bundle .*ca\.pem"):
        tls_context(bad)


def test_a_trust_store_is_loaded_once_and_an_edited_bundle_is_trusted_at_once(tmp_path: Path) -> None:
    trustme = pytest.importorskip("trustme")
    bundle = tmp_path / "ca.pem"

    def organizations(context: ssl.SSLContext) -> set[str]:
        return {
            v
            for cert in context.get_ca_certs()
            for rdn in cert["subject"]
            for k, v in rdn
            if k == "organizationName"
        }

    trustme.CA(organization_name="First CA").cert_pem.write_to_path(str(bundle))
    first = tls_context(bundle)
    assert tls_context(bundle) is first  # the system store is not loaded again for the same trust
    trustme.CA(organization_name="Second CA").cert_pem.write_to_path(str(bundle))
    second = tls_context(bundle)
    assert "Second CA" in organizations(second) and "First CA" not in organizations(second)
    assert second.verify_mode == ssl.CERT_REQUIRED and second.check_hostname


def test_certificate_problems_are_named(pem_files: dict[str, bytes]) -> None:
    with pytest.raises(ConfigError, match="no private key"):
        load_certificate(pem_files["cert"], None, "cert.pem")
    with pytest.raises(ConfigError, match="no certificate"):
        load_certificate(pem_files["key"], None, "cert.pem")
    with pytest.raises(ConfigError, match=r"encrypted; set certificate\.passphrase"):
        load_certificate(pem_files["encrypted"], None, "cert.pem")
    with pytest.raises(ConfigError, match="wrong passphrase"):
        load_certificate(pem_files["encrypted"], "nope", "cert.pem")
    with pytest.raises(ConfigError, match="no certificate in the file matches"):
        load_certificate(pem_files["mismatch"], None, "cert.pem")
    good = load_certificate(pem_files["encrypted"], "s3cret", "cert.pem")
    assert len(good.thumbprint_sha1) == 40
    assert "passphrase" not in good.msal_credential()  # msal gets the decrypted key
    assert "PRIVATE" not in repr(good)


def test_a_certificate_is_parsed_once_for_every_tenant_that_signs_in_with_it(
    pem_files: dict[str, bytes],
) -> None:
    """Checking an RSA key costs tens of milliseconds: a fleet signing in with one application's
    certificate parses it once, and the cache never lets a wrong passphrase through."""
    first = load_certificate(pem_files["encrypted"], "s3cret", "tenant a: cert.pem")
    assert load_certificate(pem_files["encrypted"], "s3cret", "tenant b: cert.pem") is first
    with pytest.raises(
        ConfigError, match=r"^tenant c: cert\.pem: cannot read the private key \(wrong passphrase"
    ):
        load_certificate(pem_files["encrypted"], "nope", "tenant c: cert.pem")
    assert load_certificate(pem_files["plain"], None, "tenant d: cert.pem") is not first


ENTRA_CHALLENGE = (
    'Bearer client_id="00000002-0000-0ff1-ce00-000000000000", '
    'trusted_issuers="00000001-0000-0000-c000-000000000000@*", error="invalid_token"'
)


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        # The reason in the challenge's error_description (RFC 6750).
        (
            {"www-authenticate": ENTRA_CHALLENGE + ', error_description="The access token has expired"'},
            "",
            "invalid_token: The access token has expired",
        ),
        # Exchange's diagnostics header.
        (
            {
                "www-authenticate": ENTRA_CHALLENGE,
                "x-ms-diagnostics": '2000003;reason="The token has expired.";error_category="invalid_token"',
            },
            "",
            "invalid_token: The token has expired.",
        ),
        # Only the body says it.
        (
            {"www-authenticate": ENTRA_CHALLENGE},
            "401 Unauthorized: token expired",
            "invalid_token: 401 Unauthorized: token expired",
        ),
        # A refusal for another reason is not called expiry.
        ({"www-authenticate": ENTRA_CHALLENGE}, "401 Unauthorized: the app lacks the role", None),
        ({}, "", None),
    ],
)
def test_a_401_is_called_expired_only_when_the_service_says_so(
    headers: dict[str, str], body: str, expected: str | None
) -> None:
    response = httpx.Response(401, headers=headers, text=body)
    assert token_expired_reason(response, body) == expected
