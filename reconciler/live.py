"""Live state: a Get-*Connector object as the service returns it -> a connector model.

Contract: :func:`from_live` gives exactly what :func:`from_live_validated` gives (pydantic validation of
the object's managed properties, normalized, the service's rules not enforced, values exoform would refuse
to write kept as the service holds them) -- only faster.  Reading a big tenant spends much of its CPU
here, so the common case is built without pydantic's validation machinery; property tests
(``tests/test_live.py``) hold the two paths equal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from types import UnionType
from typing import Annotated, Any, Literal, Union, cast, get_args, get_origin

from annotated_types import MaxLen, MinLen
from pydantic import AfterValidator, BeforeValidator, ValidationInfo

from reconciler.model import FIELDS, KINDS, MODELS, Connector, InboundConnector, Kind, _sender_ip


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
