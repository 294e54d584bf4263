"""YAML files -> validated models, each value located at its file, line and column.

This module is the one place YAML is read.  It does not use ruamel's constructor: it walks the parser's
event stream into a small located tree, which lets it

- reject what plain configuration never needs, each with a located message: tags (no object
  construction of any kind), merge keys, complex keys, nesting deeper than :data:`MAX_DEPTH`, aliases
  that expand past :data:`MAX_ALIAS_NODES` nodes per file (the "billion laughs" bomb), files larger than
  :data:`MAX_FILE_BYTES` and files that are not UTF-8;
- report a duplicate key with both places, and every problem of every file rather than the first;
- map each pydantic error's ``loc`` back to the key or value it is about.

Scalars are typed as YAML 1.2 does (ruamel's resolver): ``yes``/``no``/``on``/``off`` are text, only
``true``/``false`` are booleans; dates stay text.  Mapping keys are always taken as text.

Contracts:
- :func:`load_config`, :func:`load_tenant` and :func:`load_all` raise :class:`InputError` listing every
  problem found (each a :class:`Problem` with a :class:`Location`), never a traceback-worthy exception for
  bad input.  :func:`select_tenants` raises :class:`ConfigError`.
- ``env:`` references are not resolved here (see :func:`reconciler.config.resolve_secret` and
  :func:`check_env`).
- A file that holds no document at all (empty, or only comments) declares nothing and is accepted; an
  empty document inside a file (``---`` followed by nothing, or ``~``) is an error.
"""

from __future__ import annotations

import fnmatch
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from reconciler.config import ExoformConfig, TenantConfig, resolve_secret
from reconciler.errors import ConfigError, InputError, Location, Problem
from reconciler.model import KINDS, MODELS, Connector, did_you_mean, rule_violations

if TYPE_CHECKING:
    from ruamel.yaml import YAML

#: Largest YAML file read, in bytes (1 MiB).  A connector file is a few kilobytes.
MAX_FILE_BYTES = 1 << 20
#: Deepest nesting of lists and mappings.  A connector document needs 3 levels.
MAX_DEPTH = 32
#: Most nodes that aliases may expand to in one file.  Plain documents do not count against it.
MAX_ALIAS_NODES = 10_000
#: File name suffixes of connector files.
YAML_SUFFIXES = (".yaml", ".yml")

_CORE_TAGS = {
    "tag:yaml.org,2002:str": "scalar",
    "tag:yaml.org,2002:int": "scalar",
    "tag:yaml.org,2002:float": "scalar",
    "tag:yaml.org,2002:bool": "scalar",
    "tag:yaml.org,2002:null": "scalar",
    "tag:yaml.org,2002:seq": "seq",
    "tag:yaml.org,2002:map": "map",
}


def make_yaml() -> YAML:
    """The ruamel round-trip instance exoform writes YAML with (the exporter uses it).

    Reading goes through :func:`parse_text` instead, which uses the same parser but builds no objects.
    """
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    yaml.preserve_quotes = True
    yaml.allow_duplicate_keys = False
    return yaml


# --------------------------------------------------------------------------------------------------------
# The located tree


@dataclass(eq=False)
class YNode:
    """A node of a parsed document; ``loc`` is where it starts, ``anchor`` its ``&name`` if any."""

    loc: Location
    anchor: str | None = None


@dataclass(eq=False)
class YScalar(YNode):
    value: Any = None
    text: str = ""


@dataclass(eq=False)
class YSeq(YNode):
    items: list[YNode] = field(default_factory=list)


@dataclass(eq=False)
class YEntry:
    """One ``key: value`` pair; ``key_loc`` is where the key is written."""

    key: str
    key_loc: Location
    value: YNode


@dataclass(eq=False)
class YMap(YNode):
    entries: dict[str, YEntry] = field(default_factory=dict)


@dataclass(eq=False)
class YAlias(YNode):
    """``*name``: the same node as its anchor."""

    target: YNode = field(default_factory=lambda: YNode(Location("")))


