"""What the rules read from connectors: helpers shared by the checks.  All of them tolerate live state
that breaks the service's rules (a value a helper cannot read makes it see nothing there).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from reconciler.model import Connector, InboundConnector, OutboundConnector
from reconciler.normalize import ip_entry_networks, is_private


def inbound_of(connectors: Sequence[Connector]) -> list[InboundConnector]:
    return [c for c in connectors if isinstance(c, InboundConnector)]


def outbound_of(connectors: Sequence[Connector]) -> list[OutboundConnector]:
    return [c for c in connectors if isinstance(c, OutboundConnector)]


def is_partner(c: Connector) -> bool:
    # Anything that is not OnPremises is judged by the stricter Partner rules.
    return c.connector_type != "OnPremises"


def ip_restricted(c: InboundConnector) -> bool:
    """Mail for the sender domains is rejected unless it comes from ``sender_ip_addresses``."""
    return c.restrict_domains_to_ip_addresses and bool(c.sender_ip_addresses)


def cert_restricted(c: InboundConnector) -> bool:
    """Mail must come over TLS from a server whose certificate matches ``tls_sender_certificate_name``.

    Either ``require_tls`` with the name (the admin center's "require that the subject name matches") or
    ``restrict_domains_to_certificate`` with the name (a certificate exists only over TLS).
    """
    return bool(c.tls_sender_certificate_name) and (c.require_tls or c.restrict_domains_to_certificate)


def identified_by_ip(c: InboundConnector) -> bool:
    """A Partner connector for every sender domain that names sender IPs: the admin center's "identify the
    partner by the sending server's IP address" (docs/posture.md, "How the service picks an inbound
    connector").  It applies to mail from those IPs only, restricted or not."""
    return is_partner(c) and "*" in c.sender_domains and bool(c.sender_ip_addresses)


def known_senders_only(c: InboundConnector) -> bool:
    """Only mail from known servers can go through this connector: it is source-restricted, or a Partner
    connector identified by IP (mail from other servers is not matched to it)."""
    return source_restricted(c) or identified_by_ip(c)


def source_restricted(c: InboundConnector) -> bool:
    """Only known servers (or another Microsoft 365 organization) can send through this connector.

    OnPremises connectors are matched by sender IP or certificate, so either one restricts them; Partner
    connectors restrict only when told to.  ``trusted_organizations`` makes the source another tenant,
    which the service identifies itself.
    """
    if not is_partner(c):
        return bool(c.sender_ip_addresses) or bool(c.tls_sender_certificate_name)
    return ip_restricted(c) or cert_restricted(c) or bool(c.trusted_organizations)


def source_text(c: InboundConnector) -> str:
    parts = []
    if c.sender_ip_addresses:
        parts.append("IPs " + ", ".join(c.sender_ip_addresses))
    if c.tls_sender_certificate_name:
        parts.append(f"certificate {c.tls_sender_certificate_name}")
    return " and ".join(parts) or "no IPs or certificate"


def listed(values: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(values[:limit])
    return shown if len(values) <= limit else f"{shown} and {len(values) - limit} more"


def domains_text(domains: Sequence[str]) -> str:
    if "*" in domains:
        return "any sender domain ('*')"
    return "sender domains " + listed(domains) if domains else "no sender domain"


def covers(entry: str, domain: str) -> bool:
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


def networks(entry: str) -> list[ipaddress.IPv4Network]:
    """The networks of an IP entry; none when a live value cannot be read (never raises)."""
    try:
        return ip_entry_networks(entry)
    except ValueError:
        return []


def is_private_entry(entry: str) -> bool:
    try:
        return is_private(entry)
    except ValueError:
        return False
