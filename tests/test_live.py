"""from_live: Get objects become models; the fast path equals pydantic validation."""

from __future__ import annotations

import copy
import re
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from reconciler import live as model_module
from reconciler.live import from_live, from_live_validated
from reconciler.model import FIELDS, MODELS, Kind

_ODD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "fabrikam.com",
        " Fabrikam.COM. ",
        "*",
        "*.fabrikam.com",
        "a*.b.com",
        "smtp:fabrikam.com;1",
        "SMTP:Fabrikam.com;2",
        "smtp:;1",
        " smtp:;1 ",
        "smtp:*;1",
        "192.0.2.7",
        "192.0.2.7/32",
        "198.51.100.9/24",
        "10.1.2.3",
        "192.168.0.0/16",
        "10.0.0.1-10.0.0.9",
        "198.51.100.255/31",
        "198.51.100.77/25",
        "1.2.3.4/024",
        "1.2.3.4/255.255.255.0",
        "256.1.1.1",
        "1.2.3",
        "0.0.0.0/0",
        "\u0663.1.1.1",
        "203.0.113.9-203.0.113.1",
        "2001:db8::1",
        "001.2.3.4",
        "mail.fabrikam.com:25",
        "[mail.fabrikam.com]",
        "-bad-.com",
        "user@Fabrikam.com",
        "not an email",
        "partner",
        "ONPREMISES",
        "Partner",
        "domainvalidation",
        "Opportunistic",
        "none",
        "Mandatory",
        "x" * 65,
        "ü.example",
        "Ünïcode name",
    ]
)


class _Text(str):
    """A str subclass: equal to a plain string, yet not of the plain JSON type."""


#: Values equal (or nearly) to a field's default but of another type: the fast path's shortcut for a
#: default-valued property must not take them.
_DEFAULT_LOOKALIKES = st.sampled_from(
    [0, 1, 0.0, 1.0, (), {}, "False", "None", "[]", _Text(""), _Text("None")]
)
_VALUE = st.one_of(
    _ODD_TEXT,
    _DEFAULT_LOOKALIKES,
    st.text(max_size=12),
    st.none(),
    st.booleans(),
    st.integers(-2, 300),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.one_of(_ODD_TEXT, st.text(max_size=8)), max_size=4),
    st.lists(st.one_of(_ODD_TEXT, st.none(), st.integers(), st.booleans()), max_size=3),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)
_CHOICES = {
    "connector_type": ["Partner", "OnPremises"],
    "tls_settings": ["EncryptionOnly", "CertificateValidation", "DomainValidation"],
    "mta_sts_mode": ["Opportunistic", "None"],
    "smtp_dane_mode": ["Opportunistic", "Mandatory", "None"],
}
_READ_ONLY = ["Guid", "Identity", "DistinguishedName", "WhenChangedUTC", "ConnectorSource", "EFTestMode"]


def _spellings(parameter: str) -> st.SearchStrategy[str]:
    return st.sampled_from([parameter, parameter.lower(), parameter.upper(), parameter.swapcase()])


def _well_typed(kind: Kind, name: str, spec: Any) -> st.SearchStrategy[Any]:
    """A value of the property's plain JSON type (odd in content: case, spaces, wire forms, refusals); half
    the time the field's default as the service sends it (False, None, "", [], "Opportunistic"), as most
    properties of a live connector are, so the fast path's shortcut for defaults is held to validation."""
    plain = _plain(name, spec)
    if MODELS[kind].model_fields[name].is_required():
        return plain
    return st.one_of(st.just(spec.default).map(copy.deepcopy), plain)


def _plain(name: str, spec: Any) -> st.SearchStrategy[Any]:
    """A value of the property's plain JSON type, odd in content."""
    if name == "name":
        return st.sampled_from(["Partner in", "p", "x" * 64, "Ünïcode name"] * 3 + ["x" * 65, ""])
    if name in _CHOICES:
        return st.sampled_from(_CHOICES[name] * 4 + ["", " Partner", "Bogus"]).flatmap(
            lambda choice: st.sampled_from([choice, choice.lower(), choice.upper()])
        )
    if isinstance(spec.default, bool):
        return st.booleans()
    if spec.multi:
        entry = st.one_of(_ODD_TEXT, st.sampled_from(["smtp:;1", " smtp:;1 ", "smtp:fabrikam.com;1"]))
        return st.one_of(st.lists(entry, max_size=4), entry, st.none())
    return st.one_of(_ODD_TEXT, st.none())


