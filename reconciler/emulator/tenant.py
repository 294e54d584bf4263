"""The semantics of one emulated tenant: the connector cmdlets and Get-AcceptedDomain.

:func:`invoke` runs a cmdlet against a tenant's store and returns the output objects (and warnings), or
raises :class:`~reconciler.emulator.errors.CmdletError` exactly where the service refuses the call.
Every write re-checks the whole object against the service's rules (docs/emulator.md, "Cmdlets and their
rules"), so a Set that breaks an invariant together with the existing values is refused too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from reconciler.emulator import catalogue as cat
from reconciler.emulator.binding import (
    bind,
    canonical_cmdlet,
    format_time,
    is_domain,
    parse_address,
    parse_certificate_name,
    parse_domain,
    parse_ef_skip_ip,
    parse_sender_domain,
    parse_sender_ip,
    parse_smart_host,
)
from reconciler.emulator.errors import (
    ALREADY_EXISTS,
    AMBIGUOUS,
    CONNECTOR_EXISTS,
    CmdletError,
    invalid,
    not_found,
)
from reconciler.emulator.store import Snapshot, State, Store

_NAMESPACE = uuid.UUID("6f1c2a4e-8d0b-4c71-9a3e-0e5b7f1d2c90")
_SERVER = "EMULATOR01.EURPR01A001.PROD.OUTLOOK.COM"
_FOREST = "EURPR01A001.PROD.OUTLOOK.COM"
_DOMAIN_EPOCH = "2020-01-01T00:00:00.0000000Z"


@dataclass(frozen=True)
class TenantInfo:
    """Who the tenant is: ``key`` names its store, ``initial_domain`` is its ``*.onmicrosoft.com``."""

    key: str
    tenant_id: str
    initial_domain: str
    accepted_domains: tuple[str, ...] = ()

    @staticmethod
    def for_name(name: str, accepted_domains: tuple[str, ...] = ()) -> TenantInfo:
        """A tenant known only by the name in the URL (no configuration).

        A GUID is the tenant id (its onmicrosoft domain is ``t<first 8 hex digits>.onmicrosoft.com``); a
        domain is the initial domain (the id is derived from it); any other word ``w`` means
        ``w.onmicrosoft.com``.
        """
        text = name.strip().casefold()
        try:
            tenant_id = str(uuid.UUID(text))
            domain = f"t{tenant_id[:8]}.onmicrosoft.com"
        except ValueError:
            domain = text if "." in text else f"{text}.onmicrosoft.com"
            tenant_id = str(uuid.uuid5(_NAMESPACE, domain))
        return TenantInfo(text, tenant_id, domain, accepted_domains)


@dataclass
class Result:
    """A cmdlet's output: objects for ``value`` and texts for ``@adminapi.warnings`` (the caller must not
    change the objects: a read may hand out the store's own)."""

    values: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)


Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def invoke(
    tenant: TenantInfo,
    store: Store,
    cmdlet_name: Any,
    parameters: Any,
    clock: Clock = _utcnow,
    *,
    test_mode_flag: str = "all",
    lacking: frozenset[str] = frozenset(),
) -> Result:
    """Run one cmdlet.  ``parameters`` is the JSON ``Parameters`` object (None means none).

    ``test_mode_flag`` is what ``Get-OutboundConnector -IncludeTestModeConnectors:$true`` lists: ``all``
    connectors or ``only`` the test-mode ones (the real service's choice is UNCONFIRMED).  ``lacking``
    are the parameters an older service does not have (refused like unknown ones); hiding the matching
    properties from the output is the caller's (:mod:`reconciler.emulator.app`).
    """
    cmdlet = canonical_cmdlet(cmdlet_name)
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise CmdletError(
            "System.ArgumentException", "CmdletInput.Parameters must be an object of parameter name to value."
        )
    bound = bind(cmdlet, parameters, lacking)
    verb, _, noun = cmdlet.partition("-")
    if verb == "Get":
        snapshot = store.snapshot()
        if snapshot is not None and _is_complete(store, snapshot, tenant):
            # A read of a complete state needs no transaction: no copy, no lock held, nothing to save.
            if noun == cat.ACCEPTED_DOMAIN:
                return _get_accepted_domains(snapshot.state, tenant, bound)
            return _get(snapshot.state, tenant, noun, bound, test_mode_flag, copy=False)
        # First touch of a seed (or objects written behind the emulator's back): complete and save.
    with store.transaction() as state:
        _complete_all(state, tenant, clock)
        if noun == cat.ACCEPTED_DOMAIN:
            return _get_accepted_domains(state, tenant, bound)
        if verb == "Get":
            return _get(state, tenant, noun, bound, test_mode_flag)
        if verb == "Validate":
            return _validate(state, tenant, bound, clock)
        if bound.get("WhatIf"):
            working: State = {kind: [dict(o) for o in objects] for kind, objects in state.items()}
        else:
            working = state
        if verb == "New":
            return _new(working, tenant, noun, bound, clock)
        if verb == "Set":
            return _set(working, tenant, noun, bound, clock)
        return _remove(working, tenant, noun, bound)


