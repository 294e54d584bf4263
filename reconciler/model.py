"""Desired-state models of Exchange Online inbound and outbound connectors.

A connector document in YAML maps onto :class:`InboundConnector` or :class:`OutboundConnector`.  Field
names are the snake_case of the Exchange parameter (see :data:`PARAMETERS`); a field left out means its
documented default, so a model instance is the whole truth about a managed connector.

Contracts:
- A validated model holds normalized values only (see :mod:`reconciler.normalize`), so two models that mean
  the same connector have equal :meth:`ConnectorBase.managed_fields`.
- Cross-field rules of the service are checked on validation unless ``context={"skip_rules": True}``.
  Live state read from a tenant is built that way: values are normalized but the rules are not enforced,
  because a tenant may hold connectors that no longer pass them and those must still be planned against.
  The loader also skips them and calls :func:`rule_violations` itself, to locate each violation at its key.
- Fields the service owns (ConnectorSource, IsValidated, LastValidationTimestamp, internal-only
  parameters) are not part of desired state.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, Union, cast, get_args, get_origin

from annotated_types import MaxLen, MinLen
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from reconciler import normalize

Kind = Literal["InboundConnector", "OutboundConnector"]
KINDS: tuple[Kind, ...] = ("InboundConnector", "OutboundConnector")
MAX_NAME_LENGTH = 64


def _enum(*values: str) -> Callable[[Any], Any]:
    """A before-validator accepting enum values in any case, as the service does."""
    by_lower = {v.lower(): v for v in values}

    def fix_case(value: Any) -> Any:
        if isinstance(value, str):
            return by_lower.get(value.lower(), value)
        return value

    return fix_case


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` naming the closest candidate to ``word``, or ``""`` when none is close."""
    by_lower = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean '{by_lower[close[0]]}'?)" if close else ""


def _lenient(fn: Callable[[str], str]) -> Callable[[str, ValidationInfo], str]:
    """Canonicalize with ``fn``; on live state (``context={"live": True}``) keep a value the service holds
    even when exoform would refuse to write it, so such a tenant can still be read and planned against."""

    def apply(value: str, info: ValidationInfo) -> str:
        try:
            return fn(value)
        except ValueError:
            if info.context and info.context.get("live"):
                return value.strip()
            raise

    setattr(apply, "canonicalizer", fn)  # noqa: B010 - lets from_live's fast path find a faster equal twin
    return apply


def _optional(fn: Callable[[str], str]) -> Callable[[str | None, ValidationInfo], str | None]:
    def apply(value: str | None, info: ValidationInfo) -> str | None:
        if value is None or value.strip() == "":
            return None
        return _lenient(fn)(value, info)

    return apply


def _domain_no_star(value: str) -> str:
    return normalize.canon_domain(value)


def _domain_or_star(value: str) -> str:
    return normalize.canon_domain(value, allow_star=True)


def _sender_ip(value: str) -> str:
    return normalize.canon_ipv4_or_cidr(value, min_prefix=24)


def _ef_skip_ip(value: str) -> str:
    entry = normalize.canon_ip_range(value)
    if normalize.is_private(entry):
        raise ValueError(
            f"'{value}' is a private (RFC 1918) address; enhanced filtering skips those by itself, "
            "list only public IPs of the service in front of Exchange Online"
        )
    return entry


