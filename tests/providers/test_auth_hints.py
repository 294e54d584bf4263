"""What a refused sign-in tells the user, per Entra ID error code, and what importing auth costs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from reconciler.providers.auth.hints import AADSTS_HINTS, aadsts_code, sign_in_hint

GCC_HIGH = "https://login.microsoftonline.us/fabrikam.onmicrosoft.us"


def test_missing_consent_names_the_customer_tenants_consent_url_in_its_cloud() -> None:
    body = {"error": "invalid_client", "error_description": "AADSTS7000229: The client application ..."}
    hint = sign_in_hint(body, authority=GCC_HIGH, client_id="app-1")
    assert f"{GCC_HIGH}/adminconsent?client_id=app-1" in hint


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"error_codes": [700016], "error_description": "AADSTS7000215: ignored"}, 700016),
        ({"error_description": "AADSTS90002: Tenant 'x' not found.\r\nTrace ID: 1"}, 90002),
        ({"error": "invalid_client", "error_description": "no code here"}, None),
    ],
)
def test_the_code_comes_from_error_codes_then_the_description(
    body: dict[str, object], code: int | None
) -> None:
    assert aadsts_code(body) == code


def test_every_known_code_gets_its_own_advice_and_unknown_ones_the_generic_one() -> None:
    seen = set()
    for code in AADSTS_HINTS:
        hint = sign_in_hint({"error_codes": [code]}, authority=GCC_HIGH, client_id="app-1")
        assert hint.startswith("; ") and "{" not in hint, hint
        seen.add(hint)
    assert len(seen) == len(AADSTS_HINTS)
    generic = sign_in_hint({"error": "invalid_client", "error_codes": [1]}, authority=GCC_HIGH, client_id="a")
    assert "check client_id and the credential" in generic


def test_importing_auth_does_not_import_msal_or_pyjwt() -> None:
    """Every command starts without msal and PyJWT (about 0.1 s): they are imported by a sign-in."""
    code = (
        "import sys, reconciler.providers.auth, reconciler.providers.exchange;"
        "print('msal' in sys.modules, 'jwt' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False False"