@dataclass
class YDocument:
    """One document of a file; ``root`` is None for an empty document."""

    loc: Location
    root: YNode | None


class _Abandon(Exception):
    """The current document cannot be read further; the problem is already recorded."""


class _StopFile(_Abandon):
    """The rest of the file is not read at all: parsing on would cost time out of all proportion (ruamel's
    scanner slows down with every open flow level, so a file of a million '[' would take hours)."""


def display_path(path: Path) -> str:
    """``path`` as shown in messages: relative to the working directory when it lies under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _loc(display: str, mark: Any) -> Location:
    return Location(display, mark.line + 1, mark.column + 1)


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of character ``index`` in ``text``."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def read_text(path: Path, display: str) -> tuple[str | None, list[Problem]]:
    """The file's text, or None and a problem when it is too large, unreadable or not UTF-8."""
    here = Location(display)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, [Problem(here, f"file is {size} bytes; the limit is {MAX_FILE_BYTES} (1 MiB)")]
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return None, [Problem(here, f"cannot read file: {exc.strerror or exc}")]
    if len(data) > MAX_FILE_BYTES:
        return None, [Problem(here, f"file is larger than the limit of {MAX_FILE_BYTES} bytes (1 MiB)")]
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        return None, [
            Problem(
                Location(display, line, column),
                f"file is not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8",
            )
        ]


def _resolver() -> Any:
    global _RESOLVER
    if _RESOLVER is None:
        from ruamel.yaml import YAML

        _RESOLVER = YAML(typ="rt").resolver
    return _RESOLVER


_RESOLVER: Any = None


def _scalar_value(tag: str, text: str) -> Any:
    """The Python value of a scalar of core ``tag``; raises ValueError when ``text`` is not of that type."""
    short = tag.rpartition(":")[2]
    if short == "null":
        if text not in ("", "~", "null", "Null", "NULL"):
            raise ValueError(f"'{text}' is not null")
        return None
    if short == "bool":
        if text.lower() not in ("true", "false"):
            raise ValueError(f"'{text}' is not true or false")
        return text.lower() == "true"
    if short == "int":
        digits = text.replace("_", "")
        sign = -1 if digits.startswith("-") else 1
        body = digits.lstrip("+-")
        if body[:2].lower() in ("0x", "0o", "0b"):
            return sign * int(body, 0)
        return sign * int(body, 10)
    if short == "float":
        lowered = text.replace("_", "").lower()
        if lowered.lstrip("+-") == ".inf":
            return -math.inf if lowered.startswith("-") else math.inf
        if lowered == ".nan":
            return math.nan
        return float(lowered)
    return text


def _scalar(event: Any, display: str, problems: list[Problem]) -> YScalar:
    loc = _loc(display, event.start_mark)
    text = str(event.value)
    tag = str(event.tag) if event.tag is not None else None
    if tag is None or tag == "!":
        if event.style is not None or not event.implicit[0]:
            return YScalar(loc, value=text, text=text)  # quoted: always text
        from ruamel.yaml.nodes import ScalarNode

        tag = str(_resolver().resolve(ScalarNode, text, (True, False)))
        if tag not in _CORE_TAGS:
            return YScalar(loc, value=text, text=text)  # timestamps and the like stay text
    elif _CORE_TAGS.get(tag) != "scalar":
        problems.append(Problem(loc, _tag_message(tag)))
        raise _Abandon
    try:
        return YScalar(loc, value=_scalar_value(tag, text), text=text)
    except ValueError:
        problems.append(Problem(loc, f"'{text}' is not a valid {tag.rpartition(':')[2]}"))
        raise _Abandon from None


def _tag_message(tag: str) -> str:
    tag = tag.replace("tag:yaml.org,2002:", "!!")
    return f"YAML tag '{tag}' is not allowed: exoform reads plain YAML (mappings, lists, text, numbers)"