@st.composite
def _get_objects(draw: st.DrawFn) -> tuple[Kind, dict[str, Any]]:
    """A Get object as a service might send it: most are well-typed (odd only in content), some have one
    property perturbed (a wrong type, another spelling, the same property twice), some are odd throughout."""
    kind: Kind = draw(st.sampled_from(["InboundConnector", "OutboundConnector"]))
    mode = draw(st.sampled_from(["plain", "plain", "plain", "one odd", "one odd", "wild"]))
    fields = list(FIELDS[kind].items())
    perturbed = draw(st.sampled_from([name for name, _ in fields])) if mode == "one odd" else None
    obj: dict[str, Any] = {}
    for name, spec in fields:
        if draw(st.integers(0, 9)) == 0 and name != "name":
            continue  # not returned
        odd = name == perturbed or (mode == "wild" and draw(st.integers(0, 2)) == 0)
        how = draw(st.sampled_from(["value", "value", "spelling", "twice"])) if odd else "value"
        key = draw(_spellings(spec.parameter)) if how == "spelling" else spec.parameter
        well_typed = _well_typed(kind, name, spec)
        obj[key] = draw(st.one_of(st.none(), _VALUE) if odd and how == "value" else well_typed)
        if how == "twice":
            obj[draw(_spellings(spec.parameter))] = draw(st.one_of(_VALUE, well_typed))
    for key in draw(st.lists(st.sampled_from([*_READ_ONLY, "SomethingNew", "whenchangedutc"]), max_size=3)):
        obj[key] = draw(_VALUE)
    return kind, obj


def _outcome(fn: Any, kind: Kind, obj: dict[str, Any]) -> tuple[str, Any]:
    """What ``fn`` makes of ``obj``: the model (compared field by field, with the fields set) or the error."""
    try:
        built = fn(kind, obj)
    except ValidationError as exc:
        return "invalid", [(e["type"], e["loc"], e["msg"]) for e in exc.errors()]
    except Exception as exc:  # the validated path's own failure, whatever it is, must be the fast path's
        return "error", (type(exc), str(exc))
    return "model", (type(built), built.model_dump(), built.model_fields_set, built.managed_fields(), built)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_get_objects())
def test_from_live_fast_path_equals_validation(case: tuple[Kind, dict[str, Any]]) -> None:
    kind, obj = case
    outcome = _outcome(from_live, kind, obj)
    assert outcome == _outcome(from_live_validated, kind, obj)
    if outcome[0] == "model":
        # Each model owns its lists, as from validation: none is the Get object's or another model's.
        again = from_live(kind, obj)
        lists = [v for v in (*outcome[1][4].__dict__.values(), *again.__dict__.values()) if type(v) is list]
        outside = {id(v) for v in obj.values() if type(v) is list}
        assert len({id(v) for v in lists}) == len(lists) and not outside & {id(v) for v in lists}


def test_from_live_fast_path_is_taken_for_plain_get_objects() -> None:
    """The fast path must cover every field (a new field shape would silently make reads slow)."""
    inbound = {
        "Name": "In",
        "ConnectorType": "Partner",
        "SenderDomains": ["smtp:fabrikam.com;1"],
        "SenderIPAddresses": ["198.51.100.0/24"],
        "TlsSenderCertificateName": None,
        "EFSkipIPs": [],
        "Comment": None,
        "Guid": "0d5e6f7a-0000-0000-0000-000000000001",
    }
    outbound = {
        "Name": "Out",
        "ConnectorType": "OnPremises",
        "RecipientDomains": ["*"],
        "SmartHosts": ["Relay.Fabrikam.com"],
        "UseMXRecord": False,
        "TlsSettings": "domainvalidation",
        "TlsDomain": "relay.fabrikam.com",
        "MtaStsMode": "None",
        "ValidationRecipients": "postmaster@fabrikam.com",
    }
    for kind, obj in (("InboundConnector", inbound), ("OutboundConnector", outbound)):
        fast = model_module._FAST[kind]  # type: ignore[index]
        assert fast is not None and len(fast.fields) == len(FIELDS[kind])
        built = model_module._from_live_fast(kind, obj, fast)  # type: ignore[arg-type]
        assert built is not None
        assert built == from_live_validated(kind, obj)  # type: ignore[arg-type]