ConnectorType = Annotated[Literal["Partner", "OnPremises"], BeforeValidator(_enum("Partner", "OnPremises"))]
TlsSettings = Annotated[
    Literal["EncryptionOnly", "CertificateValidation", "DomainValidation"] | None,
    BeforeValidator(_enum("EncryptionOnly", "CertificateValidation", "DomainValidation")),
]
MtaStsMode = Annotated[Literal["Opportunistic", "None"], BeforeValidator(_enum("Opportunistic", "None"))]
SmtpDaneMode = Annotated[
    Literal["Opportunistic", "Mandatory", "None"],
    BeforeValidator(_enum("Opportunistic", "Mandatory", "None")),
]
#: Multi-valued fields: each entry is canonicalized on its own (so an error names the entry's index), then
#: the list is sorted and deduplicated, because order never counts as a change.
_SORTED = AfterValidator(normalize.canon_set)
SenderDomains = Annotated[
    list[Annotated[str, AfterValidator(_lenient(normalize.canon_sender_domain))]], _SORTED
]
RecipientDomains = Annotated[list[Annotated[str, AfterValidator(_lenient(_domain_or_star))]], _SORTED]
Domains = Annotated[list[Annotated[str, AfterValidator(_lenient(_domain_no_star))]], _SORTED]
SenderIPs = Annotated[list[Annotated[str, AfterValidator(_lenient(_sender_ip))]], _SORTED]
EFSkipIPs = Annotated[list[Annotated[str, AfterValidator(_lenient(_ef_skip_ip))]], _SORTED]
SmartHosts = Annotated[list[Annotated[str, AfterValidator(_lenient(normalize.canon_smart_host))]], _SORTED]
Emails = Annotated[list[Annotated[str, AfterValidator(_lenient(normalize.canon_email))]], _SORTED]
OptionalDomain = Annotated[str | None, AfterValidator(_optional(_domain_no_star))]


def _param(parameter: str, **extra: Any) -> Any:
    """Field metadata: the Exchange parameter name travels in the JSON Schema and in :data:`PARAMETERS`."""
    return {"x-exchange-parameter": parameter, **extra}


class SkipCheck(BaseModel):
    """A posture rule switched off for a connector or a tenant, with the reason shown in every plan."""

    model_config = ConfigDict(extra="forbid", strict=True)

    rule: str = Field(description="The id of the posture rule, like EXO-IN-001.")
    reason: str = Field(min_length=1, description="Why the rule does not apply; shown in the plan.")


