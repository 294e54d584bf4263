"""Where a tenant is reached: the Microsoft clouds, and one tenant's API base, token scope and authority."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from reconciler.desired.config import TenantConfig
from reconciler.errors import ConfigError


@dataclass(frozen=True)
class Cloud:
    """Where one Microsoft cloud serves the Exchange admin API and issues its tokens."""

    api_base: str
    scope: str
    login_host: str


#: The national clouds (docs/exchange-provider.md, "Clouds and overrides").  China is UNCONFIRMED: the
#: Admin API v2 table lists ``outlook.office365.cn`` while the legacy PowerShell endpoint and a community
#: module use ``partner.outlook.cn``; we follow the token scope the community module uses
#: (``partner.outlook.cn``) and the same host for the API, so token audience and host agree.  Override
#: with ``endpoint`` if it fails.
CLOUDS: dict[str, Cloud] = {
    "commercial": Cloud(
        "https://outlook.office365.com", "https://outlook.office365.com/.default", "login.microsoftonline.com"
    ),
    "gcc": Cloud(
        "https://outlook.office365.com", "https://outlook.office365.com/.default", "login.microsoftonline.com"
    ),
    "gcc-high": Cloud(
        "https://outlook.office365.us", "https://outlook.office365.us/.default", "login.microsoftonline.us"
    ),
    "dod": Cloud(
        "https://outlook-dod.office365.us",
        "https://outlook-dod.office365.us/.default",
        "login.microsoftonline.us",
    ),
    "china": Cloud(
        "https://partner.outlook.cn", "https://partner.outlook.cn/.default", "login.chinacloudapi.cn"
    ),
}


@dataclass(frozen=True)
class Endpoints:
    """The resolved places one tenant is reached at."""

    #: API base URL without a trailing slash; InvokeCommand is ``{api_base}/adminapi/beta/{tenant}/...``.
    api_base: str
    #: The token scope (``<resource>/.default``).
    scope: str
    #: The full authority URL handed to msal.
    authority: str
    #: The tenant path segment: the tenant id when given, else the organization's domain.
    tenant_segment: str


def resolve_endpoints(tenant: str, settings: TenantConfig) -> Endpoints:
    """The API base, scope and authority of ``settings``: the cloud's defaults, then the overrides."""
    cloud = CLOUDS[settings.cloud]
    segment = settings.tenant_id or settings.organization
    if not segment:
        raise ConfigError(f"tenant {tenant}: the exchange provider needs organization or tenant_id")
    api_base = (settings.endpoint or cloud.api_base).rstrip("/")
    authority = (settings.authority or f"https://{cloud.login_host}/{segment}").rstrip("/")
    for label, url in (("endpoint", api_base), ("authority", authority)):
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise ConfigError(f"tenant {tenant}: {label} must be an https:// URL, got '{url}'")
    return Endpoints(api_base=api_base, scope=cloud.scope, authority=authority, tenant_segment=segment)