# -- objects ----------------------------------------------------------------------------------------------


def _dn(tenant: TenantInfo, kind: str, name: str) -> str:
    folder = "Transport Settings" if kind != cat.ACCEPTED_DOMAIN else "Accepted Domains,CN=Transport Settings"
    return (
        f"CN={name},CN={folder},CN=Configuration,CN={tenant.initial_domain},CN=ConfigurationUnits,"
        "DC=EURPR01A001,DC=PROD,DC=OUTLOOK,DC=COM"
    )


def _identity_fields(tenant: TenantInfo, kind: str, name: str) -> dict[str, Any]:
    """The read-only properties that follow the name (recomputed on rename)."""
    return {
        "Name": name,
        "Identity": name,
        "Id": name,
        "DistinguishedName": _dn(tenant, kind, name),
        "NameHashGuid": str(uuid.uuid5(_NAMESPACE, name.casefold())),
    }


def _complete(obj: dict[str, Any], kind: str, tenant: TenantInfo, now: str) -> dict[str, Any]:
    """``obj`` with every missing property filled (defaults, generated ids); present values are kept.

    Idempotent: a complete object comes back equal.  SenderDomains are put in their stored form.
    """
    if kind == cat.ACCEPTED_DOMAIN:
        domain = str(obj.get("DomainName") or obj.get("Name"))
        name = str(obj.get("Name") or domain)
        specific: dict[str, Any] = {
            "DomainName": domain,
            "DomainType": "Authoritative",
            "Default": False,
            "InitialDomain": False,
            "MatchSubDomains": False,
        }
    else:
        name = str(obj["Name"])
        specific = dict(cat.DEFAULTS[kind])
    guid = str(obj.get("Guid") or obj.get("ExchangeObjectId") or uuid.uuid4())
    full: dict[str, Any] = {**specific}
    full.update(
        {
            "AdminDisplayName": "",
            "ExchangeVersion": "0.20 (15.0.0.0)",
            **_identity_fields(tenant, kind, name),
            "ObjectCategory": f"{_FOREST}/Configuration/Schema/{cat.OBJECT_CATEGORY[kind]}",
            "ObjectClass": list(cat.OBJECT_CLASS[kind]),
            "WhenChanged": now,
            "WhenCreated": now,
            "WhenChangedUTC": now,
            "WhenCreatedUTC": now,
            "ExchangeObjectId": guid,
            "OrganizationalUnitRoot": tenant.initial_domain,
            "OrganizationalUnitRootInternal": (
                f"OU={tenant.initial_domain},OU=Microsoft Exchange Hosted Organizations,"
                "DC=EURPR01A001,DC=PROD,DC=OUTLOOK,DC=COM"
            ),
            "OrganizationId": (
                f"{_FOREST}/Microsoft Exchange Hosted Organizations/{tenant.initial_domain} - "
                f"{_FOREST}/ConfigurationUnits/{tenant.initial_domain}/Configuration"
            ),
            "Guid": guid,
            "OriginatingServer": _SERVER,
            "IsValid": True,
            "ObjectState": "Unchanged",
        }
    )
    full.update({k: v for k, v in obj.items() if v is not None or k not in full or full[k] is None})
    full["Guid"] = full["ExchangeObjectId"] = guid
    if kind == cat.INBOUND:
        full["SenderDomains"] = [_stored_sender_domain(d) for d in full.get("SenderDomains") or []]
    if kind == cat.OUTBOUND and isinstance(full.get("SmartHosts"), list):
        full["SmartHosts"] = [_stored_smart_host(h) for h in full["SmartHosts"]]
    for key, value in specific.items():
        if isinstance(value, list) and not isinstance(full.get(key), list):
            full[key] = [] if full.get(key) in (None, "") else [full[key]]
    return full


