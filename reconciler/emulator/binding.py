"""Parameter binding and value syntax: the first thing the service does with a cmdlet call.

:func:`bind` maps the JSON ``Parameters`` object onto the cmdlet's parameters (names case-insensitive,
values converted to their type) and raises :class:`~reconciler.emulator.errors.CmdletError` the way
PowerShell binding fails: an unknown or repeated name, a value of the wrong type, a missing mandatory
parameter.  The ``parse_*`` helpers check the syntax of one value and return its stored form.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from reconciler.emulator import catalogue as cat
from reconciler.emulator.errors import (
    ARGUMENT_TRANSFORMATION,
    COMMAND_NOT_FOUND,
    CmdletError,
    binding,
    unknown_parameter,
)

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
_ADDRESS = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@" + rf"{_LABEL}(?:\.{_LABEL})*$")
_SENDER_DOMAIN = re.compile(r"^(?:smtp:)?(?P<domain>[^;]*)(?:;\d+)?$", re.IGNORECASE)
#: A routing host name: labels may hold underscores (RoutingHostName is not an SMTP domain).
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"^{_HOST_LABEL}(?:\.{_HOST_LABEL})*$")
_CERTIFICATE = re.compile(r"^<I>(?P<issuer>.*\S.*)<S>(?P<subject>.*\S.*)$", re.IGNORECASE | re.DOTALL)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NET_TYPES = {
    cat.Type.BOOL: "System.Boolean",
    cat.Type.GUID: "System.Guid",
    cat.Type.DATETIME: "System.DateTime",
    cat.Type.MULTI: "Microsoft.Exchange.Data.MultiValuedProperty`1[System.String]",
    cat.Type.STRING: "System.String",
    cat.Type.IDENTITY: "Microsoft.Exchange.Configuration.Tasks.IdParameter",
    cat.Type.RESULT_SIZE: "Microsoft.Exchange.Data.Unlimited`1[System.UInt32]",
}


def transform_error(param: str, value: Any, type_name: str, why: str = "") -> CmdletError:
    text = (
        f"Cannot process argument transformation on parameter '{param}'. Cannot convert value "
        f'"{value}" to type "{type_name}".'
    )
    if why:
        text += f' Error: "{why}"'
    return CmdletError(ARGUMENT_TRANSFORMATION, text, shape="transformation")


def canonical_cmdlet(name: Any) -> str:
    """The canonical spelling of cmdlet ``name`` (case-insensitive), or CommandNotFoundException."""
    if isinstance(name, str) and name.casefold() in cat.CMDLET_NAMES:
        return cat.CMDLET_NAMES[name.casefold()]
    raise CmdletError(
        COMMAND_NOT_FOUND,
        f"The term '{name}' is not recognized as a name of a cmdlet, function, script file, or "
        "executable program.",
    )


def bind(cmdlet: str, parameters: dict[str, Any], lacking: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Bind ``parameters`` to ``cmdlet``: canonical parameter names -> converted values.  ``lacking`` are
    parameters this service does not have (an older service), refused like any unknown parameter."""
    table = cat.CMDLETS[cmdlet]
    bound: dict[str, Any] = {}
    for raw_name, value in parameters.items():
        param = table.get(str(raw_name).casefold())
        if param is None or param.name in lacking:
            raise unknown_parameter(str(raw_name))
        if param.name in bound:
            raise binding(
                f"Cannot bind parameter because parameter '{param.name}' is specified more than once."
            )
        bound[param.name] = _convert(param, value)
    missing = [name for name in cat.MANDATORY.get(cmdlet, ()) if bound.get(name) in (None, "", [])]
    if missing:
        raise binding(
            "Cannot process command because of one or more missing mandatory parameters: "
            + " ".join(missing)
            + "."
        )
    return bound


