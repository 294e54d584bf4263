"""Security posture checks: the connector settings that let spoofed mail in or let mail out unprotected.

A rule engine over one tenant's connectors.  It runs on desired state (``exoform validate`` and
``exoform plan``) and on live state (status, drift), so it reads models defensively: a live connector may
break the service's own cross-field rules (see :func:`reconciler.model.rule_violations`) and the engine
must still give findings, never an exception.

Contracts:
- :func:`check` is pure and deterministic: the same connectors and skips give the same findings, sorted by
  rule id, kind, connector name (case-insensitive), field and message.
- Every finding names a rule of :data:`RULES`; its message says what is risky and how to fix it.
- A rule switched off in YAML (``skip_checks`` on a connector or on the tenant) still yields its
  findings, each with ``skipped_reason`` set: the plan shows them as skipped and :func:`fails` never
  counts them.  A connector's own skip wins over the tenant's (its reason is the one shown).
- A skip naming a rule that does not exist is itself an error finding (:data:`UNKNOWN_RULE`), which cannot
  be switched off, so a typo never silently disables nothing.
- Rule ids are stable: a rule is never renumbered; a retired id is never reused.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from reconciler.model import Connector, InboundConnector, OutboundConnector, SkipCheck
from reconciler.normalize import ip_entry_networks, is_private
from reconciler.posture.findings import SEVERITIES, SEVERITY_RANK, Finding, Severity, fails

_DOCS = "https://learn.microsoft.com/exchange/mail-flow-best-practices/use-connectors-to-configure-mail-flow"
REF_NEW_INBOUND = "https://learn.microsoft.com/powershell/module/exchangepowershell/new-inboundconnector"
REF_NEW_OUTBOUND = "https://learn.microsoft.com/powershell/module/exchangepowershell/new-outboundconnector"
REF_PARTNER = f"{_DOCS}/set-up-connectors-for-secure-mail-flow-with-a-partner"
REF_EF = f"{_DOCS}/enhanced-filtering-for-connectors"
REF_MIXING = "https://github.com/MicrosoftDocs/OfficeDocs-Exchange/pull/1041"
REF_ROUTING = f"{_DOCS}/set-up-connectors-to-route-mail"
REF_POSTURE_DOC = "docs/posture.md"


@dataclass(frozen=True)
class Hit:
    """What a rule's check yields: the connector at fault (None: tenant-wide), the field, the message.

    ``also_skipped_by`` lists other connectors whose skip of the rule silences this hit too (a finding
    about a pair of connectors is reported once, on one of them, but either may carry the skip).
    """

    connector: Connector | None
    field: str | None
    message: str
    also_skipped_by: tuple[Connector, ...] = ()


Check = Callable[[Sequence[Connector]], Iterable[Hit]]


@dataclass(frozen=True)
class Rule:
    """A posture rule: a stable id, a severity, a one-line title, a reference and the check itself
    (made by decorating the check with :func:`rule`, so all five stay in one place).

    ``check`` receives every connector of the tenant (both kinds) and yields a :class:`Hit` per risk.
    ``skippable`` is False only for the engine's own configuration rule.
    """

    id: str
    severity: Severity
    title: str
    reference: str
    check: Check = field(repr=False, compare=False)
    skippable: bool = True


def rule(
    rule_id: str, severity: Severity, title: str, reference: str, *, skippable: bool = True
) -> Callable[[Check], Rule]:
    """Make the decorated check a :class:`Rule`, so a rule's id, severity, title and check stay together."""

    def make(check: Check) -> Rule:
        return Rule(rule_id, severity, title, reference, check, skippable)

    return make


# ---------------------------------------------------------------------------------------------------
# Helpers shared by the checks.  All of them tolerate live state that breaks the service's rules.


def _inbound(connectors: Sequence[Connector]) -> list[InboundConnector]:
    return [c for c in connectors if isinstance(c, InboundConnector)]


def _outbound(connectors: Sequence[Connector]) -> list[OutboundConnector]:
    return [c for c in connectors if isinstance(c, OutboundConnector)]


def _is_partner(c: Connector) -> bool:
    # Anything that is not OnPremises is judged by the stricter Partner rules.
    return c.connector_type != "OnPremises"


