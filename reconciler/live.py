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
from typing import Annotated, Any, Literal, NamedTuple, Union, cast, get_args, get_origin

from annotated_types import MaxLen, MinLen
from pydantic import AfterValidator, BeforeValidator, ValidationInfo

from reconciler.model import (
    FIELDS,
    KINDS,
    MODELS,
    Connector,
    InboundConnector,
    Kind,
    _domain_no_star,
    _domain_or_star,
    _sender_ip,
)
from reconciler.normalize import canon_sender_domain, canon_set, canon_smart_host


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
#: The default of a required field: no value of a Get object is ever this.
_REQUIRED = object()


def _from_live_fast(kind: Kind, obj: dict[str, Any], fast: _FastKind) -> Connector | None:
    """:func:`from_live_validated`'s model built without validation, or None when in any doubt."""
    known = fast.known
    if not known.issuperset(obj) and any(key.lower() in fast.parameters for key in obj.keys() - known):
        return None  # a parameter spelled in another case: the validated path maps it
    # Every parameter present is spelled as documented, so obj.get(parameter) is what the case-insensitive
    # mapping of the validated path finds.
    for parameter in fast.empty_if_absent:
        if parameter not in obj:
            obj = {**obj, parameter: []}
    full = fast.template.copy()  # every field in declaration order; the loop overwrites what differs
    for name in fast.fresh_lists:
        full[name] = []
    absent: list[str] = []
    get = obj.get
    try:
        for name, parameter, normalize, default, is_list in fast.fields:
            value = get(parameter, _MISSING)
            if value is _MISSING:
                if default is _REQUIRED:
                    return None
                absent.append(name)
                if is_list:
                    full[name] = []
            elif type(value) is type(default) and value == default:
                # normalize(default) == default (checked at import); the template holds it, but a list
                # field gets its own list, as from validation
                if is_list:
                    full[name] = []
            else:
                full[name] = normalize(value)
    except Exception:  # any doubt: the validated path decides (the same result or the error)
        return None
    # Every property present counts as set, at its default or not (a set built to size: one of all the
    # fields with some removed keeps the larger table, half a kilobyte per model).
    fields_set = set(fast.managed.difference(absent)) if absent else set(fast.managed)
    return _construct(MODELS[kind], fields_set, full)


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
            one_is_sorted = whole is canon_set  # sorted(set([x])) == [x]

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
                if one_is_sorted and len(out) == 1:
                    return out
                return whole(out)  # type: ignore[call-arg]

            return entries
    return None


#: One managed field for the fast path: (field, parameter, normalizer of the live value, default or
#: _REQUIRED, whether the field is a list).
_FastField = tuple[str, str, Callable[[Any], Any], Any, bool]


class _FastKind(NamedTuple):
    """What the fast path needs of one kind, computed at import."""

    #: Property names whose spelling is known (parameters and read-only properties).
    known: frozenset[str]
    #: Lower-cased parameter names.
    parameters: frozenset[str]
    #: The managed fields, in declaration order.
    fields: tuple[_FastField, ...]
    #: Every field in declaration order at its default (a list field at a placeholder the fast path
    #: always replaces): what ``model_construct`` would fill in.
    template: dict[str, Any]
    #: Unmanaged list fields: each model gets its own empty list, as from their default factories.
    fresh_lists: tuple[str, ...]
    #: Parameters whose absence the validated path reads as an empty list (SenderDomains).
    empty_if_absent: tuple[str, ...]
    #: The managed field names: the fields set when every property is present.
    managed: frozenset[str]


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
    # From /24 on, the host bits all lie in the last octet; the others are written as ``str(int(...))``
    # writes them (no leading zeros), so only the last octet may change.
    last = int(match.group(4))
    host = last & ((1 << (32 - length)) - 1)
    if host == 0:
        return value
    return f"{value[: match.start(4)]}{last - host}/{length}"


_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
#: A domain as ``canon_domain`` returns it unchanged: lower case, no spaces, no wildcard, no trailing dot.
_PLAIN_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*", re.ASCII)
#: A plain domain that is not all digits and dots (``canon_smart_host`` reads those as IPv4).
_PLAIN_HOST = re.compile(rf"(?=[0-9.]*[a-z-]){_LABEL}(?:\.{_LABEL})*", re.ASCII)
#: A SenderDomains entry in the wire form the service returns, around a plain domain.
_PLAIN_SENDER_DOMAIN = re.compile(rf"smtp:({_LABEL}(?:\.{_LABEL})*);[0-9]+", re.ASCII)