class ConnectorBase(BaseModel):
    """Fields and behaviour common to both kinds of connector."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True)

    KIND: ClassVar[Kind]
    #: Fields that are about exoform's handling of the connector, not the connector itself.
    META_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"kind", "renamed_from", "ignore_fields", "skip_checks"}
    )

    name: str = Field(
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        description="Name: unique per kind, case-insensitive, at most 64 characters.",
        json_schema_extra=_param("Name"),
    )
    connector_type: ConnectorType = Field(
        description="ConnectorType: Partner (external partners and services) or OnPremises (your own "
        "organization's servers; grants relay and internal promotion).",
        json_schema_extra=_param("ConnectorType"),
    )
    comment: str = Field(default="", description="Comment: free text.", json_schema_extra=_param("Comment"))
    enabled: bool = Field(
        default=True, description="Enabled: whether the connector is on.", json_schema_extra=_param("Enabled")
    )
    cloud_services_mail_enabled: bool = Field(
        default=False,
        description="CloudServicesMailEnabled: keep X-MS-Exchange-Organization headers across premises "
        "(hybrid). OnPremises connectors only.",
        json_schema_extra=_param("CloudServicesMailEnabled"),
    )
    renamed_from: list[Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]] = Field(
        default_factory=list,
        description="Old names of this connector: the plan renames it in place instead of delete + create.",
    )
    ignore_fields: list[str] = Field(
        default_factory=list, description="Fields of this connector that are neither diffed nor written."
    )
    skip_checks: list[SkipCheck] = Field(
        default_factory=list, description="Posture rules switched off for this connector, each with a reason."
    )

    @classmethod
    def field_names(cls) -> list[str]:
        """The managed fields of this kind, in declaration order (``name`` first)."""
        names = cls.__dict__.get("_field_names_cache")
        if names is None:
            names = [f for f in cls.model_fields if f not in cls.META_FIELDS]
            setattr(cls, "_field_names_cache", names)  # noqa: B010 - a class attribute, not a model field
        return list(names)

    @cached_property
    def _managed(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in type(self).field_names()}

    def managed_fields(self) -> dict[str, Any]:
        """The normalized values of every managed field: what is compared against the live connector.

        Computed once per model and shared: callers must not mutate the result (models are not mutated
        after validation either).
        """
        return self._managed

    @field_validator("ignore_fields")
    @classmethod
    def _known_ignore_fields(cls, values: list[str]) -> list[str]:
        known = cls.field_names()
        for value in values:
            if value in ("name", "connector_type"):
                raise ValueError(f"'{value}' identifies the connector and cannot be ignored")
            if value not in known:
                raise ValueError(f"'{value}' is not a field of {cls.KIND}{did_you_mean(value, known)}")
        return values

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> ConnectorBase:
        if info.context and info.context.get("skip_rules"):
            return self
        errors = rule_violations(self)  # type: ignore[arg-type]
        if errors:
            raise ValueError("; ".join(message for _, message in errors))
        return self


class InboundConnector(ConnectorBase):
    """An inbound connector: mail coming into Microsoft 365 (New-/Set-InboundConnector)."""

    KIND: ClassVar[Kind] = "InboundConnector"

    kind: Literal["InboundConnector"] = "InboundConnector"
    sender_domains: SenderDomains = Field(
        description="SenderDomains: sender domains this connector applies to; '*' for all, '*.contoso.com' "
        "for a domain and its subdomains. Read back as smtp:<domain>;1.",
        json_schema_extra=_param("SenderDomains"),
    )
    sender_ip_addresses: SenderIPs = Field(
        default_factory=list,
        description="SenderIPAddresses: IPv4 addresses or CIDR blocks /24 to /32 that mail must come from.",
        json_schema_extra=_param("SenderIPAddresses"),
    )
    associated_accepted_domains: Domains = Field(
        default_factory=list,
        description="AssociatedAcceptedDomains: accepted domains of the tenant this connector is limited to.",
        json_schema_extra=_param("AssociatedAcceptedDomains"),
    )
    client_host_names: Domains = Field(
        default_factory=list,
        description="ClientHostNames: settable only when the connector is created (New-InboundConnector).",
        json_schema_extra=_param("ClientHostNames", **{"x-create-only": True}),
    )
    ef_skip_ips: EFSkipIPs = Field(
        default_factory=list,
        description="EFSkipIPs: public IPs of the service in front of Exchange Online (single, range "
        "a-b, or CIDR) that enhanced filtering skips when ef_skip_last_ip is false.",
        json_schema_extra=_param("EFSkipIPs"),
    )
    ef_skip_last_ip: bool = Field(
        default=False,
        description="EFSkipLastIP: enhanced filtering skips the last hop.",
        json_schema_extra=_param("EFSkipLastIP"),
    )
    ef_users: Emails = Field(
        default_factory=list,
        description="EFUsers: recipients enhanced filtering applies to; empty means all.",
        json_schema_extra=_param("EFUsers"),
    )
    require_tls: bool = Field(
        default=True,
        description="RequireTls: reject mail that is not sent over TLS.",
        json_schema_extra=_param("RequireTls"),
    )
    restrict_domains_to_certificate: bool = Field(
        default=False,
        description="RestrictDomainsToCertificate: accept the sender domains only from a server whose "
        "certificate matches tls_sender_certificate_name.",
        json_schema_extra=_param("RestrictDomainsToCertificate"),
    )
    restrict_domains_to_ip_addresses: bool = Field(
        default=False,
        description="RestrictDomainsToIPAddresses: accept the sender domains only from sender_ip_addresses.",
        json_schema_extra=_param("RestrictDomainsToIPAddresses"),
    )
    tls_sender_certificate_name: OptionalDomain = Field(
        default=None,
        description="TlsSenderCertificateName: domain (or *.domain) of the sending server's certificate.",
        json_schema_extra=_param("TlsSenderCertificateName"),
    )
    treat_messages_as_internal: bool = Field(
        default=False,
        description="TreatMessagesAsInternal: treat mail as internal (bypasses anti-spam). OnPremises only, "
        "not with cloud_services_mail_enabled.",
        json_schema_extra=_param("TreatMessagesAsInternal"),
    )
    trusted_organizations: Domains = Field(
        default_factory=list,
        description="TrustedOrganizations: other Microsoft 365 organizations trusted as sources.",
        json_schema_extra=_param("TrustedOrganizations"),
    )


class OutboundConnector(ConnectorBase):
    """An outbound connector: mail leaving Microsoft 365 (New-/Set-OutboundConnector)."""

    KIND: ClassVar[Kind] = "OutboundConnector"

    kind: Literal["OutboundConnector"] = "OutboundConnector"
    recipient_domains: RecipientDomains = Field(
        default_factory=list,
        description="RecipientDomains: recipient domains routed through this connector ('*' for all).",
        json_schema_extra=_param("RecipientDomains"),
    )
    smart_hosts: SmartHosts = Field(
        default_factory=list,
        description="SmartHosts: FQDNs, IPv4 addresses or CIDR blocks to deliver to (no port). Required "
        "when use_mx_record is false.",
        json_schema_extra=_param("SmartHosts"),
    )
    use_mx_record: bool = Field(
        default=True,
        description="UseMXRecord: deliver by the recipient domain's MX record instead of smart hosts.",
        json_schema_extra=_param("UseMXRecord"),
    )
    tls_settings: TlsSettings = Field(
        default=None,
        description="TlsSettings: EncryptionOnly, CertificateValidation or DomainValidation; empty for "
        "opportunistic TLS.",
        json_schema_extra=_param("TlsSettings"),
    )
    tls_domain: OptionalDomain = Field(
        default=None,
        description="TlsDomain: the domain the smart host's certificate must match; DomainValidation only.",
        json_schema_extra=_param("TlsDomain"),
    )
    all_accepted_domains: bool = Field(
        default=False,
        description="AllAcceptedDomains: route mail for every accepted domain (hybrid). OnPremises only.",
        json_schema_extra=_param("AllAcceptedDomains"),
    )
    route_all_messages_via_on_premises: bool = Field(
        default=False,
        description="RouteAllMessagesViaOnPremises: centralized mail transport. OnPremises only.",
        json_schema_extra=_param("RouteAllMessagesViaOnPremises"),
    )
    sender_rewriting_enabled: bool = Field(
        default=False,
        description="SenderRewritingEnabled: Sender Rewriting Scheme for relayed mail. OnPremises only.",
        json_schema_extra=_param("SenderRewritingEnabled"),
    )
    is_transport_rule_scoped: bool = Field(
        default=False,
        description="IsTransportRuleScoped: used only by transport rules; then recipient_domains is empty.",
        json_schema_extra=_param("IsTransportRuleScoped"),
    )
    test_mode: bool = Field(
        default=False,
        description="TestMode: the connector is in test mode (hidden from a plain Get-OutboundConnector).",
        json_schema_extra=_param("TestMode"),
    )
    mta_sts_mode: MtaStsMode = Field(
        default="Opportunistic",
        description="MtaStsMode: Opportunistic or None.",
        json_schema_extra=_param("MtaStsMode"),
    )
    smtp_dane_mode: SmtpDaneMode = Field(
        default="Opportunistic",
        description="SmtpDaneMode: Opportunistic, Mandatory or None.",
        json_schema_extra=_param("SmtpDaneMode"),
    )
    validation_recipients: Emails = Field(
        default_factory=list,
        description="ValidationRecipients: addresses Validate-OutboundConnector sends test mail to. Set "
        "after the connector is created (Set-OutboundConnector only).",
        json_schema_extra=_param("ValidationRecipients", **{"x-set-only": True}),
    )


Connector = InboundConnector | OutboundConnector
MODELS: dict[Kind, type[InboundConnector] | type[OutboundConnector]] = {
    "InboundConnector": InboundConnector,
    "OutboundConnector": OutboundConnector,
}


def rule_violations(c: Connector) -> list[tuple[str, str]]:
    """The service's cross-field rules that ``c`` breaks, as (field to blame, message) pairs."""
    if isinstance(c, InboundConnector):
        return _inbound_violations(c)
    return _outbound_violations(c)


