"""The one place where connector values are canonicalized.

Exchange Online stores some values differently from how they were entered (``smtp:contoso.com;1`` for
``contoso.com``, CIDR text, case, list order).  Every value that is compared -- desired from YAML or live
from the service -- goes through these functions first, so equal things compare equal.

Contract: each ``canon_*`` function is idempotent (``f(f(x)) == f(x)``) and raises ``ValueError`` with a
message fit for a user when the value is not of the expected form.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from reconciler.errors import quote

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN_RE = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_SENDER_DOMAIN_WIRE_RE = re.compile(r"^smtp:(?P<domain>[^;]*)(;\d+)?$", re.IGNORECASE)
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")

PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8")
)


def canon_domain(value: str, *, allow_star: bool = False) -> str:
    """A domain in lower case without a trailing dot; a wildcard only as a leading ``*.``.

    ``allow_star`` admits the bare ``*`` (all domains), which SenderDomains and RecipientDomains take.
    """
    text = value.strip().lower().rstrip(".")
    if text == "*":
        if allow_star:
            return text
        raise ValueError("'*' (all domains) is not allowed here")
    body = text[2:] if text.startswith("*.") else text
    if "*" in body:
        raise ValueError(
            f"{quote(value)}: a wildcard is only allowed as a leading '*.' (like '*.contoso.com')"
        )
    if not _DOMAIN_RE.match(body):
        raise ValueError(f"{quote(value)} is not a valid domain name")
    return text


def canon_sender_domain(value: str) -> str:
    """A SenderDomains entry as a plain domain; accepts the wire form ``smtp:<domain>;1``."""
    match = _SENDER_DOMAIN_WIRE_RE.match(value.strip())
    return canon_domain(match.group("domain") if match else value, allow_star=True)


def sender_domain_wire(domain: str) -> str:
    """The form Exchange Online reads SenderDomains back in: ``smtp:<domain>;1``."""
    return f"smtp:{domain};1"


def canon_ipv4_or_cidr(value: str, *, min_prefix: int = 0) -> str:
    """An IPv4 address or CIDR block; ``/32`` folds to the plain address, host bits are cleared.

    ``min_prefix`` is the shortest mask allowed (SenderIPAddresses takes /24 to /32).
    """
    text = value.strip()
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(f"{quote(value)} is not an IPv4 address or CIDR block") from None
    if net.version != 4:
        raise ValueError(f"{quote(value)}: only IPv4 is supported")
    if net.prefixlen < min_prefix:
        raise ValueError(f"{quote(value)}: the CIDR mask must be /{min_prefix} to /32")
    if net.prefixlen == 32:
        return str(net.network_address)
    return str(net)


def canon_ip_range(value: str) -> str:
    """An EFSkipIPs entry: a single IPv4 address, a CIDR block, or a range ``a.b.c.d-a.b.c.e``."""
    text = value.strip()
    if "-" in text:
        start_text, _, end_text = text.partition("-")
        try:
            start = ipaddress.IPv4Address(start_text.strip())
            end = ipaddress.IPv4Address(end_text.strip())
        except ValueError:
            raise ValueError(
                f"{quote(value)} is not a valid IPv4 range (like 192.0.2.1-192.0.2.20)"
            ) from None
        if end < start:
            raise ValueError(f"{quote(value)}: the range ends before it starts")
        return f"{start}-{end}"
    return canon_ipv4_or_cidr(text)


def ip_entry_networks(entry: str) -> list[ipaddress.IPv4Network]:
    """The networks an already canonical IP entry (address, CIDR or range) covers."""
    if "-" in entry:
        start_text, _, end_text = entry.partition("-")
        start, end = ipaddress.IPv4Address(start_text), ipaddress.IPv4Address(end_text)
        return list(ipaddress.summarize_address_range(start, end))
    return [ipaddress.IPv4Network(entry)]


def is_private(entry: str) -> bool:
    """True when a canonical IP entry overlaps an RFC 1918 or loopback network."""
    return any(net.overlaps(private) for net in ip_entry_networks(entry) for private in PRIVATE_NETWORKS)


def canon_smart_host(value: str) -> str:
    """A SmartHosts entry: an FQDN, an IPv4 address or a CIDR block; never a port."""
    text = value.strip().lower().rstrip(".")
    if text.startswith("[") or text.count(":") == 1:
        raise ValueError(f"{quote(value)}: a smart host cannot carry a port; Exchange Online always uses 25")
    if re.fullmatch(r"[0-9./]+", text):
        return canon_ipv4_or_cidr(text)
    if "*" in text:
        raise ValueError(f"{quote(value)}: a smart host cannot be a wildcard")
    return canon_domain(text)


def canon_email(value: str) -> str:
    """An SMTP address in lower case (Exchange compares addresses case-insensitively)."""
    text = value.strip().lower()
    if not _EMAIL_RE.match(text):
        raise ValueError(f"{quote(value)} is not an email address")
    canon_domain(text.partition("@")[2])
    return text


def canon_set(values: Iterable[str]) -> list[str]:
    """A multi-valued field as a sorted list without duplicates: order never counts as a change."""
    return sorted(set(values))