def _stored_sender_domain(value: Any) -> str:
    try:
        return parse_sender_domain(str(value))
    except CmdletError:
        return str(value)


def _stored_smart_host(value: Any) -> str:
    try:
        return parse_smart_host(str(value))
    except CmdletError:
        return str(value)


def _is_complete(store: Store, snapshot: Snapshot, tenant: TenantInfo) -> bool:
    """True when every object of ``snapshot`` is already complete (so completing it changes nothing).

    Checked once per snapshot version: ``store.complete_version`` remembers the last version found
    complete.  That holds for every tenant sharing the store: completing keeps every present value, so
    an object complete for one tenant is complete for all.
    """
    if store.complete_version is not None and store.complete_version == snapshot.version:
        return True
    now = format_time(_utcnow())
    complete = all(
        _complete(obj, kind, tenant, now) == obj for kind in cat.KINDS for obj in snapshot.state.get(kind, [])
    )
    if complete:
        store.complete_version = snapshot.version
    return complete


def _complete_all(state: State, tenant: TenantInfo, clock: Clock) -> None:
    now = format_time(clock())
    for kind in cat.KINDS:
        state[kind] = [_complete(obj, kind, tenant, now) for obj in state.get(kind, [])]


def _resolve(state: State, tenant: TenantInfo, kind: str, identity: str) -> dict[str, Any]:
    """The one object of ``kind`` that ``identity`` names (Name, Guid or DN, case-insensitive)."""
    wanted = identity.strip().casefold()
    matches = [
        obj
        for obj in state[kind]
        if wanted
        in {
            str(obj.get("Name", "")).casefold(),
            str(obj.get("Guid", "")).casefold(),
            str(obj.get("DistinguishedName", "")).casefold(),
        }
    ]
    if not matches:
        raise not_found(identity, tenant.initial_domain)
    if len(matches) > 1:
        raise CmdletError(
            AMBIGUOUS,
            f"The operation couldn't be performed because '{identity}' matches multiple entries.",
        )
    return matches[0]


def _result_size(bound: dict[str, Any]) -> int | None:
    size = bound.get("ResultSize")
    if size == "Unlimited":
        return None
    return int(size) if size is not None else cat.DEFAULT_RESULT_SIZE


def _limit(objects: list[dict[str, Any]], bound: dict[str, Any], warnings: list[str]) -> list[dict[str, Any]]:
    size = _result_size(bound)
    if size is not None and len(objects) > size:
        warnings.append(cat.RESULT_SIZE_WARNING)
        return objects[:size]
    return objects


# -- cmdlets ------------------------------------------------------------------------------------------------


def _get(
    state: State,
    tenant: TenantInfo,
    kind: str,
    bound: dict[str, Any],
    test_mode_flag: str = "all",
    *,
    copy: bool = True,
) -> Result:
    """The Get cmdlet's objects; copies of the state's unless ``copy`` is False (a read-only snapshot's
    objects never change, so they are handed out as they are)."""
    warnings: list[str] = []
    if bound.get("Identity") is not None:
        # An explicit identity finds a test-mode connector too (UNCONFIRMED; documented).
        return Result([dict(_resolve(state, tenant, kind, bound["Identity"]))])
    objects = list(state[kind])
    if kind == cat.OUTBOUND:
        if bound.get("IncludeTestModeConnectors") and test_mode_flag == "only":
            objects = [o for o in objects if o.get("TestMode")]
        elif not bound.get("IncludeTestModeConnectors"):
            hidden = [o for o in objects if o.get("TestMode")]
            if hidden:
                warnings.append(cat.TEST_MODE_WARNING)
                objects = [o for o in objects if not o.get("TestMode")]
        if "IsTransportRuleScoped" in bound:
            objects = [
                o for o in objects if bool(o.get("IsTransportRuleScoped")) == bound["IsTransportRuleScoped"]
            ]
    limited = _limit(objects, bound, warnings)
    return Result([dict(o) for o in limited] if copy else limited, warnings)