def _inbound_violations(c: InboundConnector) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    on_prem = c.connector_type == "OnPremises"
    if not c.sender_domains:
        errors.append(("sender_domains", "sender_domains needs at least one domain ('*' for all)"))
    if c.treat_messages_as_internal and not on_prem:
        errors.append(
            ("treat_messages_as_internal", "treat_messages_as_internal needs connector_type OnPremises")
        )
    if c.treat_messages_as_internal and c.cloud_services_mail_enabled:
        errors.append(
            (
                "treat_messages_as_internal",
                "treat_messages_as_internal cannot be true when cloud_services_mail_enabled is true",
            )
        )
    if c.cloud_services_mail_enabled and not on_prem:
        errors.append(
            ("cloud_services_mail_enabled", "cloud_services_mail_enabled needs connector_type OnPremises")
        )
    if on_prem and not c.sender_ip_addresses and not c.tls_sender_certificate_name:
        errors.append(
            (
                "connector_type",
                "an OnPremises inbound connector needs sender_ip_addresses or tls_sender_certificate_name",
            )
        )
    if c.tls_sender_certificate_name and not c.require_tls:
        errors.append(("tls_sender_certificate_name", "tls_sender_certificate_name needs require_tls true"))
    if c.restrict_domains_to_ip_addresses and not c.sender_ip_addresses:
        errors.append(
            ("restrict_domains_to_ip_addresses", "restrict_domains_to_ip_addresses needs sender_ip_addresses")
        )
    if c.restrict_domains_to_ip_addresses and c.restrict_domains_to_certificate:
        errors.append(
            (
                "restrict_domains_to_certificate",
                "restrict_domains_to_ip_addresses and restrict_domains_to_certificate cannot both be true",
            )
        )
    if c.restrict_domains_to_certificate and not c.tls_sender_certificate_name:
        errors.append(
            (
                "restrict_domains_to_certificate",
                "restrict_domains_to_certificate needs tls_sender_certificate_name",
            )
        )
    return errors