def _ip_restricted(c: InboundConnector) -> bool:
    """Mail for the sender domains is rejected unless it comes from ``sender_ip_addresses``."""
    return c.restrict_domains_to_ip_addresses and bool(c.sender_ip_addresses)


def _cert_restricted(c: InboundConnector) -> bool:
    """Mail must come over TLS from a server whose certificate matches ``tls_sender_certificate_name``.

    Either ``require_tls`` with the name (the admin center's "require that the subject name matches") or
    ``restrict_domains_to_certificate`` with the name (a certificate exists only over TLS).
    """
    return bool(c.tls_sender_certificate_name) and (c.require_tls or c.restrict_domains_to_certificate)


def _identified_by_ip(c: InboundConnector) -> bool:
    """A Partner connector for every sender domain that names sender IPs: the admin center's "identify the
    partner by the sending server's IP address" (docs/posture.md, "How the service picks an inbound
    connector").  It applies to mail from those IPs only, restricted or not."""
    return _is_partner(c) and "*" in c.sender_domains and bool(c.sender_ip_addresses)


def _known_senders_only(c: InboundConnector) -> bool:
    """Only mail from known servers can go through this connector: it is source-restricted, or a Partner
    connector identified by IP (mail from other servers is not matched to it)."""
    return _source_restricted(c) or _identified_by_ip(c)


def _source_restricted(c: InboundConnector) -> bool:
    """Only known servers (or another Microsoft 365 organization) can send through this connector.

    OnPremises connectors are matched by sender IP or certificate, so either one restricts them; Partner
    connectors restrict only when told to.  ``trusted_organizations`` makes the source another tenant,
    which the service identifies itself.
    """
    if not _is_partner(c):
        return bool(c.sender_ip_addresses) or bool(c.tls_sender_certificate_name)
    return _ip_restricted(c) or _cert_restricted(c) or bool(c.trusted_organizations)


def _source_text(c: InboundConnector) -> str:
    parts = []
    if c.sender_ip_addresses:
        parts.append("IPs " + ", ".join(c.sender_ip_addresses))
    if c.tls_sender_certificate_name:
        parts.append(f"certificate {c.tls_sender_certificate_name}")
    return " and ".join(parts) or "no IPs or certificate"


