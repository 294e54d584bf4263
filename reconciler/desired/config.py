"""``exoform.yaml``: the tenants (targets), how to reach each, and the policy that guards its plans.

Contracts:
- Paths in the file are relative to the file's folder; :meth:`ExoformConfig.path` resolves them.
- A tenant's ``connectors`` is a folder or a list of folders (:meth:`TenantConfig.folders`); its ``vars``
  are the values of ``${vars.NAME}`` in connector files (:mod:`reconciler.desired.variables`).
- ``defaults`` (:data:`TenantDefaults`: every tenant setting, each optional) is merged into each tenant
  before validation by :mod:`reconciler.desired.defaults`, so a validated :class:`TenantConfig` is complete.
- A secret is never written in the file: secret-bearing settings must be ``env:NAME`` references, read
  only when needed by :func:`resolve_secret`, which raises :class:`ConfigError` naming the variable (never
  its value) when it is unset.
- ``client_id`` and ``ca_bundle`` take a literal or an ``env:NAME`` reference, read only when needed by
  :func:`resolve_value` (the same error when unset).
- A tenant's ``auth`` is its read identity; ``apply_auth`` (optional) its write identity, which only
  ``apply`` and ``status --validate`` sign in with (:meth:`TenantConfig.identity`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    ValidatorFunctionWrapHandler,
    create_model,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import InitErrorDetails, PydanticCustomError

from reconciler.errors import ConfigError, quote
from reconciler.model import FIELDS, SkipCheck, did_you_mean

Cloud = Literal["commercial", "gcc", "gcc-high", "dod", "china"]
ProviderName = Literal["local", "exchange"]
ENV_PREFIX = "env:"

#: The settings only one provider takes; every other setting of :class:`TenantConfig` applies to all.
PROVIDER_SETTINGS: dict[ProviderName, frozenset[str]] = {
    "local": frozenset({"state", "seed"}),
    "exchange": frozenset(
        {"organization", "tenant_id", "cloud", "auth", "apply_auth", "endpoint", "authority", "ca_bundle"}
    ),
}


_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_reference(value: str) -> str:
    # Neither message quotes the value: text after env: that is not a variable name is likely the secret.
    if not value.startswith(ENV_PREFIX) or len(value) == len(ENV_PREFIX):
        raise ValueError(
            "a secret is never written in exoform.yaml: use env:NAME to read it from the environment"
        )
    if not _ENV_NAME_RE.fullmatch(value.removeprefix(ENV_PREFIX)):
        raise ValueError(
            "env: must be followed by an environment variable name (letters, digits and _, not starting "
            "with a digit); the value is not shown, in case it is the secret itself"
        )
    return value


def _optional_env_reference(value: str | None) -> str | None:
    return None if value is None else _env_reference(value)


def _literal_or_env_reference(value: str) -> str:
    return _env_reference(value) if value.startswith(ENV_PREFIX) else value


def _known_field(value: str) -> str:
    known = sorted({name for specs in FIELDS.values() for name in specs})
    if value in ("name", "connector_type"):
        raise ValueError(f"{quote(value)} identifies the connector and cannot be ignored")
    if value not in known:
        raise ValueError(f"{quote(value)} is not a connector field{did_you_mean(value, known)}")
    return value


SecretRef = Annotated[str, AfterValidator(_env_reference)]
#: A setting written in the file or read from the environment (``env:NAME``).
LiteralOrEnv = Annotated[str, AfterValidator(_literal_or_env_reference)]
FieldList = list[Annotated[str, AfterValidator(_known_field)]]
#: A variable's name, as ``${vars.NAME}`` refers to it.
VarName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
VarScalar = str | bool | int | float
#: A variable's value: a scalar, or a list of scalars (for a whole list field).
VarValue = VarScalar | list[VarScalar]


def resolve_secret(reference: str) -> str:
    """The value behind an ``env:NAME`` reference; :class:`ConfigError` when the variable is unset."""
    name = reference.removeprefix(ENV_PREFIX)
    value = os.environ.get(name)
    if value is None or value == "":
        raise ConfigError(f"environment variable {name} is not set (referenced as {reference})")
    return value


def resolve_value(value: str) -> str:
    """``value``, or its variable's value when it is ``env:NAME`` (unset: see :func:`resolve_secret`)."""
    return resolve_secret(value) if value.startswith(ENV_PREFIX) else value


