"""pydantic validation errors -> located problems, each at the key or value it is about.

Contract: :func:`validation_problems` turns every error of a :class:`pydantic.ValidationError` raised on
data read from a tree (:func:`reconciler.yamlio.reader.to_python`) into one :class:`Problem`, located
with :func:`reconciler.yamlio.reader.locate`, in words a user of the YAML file understands (unknown
fields get a did-you-mean; values under ``auth`` are never echoed, they may be secrets).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import NoneType, UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from reconciler.errors import Location, Problem, quote
from reconciler.model import did_you_mean
from reconciler.yamlio.reader import YMap, YNode, YScalar, YSeq, deref, locate


def _peel(tp: Any) -> Any:
    """``tp`` without its Annotated and Optional wrappers."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif (
            origin in (Union, UnionType) and len(rest := [a for a in get_args(tp) if a is not NoneType]) == 1
        ):
            tp = rest[0]
        else:
            return tp


def _union_member(tp: Any, part: str | int) -> Any:
    """The member of union ``tp`` that ``part`` of an error's ``loc`` names, or None.

    pydantic puts the member into ``loc``: its tag for a discriminated union, else its class name.
    """
    if get_origin(tp) not in (Union, UnionType) or not isinstance(part, str):
        return None
    for member in map(_peel, get_args(tp)):
        if not (isinstance(member, type) and issubclass(member, BaseModel)):
            continue
        if member.__name__ == part or any(
            get_origin(info.annotation) is Literal and part in get_args(info.annotation)
            for info in member.model_fields.values()
        ):
            return member
    return None


def _model_path(model: type[BaseModel], loc: Sequence[str | int]) -> tuple[list[str | int], Any]:
    """``loc`` without the parts that name a union member (so it is a path in the file), and the type
    found at its end (None when unknown)."""
    tp: Any = model
    path: list[str | int] = []
    for part in loc:
        tp = _peel(tp)
        member = _union_member(tp, part)
        if member is not None:
            tp = member
            continue
        path.append(part)
        args = get_args(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
            info = tp.model_fields.get(part)
            tp = info.annotation if info is not None else None
        elif get_origin(tp) is list and args:
            tp = args[0]
        elif get_origin(tp) is dict and len(args) == 2:
            tp = args[1]
        else:
            tp = None
    return path, _peel(tp)


def fields_at(model: type[BaseModel], path: Sequence[str | int]) -> list[str]:
    """The field names of the model found at ``path`` below ``model`` (for did-you-mean)."""
    _, tp = _model_path(model, path)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [name for name, info in tp.model_fields.items() if not info.exclude]
    return []


_YAML11_BOOLS = {"yes", "no", "on", "off", "y", "n"}
_FRIENDLY = {
    "bool_type": "expected true or false",
    "string_type": "expected text",
    "int_type": "expected a whole number",
    "float_type": "expected a number",
    "list_type": "expected a list",
    "dict_type": "expected a mapping (key: value pairs)",
    "model_type": "expected a mapping (key: value pairs)",
    "model_attributes_type": "expected a mapping (key: value pairs)",
}


def _shown(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def validation_problems(
    exc: ValidationError, root: YNode, doc_loc: Location, model: type[BaseModel], prefix: tuple[str, ...] = ()
) -> list[Problem]:
    """One located problem per pydantic error of ``root`` validated as ``model``.

    ``doc_loc`` is where the document starts (for errors about the whole document); ``prefix`` is put
    before the field path shown in messages.
    """
    problems: list[Problem] = []
    for error in exc.errors(include_url=False):
        path, _ = _model_path(model, [p for p in error["loc"] if isinstance(p, int | str)])
        kind = error["type"]
        ctx = error.get("ctx", {})
        if kind == "union_tag_not_found":  # the field that picks the union member is missing
            kind, path = "missing", [*path, str(ctx.get("discriminator", "")).strip("'")]
        if kind == "extra_forbidden":
            name = str(path[-1])
            hint = did_you_mean(name, fields_at(model, error["loc"][:-1]))
            where = _shown([*prefix, *path[:-1]])
            scope = f" in {where}" if where else ""
            problems.append(
                Problem(locate(root, path, at_key=True), f"unknown field {quote(name)}{scope}{hint}")
            )
            continue
        if path and path[-1] == "[key]":  # a mapping key refused: located at the key, shown by its parent
            message = str(error["msg"]).removeprefix("Value error, ")
            where = _shown([*prefix, *path[:-2]])
            problems.append(Problem(locate(root, path[:-1], at_key=True), f"{where}: {message}"))
            continue
        if kind == "missing":
            parent = path[:-1]
            loc = locate(root, parent, at_key=True) if parent else doc_loc
            where = _shown([*prefix, *parent])
            scope = f" in {where}" if where else ""
            problems.append(Problem(loc, f"missing required field {quote(path[-1])}{scope}"))
            continue
        message = str(error["msg"])
        # Values under auth may be secrets written by mistake: never echo them.
        hide = "auth" in path
        if kind == "value_error":
            message = message.removeprefix("Value error, ")
        elif kind in _FRIENDLY:
            given = None if hide else error.get("input")
            message = _FRIENDLY[kind]
            if isinstance(given, bool):
                message += f", got {str(given).lower()}"
            elif isinstance(given, str):
                message += f", got {quote(given)}"
            elif isinstance(given, int | float):
                message += f", got {quote(given)}"  # quoted, so a 5,000-digit number is clipped like text
            if kind == "bool_type" and isinstance(given, str) and given.lower() in _YAML11_BOOLS:
                message += " (YAML 1.2 reads yes/no/on/off as text)"
        elif kind == "literal_error":
            message = _expected(str(ctx.get("expected", "")), error.get("input"), hide)
        elif kind == "union_tag_invalid":  # the field that picks the union member has another value
            path = [*path, str(ctx.get("discriminator", "")).strip("'")]
            message = _expected(str(ctx.get("expected_tags", "")), ctx.get("tag"), hide)
        loc = locate(root, path) if path else doc_loc
        if kind == "value_error" and path:
            loc = _refine_in_list(root, path, message) or loc
        shown = _shown([*prefix, *path])
        problems.append(Problem(loc, f"{shown}: {message}" if shown else message))
    return problems


def _expected(expected: str, given: Any, hide: bool) -> str:
    """``expected 'a' or 'b', got 'c' (did you mean ...)`` for a value that is not one of a few."""
    choices = [part.strip(" '") for part in expected.replace(" or ", ",").split(",") if part.strip()]
    hint = did_you_mean(given, choices) if isinstance(given, str) else ""
    return f"expected {expected}" + ("" if hide else f", got {quote(given)}{hint}")


def _refine_in_list(root: YNode, path: Sequence[str | int], message: str) -> Location | None:
    """For an error about a whole list that quotes one entry, the location of that entry."""
    node = root
    for part in path:
        node = deref(node)
        if isinstance(node, YMap) and isinstance(part, str) and part in node.entries:
            node = node.entries[part].value
        elif isinstance(node, YSeq) and isinstance(part, int) and 0 <= part < len(node.items):
            node = node.items[part]
        else:
            return None
    node = deref(node)
    if isinstance(node, YSeq):
        for item in node.items:
            target = deref(item)
            if isinstance(target, YScalar) and quote(target.text) in message:
                return item.loc
    return None