def _list(values: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(values[:limit])
    return shown if len(values) <= limit else f"{shown} and {len(values) - limit} more"


def _domains_text(domains: Sequence[str]) -> str:
    if "*" in domains:
        return "any sender domain ('*')"
    return "sender domains " + _list(domains) if domains else "no sender domain"


def _covers(entry: str, domain: str) -> bool:
    """Whether a domain entry (``*``, ``*.x`` or ``x``) covers ``domain`` (itself possibly ``*``/``*.x``)."""
    if entry == "*":
        return True
    if domain == "*":
        return False
    if entry.startswith("*."):
        base = entry[2:]
        plain = domain[2:] if domain.startswith("*.") else domain
        return plain == base or plain.endswith("." + base)
    return entry == domain


def _networks(entry: str) -> list[ipaddress.IPv4Network]:
    """The networks of an IP entry; none when a live value cannot be read (never raises)."""
    try:
        return ip_entry_networks(entry)
    except ValueError:
        return []


def _private(entry: str) -> bool:
    try:
        return is_private(entry)
    except ValueError:
        return False


# ---------------------------------------------------------------------------------------------------
# Inbound rules.


@rule(
    "EXO-IN-001",
    "error",
    "Partner inbound connector neither requires TLS nor restricts senders by IP or certificate",
    REF_PARTNER,
)
def _open_partner(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in _inbound(connectors):
        if not _is_partner(c) or c.require_tls or _source_restricted(c):
            continue
        fix = (
            "Fix: set require_tls: true and restrict the source, either restrict_domains_to_ip_addresses: "
            "true with the partner's public sender_ip_addresses, or tls_sender_certificate_name with the "
            "domain of the partner's certificate."
        )
        if _identified_by_ip(c):
            yield Hit(
                c,
                "require_tls",
                f"Partner connector for mail from {_list(c.sender_ip_addresses)} neither requires TLS nor "
                "rejects anything: mail from those servers may arrive unencrypted, and the connector "
                "enforces nothing on it (the admin center requires TLS or an IP restriction on a partner "
                f"connector). {fix}",
            )
            continue
        hint = ""
        if c.sender_ip_addresses and not c.restrict_domains_to_ip_addresses:
            hint = (
                " (sender_ip_addresses is set but restrict_domains_to_ip_addresses is false, so mail from "
                "other IPs is still accepted)"
            )
        yield Hit(
            c,
            "require_tls",
            f"Partner connector accepts mail claiming {_domains_text(c.sender_domains)} from any server, "
            f"with or without TLS{hint}: anyone can send such mail and it is treated as coming through "
            f"this connector. {fix}",
        )


@rule(
    "EXO-IN-002",
    "warning",
    "Partner inbound connector for sender domains '*' that identifies no sender (no IPs, no certificate)",
    REF_PARTNER,
)
def _star_unidentified(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in _inbound(connectors):
        if not _is_partner(c) or "*" not in c.sender_domains or _known_senders_only(c):
            continue
        tls = (
            "its only effect is that mail sent without TLS is rejected"
            if c.require_tls
            else "it enforces nothing"
        )
        yield Hit(
            c,
            "sender_domains",
            "Partner connector for sender domains '*' names no sender IPs and no certificate, so it "
            f"applies to mail from every server on the internet: {tls}, and it says nothing about who "
            "sends. Fix: identify the partner or service: its public sender_ip_addresses (the admin "
            "center's 'identify the partner by the sending server's IP address'; add "
            "restrict_domains_to_ip_addresses: true to reject mail from other servers), or "
            "tls_sender_certificate_name with its certificate domain; or list the partner's own domains "
            "instead of '*'.",
        )


_INTERNAL_RISK = (
    "treat_messages_as_internal makes mail through this connector internal to your organization: it "
    "skips anti-spam and anti-spoofing checks and is shown as sent from inside the organization"
)


@rule(
    "EXO-IN-003",
    "error",
    "treat_messages_as_internal on a Partner connector or one open to any server",
    REF_NEW_INBOUND,
)
def _internal_open(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in _inbound(connectors):
        if not c.treat_messages_as_internal:
            continue
        if _is_partner(c):
            why = (
                "on a Partner connector every server that matches it (the partner's, or anyone's when it "
                "is not restricted) can send internal-looking mail"
            )
        elif not _source_restricted(c):
            why = "this connector names no sender IPs or certificate, so any server can match it"
        else:
            continue
        yield Hit(
            c,
            "treat_messages_as_internal",
            f"{_INTERNAL_RISK}; {why}. Fix: set treat_messages_as_internal: false; it is meant only for "
            "OnPremises connectors restricted to your own non-Exchange servers.",
        )


@rule(
    "EXO-IN-004",
    "warning",
    "treat_messages_as_internal on an OnPremises connector",
    REF_NEW_INBOUND,
)
def _internal_onprem(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in _inbound(connectors):
        if not c.treat_messages_as_internal or _is_partner(c) or not _source_restricted(c):
            continue
        yield Hit(
            c,
            "treat_messages_as_internal",
            f"{_INTERNAL_RISK}; whoever controls a server matching {_source_text(c)} can send mail that "
            "looks internal. Fix: keep it only if those are your own non-Exchange on-premises servers and "
            "list only their IPs (not a shared or cloud service); for Exchange hybrid use the Hybrid "
            "Configuration Wizard's connector (cloud_services_mail_enabled) instead.",
        )


def _filter_in_front(c: InboundConnector) -> bool:
    """A Partner connector for all sender domains, identified by or restricted to a service's IPs, or
    restricted to its certificate."""
    return _is_partner(c) and "*" in c.sender_domains and (_identified_by_ip(c) or _cert_restricted(c))


@rule(
    "EXO-IN-005",
    "warning",
    "Inbound connector from a service in front of Exchange Online without enhanced filtering",
    REF_EF,
)
def _ef_missing(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in _inbound(connectors):
        if not _filter_in_front(c) or c.ef_skip_last_ip or c.ef_skip_ips:
            continue
        yield Hit(
            c,
            "ef_skip_last_ip",
            f"this connector receives all inbound mail from a service in front of Exchange Online "
            f"({_source_text(c)}) but enhanced filtering is off: SPF, DKIM and DMARC are judged on the "
            "service's IP instead of the real sender's, so spoofed mail is harder to catch and spoof "
            "intelligence learns the wrong source. Fix: set ef_skip_last_ip: true, or list the service's "
            "public IPs in ef_skip_ips.",
        )


@rule(
    "EXO-IN-006",
    "error",
    "Enhanced filtering skips the last IP on a connector that mail from any server can go through",
    REF_EF,
)
def _ef_open(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in _inbound(connectors):
        if not c.ef_skip_last_ip or _known_senders_only(c):
            continue
        yield Hit(
            c,
            "ef_skip_last_ip",
            f"enhanced filtering skips the last hop, but mail claiming {_domains_text(c.sender_domains)} "
            "from any server goes through this connector (it is neither identified by nor restricted to "
            "its sender's IPs or certificate): a sender that connects directly has its own IP skipped, "
            "and SPF and DMARC are judged on an IP it wrote into a forged Received header. Fix: identify "
            "the service in front of Exchange Online by its sender_ip_addresses (with sender domains "
            "'*'), restrict the connector to its IPs or certificate, or set ef_skip_last_ip: false and "
            "list the service's IPs in ef_skip_ips.",
        )


@rule(
    "EXO-IN-007",
    "warning",
    "Partner connector restricted by IP and by certificate at once",
    REF_MIXING,
)
def _mixed_restriction(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in _inbound(connectors):
        if not _is_partner(c):
            continue
        if not (c.restrict_domains_to_ip_addresses and c.restrict_domains_to_certificate):
            continue
        yield Hit(
            c,
            "restrict_domains_to_certificate",
            "restrict_domains_to_ip_addresses and restrict_domains_to_certificate are both on: Microsoft "
            "advises against IPs and a certificate in the same Partner connector, which restriction "
            "rejects mail is then ambiguous, and the service refuses the combination on write. Fix: use "
            "one restriction per connector; split it into two connectors if you need both.",
        )


@rule(
    "EXO-IN-008",
    "warning",
    "Disabled Partner inbound connector is the only one covering a sender domain",
    REF_PARTNER,
)
def _disabled_inbound(connectors: Sequence[Connector]) -> Iterator[Hit]:
    partners = [c for c in _inbound(connectors) if _is_partner(c)]
    active = [c for c in partners if c.enabled]
    for c in partners:
        if c.enabled or not (c.require_tls or _source_restricted(c)):
            continue
        uncovered = [
            d
            for d in c.sender_domains
            if not any(o is not c and any(_covers(e, d) for e in o.sender_domains) for o in active)
        ]
        if not uncovered:
            continue
        effect = (
            f"mail from {_list(c.sender_ip_addresses)} is accepted without TLS"
            if _identified_by_ip(c) and not _ip_restricted(c)
            else "mail claiming those domains is accepted from any server"
        )
        yield Hit(
            c,
            "enabled",
            f"this connector is disabled and no enabled Partner connector covers {_list(uncovered)}: its TLS "
            f"and source restrictions are no longer enforced, so {effect}. Fix: enable it, or delete it if "
            "the partner no longer sends to you.",
        )


# ---------------------------------------------------------------------------------------------------
# Sender IP rules.


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    entry: str
    index: int


@rule(
    "EXO-IP-001",
    "warning",
    "Sender IP ranges overlap between enabled inbound connectors of the same type",
    REF_PARTNER,
)
def _ip_overlap(connectors: Sequence[Connector]) -> Iterator[Hit]:
    # Names are unique per kind in a tenant; the dump only breaks ties in invalid input, for determinism.
    inbound = sorted(
        (c for c in _inbound(connectors) if c.enabled),
        key=lambda c: (c.name.casefold(), c.name, c.model_dump_json()),
    )
    spans: list[_Span] = []
    for index, c in enumerate(inbound):
        for entry in c.sender_ip_addresses:
            for net in _networks(entry):
                spans.append(_Span(int(net.network_address), int(net.broadcast_address), entry, index))
    spans.sort(key=lambda s: (s.start, s.end, s.index, s.entry))
    pairs: dict[tuple[int, int], set[tuple[str, str]]] = {}
    open_spans: list[_Span] = []
    # Sweep by start address: every span still open when a new one starts overlaps it.
    for span in spans:
        open_spans = [s for s in open_spans if s.end >= span.start]
        for other in open_spans:
            # An OnPremises and a Partner connector for the same IPs coexist by design (docs/posture.md).
            same_type = _is_partner(inbound[other.index]) == _is_partner(inbound[span.index])
            if other.index == span.index or not same_type:
                continue
            low, high = sorted((other, span), key=lambda s: s.index)
            pairs.setdefault((low.index, high.index), set()).add((low.entry, high.entry))
        open_spans.append(span)
    for (i, j), entries in sorted(pairs.items()):
        first, second = inbound[i], inbound[j]
        overlaps = [mine if mine == theirs else f"{mine} and {theirs}" for theirs, mine in sorted(entries)]
        yield Hit(
            second,
            "sender_ip_addresses",
            f"sender IPs of this connector overlap those of inbound connector '{first.name}' "
            f"({_list(overlaps)}): mail from those addresses may be matched to either connector, so one "
            "connector's restrictions (or an OnPremises connector's trust) apply to the other's senders. "
            "Fix: give each connector only the IPs of its own sender, or merge them into one connector.",
            also_skipped_by=(first,),
        )


@rule(
    "EXO-IP-002",
    "warning",
    "Private or loopback address in sender_ip_addresses",
    REF_NEW_INBOUND,
)
def _private_ip(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in _inbound(connectors):
        private = [e for e in c.sender_ip_addresses if _private(e)]
        if not private:
            continue
        yield Hit(
            c,
            "sender_ip_addresses",
            f"sender IPs {_list(private)} are private or loopback addresses (RFC 1918, 127/8): Exchange "
            "Online sees the public address your mail leaves from, so these never match, and the "
            "connector does not restrict or identify what you meant it to. Fix: list the public IPs of "
            "the sending servers (after NAT).",
        )


# ---------------------------------------------------------------------------------------------------
# Outbound rules.


def _smart_hosted(c: OutboundConnector) -> bool:
    return not c.use_mx_record and bool(c.smart_hosts)


@rule(
    "EXO-OUT-001",
    "error",
    "Outbound connector to smart hosts without required TLS (tls_settings empty)",
    REF_NEW_OUTBOUND,
)
def _smart_host_no_tls(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in _outbound(connectors):
        if not _smart_hosted(c) or c.tls_settings is not None:
            continue
        yield Hit(
            c,
            "tls_settings",
            f"mail to the smart hosts {_list(c.smart_hosts)} is sent with opportunistic TLS only: anyone "
            "on the path can strip STARTTLS and read or change the mail. Fix: set tls_settings: "
            "CertificateValidation, or DomainValidation with tls_domain set to the smart host's "
            "certificate name.",
        )


@rule(
    "EXO-OUT-002",
    "warning",
    "Outbound connector to smart hosts with tls_settings EncryptionOnly (certificate not checked)",
    REF_NEW_OUTBOUND,
)
def _smart_host_encryption_only(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in _outbound(connectors):
        if not _smart_hosted(c) or c.tls_settings != "EncryptionOnly":
            continue
        yield Hit(
            c,
            "tls_settings",
            f"mail to the smart hosts {_list(c.smart_hosts)} is encrypted but the certificate is not "
            "checked: anyone who can redirect the connection (DNS, routing) can pose as the smart host "
            "and receive the mail. Fix: set tls_settings: CertificateValidation, or DomainValidation with "
            "tls_domain set to the smart host's certificate name.",
        )


@rule(
    "EXO-OUT-003",
    "warning",
    "tls_settings DomainValidation without tls_domain",
    REF_NEW_OUTBOUND,
)
def _domain_validation_no_domain(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in _outbound(connectors):
        if c.tls_settings != "DomainValidation" or c.tls_domain:
            continue
        yield Hit(
            c,
            "tls_domain",
            "tls_settings is DomainValidation but tls_domain is empty, so no certificate name is pinned "
            "and the connector does not check what its setting says. Fix: set tls_domain to the domain "
            "in the receiving server's certificate (like mail.contoso.com or *.contoso.com).",
        )


@rule(
    "EXO-OUT-004",
    "warning",
    "smtp_dane_mode None on a connector that delivers by MX",
    REF_NEW_OUTBOUND,
)
def _dane_none(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in _outbound(connectors):
        if not c.use_mx_record or c.smtp_dane_mode != "None":
            continue
        yield Hit(
            c,
            "smtp_dane_mode",
            "smtp_dane_mode is None: SMTP DANE is off for mail this connector delivers by MX, so a "
            "recipient domain's DNSSEC-signed TLSA records no longer protect it from TLS downgrade or a "
            "forged certificate. Fix: remove smtp_dane_mode (default Opportunistic) or set it to "
            "Mandatory for recipients that publish DANE.",
        )


@rule(
    "EXO-OUT-005",
    "warning",
    "mta_sts_mode None on a connector that delivers by MX",
    REF_NEW_OUTBOUND,
)
def _mta_sts_none(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in _outbound(connectors):
        if not c.use_mx_record or c.mta_sts_mode != "None":
            continue
        yield Hit(
            c,
            "mta_sts_mode",
            "mta_sts_mode is None: MTA-STS is off for mail this connector delivers by MX, so a recipient "
            "domain's policy requiring TLS with a valid certificate is ignored and delivery can be "
            "downgraded. Fix: remove mta_sts_mode (default Opportunistic).",
        )


@rule(
    "EXO-OUT-006",
    "warning",
    "Disabled or test-mode outbound connector is the only route for a recipient domain",
    REF_ROUTING,
)
def _inactive_route(connectors: Sequence[Connector]) -> Iterator[Hit]:
    outbound = [c for c in _outbound(connectors) if not c.is_transport_rule_scoped]
    active = [c for c in outbound if c.enabled and not c.test_mode]
    for c in outbound:
        if c.enabled and not c.test_mode:
            continue
        uncovered = [
            d
            for d in c.recipient_domains
            if not any(o is not c and any(_covers(e, d) for e in o.recipient_domains) for o in active)
        ]
        if c.all_accepted_domains and not any(o is not c and o.all_accepted_domains for o in active):
            uncovered.append("all accepted domains")
        if not uncovered:
            continue
        state = "disabled" if not c.enabled else "in test mode"
        state = "disabled and in test mode" if not c.enabled and c.test_mode else state
        yield Hit(
            c,
            "enabled" if not c.enabled else "test_mode",
            f"this connector is {state} and no active connector covers {_list(uncovered)}: mail to those "
            "recipients leaves by the public MX route instead, without this connector's smart hosts and "
            "TLS settings (a partner's private route or an outbound filtering or encryption gateway is "
            "silently bypassed). Fix: enable it (test_mode: false), or delete it if the route is no "
            "longer needed.",
        )


@rule(
    "EXO-CFG-001",
    "error",
    "A skip_checks entry names a rule that does not exist (or one that cannot be switched off)",
    REF_POSTURE_DOC,
    skippable=False,
)
def _config_rule(connectors: Sequence[Connector]) -> Iterator[Hit]:
    # EXO-CFG-001 is about skips, not connectors; :func:`check` reports it itself.
    return iter(())


UNKNOWN_RULE = _config_rule.id

#: Every rule, in id order.  Ids are stable; see docs/posture.md for the full text of each.
RULES: tuple[Rule, ...] = (
    _config_rule,
    _open_partner,
    _star_unidentified,
    _internal_open,
    _internal_onprem,
    _ef_missing,
    _ef_open,
    _mixed_restriction,
    _disabled_inbound,
    _ip_overlap,
    _private_ip,
    _smart_host_no_tls,
    _smart_host_encryption_only,
    _domain_validation_no_domain,
    _dane_none,
    _mta_sts_none,
    _inactive_route,
)
RULES_BY_ID: dict[str, Rule] = {r.id: r for r in RULES}


# ---------------------------------------------------------------------------------------------------
# The engine.


def _rule_key(rule_id: str) -> str:
    return rule_id.strip().upper()


def _skips_of(c: Connector) -> list[SkipCheck]:
    skips = getattr(c, "skip_checks", None)
    return list(skips) if isinstance(skips, list) else []


def _skip_reason(skips: Sequence[SkipCheck], rule_id: str) -> str | None:
    for skip in skips:
        if _rule_key(skip.rule) == rule_id:
            return skip.reason
    return None


def _unknown_skip(skip: SkipCheck, where: str) -> str:
    key = _rule_key(skip.rule)
    rule = RULES_BY_ID.get(key)
    if rule is not None and not rule.skippable:
        return f"{where} tries to switch off {rule.id}, which cannot be switched off. Fix: remove the entry."
    close = difflib.get_close_matches(key, [r.id for r in RULES if r.skippable], n=1)
    hint = f" Did you mean {close[0]}?" if close else ""
    return (
        f"{where} names rule '{skip.rule}', which does not exist, so it switches nothing off.{hint} "
        f"Fix: use one of the rule ids listed in {REF_POSTURE_DOC}, or remove the entry."
    )


def _config_findings(connectors: Sequence[Connector], tenant_skips: Sequence[SkipCheck]) -> list[Finding]:
    def known(skip: SkipCheck) -> bool:
        rule = RULES_BY_ID.get(_rule_key(skip.rule))
        return rule is not None and rule.skippable

    config = RULES_BY_ID[UNKNOWN_RULE]
    places: list[tuple[Connector | None, Sequence[SkipCheck]]] = [(None, tenant_skips)]
    places += [(c, _skips_of(c)) for c in connectors]
    found = []
    for c, skips in places:
        where = "tenant skip_checks" if c is None else "skip_checks of this connector"
        for skip in skips:
            if not known(skip):
                found.append(
                    Finding(
                        rule=config.id,
                        severity=config.severity,
                        kind=c.kind if c is not None else None,
                        name=c.name if c is not None else None,
                        message=_unknown_skip(skip, where),
                        reference=config.reference,
                        field="skip_checks",
                    )
                )
    return found


def check(connectors: Sequence[Connector], tenant_skips: Sequence[SkipCheck] = ()) -> list[Finding]:
    """Every posture finding of one tenant's connectors, skipped ones included, in a stable order.

    ``connectors`` are the tenant's connectors of both kinds (desired or live models); each one's
    ``skip_checks`` switch rules off for it, ``tenant_skips`` for the whole tenant.  Never raises on odd
    live values: a value a rule cannot read makes that rule see nothing there.
    """
    findings = _config_findings(connectors, tenant_skips)
    for rule in RULES:
        for hit in rule.check(connectors):
            reason = None
            if rule.skippable:
                if hit.connector is not None:
                    reason = _skip_reason(_skips_of(hit.connector), rule.id)
                for other in hit.also_skipped_by:
                    if reason is None:
                        other_reason = _skip_reason(_skips_of(other), rule.id)
                        if other_reason is not None:
                            reason = f"{other_reason} (skipped on '{other.name}')"
                if reason is None:
                    reason = _skip_reason(tenant_skips, rule.id)
            c = hit.connector
            findings.append(
                Finding(
                    rule=rule.id,
                    severity=rule.severity,
                    kind=c.kind if c is not None else None,
                    name=c.name if c is not None else None,
                    message=hit.message,
                    reference=rule.reference,
                    field=hit.field,
                    skipped_reason=reason,
                )
            )
    findings.sort(
        key=lambda f: (
            f.rule,
            f.kind or "",
            (f.name or "").casefold(),
            f.name or "",
            f.field or "",
            f.message,
        )
    )
    return findings


__all__ = [
    "RULES",
    "RULES_BY_ID",
    "SEVERITIES",
    "SEVERITY_RANK",
    "UNKNOWN_RULE",
    "Finding",
    "Hit",
    "Rule",
    "Severity",
    "check",
    "fails",
    "rule",
]
