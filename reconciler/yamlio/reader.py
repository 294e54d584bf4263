"""The one YAML reader: text -> documents as small located trees, safely.

It does not use ruamel's constructor: it walks the parser's event stream into a tree of :class:`YNode`
(each node knows its file, line and column).  Not ruamel's composer either, though it also gives nodes
with marks: it keeps no place for an alias (only its target) nor whether a tag was written, and gives
nothing of a document cut short by a syntax error, so the problems before that error would go unsaid.
Walking the events lets the reader

- reject what plain configuration never needs, each with a located message: tags (no object
  construction of any kind), merge keys, complex keys, nesting deeper than :data:`MAX_DEPTH`, aliases
  that expand past :data:`MAX_ALIAS_NODES` nodes per file (the "billion laughs" bomb), more than
  :data:`MAX_DOCUMENTS` documents or :data:`MAX_PROBLEMS` problems in one file (the rest is not read,
  so neither the time nor the error output grows with a hostile file), files larger than
  the size limit (:data:`MAX_FILE_BYTES` unless the caller sets another) and files that are not UTF-8
  (a UTF-8 byte order mark is accepted); open only regular files, never through a symbolic link loop
  nor (for files found in a folder) a link to outside the repository (:func:`read_bytes`, which every
  file exoform reads goes through, JSON files included);
- report a duplicate key with both places, and every problem of every document rather than the first;
- say where any value is written (:func:`locate`), for messages about it.

Scalars are typed as YAML 1.2 does (ruamel's resolver): ``yes``/``no``/``on``/``off`` are text, only
``true``/``false`` are booleans; dates stay text.  Mapping keys are always taken as text.

Contracts:
- :func:`parse_file` and :func:`parse_text` never raise for bad input: they return the documents read
  and a list of located :class:`Problem`.  A document with a problem is left out; the documents before
  a syntax error are kept, and so are the problems found before it.
- Reading is linear in the file's size (ruamel's scanner is, below :data:`MAX_DEPTH` open flow levels;
  bench/parsing.py measures it).
- :func:`to_python` expands aliases against an :class:`AliasBudget` and raises :class:`TooBig` (which
  carries its located problem) past the budget or the depth limit.
"""

from __future__ import annotations

import errno
import math
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.errors import Location, Problem, quote

#: Largest YAML file read, in bytes (1 MiB).  A connector file is a few kilobytes.
MAX_FILE_BYTES = 1 << 20
#: Deepest nesting of lists and mappings.  A connector document needs 3 levels.
MAX_DEPTH = 32
#: Most nodes that aliases may expand to in one file.  Plain documents do not count against it.
MAX_ALIAS_NODES = 10_000
#: Most documents read from one file (a connector file holds one per connector).
MAX_DOCUMENTS = 1_000
#: Most problems reported for one file; past it the file is not read further and one line says so.
MAX_PROBLEMS = 100

_CORE_TAGS = {
    "tag:yaml.org,2002:str": "scalar",
    "tag:yaml.org,2002:int": "scalar",
    "tag:yaml.org,2002:float": "scalar",
    "tag:yaml.org,2002:bool": "scalar",
    "tag:yaml.org,2002:null": "scalar",
    "tag:yaml.org,2002:seq": "seq",
    "tag:yaml.org,2002:map": "map",
}


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
    """``path`` as shown in messages: relative to the working directory when it lies under it.  A symbolic
    link is shown by its own name, never by where it leads."""
    try:
        return str((path.absolute().parent.resolve() / path.name).relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _loc(display: str, mark: Any) -> Location:
    return Location(display, mark.line + 1, mark.column + 1)


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of character ``index`` in ``text``."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _kind_of(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def outside_root(path: Path, root: Path) -> bool:
    """True when ``path`` is, or leads through, a symbolic link to somewhere outside ``root`` (a path
    configured outside ``root`` without a link is the user's own choice, not a link's surprise)."""
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return False  # a loop or a vanished file: reported by the read itself
    return resolved != Path(os.path.abspath(path)) and not resolved.is_relative_to(root.resolve())


def read_bytes(
    path: Path, display: str, limit: int, *, root: Path | None = None
) -> tuple[bytes | None, list[Problem]]:
    """The file's bytes, or None and a located problem; the one way exoform opens a file it reads.

    Contracts: only a regular file is opened (a FIFO, a device, a socket or a folder is refused from
    ``stat`` before ``open``, and the open itself never blocks: ``O_NONBLOCK``); a symbolic link loop is a
    problem, not an exception; no more than ``limit`` bytes are read; with ``root``, a file reached through
    a symbolic link to outside ``root`` is refused before it is opened, so its content cannot reach any
    message.  Messages never quote the file's content.
    """
    here = Location(display)
    shown = f" ({limit >> 20} MiB)" if limit and limit % (1 << 20) == 0 else ""
    if root is not None and outside_root(path, root):
        return None, [
            Problem(
                here,
                "is a symbolic link to a file outside the repository (the folder of exoform.yaml); "
                "exoform does not read it: copy the file in instead",
            )
        ]
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            return None, [
                Problem(here, f"cannot read file: it is {_kind_of(info.st_mode)}, not a regular file")
            ]
        if info.st_size > limit:
            return None, [Problem(here, f"file is {info.st_size} bytes; the limit is {limit}{shown}")]
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):  # replaced between stat and open
                return None, [Problem(here, "cannot read file: it is not a regular file")]
            data = fh.read(limit + 1)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, [
                Problem(here, "cannot read file: a symbolic link loop (a link that leads to itself)")
            ]
        return None, [Problem(here, f"cannot read file: {exc.strerror or type(exc).__name__}")]
    if len(data) > limit:
        return None, [Problem(here, f"file is larger than the limit of {limit} bytes{shown}")]
    return data, []