def accepted_domains(state: State, tenant: TenantInfo) -> list[dict[str, Any]]:
    """The tenant's accepted domains: its initial domain, the configured ones, then the stored ones."""
    result: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, domain in enumerate((tenant.initial_domain, *tenant.accepted_domains)):
        if domain.casefold() in seen:
            continue
        seen.add(domain.casefold())
        obj = _complete(
            {
                "DomainName": domain,
                "Guid": str(uuid.uuid5(_NAMESPACE, f"{tenant.tenant_id}/{domain.casefold()}")),
                "InitialDomain": index == 0,
                "Default": index == 0,
            },
            cat.ACCEPTED_DOMAIN,
            tenant,
            _DOMAIN_EPOCH,
        )
        result.append(obj)
    for obj in state[cat.ACCEPTED_DOMAIN]:
        if str(obj["DomainName"]).casefold() not in seen:
            seen.add(str(obj["DomainName"]).casefold())
            result.append(dict(obj))
    return result


def _get_accepted_domains(state: State, tenant: TenantInfo, bound: dict[str, Any]) -> Result:
    domains = accepted_domains(state, tenant)
    if bound.get("Identity") is not None:
        return Result(
            [dict(_resolve({cat.ACCEPTED_DOMAIN: domains}, tenant, cat.ACCEPTED_DOMAIN, bound["Identity"]))]
        )
    warnings: list[str] = []
    return Result(_limit(domains, bound, warnings), warnings)


_SETTABLE_SKIP = {"Identity", "Confirm", "WhatIf"}


def _too_long(prop: str, limit: int, length: int) -> CmdletError:
    return invalid(
        f"The length of the property is too long. The maximum length is {limit} and the length of the "
        f"value provided is {length}. Property: {prop}"
    )


def _check_name(state: State, tenant: TenantInfo, kind: str, name: str, self_guid: str | None) -> None:
    """A connector name: non-empty, at most 64 characters, unique across both kinds (case-insensitive).

    A same-kind duplicate is caught by the New/Set task (``Error<Kind>ConnectorAlreadyExistsException``);
    the other kind's only by the directory, whose container holds both kinds.
    """
    if not name.strip():
        raise invalid("The Name property can't be empty.")
    if len(name) > cat.MAX_NAME_LENGTH:
        raise _too_long("Name", cat.MAX_NAME_LENGTH, len(name))
    for other_kind in (cat.INBOUND, cat.OUTBOUND):
        for other in state[other_kind]:
            if other.get("Guid") == self_guid or str(other.get("Name", "")).casefold() != name.casefold():
                continue
            if other_kind == kind:
                short = kind.removesuffix("Connector")
                raise CmdletError(
                    CONNECTOR_EXISTS.format(kind=short),
                    f"A {kind} with the name '{name}' already exists. Choose another name.",
                )
            raise CmdletError(
                ALREADY_EXISTS,
                f"Active Directory operation failed on {_SERVER}. The object '{_dn(tenant, kind, name)}' "
                "already exists.",
            )


def _apply_values(
    obj: dict[str, Any], kind: str, bound: dict[str, Any], tenant: TenantInfo, state: State
) -> None:
    """Check each given value's syntax and store it in ``obj`` (lists replace the stored list)."""
    for name, value in bound.items():
        if name in _SETTABLE_SKIP or name == "Name":
            continue
        obj[name] = _parse_value(name, value, kind, tenant, state)