def _outbound_violations(c: OutboundConnector) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    on_prem = c.connector_type == "OnPremises"
    for field in (
        "all_accepted_domains",
        "route_all_messages_via_on_premises",
        "sender_rewriting_enabled",
        "cloud_services_mail_enabled",
    ):
        if getattr(c, field) and not on_prem:
            errors.append((field, f"{field} needs connector_type OnPremises"))
    if c.use_mx_record and c.smart_hosts:
        errors.append(
            ("smart_hosts", "smart_hosts cannot be set when use_mx_record is true; set use_mx_record: false")
        )
    if not c.use_mx_record and not c.smart_hosts:
        errors.append(("use_mx_record", "use_mx_record false needs at least one entry in smart_hosts"))
    if c.tls_domain and c.tls_settings != "DomainValidation":
        errors.append(("tls_domain", "tls_domain is only allowed with tls_settings DomainValidation"))
    if c.tls_settings == "DomainValidation" and not c.tls_domain:
        errors.append(("tls_settings", "tls_settings DomainValidation needs tls_domain"))
    has_scope = bool(c.recipient_domains) or c.all_accepted_domains
    if c.is_transport_rule_scoped and has_scope:
        errors.append(
            (
                "is_transport_rule_scoped",
                "a transport-rule-scoped connector has no recipient_domains and all_accepted_domains false",
            )
        )
    if not c.is_transport_rule_scoped and not has_scope:
        errors.append(
            (
                "recipient_domains",
                "set recipient_domains or all_accepted_domains, or is_transport_rule_scoped: true",
            )
        )
    return errors


@dataclass(frozen=True)
class FieldSpec:
    """How one managed field maps to the service."""

    name: str
    parameter: str
    multi: bool
    default: Any
    create_only: bool = False
    set_only: bool = False


def _specs(model: type[ConnectorBase]) -> dict[str, FieldSpec]:
    specs: dict[str, FieldSpec] = {}
    for name in model.field_names():
        info = model.model_fields[name]
        extra = info.json_schema_extra
        assert isinstance(extra, dict)
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        specs[name] = FieldSpec(
            name=name,
            parameter=str(extra["x-exchange-parameter"]),
            multi=info.annotation is not None and "list" in str(info.annotation),
            default=default,
            create_only=bool(extra.get("x-create-only")),
            set_only=bool(extra.get("x-set-only")),
        )
    return specs


#: Per kind, managed field name -> :class:`FieldSpec` (Exchange parameter, default, multi-valued).
FIELDS: dict[Kind, dict[str, FieldSpec]] = {kind: _specs(model) for kind, model in MODELS.items()}
#: Per kind, managed field name -> Exchange parameter name.
PARAMETERS: dict[Kind, dict[str, str]] = {
    kind: {name: spec.parameter for name, spec in specs.items()} for kind, specs in FIELDS.items()
}


