"""What to do about a refused sign-in or a refused call: Entra ID's AADSTS codes and Exchange roles.

:func:`sign_in_hint` reads the code of an Entra ID error answer (``error_codes``, else the ``AADSTSnnnn``
in ``error_description``) and says what to fix.  Sources for the meanings (docs/identities.md lists them):

- Microsoft Entra authentication and authorization error codes,
  https://learn.microsoft.com/entra/identity-platform/reference-error-codes (the current text of any code:
  https://login.microsoftonline.com/error?code=NNNN);
- Troubleshoot service principal authentication (Azure SDK for Java), which tabulates 7000215, 7000222,
  700016 and 700027 with their fixes,
  https://learn.microsoft.com/azure/developer/java/sdk/troubleshooting-authentication-service-principal;
- Teams SDK authentication troubleshooting, "Missing Service Principal in the Tenant" (7000229),
  https://learn.microsoft.com/microsoftteams/platform/teams-sdk/teams/app-authentication/troubleshooting.

No hint holds a secret: only the client id, the tenant and the authority's host, which are not secret.
"""

from __future__ import annotations

import re
from typing import Any

#: What a refused read asks to check (docs/identities.md, "Roles in each customer tenant").
ROLE_HINT = (
    "check that the app registration has the Office 365 Exchange Online application permission "
    "Exchange.ManageAsApp with admin consent, and that its service principal holds a role that reads "
    "connectors: Global Reader, an Exchange role group with 'View-Only Configuration', or a writing role"
)
#: What a refused write asks to check.
WRITE_ROLE_HINT = (
    "changing connectors needs the Exchange Administrator role on the app's service principal (or an "
    "Exchange role group with the 'Remote and Accepted Domains' role), and Exchange.ManageAsApp with "
    "admin consent"
)

_CODE_RE = re.compile(r"\bAADSTS(\d{5,8})\b")
_CONSENT = "an administrator of this tenant grants it admin consent at {consent_url} (docs/identities.md)"

#: What to do, by AADSTS code.  ``{client_id}``, ``{consent_url}`` and ``{tenant}`` are filled in.
AADSTS_HINTS: dict[int, str] = {
    7000229: (
        "the app {client_id} has no service principal in this tenant (it was never consented here, or the "
        "consent was removed): " + _CONSENT
    ),
    700016: (
        "no app with client id {client_id} exists in this tenant: check client_id; for a multi-tenant app, "
        + _CONSENT
    ),
    7000215: (
        "the client secret is not valid: use the secret's value (not its secret ID) from the app "
        "registration's 'Certificates & secrets', or create a new secret"
    ),
    7000222: (
        "the client secret has expired: create a new secret for app {client_id} and update the variable "
        "client_secret names"
    ),
    700027: (
        "the certificate is not one the app {client_id} knows: upload its public certificate to the app "
        "registration's 'Certificates & secrets' (the thumbprint must match), or check it has not expired"
    ),
    700024: (
        "the client assertion is outside its valid time range: check this machine's clock, and for a "
        "federated credential that the CI token is fresh"
    ),
    700211: (
        "the app {client_id} has no federated credential for this token's issuer: add one for your CI "
        "system (docs/identities.md, 'Federated credentials')"
    ),
    700212: (
        "the federated credential's audience does not match the CI token's: use api://AzureADTokenExchange"
    ),
    700213: (
        "no federated credential of app {client_id} matches this CI job's subject (branch, environment or "
        "pull request): add one for it (docs/identities.md, 'Federated credentials')"
    ),
    7000112: "the app {client_id} is disabled in this tenant: an administrator must enable it",
    90002: (
        "the tenant {tenant} was not found: check organization or tenant_id, and the cloud (a GCC High or "
        "China tenant signs in at its own cloud)"
    ),
    900023: "'{tenant}' is not a tenant id or domain: check organization or tenant_id",
    500011: (
        "Exchange Online is not available in this tenant (its resource principal was not found): check "
        "that the tenant has Exchange Online, and the cloud setting"
    ),
    53003: (
        "a Conditional Access policy of this tenant blocked the app {client_id}: ask its administrator to "
        "allow the app (workload identity policies)"
    ),
}


def aadsts_code(body: dict[str, Any]) -> int | None:
    """The first AADSTS code of an Entra ID error answer, or None."""
    codes = body.get("error_codes")
    if isinstance(codes, list) and codes and isinstance(codes[0], int):
        return codes[0]
    found = _CODE_RE.search(str(body.get("error_description", "")))
    return int(found.group(1)) if found else None


def consent_url(authority: str, client_id: str) -> str:
    """Where an administrator of the authority's tenant grants ``client_id`` admin consent."""
    return f"{authority.rstrip('/')}/adminconsent?client_id={client_id}"


def sign_in_hint(body: dict[str, Any], *, authority: str, client_id: str) -> str:
    """``; what to do`` for an Entra ID error answer whose code is known, else the generic hint or ''."""
    code = aadsts_code(body)
    template = AADSTS_HINTS.get(code) if code is not None else None
    if template is not None:
        tenant = authority.rstrip("/").rsplit("/", 1)[-1]
        text = template.format(
            client_id=client_id, consent_url=consent_url(authority, client_id), tenant=tenant
        )
        return f"; {text}"
    if body.get("error") in ("invalid_client", "unauthorized_client"):
        return "; check client_id and the credential (secret, certificate or federated credential)"
    return ""
