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

# Defined beside the provider settings and the references; the rest of exoform reads them from here.
from reconciler.desired.references import resolve_secret as resolve_secret
from reconciler.desired.references import resolve_value as resolve_value
from reconciler.errors import quote
from reconciler.model import FIELDS, SkipCheck, did_you_mean
from reconciler.providers.registry import (
    PROVIDERS,
    AllProviderSettings,
    ProviderName,
)
from reconciler.providers.registry import AuthSettings as AuthSettings
from reconciler.providers.registry import CertificateAuth as CertificateAuth


def _known_field(value: str) -> str:
    known = sorted({name for specs in FIELDS.values() for name in specs})
    if value in ("name", "connector_type"):
        raise ValueError(f"{quote(value)} identifies the connector and cannot be ignored")
    if value not in known:
        raise ValueError(f"{quote(value)} is not a connector field{did_you_mean(value, known)}")
    return value


def _traffic_window(value: str) -> str:
    from reconciler.monitor.traffic import parse_since  # the one parser of windows (also --since)

    parse_since(value)
    return value


FieldList = list[Annotated[str, AfterValidator(_known_field)]]
#: A variable's name, as ``${vars.NAME}`` refers to it.
VarName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
VarScalar = str | bool | int | float
#: A variable's value: a scalar, or a list of scalars (for a whole list field).
VarValue = VarScalar | list[VarScalar]


#: ``max_changes`` unless set: a typical tenant holds 4 to 7 connectors and a reviewed change touches one
#: or two of them, while ``max_change_fraction`` only starts at 10 connectors; more than 3 updated or
#: deleted connectors in one tenant is a whole-tenant rewrite (a bad shared variable, say).
DEFAULT_MAX_CHANGES = 3


class _TenantTarget(BaseModel):
    """What every tenant states first: its connector folders, their variables and its provider."""

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


# How to reach the tenant is its provider's own settings (reconciler.providers.registry); the base order
# keeps the settings in the order the file and its schema show them.
class TenantConfig(AllProviderSettings, _TenantTarget):
    """One tenant (a target): where its connectors are declared, how to reach it, and its policy."""

    model_config = ConfigDict(extra="forbid", strict=True)

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
        default=180,
        gt=0,
        le=3600,
        description="Longest time one listing (every page), or one write with its verifying reads, may take, "
        "retries included, in seconds.",
    )
    traffic: bool = Field(
        default=False,
        description="Read message trace (docs/monitoring.md): plan shows whether each connector it deletes, "
        "disables or narrows carried mail in the last traffic_window; status and drift list connectors "
        "without traffic. Needs a message trace role for the read identity and costs trace requests.",
    )
    traffic_window: Annotated[str, AfterValidator(_traffic_window)] = Field(
        default="48h",
        json_schema_extra={"pattern": r"^\s*[0-9]+\s*[dhmDHM]\s*$"},  # checked by parse_since, its message
        description="The window of traffic: true, ending when the command runs: 2d, 48h, 30m (at most 90d).",
    )

    # A provider's own settings are taken only by that provider: another provider's setting is refused at
    # its key, once the tenant's other settings are valid (a local tenant given auth, say, has its auth
    # errors reported first).
    @model_validator(mode="wrap")
    @classmethod
    def _only_own_provider_settings(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> TenantConfig:
        tenant = handler(data)
        assert isinstance(tenant, TenantConfig)
        errors = [
            InitErrorDetails(
                type=PydanticCustomError(
                    "provider_setting",
                    "{name} is a setting of provider: {other}; this tenant's provider is {provider}",
                    {"name": name, "other": other, "provider": tenant.provider},
                ),
                loc=(name,),
                input=getattr(tenant, name),
            )
            for other, entry in PROVIDERS.items()
            if other != tenant.provider
            for name in sorted(entry.settings.model_fields.keys() & tenant.model_fields_set)
        ]
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return tenant

    @model_validator(mode="after")
    def _provider_settings(self) -> TenantConfig:
        missing = PROVIDERS[self.provider].settings.missing(self)
        if missing is not None:
            raise ValueError(missing)
        return self

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


#: A tenant name: letters and digits (ASCII), ``.``, ``_`` and ``-``, at most 64, not starting with ``-`` or
#: ``.``.  The name becomes a file name, a folder, a command-line argument and an issue title in the
#: workflows ``exoform init`` writes: so it never holds a space, a glob or shell character or a path
#: separator, never reads as an option (``-x``) or a hidden or parent folder (``.``, ``..``).
TENANT_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
TENANT_NAME_RULE = "use letters, digits, '.', '_' and '-' (at most 64), not starting with '-' or '.'"


def check_tenant_name(name: str) -> str:
    """``name`` when it follows :data:`TENANT_NAME_RE`; else ``ValueError`` quoting it and the rule."""
    if not TENANT_NAME_RE.fullmatch(name):
        raise ValueError(f"tenant name {quote(name)}: {TENANT_NAME_RULE}")
    return name


TenantName = Annotated[str, AfterValidator(check_tenant_name)]


class ExoformConfig(BaseModel):
    """The whole of ``exoform.yaml``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    defaults: TenantDefaults | None = Field(  # type: ignore[valid-type]
        default=None,
        description="Settings every tenant inherits unless it sets them itself; vars are merged by name. "
        "A default of another provider than the tenant's is not inherited.",
    )
    tenants: dict[TenantName, TenantConfig] = Field(
        min_length=1,
        description=f"Tenants by name ({TENANT_NAME_RULE}).",
        json_schema_extra={"propertyNames": {"pattern": f"^{TENANT_NAME_RE.pattern}$"}},
    )
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