def from_live(kind: Kind, obj: dict[str, Any]) -> Connector:
    """A model from a Get-*Connector object (PascalCase properties), normalized and not rule-checked.

    Unknown properties are ignored (the service's property set grows); a property it does not return is
    taken at its default.  A value exoform would refuse to write (a private EFSkipIPs entry, say) is kept
    as the service holds it.  Raises ``pydantic.ValidationError`` when a value cannot be read at all.

    The result is exactly :func:`from_live_validated`'s: the same normalizing functions, taken from the
    model's own annotations, applied to the same values.  Reading a big tenant spends much of its CPU here,
    so the common case -- every value of its plain JSON type, every property spelled as documented --
    skips the key mapping and pydantic's validation and builds the model with ``model_construct``.
    Anything else (another spelling, a wrong type, a missing required field, a value pydantic would
    refuse) goes through :func:`from_live_validated`, which gives the same model or the error.
    """
    fast = _FAST[kind]
    if fast is not None:
        model = _from_live_fast(kind, obj, fast)
        if model is not None:
            return model
    return from_live_validated(kind, obj)


def from_live_validated(kind: Kind, obj: dict[str, Any]) -> Connector:
    """:func:`from_live` through pydantic validation only: the reference its fast path must equal."""
    values: dict[str, Any] = {}
    lowered = {k.lower(): v for k, v in obj.items()}
    for name, spec in FIELDS[kind].items():
        if spec.parameter.lower() not in lowered:
            continue
        value = lowered[spec.parameter.lower()]
        if spec.multi and value is None:
            value = []
        elif spec.multi and isinstance(value, str):
            value = [value]
        elif name == "comment" and value is None:
            value = ""
        values[name] = value
    if kind == "InboundConnector":
        values["sender_domains"] = [d for d in values.get("sender_domains", []) if d.strip() != "smtp:;1"]
    return MODELS[kind].model_validate(values, context=_LIVE_CONTEXT)


_MISSING = object()


def _from_live_fast(kind: Kind, obj: dict[str, Any], fast: list[_FastField]) -> Connector | None:
    """:func:`from_live_validated`'s model built without validation, or None when in any doubt."""
    known, parameters = _KEYS[kind]
    unknown = obj.keys() - known
    if unknown and any(key.lower() in parameters for key in unknown):
        return None  # a parameter spelled in another case: the validated path maps it
    # Every parameter present is spelled as documented, so obj.get(parameter) is what the case-insensitive
    # mapping of the validated path finds.
    inbound = kind == "InboundConnector"
    values: dict[str, Any] = {}
    try:
        for name, parameter, multi, normalize in fast:
            value = obj.get(parameter, _MISSING)
            if value is _MISSING:
                continue
            if multi:
                if value is None:
                    value = []
                elif type(value) is str:
                    value = [value]
                if inbound and name == "sender_domains":
                    value = [d for d in value if d.strip() != "smtp:;1"]
            elif name == "comment" and value is None:
                value = ""
            values[name] = normalize(value)
        if inbound and "sender_domains" not in values:
            values["sender_domains"] = []
    except Exception:  # any doubt: the validated path decides (the same result or the error)
        return None
    if not _REQUIRED[kind] <= values.keys():
        return None
    full: dict[str, Any] = {}
    for name, factory, default in _DEFAULTS[kind]:  # every field, in declaration order
        value = values.get(name, _MISSING)
        if value is _MISSING:
            value = factory() if factory is not None else default
        full[name] = value
    return _construct(MODELS[kind], set(values), full)


def _construct(model: type[Connector], fields_set: set[str], full: dict[str, Any]) -> Connector:
    """``model.model_construct(fields_set, **full)`` for a ``full`` that holds every field in order: the
    instance state ``model_construct`` sets, without its per-field alias and default lookups (a third of
    the fast path's time).  Checked against ``model_construct`` at import (:data:`_DIRECT`)."""
    if not _DIRECT:
        return model.model_construct(fields_set, **full)
    instance = model.__new__(model)
    object.__setattr__(instance, "__dict__", full)
    object.__setattr__(instance, "__pydantic_fields_set__", fields_set)
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    return instance