def _parse_value(name: str, value: Any, kind: str, tenant: TenantInfo, state: State) -> Any:
    if value is None:
        return None
    match name:
        case "SenderDomains":
            return [parse_sender_domain(v) for v in value]
        case "RecipientDomains":
            return [parse_domain(name, v) for v in value]
        case "TrustedOrganizations" | "ClientHostNames":
            return [parse_domain(name, v, star=False) for v in value]
        case "TlsDomain":
            return parse_domain(name, value, star=False) if value.strip() else None
        case "TlsSenderCertificateName":
            return parse_certificate_name(value) if value.strip() else None
        case "Comment":
            if len(value) > cat.MAX_COMMENT_LENGTH:
                raise _too_long("Comment", cat.MAX_COMMENT_LENGTH, len(value))
            return value
        case "SenderIPAddresses":
            return [parse_sender_ip(v) for v in value]
        case "EFSkipIPs":
            return [parse_ef_skip_ip(v) for v in value]
        case "EFUsers" | "ValidationRecipients" | "Recipients":
            return [parse_address(name, v) for v in value]
        case "SmartHosts":
            return [parse_smart_host(v) for v in value]
        case "AssociatedAcceptedDomains":
            # Each value names an accepted domain (by name, domain name or Guid); the link is stored and
            # read back as the accepted domain's object Name, which an admin may have made differ from
            # its DomainName (docs/emulator.md, "Read-back forms").
            by_identity: dict[str, str] = {}
            for domain in accepted_domains(state, tenant):
                for identity in (domain["Name"], domain["DomainName"], domain["Guid"]):
                    by_identity.setdefault(str(identity).casefold(), str(domain["Name"]))
            linked = []
            for entry in value:
                found = by_identity.get(entry.strip().casefold())
                if found is None:
                    raise invalid(
                        f"The value '{entry}' of AssociatedAcceptedDomains isn't an accepted domain of this "
                        "organization. Use Get-AcceptedDomain to see the accepted domains."
                    )
                linked.append(found)
            return linked
    return value


def _check_rules(obj: dict[str, Any], kind: str) -> None:
    """The service's invariants on a whole connector (docs/emulator.md, "Cmdlets and their rules")."""
    on_premises = obj.get("ConnectorType") == "OnPremises"
    if kind == cat.INBOUND:
        if obj.get("TreatMessagesAsInternal") and not on_premises:
            raise invalid("TreatMessagesAsInternal can be set to true only when ConnectorType is OnPremises.")
        if obj.get("TreatMessagesAsInternal") and obj.get("CloudServicesMailEnabled"):
            raise invalid("TreatMessagesAsInternal can't be true when CloudServicesMailEnabled is true.")
        if obj.get("CloudServicesMailEnabled") and not on_premises:
            raise invalid(
                "CloudServicesMailEnabled can be set to true only when ConnectorType is OnPremises."
            )
        if on_premises and not obj.get("SenderIPAddresses") and not obj.get("TlsSenderCertificateName"):
            raise invalid(
                "An OnPremises inbound connector needs SenderIPAddresses or TlsSenderCertificateName to "
                "identify the on-premises organization."
            )
        if obj.get("TlsSenderCertificateName") and not obj.get("RequireTls"):
            raise invalid("TlsSenderCertificateName can be set only when RequireTls is true.")
        if obj.get("RestrictDomainsToIPAddresses") and obj.get("RestrictDomainsToCertificate"):
            raise invalid("RestrictDomainsToIPAddresses and RestrictDomainsToCertificate can't both be true.")
        if obj.get("RestrictDomainsToIPAddresses") and not obj.get("SenderIPAddresses"):
            raise invalid("RestrictDomainsToIPAddresses requires SenderIPAddresses.")
        if obj.get("RestrictDomainsToCertificate") and not obj.get("TlsSenderCertificateName"):
            raise invalid("RestrictDomainsToCertificate requires TlsSenderCertificateName.")
        return
    for flag in (
        "AllAcceptedDomains",
        "RouteAllMessagesViaOnPremises",
        "SenderRewritingEnabled",
        "CloudServicesMailEnabled",
    ):
        if obj.get(flag) and not on_premises:
            raise invalid(f"{flag} can be set to true only when ConnectorType is OnPremises.")
    if obj.get("UseMXRecord") and obj.get("SmartHosts"):
        raise invalid("SmartHosts can't be set when UseMXRecord is true.")
    if not obj.get("UseMXRecord") and not obj.get("SmartHosts"):
        raise invalid("SmartHosts must be set when UseMXRecord is false.")
    if obj.get("TlsDomain") and obj.get("TlsSettings") != "DomainValidation":
        raise invalid("TlsDomain can be set only when TlsSettings is DomainValidation.")
    if obj.get("TlsSettings") == "DomainValidation" and not obj.get("TlsDomain"):
        raise invalid("TlsDomain must be set when TlsSettings is DomainValidation.")
    scoped_shape = not obj.get("RecipientDomains") and not obj.get("AllAcceptedDomains")
    if bool(obj.get("IsTransportRuleScoped")) != scoped_shape:
        if obj.get("IsTransportRuleScoped"):
            raise invalid(
                "A transport-rule-scoped connector (IsTransportRuleScoped true) can't have RecipientDomains "
                "or AllAcceptedDomains."
            )
        raise invalid(
            "RecipientDomains must be set (or AllAcceptedDomains true) unless IsTransportRuleScoped is true."
        )


