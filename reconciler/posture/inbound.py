"""Inbound rules (EXO-IN-*): what each inbound connector lets in, judged with the tenant's other inbound
connectors where the service matches mail across them (a disabled connector nothing else covers).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from reconciler.model import Connector, InboundConnector
from reconciler.posture.engine import REF_EF, REF_MIXING, REF_NEW_INBOUND, REF_PARTNER, Hit, rule
from reconciler.posture.facts import (
    cert_restricted,
    covers,
    domains_text,
    identified_by_ip,
    inbound_of,
    ip_restricted,
    is_partner,
    known_senders_only,
    listed,
    source_restricted,
    source_text,
)


@rule(
    "EXO-IN-001",
    "error",
    "Partner inbound connector neither requires TLS nor restricts senders by IP or certificate",
    REF_PARTNER,
)
def open_partner(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in inbound_of(connectors):
        if not is_partner(c) or c.require_tls or source_restricted(c):
            continue
        fix = (
            "Fix: set require_tls: true and restrict the source, either restrict_domains_to_ip_addresses: "
            "true with the partner's public sender_ip_addresses, or tls_sender_certificate_name with the "
            "domain of the partner's certificate."
        )
        if identified_by_ip(c):
            yield Hit(
                c,
                "require_tls",
                f"Partner connector for mail from {listed(c.sender_ip_addresses)} neither requires TLS nor "
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
            f"Partner connector accepts mail claiming {domains_text(c.sender_domains)} from any server, "
            f"with or without TLS{hint}: anyone can send such mail and it is treated as coming through "
            f"this connector. {fix}",
        )


@rule(
    "EXO-IN-002",
    "warning",
    "Partner inbound connector for sender domains '*' that identifies no sender (no IPs, no certificate)",
    REF_PARTNER,
)
def star_unidentified(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in inbound_of(connectors):
        if not is_partner(c) or "*" not in c.sender_domains or known_senders_only(c):
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
def internal_open(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in inbound_of(connectors):
        if not c.treat_messages_as_internal:
            continue
        if is_partner(c):
            why = (
                "on a Partner connector every server that matches it (the partner's, or anyone's when it "
                "is not restricted) can send internal-looking mail"
            )
        elif not source_restricted(c):
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
def internal_onprem(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in inbound_of(connectors):
        if not c.treat_messages_as_internal or is_partner(c) or not source_restricted(c):
            continue
        yield Hit(
            c,
            "treat_messages_as_internal",
            f"{_INTERNAL_RISK}; whoever controls a server matching {source_text(c)} can send mail that "
            "looks internal. Fix: keep it only if those are your own non-Exchange on-premises servers and "
            "list only their IPs (not a shared or cloud service); for Exchange hybrid use the Hybrid "
            "Configuration Wizard's connector (cloud_services_mail_enabled) instead.",
        )


def _filter_in_front(c: InboundConnector) -> bool:
    """A Partner connector for all sender domains, identified by or restricted to a service's IPs, or
    restricted to its certificate."""
    return is_partner(c) and "*" in c.sender_domains and (identified_by_ip(c) or cert_restricted(c))


@rule(
    "EXO-IN-005",
    "warning",
    "Inbound connector from a service in front of Exchange Online without enhanced filtering",
    REF_EF,
)
def ef_missing(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in inbound_of(connectors):
        if not _filter_in_front(c) or c.ef_skip_last_ip or c.ef_skip_ips:
            continue
        yield Hit(
            c,
            "ef_skip_last_ip",
            f"this connector receives all inbound mail from a service in front of Exchange Online "
            f"({source_text(c)}) but enhanced filtering is off: SPF, DKIM and DMARC are judged on the "
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
def ef_open(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in inbound_of(connectors):
        if not c.ef_skip_last_ip or known_senders_only(c):
            continue
        yield Hit(
            c,
            "ef_skip_last_ip",
            f"enhanced filtering skips the last hop, but mail claiming {domains_text(c.sender_domains)} "
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
def mixed_restriction(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in inbound_of(connectors):
        if not is_partner(c):
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
def disabled_inbound(connectors: Sequence[Connector]) -> Iterator[Hit]:
    partners = [c for c in inbound_of(connectors) if is_partner(c)]
    active = [c for c in partners if c.enabled]
    for c in partners:
        if c.enabled or not (c.require_tls or source_restricted(c)):
            continue
        uncovered = [
            d
            for d in c.sender_domains
            if not any(o is not c and any(covers(e, d) for e in o.sender_domains) for o in active)
        ]
        if not uncovered:
            continue
        effect = (
            f"mail from {listed(c.sender_ip_addresses)} is accepted without TLS"
            if identified_by_ip(c) and not ip_restricted(c)
            else "mail claiming those domains is accepted from any server"
        )
        yield Hit(
            c,
            "enabled",
            f"this connector is disabled and no enabled Partner connector covers {listed(uncovered)}: its "
            f"TLS and source restrictions are no longer enforced, so {effect}. Fix: enable it, or delete it "
            "if the partner no longer sends to you.",
        )
