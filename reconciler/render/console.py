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
from rich.text import Text

#: Wide enough that no line is ever wrapped: a console is as wide as its longest line.
_WIDTH = 1_000_000


def to_text(items: Iterable[RenderableType], *, color: bool = False) -> str:
    """Each item on its own line(s), as one string ending in a newline (empty for no items)."""
    items = list(items)
    texts = [item for item in items if isinstance(item, Text)]
    if not color and len(texts) == len(items):
        return "".join(line.rstrip(" ") + "\n" for text in texts for line in _plain_lines(text))
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
    # One Text per run of lines: rich renders a long Text far faster than many short ones.
    run: list[Text] = []
    for item in [*items, None]:
        if isinstance(item, Text):
            run.append(item)
            continue
        if run:
            console.print(Text("\n").join(run))
            run = []
        if item is not None:
            console.print(item)
    return "".join(line.rstrip(" ") + "\n" for line in buffer.getvalue().splitlines())


def plain_table(*headers: str) -> Table:
    """A table without borders whose columns are separated by two spaces, headers in bold."""
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), show_edge=False, header_style="bold")
    for header in headers:
        table.add_column(header, no_wrap=True, overflow="ignore")
    return table


def _plain_lines(text: Text) -> list[str]:
    """The lines of ``text`` as rich prints them without colour (tabs expanded)."""
    plain = text.plain
    return (plain.expandtabs(8) if "\t" in plain else plain).split("\n")