def _new(state: State, tenant: TenantInfo, kind: str, bound: dict[str, Any], clock: Clock) -> Result:
    name = bound["Name"]
    _check_name(state, tenant, kind, name, None)
    obj = _complete({"Name": name}, kind, tenant, format_time(clock()))
    _apply_values(obj, kind, bound, tenant, state)
    if obj.get("Comment") is None:
        obj["Comment"] = ""
    _check_rules(obj, kind)
    state[kind].append(obj)
    return Result([dict(obj)])


def _set(state: State, tenant: TenantInfo, kind: str, bound: dict[str, Any], clock: Clock) -> Result:
    current = _resolve(state, tenant, kind, bound["Identity"])
    obj = dict(current)
    if "Name" in bound:
        _check_name(state, tenant, kind, bound["Name"], obj["Guid"])
        obj.update(_identity_fields(tenant, kind, bound["Name"]))
    _apply_values(obj, kind, bound, tenant, state)
    if obj.get("Comment") is None:
        obj["Comment"] = ""
    _check_rules(obj, kind)
    obj["WhenChanged"] = obj["WhenChangedUTC"] = format_time(clock())
    state[kind][state[kind].index(current)] = obj
    return Result([])


def _remove(state: State, tenant: TenantInfo, kind: str, bound: dict[str, Any]) -> Result:
    current = _resolve(state, tenant, kind, bound["Identity"])
    state[kind].remove(current)
    return Result([])


def _validate(state: State, tenant: TenantInfo, bound: dict[str, Any], clock: Clock) -> Result:
    """Validate-OutboundConnector, simulated: a smart host under ``.invalid`` fails, every other passes."""
    current = _resolve(state, tenant, cat.OUTBOUND, bound["Identity"])
    recipients = [parse_address("Recipients", r) for r in bound["Recipients"]]
    now = format_time(clock())
    hosts = list(current.get("SmartHosts") or []) or ["MX"]
    results = []
    for host in hosts:
        ok = not (is_domain(host, wildcard=False) and host.casefold().endswith(".invalid"))
        results.append(
            {
                "Identity": current["Name"],
                "SmartHost": host,
                "Recipients": recipients,
                "Status": "Succeeded" if ok else "Failed",
                "Detail": "" if ok else f"Unable to connect to {host}: the host name could not be resolved.",
                "Timestamp": now,
            }
        )
    if not bound.get("WhatIf"):
        obj = dict(current)
        obj["IsValidated"] = all(r["Status"] == "Succeeded" for r in results)
        obj["LastValidationTimestamp"] = now
        obj["ValidationRecipients"] = recipients
        obj["WhenChanged"] = obj["WhenChangedUTC"] = now
        state[cat.OUTBOUND][state[cat.OUTBOUND].index(current)] = obj
    return Result(results)
