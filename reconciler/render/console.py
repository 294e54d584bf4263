"""Colour and tables through rich: renderers build rich ``Text`` and ``Table`` objects; this makes text.

Contract: :func:`to_text` depends only on its arguments (not on the environment, the terminal or its
width): ANSI colour when ``color`` is true, plain text otherwise, never a wrapped or cropped line and no
trailing spaces.  Whether to colour is the CLI's decision (NO_COLOR, ``--no-color``, a terminal).
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from rich.console import Console, RenderableType
from rich.table import Table

#: Wide enough that no line is ever wrapped: a console is as wide as its longest line.
_WIDTH = 1_000_000


def to_text(items: Iterable[RenderableType], *, color: bool = False) -> str:
    """Each item on its own line(s), as one string ending in a newline (empty for no items)."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=_WIDTH,
        color_system="standard" if color else None,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=True,
        _environ={},
    )
    for item in items:
        console.print(item)
    return "".join(line.rstrip(" ") + "\n" for line in buffer.getvalue().splitlines())


def plain_table(*headers: str) -> Table:
    """A table without borders whose columns are separated by two spaces, headers in bold."""
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), show_edge=False, header_style="bold")
    for header in headers:
        table.add_column(header, no_wrap=True, overflow="ignore")
    return table
