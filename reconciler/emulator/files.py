"""Reading the emulator's own input files (config, seeds): JSON or YAML, with located errors."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from reconciler.errors import InputError, Location, Problem

Locate = Callable[[Sequence[Any]], tuple[int, int]]


def read_document(path: str | os.PathLike[str], what: str) -> tuple[Any, Locate]:
    """The file's document as plain dicts and lists (None when empty), and a function giving the 1-based
    (line, column) of a key path in it.  :class:`InputError` naming ``what`` the file is, with file, line
    and column, when it cannot be read or parsed."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError([Problem(Location(name), f"cannot read the {what}: {exc.strerror}")]) from None
    try:
        document = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        raise InputError([Problem(Location(name, line, column), f"invalid {what}: {exc.problem}")]) from None

    def locate(keys: Sequence[Any]) -> tuple[int, int]:
        node, position = document, (1, 1)
        for key in keys:
            try:
                line, column = node.lc.item(key) if isinstance(key, int) else node.lc.key(key)
                position = (line + 1, column + 1)
                node = node[key]
            except (AttributeError, KeyError, IndexError, TypeError):
                break
        return position

    return _plain(document), locate


def _plain(node: Any) -> Any:
    """ruamel's round-trip containers as plain dicts and lists."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node