def _check_collection_tag(event: Any, kind: str, display: str, problems: list[Problem]) -> None:
    tag = str(event.tag) if event.tag is not None else None
    if tag is not None and tag != "!" and _CORE_TAGS.get(tag) != kind:
        problems.append(Problem(_loc(display, event.start_mark), _tag_message(tag)))
        raise _Abandon


class _Builder:
    """Turns parser events into :class:`YDocument` trees, one document at a time."""

    def __init__(self, display: str, problems: list[Problem]) -> None:
        self.display = display
        self.problems = problems
        self.documents: list[YDocument] = []
        self._reset(Location(display))

    def _reset(self, loc: Location) -> None:
        self.doc_loc = loc
        self.root: YNode | None = None
        self.stack: list[YNode] = []
        self.pending_key: list[tuple[str, Location] | None] = []
        self.anchors: dict[str, YNode] = {}
        self.abandoned = False

    def feed(self, events: Iterator[Any]) -> None:
        from ruamel.yaml import events as ev

        for event in events:
            if isinstance(event, ev.DocumentStartEvent):
                self._reset(_loc(self.display, event.start_mark))
            elif isinstance(event, ev.DocumentEndEvent):
                if not self.abandoned:
                    self.documents.append(YDocument(self.doc_loc, self.root))
            elif self.abandoned or isinstance(event, ev.StreamStartEvent | ev.StreamEndEvent):
                continue
            else:
                try:
                    self._node_event(event, ev)
                except _StopFile:
                    return
                except _Abandon:
                    self.abandoned = True

    def _node_event(self, event: Any, ev: Any) -> None:
        if isinstance(event, ev.MappingEndEvent | ev.SequenceEndEvent):
            done = self.stack.pop()
            self.pending_key.pop()
            if done.anchor:
                self.anchors[done.anchor] = done
            self._attach(done)
            return
        node: YNode | None
        if isinstance(event, ev.ScalarEvent):
            node = self._scalar_or_key(event)
            if node is None:
                return
        elif isinstance(event, ev.AliasEvent):
            target = self.anchors.get(str(event.anchor))
            if target is None:
                recursive = any(node.anchor == str(event.anchor) for node in self.stack)
                why = "refers to a list or mapping that contains it" if recursive else "has no anchor"
                self.problems.append(
                    Problem(_loc(self.display, event.start_mark), f"alias '*{event.anchor}' {why}")
                )
                raise _Abandon
            node = YAlias(_loc(self.display, event.start_mark), target=target)
        else:
            is_map = isinstance(event, ev.MappingStartEvent)
            _check_collection_tag(event, "map" if is_map else "seq", self.display, self.problems)
            if len(self.stack) >= MAX_DEPTH:
                self.problems.append(
                    Problem(
                        _loc(self.display, event.start_mark),
                        f"nesting is deeper than {MAX_DEPTH} levels; a connector needs 3 "
                        "(the rest of the file was not read)",
                    )
                )
                raise _StopFile
            loc = _loc(self.display, event.start_mark)
            collection: YNode = YMap(loc) if is_map else YSeq(loc)
            if self.stack and isinstance(self.stack[-1], YMap) and self.pending_key[-1] is None:
                self.problems.append(Problem(loc, "a mapping key must be plain text, not a list or mapping"))
                raise _Abandon
            if event.anchor:
                collection.anchor = str(event.anchor)
            self.stack.append(collection)
            self.pending_key.append(None)
            return
        if isinstance(event, ev.ScalarEvent) and event.anchor:
            self.anchors[str(event.anchor)] = node
        self._attach(node)

    def _scalar_or_key(self, event: Any) -> YNode | None:
        """A value node; or, in a mapping that awaits a key, records the key and returns None."""
        if self.stack and isinstance(self.stack[-1], YMap) and self.pending_key[-1] is None:
            loc = _loc(self.display, event.start_mark)
            tag = str(event.tag) if event.tag is not None else None
            if tag is not None and tag not in ("!", "tag:yaml.org,2002:str"):
                self.problems.append(Problem(loc, _tag_message(tag)))
                raise _Abandon
            key = str(event.value)
            if key == "<<" and event.style is None:
                self.problems.append(
                    Problem(loc, "merge keys (<<) are not supported; write the fields out in each document")
                )
                raise _Abandon
            self.pending_key[-1] = (key, loc)
            return None
        return _scalar(event, self.display, self.problems)

    def _attach(self, node: YNode) -> None:
        if not self.stack:
            self.root = node
            return
        parent = self.stack[-1]
        if isinstance(parent, YSeq):
            parent.items.append(node)
            return
        assert isinstance(parent, YMap)
        pending = self.pending_key[-1]
        if pending is None:  # an alias used as a key
            self.problems.append(Problem(node.loc, "a mapping key must be plain text"))
            raise _Abandon
        key, key_loc = pending
        self.pending_key[-1] = None
        first = parent.entries.get(key)
        if first is not None:
            self.problems.append(
                Problem(
                    key_loc,
                    f"duplicate key '{key}' (first at line {first.key_loc.line}, "
                    f"column {first.key_loc.column})",
                )
            )
            return
        parent.entries[key] = YEntry(key, key_loc, node)