class CertificateAuth(BaseModel):
    """A certificate credential: a PEM file, or PEM content from the environment."""

    model_config = ConfigDict(extra="forbid", strict=True)

    path: str | None = Field(default=None, description="PEM file holding the private key and certificate.")
    pem: SecretRef | None = Field(default=None, description="env:NAME of a variable holding the PEM content.")
    passphrase: Annotated[str | None, AfterValidator(_optional_env_reference)] = Field(
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
    federated: Literal["github"] | None = Field(
        default=None, description="github: GitHub Actions OIDC workload identity federation (no secret)."
    )

    @model_validator(mode="after")
    def _one_credential(self) -> AuthSettings:
        given = [c for c in (self.client_secret, self.certificate, self.federated) if c is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of client_secret, certificate or federated")
        return self


#: ``max_changes`` unless set: a typical tenant holds 4 to 7 connectors and a reviewed change touches one
#: or two of them, while ``max_change_fraction`` only starts at 10 connectors; more than 3 updated or
#: deleted connectors in one tenant is a whole-tenant rewrite (a bad shared variable, say).
DEFAULT_MAX_CHANGES = 3


class TenantConfig(BaseModel):
    """One tenant (a target): where its connectors are declared, how to reach it, and its policy."""

    model_config = ConfigDict(extra="forbid", strict=True)

    connectors: str | Annotated[list[str], Field(min_length=1)] = Field(
        description="Folder of this tenant's connector YAML files, or a list of folders (shared sets first; "
        "a later folder may hold overrides of connectors declared in an earlier one)."
    )
    vars: dict[VarName, VarValue] = Field(
        default_factory=dict,
        description="Values for ${vars.NAME} in connector files (merged by name with defaults.vars).",
    )
    provider: ProviderName = Field(
        default="local", description="local: the built-in emulator; exchange: a real Exchange Online tenant."
    )
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
    state: str | None = Field(default=None, description="local provider: the tenant's state file.")
    seed: str | None = Field(
        default=None, description="local provider: state to start from when the state file does not exist."
    )
    unmanaged: Literal["report", "ignore", "delete"] = Field(
        default="report",
        description="Connectors no file declares: report (list them), ignore (hide), delete (plan deletion).",
    )
    protect: list[str] = Field(
        default_factory=list,
        description="Name globs of connectors that may never be deleted or renamed away.",
    )
    protect_hybrid_wizard: bool = Field(
        default=True,
        description="Connectors the Hybrid Configuration Wizard made (ConnectorSource HybridWizard) may "
        "never be deleted or renamed away; false lets a plan do it.",
    )
    max_deletes: int = Field(default=1, ge=0, description="More deletes than this makes the plan unsafe.")
    max_change_fraction: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="More changed connectors than this fraction of existing ones makes the plan unsafe "
        "(tenants with 10 or more connectors).",
    )
    max_changes: int | None = Field(
        default=DEFAULT_MAX_CHANGES,
        ge=0,
        description="More existing connectors updated or deleted in one plan than this makes the plan "
        "unsafe (creates do not count); null: no limit.",
    )
    ring: int = Field(
        default=0,
        ge=0,
        description="Rollout ring: apply --ring N applies the tenants of ring N only, and refuses while a "
        "tenant of an earlier ring still lacks the plan's changes.",
    )
    ignore_fields: FieldList = Field(default_factory=list, description="Fields never diffed nor written.")
    skip_checks: list[SkipCheck] = Field(
        default_factory=list,
        description="Posture rules switched off for the whole tenant, each with a reason.",
    )
    read_concurrency: int = Field(default=4, ge=1, le=16, description="Concurrent reads to this tenant.")
    write_concurrency: int = Field(default=1, ge=1, le=8, description="Concurrent writes to this tenant.")
    retry_max_attempts: int = Field(
        default=6, ge=1, le=20, description="Attempts per request on throttling, 5xx and network errors."
    )
    retry_max_seconds: float = Field(
        default=180, gt=0, le=3600, description="Longest time one request may spend retrying, in seconds."
    )

    # The settings of PROVIDER_SETTINGS are taken only by their provider: another provider's setting is
    # refused at its key, once the tenant's other settings are valid (a local tenant given auth, say, has
    # its auth errors reported first).
    @model_validator(mode="wrap")
    @classmethod
    def _only_own_provider_settings(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> TenantConfig:
        tenant = handler(data)
        assert isinstance(tenant, TenantConfig)
        foreign = [
            InitErrorDetails(
                type=PydanticCustomError(
                    "provider_setting",
                    "{name} is a setting of provider: {other}; this tenant's provider is {provider}",
                    {"name": name, "other": other, "provider": tenant.provider},
                ),
                loc=(name,),
                input=getattr(tenant, name),
            )
            for other, names in PROVIDER_SETTINGS.items()
            if other != tenant.provider
            for name in sorted(names & tenant.model_fields_set)
        ]
        if foreign:
            raise ValidationError.from_exception_data(cls.__name__, foreign)
        return tenant

    @model_validator(mode="after")
    def _provider_settings(self) -> TenantConfig:
        if self.provider == "exchange":
            if not (self.organization or self.tenant_id):
                raise ValueError("the exchange provider needs organization or tenant_id")
            if self.auth is None:
                raise ValueError("the exchange provider needs auth")
        return self

    def identity(self, *, write: bool) -> tuple[str, AuthSettings | None]:
        """The identity to sign in with and its setting's name: ``apply_auth`` for writes when given, else
        ``auth``."""
        if write and self.apply_auth is not None:
            return "apply_auth", self.apply_auth
        return "auth", self.auth

    def folders(self) -> list[str]:
        """The tenant's connector folders, in order (relative to exoform.yaml)."""
        return [self.connectors] if isinstance(self.connectors, str) else list(self.connectors)


def _defaults_model() -> type[BaseModel]:
    """Every setting of :class:`TenantConfig`, each optional: what ``defaults:`` may hold."""
    fields: dict[str, Any] = {
        name: (Optional[info.annotation], Field(default=None, description=info.description))  # noqa: UP045
        for name, info in TenantConfig.model_fields.items()
    }
    return cast(
        "type[BaseModel]",
        create_model(
            "TenantDefaults",
            __config__=ConfigDict(extra="forbid", strict=True),
            __doc__="Settings every tenant inherits unless it sets them itself (vars are merged by name).",
            **fields,
        ),
    )


TenantDefaults = _defaults_model()


class ExoformConfig(BaseModel):
    """The whole of ``exoform.yaml``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    defaults: TenantDefaults | None = Field(  # type: ignore[valid-type]
        default=None,
        description="Settings every tenant inherits unless it sets them itself; vars are merged by name. "
        "A default of another provider than the tenant's is not inherited.",
    )
    tenants: dict[str, TenantConfig] = Field(min_length=1, description="Tenants by name.")
    max_tenants_changed: int | None = Field(
        default=None,
        ge=0,
        description="A plan that changes more tenants than this is unsafe (apply refuses it without "
        "--force); null: no limit.",
    )
    base_dir: SkipJsonSchema[Path] = Field(
        default=Path("."), exclude=True, description="Folder of exoform.yaml."
    )
    #: The loader's located parse tree of the file, so later errors (a missing connectors folder, an unset
    #: env: variable) can point at the setting's line and column.  None when built in code.
    _source: Any = PrivateAttr(default=None)

    def path(self, relative: str) -> Path:
        """A path from the file, resolved against the file's folder."""
        return (self.base_dir / relative).resolve()
