"""Which provider serves a tenant, and what it takes: one entry per ``provider:`` name of exoform.yaml.

A provider's entry (:class:`ProviderEntry`) brings its settings model (the tenant settings only it takes),
its opener (the tenant's :class:`~reconciler.providers.base.BaseProvider`) and its target (the string a
saved plan is bound to, which apply checks again).  :class:`~reconciler.desired.config.TenantConfig` takes
every registered provider's settings (:class:`AllProviderSettings`) and refuses another provider's setting
at its key.

This module is light: config validation imports it, so it imports pydantic only.  Openers and targets
import their provider's module when called, so a run that plans only local tenants never imports msal and
a run with only real tenants never loads the emulator.

A new provider is a module under ``providers/`` subclassing :class:`BaseProvider` with an opener, an
entry here (its name in :data:`ProviderName`, its settings model among :class:`AllProviderSettings`'
bases, its opener and target), and its harness in ``tests/providers/test_contract.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from reconciler.desired.references import LiteralOrEnv, OptionalSecretRef, SecretRef
from reconciler.errors import ConfigError

if TYPE_CHECKING:
    from reconciler.desired.config import ExoformConfig, TenantConfig
    from reconciler.providers.base import BaseProvider
    from reconciler.providers.session import Session

ProviderName = Literal["local", "exchange"]
Cloud = Literal["commercial", "gcc", "gcc-high", "dod", "china"]

#: Where a local tenant without ``state:`` keeps its state, relative to exoform.yaml (docs/emulator.md).
LOCAL_STATE_DEFAULT = ".exoform/{tenant}.json"


class ProviderSettings(BaseModel):
    """The base of a provider's own settings model: the tenant settings only that provider takes."""

    model_config = ConfigDict(extra="forbid", strict=True)

    def missing(self) -> str | None:
        """What a tenant of this provider lacks (checked once every setting is valid), or None."""
        return None


# -- local --------------------------------------------------------------------------------------------


class LocalSettings(ProviderSettings):
    """``provider: local``: the built-in emulator, its tenant's state in a file."""

    state: str | None = Field(default=None, description="local provider: the tenant's state file.")
    seed: str | None = Field(
        default=None, description="local provider: state to start from when the state file does not exist."
    )

    def state_file(self, tenant: str) -> str:
        """The tenant's state file as exoform.yaml names it: ``state``, or ``.exoform/<tenant>.json``."""
        return self.state or LOCAL_STATE_DEFAULT.format(tenant=tenant)


def _open_local(
    tenant: str, settings: TenantConfig, config: ExoformConfig, session: Session | None, write: bool
) -> BaseProvider:
    from reconciler.providers.local import open_local

    return open_local(tenant, settings, config, session=session)  # the emulator has one open identity


def _local_target(tenant: str, settings: TenantConfig, config: ExoformConfig) -> str:
    return f"local:{config.path(settings.state_file(tenant))}"


# -- exchange -----------------------------------------------------------------------------------------


class CertificateAuth(BaseModel):
    """A certificate credential: a PEM file, or PEM content from the environment."""

    model_config = ConfigDict(extra="forbid", strict=True)

    path: str | None = Field(default=None, description="PEM file holding the private key and certificate.")
    pem: SecretRef | None = Field(default=None, description="env:NAME of a variable holding the PEM content.")
    passphrase: OptionalSecretRef = Field(
        default=None, description="env:NAME of the private key's passphrase, if it has one."
    )

    @model_validator(mode="after")
    def _one_source(self) -> CertificateAuth:
        if (self.path is None) == (self.pem is None):
            raise ValueError("give exactly one of path or pem")
        return self


