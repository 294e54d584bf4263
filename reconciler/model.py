"""Desired-state models of Exchange Online inbound and outbound connectors.

A connector document in YAML maps onto :class:`InboundConnector` or :class:`OutboundConnector`.  Field
names are the snake_case of the Exchange parameter (see :data:`PARAMETERS`); a field left out means its
documented default, so a model instance is the whole truth about a managed connector.

Contracts:
- A validated model holds normalized values only (see :mod:`reconciler.normalize`), so two models that mean
  the same connector have equal :meth:`ConnectorBase.managed_fields`.
- Cross-field rules of the service are checked on validation unless ``context={"skip_rules": True}``.
  The loader skips them and calls :func:`rule_violations` itself, to locate each violation at its key.
- Live state read from a tenant is built by :func:`from_live`: ordinary validation of the Get object under
  :data:`LIVE` (``{"live": True, "skip_rules": True}``), where a before-validator reads the service's
  form of the object.  Values are normalized but the rules are not enforced, because a tenant may hold
  connectors that no longer pass them and those must still be planned against; a value exoform would
  refuse to write is kept as the service holds it.
- Fields the service owns (ConnectorSource, IsValidated, LastValidationTimestamp, internal-only
  parameters) are not part of desired state.  ValidationRecipients, which validation writes, is a field
  whose default is None: "not managed"; only a file that sets it makes it diffed and written
  (:meth:`ConnectorBase.unset_service_owned`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal, Self

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
from reconciler.errors import quote

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


def _ef_skip_ip(value: str) -> str:
    entry = normalize.canon_ip_range(value)
    refusal = normalize.ef_skip_refusal(entry)
    if refusal:
        raise ValueError(refusal)
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
#: A SenderDomains entry with no domain: the service stores an empty entry as ``smtp:;1`` (seen in real
#: tenants and a vendor's template); a file writes it as ``""``.
_BLANK_SENDER_DOMAIN = re.compile(r"^\s*(smtp:\s*)?(;\d+)?\s*$", re.IGNORECASE)


def _sender_domain(value: str) -> str:
    """A SenderDomains entry as a plain domain (``smtp:<domain>;1`` accepted); the blank entry is ``""``."""
    if _BLANK_SENDER_DOMAIN.match(value):
        return ""
    return normalize.canon_sender_domain(value)


SenderDomains = Annotated[list[Annotated[str, AfterValidator(_lenient(_sender_domain))]], _SORTED]
RecipientDomains = Annotated[list[Annotated[str, AfterValidator(_lenient(_domain_or_star))]], _SORTED]
Domains = Annotated[list[Annotated[str, AfterValidator(_lenient(_domain_no_star))]], _SORTED]
SenderIPs = Annotated[list[Annotated[str, AfterValidator(_lenient(normalize.canon_sender_ip))]], _SORTED]
EFSkipIPs = Annotated[list[Annotated[str, AfterValidator(_lenient(_ef_skip_ip))]], _SORTED]
SmartHosts = Annotated[list[Annotated[str, AfterValidator(_lenient(normalize.canon_smart_host))]], _SORTED]
Emails = Annotated[list[Annotated[str, AfterValidator(_lenient(normalize.canon_email))]], _SORTED]
OptionalDomain = Annotated[str | None, AfterValidator(_optional(_domain_no_star))]
CertificateName = Annotated[str | None, AfterValidator(_optional(normalize.canon_certificate_name))]
#: The service's limit on Comment (docs/yaml-reference.md).
MAX_COMMENT_LENGTH = 1024


def _param(parameter: str, **extra: Any) -> Any:
    """Field metadata: the Exchange parameter name travels in the JSON Schema and in :data:`PARAMETERS`."""
    return {"x-exchange-parameter": parameter, **extra}


class SkipCheck(BaseModel):
    """A posture rule switched off for a connector or a tenant, with the reason shown in every plan."""

    model_config = ConfigDict(extra="forbid", strict=True)

    rule: str = Field(description="The id of the posture rule, like EXO-IN-001.")
    reason: str = Field(min_length=1, description="Why the rule does not apply; shown in the plan.")


def check_printable_name(name: str) -> None:
    """``ValueError`` when a name from a file holds a control character: the service refuses them."""
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in name):
        raise ValueError("a connector name cannot contain control characters (newlines, tabs, escapes)")


def _absent_needs_only_a_name(schema: dict[str, Any]) -> None:
    """JSON Schema: a document with ``absent: true`` needs only ``kind`` and ``name`` (the loader reads
    nothing else of it); any other needs every required field."""
    required = schema.pop("required", [])
    schema["if"] = {"properties": {"absent": {"const": True}}, "required": ["absent"]}
    schema["then"] = {"required": ["name"]}
    schema["else"] = {"required": required}


class ConnectorBase(BaseModel):
    """Fields and behaviour common to both kinds of connector."""

    model_config = ConfigDict(
        extra="forbid", strict=True, validate_default=True, json_schema_extra=_absent_needs_only_a_name
    )

    KIND: ClassVar[Kind]
    #: Fields that are about exoform's handling of the connector, not the connector itself.
    META_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"kind", "renamed_from", "ignore_fields", "skip_checks", "absent"}
    )

    name: str = Field(
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        description="Name: unique across inbound and outbound connectors (one directory container holds "
        "both), case-insensitive, at most 64 characters.",
        json_schema_extra=_param("Name"),
    )
    connector_type: ConnectorType = Field(
        description="ConnectorType: Partner (external partners and services) or OnPremises (your own "
        "organization's servers; grants relay and internal promotion).",
        json_schema_extra=_param("ConnectorType"),
    )
    comment: str = Field(
        default="",
        max_length=MAX_COMMENT_LENGTH,
        description="Comment: free text, at most 1024 characters.",
        json_schema_extra=_param("Comment"),
    )
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
    absent: bool = Field(
        default=False,
        description="true: the connector must not exist; the plan deletes it if it does (under every "
        "unmanaged policy, subject to protect and max_deletes). Only kind and name are read then.",
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

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with ``update`` applied, as pydantic's, whose :meth:`managed_fields` reflect the copy
        (pydantic copies the instance dict, which holds the original's cached values)."""
        copy = super().model_copy(update=update, deep=deep)
        copy.__dict__.pop("_managed", None)
        return copy

    def unset_service_owned(self) -> frozenset[str]:
        """The service-owned fields this connector leaves unset (None): neither diffed nor written."""
        return frozenset(
            name
            for name, spec in FIELDS[self.KIND].items()
            if spec.service_owned and getattr(self, name) is None
        )

    @field_validator("name", "renamed_from")
    @classmethod
    def _printable_names(cls, value: str | list[str], info: ValidationInfo) -> str | list[str]:
        # The service refuses control characters in a name (docs/validate.md); a name is printed in
        # plans, logs and PR comments, where they could forge terminal escapes or workflow commands.
        if info.context and info.context.get("live"):
            return value
        for name in [value] if isinstance(value, str) else value:
            check_printable_name(name)
        return value

    @field_validator("ignore_fields")
    @classmethod
    def _known_ignore_fields(cls, values: list[str]) -> list[str]:
        known = cls.field_names()
        for value in values:
            if value in ("name", "connector_type"):
                raise ValueError(f"{quote(value)} identifies the connector and cannot be ignored")
            if value not in known:
                raise ValueError(f"{quote(value)} is not a field of {cls.KIND}{did_you_mean(value, known)}")
        return values

    @model_validator(mode="before")
    @classmethod
    def _read_get_object(cls, data: Any, info: ValidationInfo) -> Any:
        """On live state, ``data`` is a Get object as the service returns it: its managed properties become
        field values, the service's ways of writing an empty value become the model's.

        - Property names are matched case-insensitively; unknown and read-only properties are ignored (the
          service's property set grows), and a property not returned is taken at its default.
        - A multi-valued property's null is the empty list and a lone string a one-item list; a null
          Comment is the empty comment.
        - SenderDomains reads back as ``smtp:<domain>;1`` (docs/emulator.md, "Cmdlets and their rules"):
          its blank entry ``smtp:;1`` is the entry ``""`` (a file writes it so, and it round-trips), and a
          connector returned without SenderDomains has none (so it reads, and the rules report it,
          instead of failing to read).
        """
        if not (info.context and info.context.get("live")) or not isinstance(data, Mapping):
            return data
        by_parameter = _BY_PARAMETER[cls.KIND]
        values: dict[str, Any] = {}
        for key, value in data.items():
            spec = by_parameter.get(str(key).lower())
            if spec is None:
                continue
            if spec.multi and value is None:
                value = []
            elif spec.multi and isinstance(value, str):
                value = [value]
            elif spec.name == "comment" and value is None:
                value = ""
            values[spec.name] = value
        if cls.KIND == "InboundConnector":
            values.setdefault("sender_domains", [])
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
        description="SenderIPAddresses: IPv4 addresses, CIDR blocks /24 to /32 or ranges a-b that mail "
        "must come from.",
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
        "a-b, or CIDR; IPv4 or IPv6; never private nor Microsoft 365 ranges) that enhanced filtering skips "
        "when ef_skip_last_ip is false.",
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
    tls_sender_certificate_name: CertificateName = Field(
        default=None,
        description="TlsSenderCertificateName: domain (or *.domain, never * alone) of the sending server's "
        "certificate, or its issuer and subject as <I>issuer<S>subject.",
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
        description="SmartHosts: host names, IPv4 or IPv6 addresses or CIDR blocks to deliver to (no "
        "port). Required when use_mx_record is false. IP addresses read back as [a.b.c.d].",
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
        description="TlsDomain: the domain the smart host's certificate must match (never * alone); "
        "DomainValidation only.",
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
    validation_recipients: Emails | None = Field(
        default=None,
        description="ValidationRecipients: service-owned (validating the connector stores them); left "
        "out, it is neither diffed nor written. Set it to manage the list (Set-OutboundConnector only).",
        json_schema_extra=_param("ValidationRecipients", **{"x-set-only": True, "x-service-owned": True}),
    )


Connector = InboundConnector | OutboundConnector
MODELS: dict[Kind, type[InboundConnector] | type[OutboundConnector]] = {
    "InboundConnector": InboundConnector,
    "OutboundConnector": OutboundConnector,
}
#: The validation context of live state (see the module's contracts).
LIVE: Mapping[str, bool] = MappingProxyType({"live": True, "skip_rules": True})


def from_live(kind: Kind, obj: Mapping[str, Any]) -> Connector:
    """A model from a Get-*Connector object (PascalCase properties), normalized and not rule-checked.

    Unknown properties are ignored; a property the service does not return is taken at its default; a
    value exoform would refuse to write (a private EFSkipIPs entry, say) is kept as the service holds it.
    Raises ``pydantic.ValidationError`` when a value cannot be read at all (a wrong type, no Name).
    """
    return MODELS[kind].model_validate(obj, context=LIVE)


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
    #: The service writes it (validation does); managed only when a file sets it (it is then not None).
    service_owned: bool = False


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
            service_owned=bool(extra.get("x-service-owned")),
        )
    return specs


#: Per kind, managed field name -> :class:`FieldSpec` (Exchange parameter, default, multi-valued).
FIELDS: dict[Kind, dict[str, FieldSpec]] = {kind: _specs(model) for kind, model in MODELS.items()}
#: Per kind, lower-case Exchange parameter name -> :class:`FieldSpec` (Get objects are read by these).
_BY_PARAMETER: dict[Kind, dict[str, FieldSpec]] = {
    kind: {spec.parameter.lower(): spec for spec in specs.values()} for kind, specs in FIELDS.items()
}
#: Per kind, managed field name -> Exchange parameter name.
PARAMETERS: dict[Kind, dict[str, str]] = {
    kind: {name: spec.parameter for name, spec in specs.items()} for kind, specs in FIELDS.items()
}
