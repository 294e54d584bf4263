"""Reading the emulator's own input files (config, seeds): JSON or YAML, with located errors.

Files are read by the one YAML reader (:mod:`reconciler.yamlio`: no tags, no alias bombs, UTF-8 only),
with a size limit large enough for a seed of many thousands of connectors.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from reconciler.errors import InputError, Problem
from reconciler.yamlio import AliasBudget, TooBig, locate, parse_file, to_python

Locate = Callable[[Sequence[Any]], tuple[int, int]]

#: Largest seed or config file read (a 10,000-connector seed is a few MiB).
MAX_INPUT_BYTES = 256 << 20


def read_document(path: str | os.PathLike[str], what: str) -> tuple[Any, Locate]:
    """The file's document as plain dicts and lists (None when empty), and a function giving the 1-based
    (line, column) of a key path in it.  :class:`InputError` naming ``what`` the file is, with file, line
    and column, when it cannot be read or parsed."""
    name = str(path)
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


def _naming(message: str, what: str) -> str:
    """The reader's ``message`` naming the file as ``what`` (``seed``, ``emulator config``)."""
    unreadable = message.removeprefix("cannot read file: ")
    if unreadable != message:
        return f"cannot read the {what}: {unreadable}"
    return f"invalid {what}: {message.removeprefix('invalid YAML: ')}"