def read_text(
    path: Path, display: str, limit: int = MAX_FILE_BYTES, *, root: Path | None = None
) -> tuple[str | None, list[Problem]]:
    """The file's text (:func:`read_bytes`, then UTF-8), or None and a problem when it is larger than
    ``limit`` bytes, unreadable, not a regular file, outside ``root`` through a link, or not UTF-8."""
    data, problems = read_bytes(path, display, limit, root=root)
    if data is None:
        return None, problems
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


def nesting_depth(data: Any) -> int:
    """How deeply lists and dicts nest in ``data`` (parsed JSON); iterative, so any depth is measured."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            stack.extend((item, depth) for item in (value.values() if isinstance(value, dict) else value))
    return deepest


def _scalar_value(tag: str, text: str) -> Any:
    """The Python value of a scalar of core ``tag``; raises ValueError when ``text`` is not of that type."""
    short = tag.rpartition(":")[2]
    if short == "null":
        if text not in ("", "~", "null", "Null", "NULL"):
            raise ValueError(f"{quote(text)} is not null")
        return None
    if short == "bool":
        if text.lower() not in ("true", "false"):
            raise ValueError(f"{quote(text)} is not true or false")
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


def _scalar(event: Any, display: str, problems: list[Problem], resolver: Any) -> YScalar:
    loc = _loc(display, event.start_mark)
    text = str(event.value)
    tag = str(event.tag) if event.tag is not None else None
    if tag is None or tag == "!":
        if event.style is not None or not event.implicit[0]:
            return YScalar(loc, value=text, text=text)  # quoted: always text
        from ruamel.yaml.nodes import ScalarNode

        tag = str(resolver.resolve(ScalarNode, text, (True, False)))
        if tag not in _CORE_TAGS:
            return YScalar(loc, value=text, text=text)  # timestamps and the like stay text
    elif _CORE_TAGS.get(tag) != "scalar":
        problems.append(Problem(loc, _tag_message(tag)))
        raise _Abandon
    try:
        return YScalar(loc, value=_scalar_value(tag, text), text=text)
    except ValueError:
        problems.append(Problem(loc, f"{quote(text)} is not a valid {tag.rpartition(':')[2]}"))
        raise _Abandon from None


def _tag_message(tag: str) -> str:
    tag = tag.replace("tag:yaml.org,2002:", "!!")
    return f"YAML tag {quote(tag)} is not allowed: exoform reads plain YAML (mappings, lists, text, numbers)"


def _check_collection_tag(event: Any, kind: str, display: str, problems: list[Problem]) -> None:
    tag = str(event.tag) if event.tag is not None else None
    if tag is not None and tag != "!" and _CORE_TAGS.get(tag) != kind:
        problems.append(Problem(_loc(display, event.start_mark), _tag_message(tag)))
        raise _Abandon


class _Builder:
    """Turns parser events into :class:`YDocument` trees, one document at a time."""

    def __init__(self, display: str, problems: list[Problem], resolver: Any) -> None:
        self.display = display
        self.resolver = resolver
        self.problems = problems
        self.documents: list[YDocument] = []
        self.started = 0
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
            if len(self.problems) >= MAX_PROBLEMS:
                self.problems.append(
                    Problem(
                        _loc(self.display, event.start_mark),
                        f"more than {MAX_PROBLEMS} problems in this file; the rest of it was not read "
                        "(fix these first)",
                    )
                )
                return
            if isinstance(event, ev.DocumentStartEvent):
                self.started += 1
                if self.started > MAX_DOCUMENTS:
                    self.problems.append(
                        Problem(
                            _loc(self.display, event.start_mark),
                            f"more than {MAX_DOCUMENTS} documents in one file (the limit); the rest of it "
                            "was not read: split the file",
                        )
                    )
                    return
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
        return _scalar(event, self.display, self.problems, self.resolver)

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
                    f"duplicate key {quote(key)} (first at line {first.key_loc.line}, "
                    f"column {first.key_loc.column})",
                )
            )
            return
        parent.entries[key] = YEntry(key, key_loc, node)


def bounded(problems: list[Problem], limit: int = MAX_PROBLEMS + 1) -> list[Problem]:
    """``problems`` with at most ``limit`` per file, in order; each file cut short gets one last problem
    saying how many more were found (so error output stays bounded however many a file holds)."""
    kept: list[Problem] = []
    count: dict[str, int] = {}
    first_cut: dict[str, Location] = {}
    for problem in problems:
        path = problem.location.path
        count[path] = count.get(path, 0) + 1
        if count[path] <= limit:
            kept.append(problem)
        else:
            first_cut.setdefault(path, problem.location)
    for path, where in first_cut.items():
        kept.append(Problem(where, f"{count[path] - limit} more problem(s) in this file are not shown"))
    return kept


def parse_text(text: str, display: str) -> tuple[list[YDocument], list[Problem]]:
    """Every document of ``text`` as a located tree, and every problem found.

    Documents completed before a syntax error are returned; the rest of the file is not read.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    problems: list[Problem] = []
    yaml = YAML(typ="safe", pure=True)  # events only: the round-trip scanner's comment keeping is not needed
    builder = _Builder(display, problems, yaml.resolver)
    try:
        builder.feed(iter(yaml.parse(text)))
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


