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
#: An SMTP address: a dot-atom local part (RFC 5322 atext, as the service's SmtpAddress takes it), a domain.
_EMAIL_RE = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~.-]+@[^@\s]+$")
_HOST_LABEL = r"(?![-_])[a-z0-9_-]{1,63}(?<![-_])"
_HOST_RE = re.compile(rf"^{_HOST_LABEL}(\.{_HOST_LABEL})*$")
_CERT_RE = re.compile(r"^<I>(?P<issuer>.*\S.*)<S>(?P<subject>.*\S.*)$", re.IGNORECASE | re.DOTALL)

_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8")
)
_EF_PRIVATE = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
#: Exchange Online Protection's mail ranges as Microsoft publishes them (docs/yaml-reference.md, "Value
#: formats"): enhanced filtering refuses to skip them.
MICROSOFT_365_RANGES = tuple(
    ipaddress.ip_network(n)
    for n in (
        "40.92.0.0/15",
        "40.107.0.0/16",
        "52.100.0.0/15",
        "52.102.0.0/16",
        "52.103.0.0/17",
        "104.47.0.0/17",
        "2a01:111:f400::/48",
        "2a01:111:f403::/48",
    )
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


def canon_ipv4_or_cidr(value: str, *, min_prefix: int = 0) -> str:
    """An IPv4 address or CIDR block; ``/32`` folds to the plain address, host bits are cleared (the
    service masks a CIDR block to its network address when it stores it).

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


def _range(value: str, *, ipv6: bool) -> str:
    """``first-last`` with both ends canonical: the service's IPRange form of a range
    (docs/yaml-reference.md, "Value formats")."""
    start_text, _, end_text = value.strip().partition("-")
    try:
        start = ipaddress.ip_address(start_text.strip())
        end = ipaddress.ip_address(end_text.strip())
    except ValueError:
        raise ValueError(f"{quote(value)} is not a valid IP range (like 192.0.2.1-192.0.2.20)") from None
    if start.version != end.version or (start.version == 6 and not ipv6):
        raise ValueError(f"{quote(value)} is not a valid IPv4 range (like 192.0.2.1-192.0.2.20)")
    if int(end) < int(start):
        raise ValueError(f"{quote(value)}: the range ends before it starts")
    return f"{start}-{end}"


def canon_sender_ip(value: str) -> str:
    """A SenderIPAddresses entry: an IPv4 address, a CIDR block /24 to /32, or a range ``a.b.c.d-a.b.c.e``
    (the service's IPRange type reads back all three)."""
    if "-" in value:
        return _range(value, ipv6=False)
    return canon_ipv4_or_cidr(value, min_prefix=24)


def canon_ip_range(value: str) -> str:
    """An EFSkipIPs entry: a single address, a CIDR block or a range ``first-last``, IPv4 or IPv6 (the
    service's IPRange type takes both); IPv6 in its compressed lower-case form."""
    text = value.strip()
    if "-" in text:
        return _range(text, ipv6=True)
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(f"{quote(value)} is not an IP address, CIDR block or range") from None
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return str(net)


def ip_entry_networks(entry: str) -> list[ipaddress.IPv4Network]:
    """The networks an already canonical IPv4 entry (address, CIDR or range) covers; ValueError for IPv6."""
    if "-" in entry:
        start_text, _, end_text = entry.partition("-")
        start, end = ipaddress.IPv4Address(start_text), ipaddress.IPv4Address(end_text)
        return list(ipaddress.summarize_address_range(start, end))
    return [ipaddress.IPv4Network(entry)]


def is_private(entry: str) -> bool:
    """True when a canonical IPv4 entry overlaps an RFC 1918 or loopback network."""
    return any(net.overlaps(private) for net in ip_entry_networks(entry) for private in _PRIVATE_NETWORKS)


def _span(entry: str) -> tuple[int, int, int]:
    """(IP version, first, last address as integers) of a canonical EFSkipIPs entry."""
    if "-" in entry:
        start_text, _, end_text = entry.partition("-")
        start, end = ipaddress.ip_address(start_text), ipaddress.ip_address(end_text)
        return start.version, int(start), int(end)
    net = ipaddress.ip_network(entry)
    return net.version, int(net.network_address), int(net.broadcast_address)


def ef_skip_refusal(entry: str) -> str | None:
    """Why the service refuses a canonical EFSkipIPs entry, or None: enhanced filtering cannot skip private
    (RFC 1918, IPv6 unique local) addresses nor Microsoft 365's own mail ranges
    (docs/yaml-reference.md, "Enhanced filtering")."""
    version, first, last = _span(entry)
    for what, networks in (
        ("a private (RFC 1918) address; enhanced filtering skips those by itself", _EF_PRIVATE),
        ("in Microsoft 365's own mail ranges, which enhanced filtering never skips", MICROSOFT_365_RANGES),
    ):
        for net in networks:
            if (
                net.version == version
                and first <= int(net.broadcast_address)
                and int(net.network_address) <= last
            ):
                return (
                    f"{quote(entry)} is {what}; "
                    "list only public IPs of the service in front of Exchange Online"
                )
    return None


def canon_smart_host(value: str) -> str:
    """A SmartHosts entry: a host name, an IPv4 or IPv6 address or a CIDR block; never a port.

    The service reads IP smart hosts back in brackets (``[192.0.2.25]``, ``[2001:db8::25]``): the
    brackets are dropped, so both forms are equal.  Host names may hold underscores (the service's
    RoutingHostName allows them).
    """
    text = value.strip().lower().rstrip(".")
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        try:
            return str(ipaddress.ip_address(inner))
        except ValueError:
            raise ValueError(f"{quote(value)}: only an IP address may stand in brackets") from None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if text.startswith("[") or text.count(":") == 1:
        raise ValueError(f"{quote(value)}: a smart host cannot carry a port; Exchange Online always uses 25")
    if re.fullmatch(r"[0-9./]+", text) or ":" in text:
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValueError(f"{quote(value)} is not an IP address or CIDR block") from None
        return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)
    if "*" in text:
        raise ValueError(f"{quote(value)}: a smart host cannot be a wildcard")
    if not _HOST_RE.match(text):
        raise ValueError(f"{quote(value)} is not a valid host name")
    return text


def canon_certificate_name(value: str) -> str:
    """A TlsSenderCertificateName: a domain (``*.contoso.com`` allowed, ``*`` alone not) or the
    issuer/subject form ``<I>issuer<S>subject`` of the service's TlsCertificate type, kept as written
    apart from the tags' case and surrounding blanks (a distinguished name is compared as text)."""
    text = value.strip()
    match = _CERT_RE.match(text)
    if match is None:
        if text.lower().startswith(("<i>", "<s>")):
            raise ValueError(
                f"{quote(value)}: the issuer/subject form is <I>issuer<S>subject, both non-empty"
            )
        return canon_domain(text)
    return f"<I>{match.group('issuer').strip()}<S>{match.group('subject').strip()}"


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
