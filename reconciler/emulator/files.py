"""Reading the emulator's own input files (config, seeds, state): JSON or YAML, with located errors.

Files are read by the one YAML reader (:mod:`reconciler.yamlio`: no tags, no alias bombs, UTF-8 only),
with a size limit large enough for a seed of many thousands of connectors.  A file that is plain JSON
(a seed, a state file) is taken from ``json.loads``, which gives the same values as the YAML reader on
JSON text at a fraction of its cost; anything else (YAML, or JSON with a duplicate key, an error, deep
nesting) goes through the reader, which gives the located error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from reconciler.errors import InputError, Problem
from reconciler.yamlio import AliasBudget, TooBig, locate, parse_file, read_bytes, to_python

Locate = Callable[[Sequence[Any]], tuple[int, int]]

#: Largest seed or config file read (a 10,000-connector seed is a few MiB).
MAX_INPUT_BYTES = 256 << 20


def read_document(path: str | os.PathLike[str], what: str) -> tuple[Any, Locate]:
    """The file's document as plain dicts and lists (None when empty), and a function giving the 1-based
    (line, column) of a key path in it.  :class:`InputError` naming ``what`` the file is, with file, line
    and column, when it cannot be read or parsed."""
    name = str(path)
    data, problems = read_bytes(Path(path), name, MAX_INPUT_BYTES)
    if data is not None:
        plain = _plain_json(data)
        if plain is not None:
            return plain[0], lambda keys: _located(path, name, keys)
    documents, problems = parse_file(Path(path), name, MAX_INPUT_BYTES)
    if len(documents) > 1 and not problems:
        problems = [Problem(documents[1].loc, "the file holds more than one document")]
    root = documents[0].root if documents and not problems else None
    try:
        document = to_python(root, AliasBudget(name)) if root is not None else None
    except TooBig as exc:
        problems = [exc.problem]
    if problems:
        raise InputError([Problem(p.location, _naming(p.message, what)) for p in problems])

    def where(keys: Sequence[Any]) -> tuple[int, int]:
        if root is None:
            return 1, 1
        loc = locate(root, [k for k in keys if isinstance(k, str | int)], at_key=True)
        return loc.line, loc.column

    return document, where


class _NotPlain(Exception):
    """The text is not plain JSON for :func:`_plain_json` (a duplicate key)."""


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _NotPlain
    return dict(pairs)


def _not_plain(constant: str) -> Any:
    raise _NotPlain(constant)  # NaN and Infinity are not JSON


def _plain_json(data: bytes) -> tuple[Any] | None:
    """``(document,)`` when ``data`` is a JSON text without duplicate keys, else None."""
    try:
        text = data.decode("utf-8-sig")
        return (json.loads(text, object_pairs_hook=_unique, parse_constant=_not_plain),)
    except (ValueError, RecursionError, _NotPlain):
        return None


def _located(path: str | os.PathLike[str], name: str, keys: Sequence[Any]) -> tuple[int, int]:
    """Where ``keys`` is in the file, by the reader (called only to place a problem)."""
    documents, _ = parse_file(Path(path), name, MAX_INPUT_BYTES)
    root = documents[0].root if documents else None
    if root is None:
        return 1, 1
    loc = locate(root, [k for k in keys if isinstance(k, str | int)], at_key=True)
    return loc.line, loc.column


def _naming(message: str, what: str) -> str:
    """The reader's ``message`` naming the file as ``what`` (``seed``, ``emulator config``)."""
    unreadable = message.removeprefix("cannot read file: ")
    if unreadable != message:
        return f"cannot read the {what}: {unreadable}"
    return f"invalid {what}: {message.removeprefix('invalid YAML: ')}"