_LIVE_CONTEXT: dict[str, Any] = {"skip_rules": True, "live": True}
#: Get properties besides the parameters (reference section 2): keys known not to be case variants of a
#: parameter, so an object holding only known keys needs no case-insensitive key mapping.
_READ_ONLY_PROPERTIES = [
    *(
        "AdminDisplayName",
        "ExchangeVersion",
        "DistinguishedName",
        "Identity",
        "ObjectCategory",
        "ObjectClass",
    ),
    *("WhenChanged", "WhenCreated", "WhenChangedUTC", "WhenCreatedUTC", "ExchangeObjectId", "Id", "Guid"),
    *("OrganizationalUnitRoot", "OrganizationId", "OriginatingServer", "IsValid", "ObjectState"),
    *("NameHashGuid", "OrganizationalUnitRootInternal", "ConnectorSource", "EFTestMode"),
    *("ScanAndDropRecipients", "EFSkipMailGateway", "LinkForModifiedConnector", "IsValidated"),
    "LastValidationTimestamp",
]


def _key_tables(kind: Kind) -> tuple[frozenset[str], frozenset[str]]:
    """(property names whose spelling is known, lower-cased parameter names) of ``kind``."""
    parameters = [spec.parameter for spec in FIELDS[kind].values()]
    known = {*parameters, *_READ_ONLY_PROPERTIES}
    assert len({k.lower() for k in known}) == len(known), "known property names must differ in more than case"
    return frozenset(known), frozenset(p.lower() for p in parameters)


_KEYS = {kind: _key_tables(kind) for kind in KINDS}


class _LiveInfo:
    """What the model's validators read of ``ValidationInfo`` on live state (only ``context``)."""

    context = _LIVE_CONTEXT


class _NotFast(Exception):
    """The value is not of the plain expected type: let pydantic validate it."""


def _fast_field(info: Any) -> Callable[[Any], Any] | None:
    """A function giving what validation gives for one field's value (or raising), built from the field's
    annotation and validators; None for a field shape this does not know (then the kind has no fast path)."""
    annotation, metadata = info.annotation, list(info.metadata)
    live = cast(ValidationInfo, _LiveInfo())
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is bool and not metadata:

        def boolean(value: Any) -> Any:
            if type(value) is not bool:
                raise _NotFast
            return value

        return boolean
    if annotation is str and all(isinstance(m, MinLen | MaxLen) for m in metadata):
        low = max([m.min_length for m in metadata if isinstance(m, MinLen)], default=0)
        high = min([m.max_length for m in metadata if isinstance(m, MaxLen)], default=None)

        def text(value: Any) -> Any:
            if type(value) is not str or len(value) < low or (high is not None and len(value) > high):
                raise _NotFast
            return value

        return text
    literal_args = args if origin is Literal else ()
    optional = False
    if origin in (Union, UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and get_origin(rest[0]) is Literal:
            literal_args, optional = get_args(rest[0]), True
    if literal_args and len(metadata) == 1 and isinstance(metadata[0], BeforeValidator):
        before = metadata[0].func
        allowed = frozenset(literal_args)

        def choice(value: Any) -> Any:
            if value is None and optional:
                return None
            fixed = before(value)  # type: ignore[call-arg]
            if type(fixed) is not str or fixed not in allowed:
                raise _NotFast
            return fixed

        return choice
    if origin in (Union, UnionType) and set(args) == {str, type(None)}:
        if len(metadata) == 1 and isinstance(metadata[0], AfterValidator):
            after = metadata[0].func

            def optional_text(value: Any) -> Any:
                if value is not None and type(value) is not str:
                    raise _NotFast
                return after(value, live)  # type: ignore[call-arg]

            return optional_text
        return None
    if origin is list and len(args) == 1 and get_origin(args[0]) is Annotated:
        item_type, *item_metadata = get_args(args[0])
        if (
            item_type is str
            and len(item_metadata) == 1
            and isinstance(item_metadata[0], AfterValidator)
            and len(metadata) == 1
            and isinstance(metadata[0], AfterValidator)
        ):
            item, whole = item_metadata[0].func, metadata[0].func
            twin = _TWINS.get(getattr(item, "canonicalizer", None))
            empty_is_empty = whole([]) == []  # type: ignore[call-arg]

            def entries(value: Any) -> Any:
                if type(value) is not list:
                    raise _NotFast
                if not value and empty_is_empty:
                    return []
                out = []
                for entry in value:
                    if type(entry) is not str:
                        raise _NotFast
                    fast = twin(entry) if twin is not None else None
                    out.append(fast if fast is not None else item(entry, live))  # type: ignore[call-arg]
                return whole(out)  # type: ignore[call-arg]

            return entries
    return None


_FastField = tuple[str, str, bool, Callable[[Any], Any]]


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_IPV4_CIDR = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}(?:/(3[0-2]|[12][0-9]|[0-9]))?", re.ASCII)