def _convert(param: cat.Param, value: Any) -> Any:
    if value is None:
        if param.type is cat.Type.MULTI:
            return []
        if param.nullable or param.type is cat.Type.IDENTITY:
            return None
        raise transform_error(param.name, value, _NET_TYPES.get(param.type, "System.Object"))
    match param.type:
        case cat.Type.BOOL:
            if isinstance(value, bool):
                return value
        case cat.Type.STRING | cat.Type.IDENTITY:
            if isinstance(value, str):
                return value
        case cat.Type.MULTI:
            if isinstance(value, str):
                return [value]
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return list(value)
        case cat.Type.ENUM:
            if isinstance(value, str):
                for allowed in param.values:
                    if allowed.casefold() == value.strip().casefold():
                        return allowed
            raise transform_error(
                param.name,
                value,
                param.type_name or f"Microsoft.Exchange.Data.{param.name}",
                f"Unable to match the identifier name {value} to a valid enumerator name. Specify one of "
                f"the following enumerator names and try again: {', '.join(param.values)}",
            )
        case cat.Type.GUID:
            if isinstance(value, str):
                try:
                    return str(uuid.UUID(value))
                except ValueError:
                    pass
        case cat.Type.DATETIME:
            if isinstance(value, str):
                try:
                    return format_time(parse_time(value))
                except ValueError:
                    pass
        case cat.Type.RESULT_SIZE:
            if isinstance(value, str) and value.strip().casefold() == "unlimited":
                return "Unlimited"
            number = value
            if isinstance(value, str) and value.strip().isdigit():
                number = int(value.strip())
            if isinstance(number, int) and not isinstance(number, bool) and number > 0:
                return number
    raise transform_error(param.name, value, _NET_TYPES.get(param.type, "System.Object"))


def parse_time(text: str) -> datetime:
    """An ISO 8601 date-time (7 fractional digits allowed; no zone means UTC)."""
    text = text.strip()
    match = re.match(r"^(.*?)(\.\d+)?(Z|[+-]\d\d:\d\d)?$", text)
    if not match:
        raise ValueError(text)
    base, fraction, zone = match.groups()
    micro = (fraction or ".0")[1:7].ljust(6, "0")
    parsed = datetime.fromisoformat(f"{base}.{micro}{'+00:00' if zone in (None, 'Z') else zone}")
    return parsed.astimezone(UTC)