def _fast_domain(value: str) -> str | None:
    """``canon_domain(value)`` (with or without ``allow_star``) for a domain already canonical; else None."""
    return value if _PLAIN_DOMAIN.fullmatch(value) else None


def _fast_smart_host(value: str) -> str | None:
    """``canon_smart_host(value)`` for a host name already canonical; None for anything else."""
    return value if _PLAIN_HOST.fullmatch(value) else None


def _fast_sender_domain(value: str) -> str | None:
    """``canon_sender_domain(value)`` for ``smtp:<canonical domain>;<n>``; None for anything else."""
    match = _PLAIN_SENDER_DOMAIN.fullmatch(value)
    return match.group(1) if match is not None else None


#: Faster equal twins of canonicalizers: ``twin(value)`` is ``fn(value)``, or None where it does not know.
_TWINS: dict[Any, Callable[[str], str | None]] = {
    _sender_ip: _fast_sender_ip,
    _domain_no_star: _fast_domain,
    _domain_or_star: _fast_domain,
    canon_smart_host: _fast_smart_host,
    canon_sender_domain: _fast_sender_domain,
}


def _live(kind: Kind, name: str, multi: bool, normalize: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``normalize`` preceded by what :func:`from_live_validated` does to a live value before validation:
    a multi-valued property's None or lone string becomes a list, the comment's None becomes "", and
    SenderDomains loses its "smtp:;1" placeholder entries."""
    if multi:
        drop_placeholder = kind == "InboundConnector" and name == "sender_domains"

        def listed(value: Any) -> Any:
            if value is None:
                value = []
            elif type(value) is str:
                value = [value]
            if drop_placeholder:
                value = [d for d in value if d.strip() != "smtp:;1"]
            return normalize(value)

        return listed
    if name == "comment":

        def comment(value: Any) -> Any:
            return normalize("" if value is None else value)

        return comment
    return normalize


def _fast_kind(kind: Kind) -> _FastKind | None:
    """The fast path's tables for ``kind``; None when a field's shape is unknown to :func:`_fast_field`
    (then that kind always goes through validation: correct, slower)."""
    model, specs = MODELS[kind], FIELDS[kind]
    parameters = [spec.parameter for spec in specs.values()]
    known = {*parameters, *_READ_ONLY_PROPERTIES}
    assert len({k.lower() for k in known}) == len(known), "known property names must differ in more than case"
    fields: list[_FastField] = []
    template: dict[str, Any] = {}
    fresh_lists: list[str] = []
    for name, info in model.model_fields.items():
        if info.is_required():
            default: Any = _REQUIRED
        elif info.default_factory is list:
            default = []
        else:
            default = info.default
            assert info.default_factory is None, "only list() is known as a default factory"
            assert default is None or type(default) in (str, bool, int), "shared defaults must be immutable"
        is_list = type(default) is list
        template[name] = None if is_list or default is _REQUIRED else default
        spec = specs.get(name)
        if spec is None:
            assert default is not _REQUIRED, "an unmanaged field needs a default"
            if is_list:
                fresh_lists.append(name)
            continue
        normalize = _fast_field(info)
        if normalize is None:
            return None
        normalize = _live(kind, name, spec.multi, normalize)
        if default is not _REQUIRED:
            # The fast path takes a property equal to its default (of the same type) as is.
            fixed = normalize(default)
            assert type(fixed) is type(default) and fixed == default, f"{name}: default is not normal"
        fields.append((name, spec.parameter, normalize, default, is_list))
    return _FastKind(
        known=frozenset(known),
        parameters=frozenset(p.lower() for p in parameters),
        fields=tuple(fields),
        template=template,
        fresh_lists=tuple(fresh_lists),
        empty_if_absent=(specs["sender_domains"].parameter,) if kind == "InboundConnector" else (),
        managed=frozenset(specs),
    )


_FAST: dict[Kind, _FastKind | None] = {kind: _fast_kind(kind) for kind in KINDS}


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