def _fast_sender_ip(value: str) -> str | None:
    """``_sender_ip(value)`` for an IPv4 address or CIDR block written the plain way (no spaces, no leading
    zeros, a prefix of 24 to 32), computed without ``ipaddress``; None for anything else (then the real
    function decides).  Equality with ``_sender_ip`` is part of the fast path's property test."""
    match = _IPV4_CIDR.fullmatch(value)
    if match is None:
        return None
    prefix = match.group(5)
    if prefix is None:
        return value
    if prefix == "32":
        return value[: -len("/32")]
    length = int(prefix)
    if length < 24:
        return None
    a, b, c, d = (int(match.group(i)) for i in range(1, 5))
    network = ((a << 24) | (b << 16) | (c << 8) | d) & (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF
    return f"{network >> 24}.{(network >> 16) & 255}.{(network >> 8) & 255}.{network & 255}/{length}"


#: Faster equal twins of canonicalizers: ``twin(value)`` is ``fn(value)``, or None where it does not know.
_TWINS: dict[Any, Callable[[str], str | None]] = {_sender_ip: _fast_sender_ip}


def _fast_fields(kind: Kind) -> list[_FastField] | None:
    """(field, parameter, multi-valued, normalizer) per managed field; None when a field's shape is unknown
    to :func:`_fast_field` (then that kind always goes through validation: correct, slower)."""
    model = MODELS[kind]
    table: list[_FastField] = []
    for name, spec in FIELDS[kind].items():
        normalize = _fast_field(model.model_fields[name])
        if normalize is None:
            return None
        table.append((name, spec.parameter, spec.multi, normalize))
    return table


def _defaults(kind: Kind) -> list[tuple[str, Callable[[], Any] | None, Any]]:
    """(field, default factory, default) of every field in declaration order: what ``model_construct``
    would fill in itself (required fields have no default)."""
    result: list[tuple[str, Callable[[], Any] | None, Any]] = []
    for name, info in MODELS[kind].model_fields.items():
        if info.is_required():
            result.append((name, None, _MISSING))  # always present in the fast path's values
            continue
        factory = cast(Callable[[], Any] | None, info.default_factory)
        default = None if factory is not None else info.default
        assert default is None or type(default) in (str, bool, int), "shared defaults must be immutable"
        result.append((name, factory, default))
    return result


_FAST: dict[Kind, list[_FastField] | None] = {kind: _fast_fields(kind) for kind in KINDS}
_DEFAULTS = {kind: _defaults(kind) for kind in KINDS}


def _direct_construction_works() -> bool:
    """Whether setting the instance state by hand gives what ``model_construct`` gives (it does for the
    pydantic this was written against; another version falls back to ``model_construct``)."""
    for model in MODELS.values():
        if (
            model.__pydantic_post_init__
            or model.__pydantic_root_model__
            or model.model_config.get("extra") == "allow"
        ):
            return False
    sample: dict[str, Any] = {"name": "n", "connector_type": "Partner", "sender_domains": ["a.com"]}
    reference = InboundConnector.model_construct(set(sample), **sample)
    full = {name: getattr(reference, name) for name in InboundConnector.model_fields}
    instance = InboundConnector.__new__(InboundConnector)
    object.__setattr__(instance, "__dict__", full)
    object.__setattr__(instance, "__pydantic_fields_set__", set(sample))
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    state = ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")
    return all(getattr(instance, a, _MISSING) == getattr(reference, a, _MISSING) for a in state) and (
        instance == reference and instance.model_dump() == reference.model_dump()
    )


_DIRECT = _direct_construction_works()
_REQUIRED: dict[Kind, frozenset[str]] = {
    kind: frozenset(n for n, f in MODELS[kind].model_fields.items() if f.is_required()) for kind in KINDS
}