def parse_text(text: str, display: str) -> tuple[list[YDocument], list[Problem]]:
    """Every document of ``text`` as a located tree, and every problem found.

    Documents completed before a syntax error are returned; the rest of the file is not read.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    problems: list[Problem] = []
    builder = _Builder(display, problems)
    try:
        builder.feed(iter(YAML(typ="rt").parse(text)))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = _loc(display, mark) if mark is not None else Location(display)
        detail = exc.problem or "syntax error"
        if exc.context:
            detail = f"{detail} ({exc.context})"
        problems.append(Problem(loc, f"invalid YAML: {detail}"))
    except ReaderError as exc:
        line, column = _position(text, exc.position)
        char = exc.character
        code = f"U+{char if isinstance(char, int) else ord(char):04X}"
        problems.append(
            Problem(Location(display, line, column), f"invalid YAML: control character {code} is not allowed")
        )
    except YAMLError as exc:
        problems.append(Problem(Location(display), f"invalid YAML: {exc}"))
    return builder.documents, problems


def parse_file(path: Path, display: str | None = None) -> tuple[list[YDocument], list[Problem]]:
    """:func:`parse_text` of a file, after the size and encoding checks of :func:`read_text`."""
    shown = display if display is not None else display_path(path)
    text, problems = read_text(path, shown)
    if text is None:
        return [], problems
    return parse_text(text, shown)


class AliasBudget:
    """How many nodes aliases have expanded to so far in one file (see :data:`MAX_ALIAS_NODES`)."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.used = 0


class _TooBig(Exception):
    def __init__(self, loc: Location, message: str) -> None:
        self.problem = Problem(loc, message)


def to_python(node: YNode, budget: AliasBudget, *, depth: int = 0, alias: Location | None = None) -> Any:
    """Plain Python data of a tree; aliases are expanded, counting against ``budget``.

    ``alias`` is where the alias being expanded is written (the place a too-large expansion is blamed on).
    """
    if depth > MAX_DEPTH:
        raise _TooBig(
            alias or node.loc, f"nesting is deeper than {MAX_DEPTH} levels (after expanding aliases)"
        )
    if alias is not None:
        budget.used += 1
        if budget.used > MAX_ALIAS_NODES:
            raise _TooBig(
                alias,
                f"aliases expand to more than {MAX_ALIAS_NODES} values in this file (an alias bomb?); "
                "write the values out",
            )
    if isinstance(node, YAlias):
        return to_python(node.target, budget, depth=depth, alias=alias or node.loc)
    if isinstance(node, YScalar):
        return node.value
    if isinstance(node, YSeq):
        return [to_python(item, budget, depth=depth + 1, alias=alias) for item in node.items]
    assert isinstance(node, YMap)
    return {
        key: to_python(entry.value, budget, depth=depth + 1, alias=alias)
        for key, entry in node.entries.items()
    }