@st.composite
def _ipv4_like(draw: st.DrawFn) -> str:
    """Text that looks like an IPv4 address or CIDR block, valid or not (leading zeros, big octets, odd
    prefixes, spaces)."""
    octets = [draw(st.integers(0, 300)) for _ in range(draw(st.sampled_from([4, 4, 4, 3, 5])))]
    text = ".".join(f"{o:0{draw(st.sampled_from([1, 1, 1, 2, 3]))}d}" for o in octets)
    if draw(st.booleans()):
        prefix = draw(st.integers(0, 40))
        text += "/" + (f"0{prefix}" if draw(st.integers(0, 9)) == 0 else str(prefix))
    if draw(st.integers(0, 9)) == 0:
        text = f" {text} "
    return text


@settings(max_examples=1500, deadline=None)
@given(_ipv4_like())
@example("0.0.0.0/32")
@example("198.51.100.77/25")
@example("198.51.100.255/31")
@example("198.51.100.9/24")
@example("10.1.2.3/23")
def test_fast_sender_ip_twin_equals_the_canonicalizer(value: str) -> None:
    fast = model_module._fast_sender_ip(value)
    try:
        expected: str | None = model_module._sender_ip(value)
    except ValueError:
        expected = None
    assert fast is None or fast == expected
    plain = value == value.strip() and all(len(p) == 1 or p[0] != "0" for p in re.split(r"[./]", value))
    if expected is not None and plain and not value.endswith("/0"):
        assert fast == expected  # the twin covers the plain form (not a fallback every time)


@st.composite
def _domain_like(draw: st.DrawFn) -> str:
    """Text that looks like a domain, a smart host or a SenderDomains wire entry, canonical or not (case,
    spaces, wildcards, trailing dots, bad labels, all digits, other wire suffixes)."""
    label = st.one_of(
        st.sampled_from(
            ["fabrikam", "mail", "com", "a", "x-y", "-x", "x-", "1", "255", "xn--bcher-kva", "*"]
        ),
        st.text(alphabet="abzAZ09-_*.: ;ü", min_size=0, max_size=6),
        st.just("a" * 64),
    )
    text = ".".join(draw(st.lists(label, min_size=1, max_size=4)))
    if draw(st.integers(0, 4)) == 0:
        text += "."
    if draw(st.booleans()):
        prefix = draw(st.sampled_from(["smtp:", "SMTP:", "smtp: ", "x400:"]))
        text = prefix + text + draw(st.sampled_from([";1", ";2", ";10", "", ";", ";x", ";1\n", ";\u0661"]))
    if draw(st.integers(0, 9)) == 0:
        text = f" {text} "
    return text


@settings(max_examples=1500, deadline=None)
@given(_domain_like())
@example("fabrikam.com")
@example("smtp:fabrikam.com;1")
@example("192.0.2.1")
@example("smtp:*;1")
@example("*.fabrikam.com")
def test_fast_domain_twins_equal_their_canonicalizers(value: str) -> None:
    for fn, twin in model_module._TWINS.items():
        if twin is model_module._fast_sender_ip:
            continue  # its own test, with IPv4-like text
        fast = twin(value)
        try:
            expected: str | None = fn(value)
        except ValueError:
            expected = None
        assert fast is None or fast == expected, (fn, value)
        wire = twin is model_module._fast_sender_domain  # it reads the wire form only
        plain = f"smtp:{expected};1" if wire else expected
        if (
            expected is not None
            and value == plain
            and "*" not in value
            and not re.fullmatch(r"[0-9.]+", value)
        ):
            assert fast == expected, (fn, value)  # the twin covers the plain form (not a fallback every time)