class AuthSettings(BaseModel):
    """An Entra ID app registration with Exchange.ManageAsApp; exactly one credential."""

    model_config = ConfigDict(extra="forbid", strict=True)

    client_id: LiteralOrEnv = Field(
        min_length=1, description="Application (client) id of the app registration, or env:NAME."
    )
    client_secret: SecretRef | None = Field(default=None, description="env:NAME of a client secret.")
    certificate: CertificateAuth | None = Field(default=None, description="A certificate credential.")
    federated: Literal["github", "azure-devops", "gitlab"] | None = Field(
        default=None,
        description="Workload identity federation of a CI system (no secret): github (GitHub Actions OIDC), "
        "azure-devops (a service connection's token, EXOFORM_SERVICE_CONNECTION_ID) or gitlab (the job's "
        "id_tokens entry EXOFORM_ID_TOKEN).",
    )

    @model_validator(mode="after")
    def _one_credential(self) -> AuthSettings:
        given = [c for c in (self.client_secret, self.certificate, self.federated) if c is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of client_secret, certificate or federated")
        return self


class ExchangeSettings(ProviderSettings):
    """``provider: exchange``: a real Exchange Online tenant, reached over HTTPS with an app identity.

    ``auth`` is the read identity; ``apply_auth`` (optional) the write identity, which only ``apply`` and
    ``status --validate`` sign in with (:meth:`identity`)."""

    organization: str | None = Field(default=None, description="The tenant's *.onmicrosoft.com domain.")
    tenant_id: str | None = Field(default=None, description="The tenant's id (a GUID).")
    cloud: Cloud = Field(default="commercial", description="commercial, gcc, gcc-high, dod or china.")
    auth: AuthSettings | None = Field(
        default=None,
        description="The read identity (exchange provider): plan, drift, status, export sign in with it; "
        "a read-only role (Global Reader or View-Only Configuration) is enough when apply_auth is given.",
    )
    apply_auth: AuthSettings | None = Field(
        default=None,
        description="The write identity (exchange provider), same shape as auth: only apply and status "
        "--validate sign in with it. Without it they use auth.",
    )
    endpoint: str | None = Field(default=None, description="API base URL override (tests, proxies).")
    authority: str | None = Field(default=None, description="Full authority URL override handed to msal.")
    ca_bundle: LiteralOrEnv | None = Field(
        default=None, description="PEM file of extra CAs to trust, or env:NAME of a variable naming it."
    )

    def missing(self) -> str | None:
        if not (self.organization or self.tenant_id):
            return "the exchange provider needs organization or tenant_id"
        if self.auth is None:
            return "the exchange provider needs auth"
        return None

    def identity(self, *, write: bool) -> tuple[str, AuthSettings | None]:
        """The identity to sign in with and its setting's name: ``apply_auth`` for writes when given, else
        ``auth``."""
        if write and self.apply_auth is not None:
            return "apply_auth", self.apply_auth
        return "auth", self.auth


def _open_exchange(
    tenant: str, settings: TenantConfig, config: ExoformConfig, session: Session | None, write: bool
) -> BaseProvider:
    from reconciler.providers.exchange import open_exchange

    return open_exchange(tenant, settings, config, session=session, write=write)


def _exchange_target(tenant: str, settings: TenantConfig, config: ExoformConfig) -> str:
    from reconciler.providers.auth import resolve_endpoints  # msal: loaded for exchange tenants only

    api_base = resolve_endpoints(tenant, settings).api_base
    segment = (settings.tenant_id or settings.organization or "").lower()
    return f"exchange:{settings.cloud}:{api_base}:{segment}"


# -- the registry -------------------------------------------------------------------------------------


class AllProviderSettings(LocalSettings, ExchangeSettings):
    """Every registered provider's settings: what a tenant may set beside the settings all providers share
    (each provider's only when it is the tenant's)."""


#: ``opener(tenant, settings, config, session, write)``: the tenant's provider, no network traffic yet;
#: ``write`` asks for the tenant's write identity where the provider has one.
Opener = Callable[[str, "TenantConfig", "ExoformConfig", "Session | None", bool], "BaseProvider"]
#: ``target(tenant, settings, config)``: what a tenant's plan is made against (see :func:`target_of`).
Target = Callable[[str, "TenantConfig", "ExoformConfig"], str]


@dataclass(frozen=True)
class ProviderEntry:
    """A provider: its own settings model, its opener and its target."""

    settings: type[ProviderSettings]
    open: Opener
    target: Target


PROVIDERS: dict[str, ProviderEntry] = {
    "local": ProviderEntry(LocalSettings, _open_local, _local_target),
    "exchange": ProviderEntry(ExchangeSettings, _open_exchange, _exchange_target),
}


def foreign_settings(provider: str) -> dict[str, str]:
    """The settings ``provider`` does not take, each with the provider that takes it."""
    return {
        name: other
        for other, entry in PROVIDERS.items()
        if other != provider
        for name in entry.settings.model_fields
    }


def _entry(tenant: str, settings: TenantConfig) -> ProviderEntry:
    entry = PROVIDERS.get(settings.provider)
    if entry is None:  # the settings model admits only registered names
        raise ConfigError(f"tenant {tenant}: unknown provider '{settings.provider}'")
    return entry


def target_of(tenant: str, settings: TenantConfig, config: ExoformConfig) -> str:
    """What a tenant's plan is made against, as apply checks it again: for ``exchange`` the cloud, the
    resolved API base URL and the organization or tenant id; for ``local`` the resolved state file.  A plan
    made against an emulator or a test endpoint is thus never applied to another.  :class:`ConfigError`
    when the settings cannot be resolved (an endpoint that is not https)."""
    return _entry(tenant, settings).target(tenant, settings, config)


def open_provider(
    tenant: str,
    settings: TenantConfig,
    config: ExoformConfig,
    *,
    session: Session | None = None,
    write: bool = False,
) -> BaseProvider:
    """The provider of ``tenant`` as ``settings`` configure it, on ``session`` (or a session of its own,
    closed with the provider).  No network traffic happens yet.

    It signs in with the tenant's read identity (``auth``); with ``write``, with its write identity
    (``apply_auth``) when the tenant names one.  Only apply and ``status --validate`` pass ``write``.

    Raises :class:`reconciler.errors.ConfigError` when a setting is unusable (an unreadable ``ca_bundle``,
    an endpoint that is not https).
    """
    return _entry(tenant, settings).open(tenant, settings, config, session, write)