def _deref(node: YNode) -> YNode:
    while isinstance(node, YAlias):
        node = node.target
    return node


def locate(root: YNode, path: Sequence[str | int], *, at_key: bool = False) -> Location:
    """Where the value at ``path`` (as in a pydantic ``loc``) is written.

    Parts that do not exist are skipped over, so the answer is the deepest existing node.  With ``at_key``
    (or when the value is a mapping or list) the answer is the key that holds it, when there is one.
    """
    node = root
    key_loc: Location | None = None
    for part in path:
        current = _deref(node)
        if isinstance(current, YMap) and isinstance(part, str) and part in current.entries:
            entry = current.entries[part]
            key_loc, node = entry.key_loc, entry.value
        elif isinstance(current, YSeq) and isinstance(part, int) and 0 <= part < len(current.items):
            key_loc, node = None, current.items[part]
        elif isinstance(current, YMap | YSeq):
            at_key = True  # the rest is missing: point at the container's key
            break
    target = _deref(node)
    empty = isinstance(target, YScalar) and target.text == "" and target.value is None
    if (at_key or empty or isinstance(target, YMap | YSeq)) and key_loc is not None:
        return key_loc
    return node.loc


# --------------------------------------------------------------------------------------------------------
# pydantic errors -> located problems


def _peel(tp: Any) -> Any:
    """The model class inside ``tp`` (through Optional, Annotated), or ``tp`` itself."""
    origin = get_origin(tp)
    if origin is Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        rest = [a for a in get_args(tp) if a is not type(None)]
        return _peel(rest[0]) if len(rest) == 1 else tp
    if origin is not None and hasattr(tp, "__metadata__"):
        return _peel(get_args(tp)[0])
    return tp