def format_time(moment: datetime) -> str:
    """ISO 8601 with 7 fractional digits and ``Z``, as the admin API writes dates."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


# -- value syntax ---------------------------------------------------------------------------------------


def is_domain(text: str, *, wildcard: bool, star: bool = True) -> bool:
    """A plain SMTP domain, or (if ``wildcard``) ``*.`` followed by one, or (if also ``star``) ``*`` alone."""
    if len(text) > 255:
        return False
    if wildcard and star and text == "*":
        return True
    if wildcard and text.startswith("*."):
        text = text[2:]
    return bool(_DOMAIN.match(text))


def _domain_error(param: str, value: str, type_name: str) -> CmdletError:
    text = value.strip()
    if text == "*":
        why = "The value '*' isn't allowed; use a domain or '*.domain'"
    elif "*" in text:
        why = "A wildcard is allowed only as the leading '*.'"
    else:
        why = "Not a valid SMTP domain"
    return transform_error(param, value, type_name, why)


def parse_domain(param: str, value: str, *, wildcard: bool = True, star: bool = True) -> str:
    """A domain parameter (SmtpDomainWithSubdomains); ``star``: the bare ``*`` (all domains) is allowed."""
    text = value.strip()
    if not is_domain(text, wildcard=wildcard, star=star):
        raise _domain_error(param, value, "Microsoft.Exchange.Data.SmtpDomainWithSubdomains")
    return text


def parse_certificate_name(value: str) -> str:
    """TlsSenderCertificateName (TlsCertificate): a domain, ``*.`` + domain, or ``<I>issuer<S>subject``;
    never ``*`` alone."""
    text = value.strip()
    match = _CERTIFICATE.match(text)
    if match is not None:
        return f"<I>{match.group('issuer').strip()}<S>{match.group('subject').strip()}"
    if not is_domain(text, wildcard=True, star=False):
        raise _domain_error("TlsSenderCertificateName", value, "Microsoft.Exchange.Data.TlsCertificate")
    return text


def parse_sender_domain(value: str) -> str:
    """A SenderDomains entry in its stored form ``smtp:<domain>;1`` (``smtp:`` and ``;N`` optional on input).

    A blank entry is accepted and stored as ``smtp:;1``, as the service does.
    """
    match = _SENDER_DOMAIN.match(value.strip())
    domain = match.group("domain").strip() if match else value
    if domain and not is_domain(domain, wildcard=True):
        why = "A wildcard is allowed only as the leading '*.'" if "*" in domain else "Not a valid SMTP domain"
        raise transform_error("SenderDomains", value, "Microsoft.Exchange.Data.AddressSpace", why)
    return f"smtp:{domain};1"


def parse_address(param: str, value: str) -> str:
    text = value.strip()
    if not _ADDRESS.match(text):
        raise transform_error(param, value, "Microsoft.Exchange.Data.SmtpAddress", "Not a valid SMTP address")
    return text


def _ip_range(value: str, *, ipv6: bool) -> tuple[str, IPAddress, IPAddress]:
    """An IPRange in the service's rendered form (a CIDR block masked to its network address, an address
    as itself, ``first-last``), with its first and last address; ValueError when it is none of these."""
    text = value.strip()
    if "-" in text:
        first_text, _, last_text = text.partition("-")
        first = ipaddress.ip_address(first_text.strip())
        last = ipaddress.ip_address(last_text.strip())
        if first.version != last.version or int(last) < int(first):
            raise ValueError(text)
        rendered = f"{first}-{last}"
    elif "/" in text:
        network = ipaddress.ip_network(text, strict=False)
        first, last = network.network_address, network.broadcast_address
        rendered = f"{network.network_address}/{network.prefixlen}"
    else:
        first = last = ipaddress.ip_address(text)
        rendered = str(first)
    if first.version == 6 and not ipv6:
        raise ValueError(text)
    return rendered, first, last


def parse_sender_ip(value: str) -> str:
    """SenderIPAddresses: an IPv4 address, a CIDR block /24 to /32 or a range ``a-b`` (IPRange)."""
    try:
        rendered, _, _ = _ip_range(value, ipv6=False)
    except ValueError:
        why = "IPv6 isn't supported" if ":" in value else "Not an IPv4 address, range or CIDR block"
        raise transform_error("SenderIPAddresses", value, "Microsoft.Exchange.Data.IPRange", why) from None
    if "/" in rendered and not 24 <= int(rendered.rpartition("/")[2]) <= 32:
        raise transform_error(
            "SenderIPAddresses",
            value,
            "Microsoft.Exchange.Data.IPRange",
            "The CIDR mask must be between /24 and /32",
        )
    return rendered


def parse_ef_skip_ip(value: str) -> str:
    """EFSkipIPs: single IP, ``a-b`` range or CIDR, IPv4 or IPv6; never a private or a Microsoft 365 range."""
    try:
        rendered, first, last = _ip_range(value, ipv6=True)
    except ValueError:
        raise transform_error(
            "EFSkipIPs", value, "Microsoft.Exchange.Data.IPRange", "Not an IP address, range or CIDR block"
        ) from None
    for kind, ranges in (
        ("private (RFC 1918)", cat.PRIVATE_RANGES),
        ("Microsoft 365", cat.MICROSOFT_365_RANGES),
    ):
        for block in ranges:
            net = ipaddress.ip_network(block)
            if (
                net.version == first.version
                and int(first) <= int(net.broadcast_address)
                and int(net.network_address) <= int(last)
            ):
                raise transform_error(
                    "EFSkipIPs",
                    value,
                    "Microsoft.Exchange.Data.IPRange",
                    f"{kind} IP addresses can't be added to EFSkipIPs",
                )
    return rendered


def parse_smart_host(value: str) -> str:
    """SmartHosts: a host name, an IP address (IPv4 or IPv6) or a CIDR block; no port.

    Stored in the RoutingHost form it reads back in: an IP address in brackets (``[192.0.2.25]``,
    ``[2001:db8::25]``; brackets on input are taken off first), a host name as written.  A CIDR block is
    kept as written (its read-back form is UNCONFIRMED).
    """
    text = value.strip()
    inner = text[1:-1].strip() if text.startswith("[") and text.endswith("]") else text
    try:
        return f"[{ipaddress.ip_address(inner)}]"
    except ValueError:
        pass
    if inner is text:
        try:
            ipaddress.ip_network(text, strict=False)
            return text
        except ValueError:
            pass
        if _HOST.match(text) and len(text) <= 255:
            return text
    why = "A port can't be specified" if ":" in text else "Not a valid FQDN, IP address or CIDR block"
    raise transform_error("SmartHosts", value, "Microsoft.Exchange.Data.SmartHost", why)