def parse_file(
    path: Path, display: str | None = None, limit: int = MAX_FILE_BYTES, *, root: Path | None = None
) -> tuple[list[YDocument], list[Problem]]:
    """:func:`parse_text` of a file, after the checks of :func:`read_text` (``root``: see there)."""
    shown = display if display is not None else display_path(path)
    text, problems = read_text(path, shown, limit, root=root)
    if text is None:
        return [], problems
    return parse_text(text, shown)


class AliasBudget:
    """How many nodes aliases have expanded to so far in one file (see :data:`MAX_ALIAS_NODES`)."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.used = 0


class TooBig(Exception):
    """Expanding a tree went past the alias budget or the depth limit; ``problem`` says where."""

    def __init__(self, loc: Location, message: str) -> None:
        self.problem = Problem(loc, message)


def to_python(node: YNode, budget: AliasBudget, *, depth: int = 0, alias: Location | None = None) -> Any:
    """Plain Python data of a tree; aliases are expanded, counting against ``budget``.

    ``alias`` is where the alias being expanded is written (the place a too-large expansion is blamed on).
    """
    if depth > MAX_DEPTH:
        raise TooBig(
            alias or node.loc, f"nesting is deeper than {MAX_DEPTH} levels (after expanding aliases)"
        )
    if alias is not None:
        budget.used += 1
        if budget.used > MAX_ALIAS_NODES:
            raise TooBig(
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


def deref(node: YNode) -> YNode:
    """The node an alias stands for (``node`` itself when it is not an alias)."""
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
        current = deref(node)
        if isinstance(current, YMap) and isinstance(part, str) and part in current.entries:
            entry = current.entries[part]
            key_loc, node = entry.key_loc, entry.value
        elif isinstance(current, YSeq) and isinstance(part, int) and 0 <= part < len(current.items):
            key_loc, node = None, current.items[part]
        elif isinstance(current, YMap | YSeq):
            at_key = True  # the rest is missing: point at the container's key
            break
    target = deref(node)
    empty = isinstance(target, YScalar) and target.text == "" and target.value is None
    if (at_key or empty or isinstance(target, YMap | YSeq)) and key_loc is not None:
        return key_loc
    return node.loc