def _fields_at(model: type[BaseModel], path: Sequence[str | int]) -> list[str]:
    """The field names of the model found at ``path`` below ``model`` (for did-you-mean)."""
    tp: Any = model
    for part in path:
        tp = _peel(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
            info = tp.model_fields.get(part)
            if info is None:
                return []
            tp = info.annotation
            continue
        origin = get_origin(tp)
        args = get_args(tp)
        if origin is list and args:
            tp = args[0]
        elif origin is dict and len(args) == 2:
            tp = args[1]
        else:
            return []
    tp = _peel(tp)
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


def _validation_problems(
    exc: ValidationError, root: YNode, doc_loc: Location, model: type[BaseModel], prefix: tuple[str, ...] = ()
) -> list[Problem]:
    """One located problem per pydantic error of ``root`` validated as ``model``."""
    problems: list[Problem] = []
    for error in exc.errors(include_url=False):
        path = [p for p in error["loc"] if isinstance(p, int | str)]
        kind = error["type"]
        if kind == "extra_forbidden":
            name = str(path[-1])
            hint = did_you_mean(name, _fields_at(model, path[:-1]))
            where = _shown([*prefix, *path[:-1]])
            scope = f" in {where}" if where else ""
            problems.append(Problem(locate(root, path, at_key=True), f"unknown field '{name}'{scope}{hint}"))
            continue
        if kind == "missing":
            parent = path[:-1]
            loc = locate(root, parent, at_key=True) if parent else doc_loc
            where = _shown([*prefix, *parent])
            scope = f" in {where}" if where else ""
            problems.append(Problem(loc, f"missing required field '{path[-1]}'{scope}"))
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
                message += f", got {given!r}"
            elif isinstance(given, int | float):
                message += f", got '{given}'"  # quoted, so a 5,000-digit number is clipped like text
            if kind == "bool_type" and isinstance(given, str) and given.lower() in _YAML11_BOOLS:
                message += " (YAML 1.2 reads yes/no/on/off as text)"
        elif kind == "literal_error":
            expected = str(error.get("ctx", {}).get("expected", ""))
            choices = [part.strip(" '") for part in expected.replace(" or ", ",").split(",") if part.strip()]
            given = error.get("input")
            hint = did_you_mean(str(given), choices) if isinstance(given, str) else ""
            message = f"expected {expected}" + ("" if hide else f", got {given!r}{hint}")
        loc = locate(root, path) if path else doc_loc
        if kind == "value_error" and path:
            loc = _refine_in_list(root, path, message) or loc
        shown = _shown([*prefix, *path])
        problems.append(Problem(loc, f"{shown}: {message}" if shown else message))
    return problems


def _refine_in_list(root: YNode, path: Sequence[str | int], message: str) -> Location | None:
    """For an error about a whole list that quotes one entry, the location of that entry."""
    node = root
    for part in path:
        node = _deref(node)
        if isinstance(node, YMap) and isinstance(part, str) and part in node.entries:
            node = node.entries[part].value
        elif isinstance(node, YSeq) and isinstance(part, int) and 0 <= part < len(node.items):
            node = node.items[part]
        else:
            return None
    node = _deref(node)
    if isinstance(node, YSeq):
        for item in node.items:
            target = _deref(item)
            if isinstance(target, YScalar) and f"'{target.text}'" in message:
                return item.loc
    return None


# --------------------------------------------------------------------------------------------------------
# exoform.yaml


def load_config(path: Path) -> ExoformConfig:
    """``exoform.yaml``, validated; paths inside it are relative to its folder.

    Raises :class:`InputError` with every problem of the file, each located.
    """
    display = display_path(path)
    if not path.is_file():
        raise InputError([Problem(Location(display), "file not found (give another with --config PATH)")])
    documents, problems = parse_file(path, display)
    if problems:
        raise InputError(problems)
    if not documents:
        raise InputError([Problem(Location(display), "the file is empty; declare tenants: (see the README)")])
    if len(documents) > 1:
        raise InputError(
            [Problem(documents[1].loc, "exoform.yaml holds one document; remove the extra '---'")]
        )
    document = documents[0]
    root = document.root
    if root is None:
        raise InputError([Problem(document.loc, "the document is empty; declare tenants: (see the README)")])
    if not isinstance(_deref(root), YMap):
        raise InputError([Problem(root.loc, "exoform.yaml must be a mapping with a tenants: key")])
    mapping = _deref(root)
    assert isinstance(mapping, YMap)
    if "base_dir" in mapping.entries:
        entry = mapping.entries["base_dir"]
        hint = did_you_mean("base_dir", _fields_at(ExoformConfig, []))
        raise InputError([Problem(entry.key_loc, f"unknown field 'base_dir'{hint}")])
    try:
        data = to_python(root, AliasBudget(display))
    except _TooBig as exc:
        raise InputError([exc.problem]) from None
    try:
        config = ExoformConfig.model_validate(data)
    except ValidationError as exc:
        raise InputError(_validation_problems(exc, root, document.loc, ExoformConfig)) from None
    config = config.model_copy(update={"base_dir": path.resolve().parent})
    config._source = root
    return config


def config_location(config: ExoformConfig, *path: str | int) -> Location:
    """Where a setting of ``exoform.yaml`` is written (its key), or the file's start when not known."""
    root = config._source
    if isinstance(root, YNode):
        return locate(root, path, at_key=False)
    return Location("exoform.yaml")


def select_tenants(config: ExoformConfig, patterns: Sequence[str]) -> list[str]:
    """The tenants named by ``patterns`` (names or fnmatch globs), in the file's order; all when empty.

    Raises :class:`ConfigError` when a pattern matches no tenant.
    """
    names = list(config.tenants)
    if not patterns:
        return names
    chosen: set[str] = set()
    for pattern in patterns:
        matched = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not matched:
            hint = did_you_mean(pattern, names)
            raise ConfigError(f"no tenant matches '{pattern}'{hint}; tenants: {', '.join(names)}")
        chosen.update(matched)
    return [n for n in names if n in chosen]


def check_env(config: ExoformConfig, tenants: Sequence[str]) -> list[Problem]:
    """A located problem for every ``env:`` reference of ``tenants`` whose variable is unset.

    Values are read only to see that they exist; they never appear in a problem.
    """
    problems: list[Problem] = []
    for tenant in tenants:
        auth = config.tenants[tenant].auth
        if auth is None:
            continue
        references: list[tuple[tuple[str, ...], str | None]] = [(("client_secret",), auth.client_secret)]
        if auth.certificate is not None:
            references += [
                (("certificate", "pem"), auth.certificate.pem),
                (("certificate", "passphrase"), auth.certificate.passphrase),
            ]
        for path, reference in references:
            if reference is None:
                continue
            try:
                resolve_secret(reference)
            except ConfigError as exc:
                loc = config_location(config, "tenants", tenant, "auth", *path)
                problems.append(Problem(loc, f"tenant {tenant}: {exc}"))
    return problems


# --------------------------------------------------------------------------------------------------------
# Connector files


@dataclass(frozen=True)
class LoadedConnector:
    """A validated, normalized connector and where it is written."""

    connector: Connector
    #: Where the document starts (its first key).
    location: Location
    #: Top-level key -> where that key is written.
    field_locations: dict[str, Location]

    def location_of(self, field_name: str) -> Location:
        """Where ``field_name`` is written, or the document's start when the file leaves it out."""
        return self.field_locations.get(field_name, self.location)


@dataclass(frozen=True)
class TenantDesired:
    """Everything one tenant's connector files declare."""

    tenant: str
    settings: TenantConfig
    connectors: list[LoadedConnector]


def connector_files(folder: Path) -> list[Path]:
    """Every ``*.yaml``/``*.yml`` file under ``folder``, recursively, sorted by path.

    Files and folders whose name starts with a dot are skipped.
    """
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and name.lower().endswith(YAML_SUFFIXES):
                found.append(Path(dirpath) / name)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def load_connector_documents(path: Path) -> tuple[list[LoadedConnector], list[Problem]]:
    """The connectors of one file and every problem found in it."""
    display = display_path(path)
    documents, problems = parse_file(path, display)
    budget = AliasBudget(display)
    loaded: list[LoadedConnector] = []
    for document in documents:
        connector, found = _load_document(document, budget)
        problems += found
        if connector is not None:
            loaded.append(connector)
    return loaded, problems


def _load_document(document: YDocument, budget: AliasBudget) -> tuple[LoadedConnector | None, list[Problem]]:
    root = document.root
    target = _deref(root) if root is not None else None
    if root is None or (isinstance(target, YScalar) and target.value is None):
        return None, [
            Problem(
                document.loc,
                "empty document: each document between '---' lines declares one connector; remove the "
                "extra '---'",
            )
        ]
    if not isinstance(target, YMap):
        found = f"the text {target.text!r}" if isinstance(target, YScalar) else "a list"
        return None, [
            Problem(
                root.loc,
                f"a connector document must be a mapping (kind: ..., name: ...), not {found}",
            )
        ]
    mapping = target
    doc_loc = root.loc
    kind_entry = mapping.entries.get("kind")
    if kind_entry is None:
        return None, [Problem(doc_loc, f"missing 'kind': set kind: {' or kind: '.join(KINDS)}")]
    kind_node = _deref(kind_entry.value)
    kind = kind_node.value if isinstance(kind_node, YScalar) else None
    if kind not in KINDS:
        shown = repr(kind_node.text) if isinstance(kind_node, YScalar) else "a list or mapping"
        hint = did_you_mean(kind, KINDS) if isinstance(kind, str) else ""
        return None, [Problem(kind_entry.value.loc, f"unknown kind {shown}{hint}; use {' or '.join(KINDS)}")]
    model = MODELS[kind]
    try:
        data = to_python(root, budget)
    except _TooBig as exc:
        return None, [exc.problem]
    try:
        connector = model.model_validate(data, context={"skip_rules": True})
    except ValidationError as exc:
        return None, _validation_problems(exc, root, doc_loc, model)
    field_locations = {key: entry.key_loc for key, entry in mapping.entries.items()}
    loaded = LoadedConnector(connector, doc_loc, field_locations)
    problems = [
        Problem(loaded.location_of(field_name), message) for field_name, message in rule_violations(connector)
    ]
    return (None if problems else loaded), problems


def cross_check(connectors: Sequence[LoadedConnector]) -> list[Problem]:
    """Problems between the connectors of one tenant: duplicate names and conflicting renames."""
    problems: list[Problem] = []
    declared: dict[tuple[str, str], LoadedConnector] = {}
    for loaded in connectors:
        c = loaded.connector
        key = (c.kind, c.name.casefold())
        first = declared.get(key)
        if first is not None:
            problems.append(
                Problem(
                    loaded.location_of("name"),
                    f"duplicate {c.kind} name '{c.name}' (names are case-insensitive): also declared at "
                    f"{first.location_of('name')}",
                )
            )
        else:
            declared[key] = loaded
    claimed: dict[tuple[str, str], LoadedConnector] = {}
    for loaded in connectors:
        c = loaded.connector
        where = loaded.location_of("renamed_from")
        for old in c.renamed_from:
            key = (c.kind, old.casefold())
            if old.casefold() == c.name.casefold():
                problems.append(Problem(where, f"'{c.name}' lists its own name in renamed_from"))
                continue
            other = declared.get(key)
            if other is not None:
                problems.append(
                    Problem(
                        where,
                        f"renamed_from '{old}': a {c.kind} of that name is also declared at "
                        f"{other.location_of('name')}; remove the rename or that connector",
                    )
                )
                continue
            previous = claimed.get(key)
            if previous is not None and previous is not loaded:
                problems.append(
                    Problem(
                        where,
                        f"renamed_from '{old}': '{previous.connector.name}' at {previous.location} is also "
                        "renamed from it",
                    )
                )
                continue
            claimed[key] = loaded
    return problems


def load_tenant(config: ExoformConfig, tenant: str) -> TenantDesired:
    """Every connector of ``tenant``, validated; raises :class:`InputError` with every problem found."""
    if tenant not in config.tenants:
        raise ConfigError(f"unknown tenant '{tenant}'{did_you_mean(tenant, list(config.tenants))}")
    settings = config.tenants[tenant]
    folder = config.path(settings.connectors)
    if not folder.is_dir():
        loc = config_location(config, "tenants", tenant, "connectors")
        what = "is not a folder" if folder.exists() else "does not exist"
        raise InputError([Problem(loc, f"tenant {tenant}: connectors folder {display_path(folder)} {what}")])
    connectors: list[LoadedConnector] = []
    problems: list[Problem] = []
    for path in connector_files(folder):
        loaded, found = load_connector_documents(path)
        connectors += loaded
        problems += found
    problems += cross_check(connectors)
    if problems:
        raise InputError(problems)
    return TenantDesired(tenant, settings, connectors)


def load_all(
    config_path: Path, tenants: Sequence[str] | None = None
) -> tuple[ExoformConfig, list[TenantDesired]]:
    """``exoform.yaml`` and the connectors of the selected tenants (all when None or empty).

    Every file of every selected tenant is read before one :class:`InputError` lists every problem.
    ``tenants`` are names or globs (see :func:`select_tenants`, which raises :class:`ConfigError`).
    """
    config = load_config(config_path)
    desired: list[TenantDesired] = []
    problems: list[Problem] = []
    for name in select_tenants(config, list(tenants or [])):
        try:
            desired.append(load_tenant(config, name))
        except InputError as exc:
            problems += exc.problems
    if problems:
        raise InputError(problems)
    return config, desired
