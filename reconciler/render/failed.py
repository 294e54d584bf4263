"""A tenant that could not be planned or read, drawn once per format: every report that shows one
(plan, drift, status, show) calls these.

Contract: the error, a multi-line message exoform composed, is escaped line by line
(:mod:`reconciler.escape`); the first line follows ``FAILED``, the others are indented under it.
"""

from __future__ import annotations

from rich.text import Text

from reconciler.escape import markdown, safe, safe_lines
from reconciler.render.values import code


def failed_text(tenant: str, error: str | None, *, target: str | None = None, note: str = "") -> list[Text]:
    """The failure as terminal lines: with ``target``, a tenant section (``Tenant NAME (TARGET)`` then
    ``! FAILED: ...``); without one, a line under a table (``NAME: FAILED: ...``).  ``note`` is a last
    line (a report's verdict on the tenant)."""
    first, *rest = safe_lines(error or "no error message").split("\n")
    if target is None:
        lines = [Text(f"{safe(tenant)}: FAILED: {first}", "bold red")]
    else:
        lines = [
            Text.assemble((f"Tenant {safe(tenant)}", "bold"), (f" ({safe(target)})", "dim")),
            Text.assemble(("  ! FAILED: ", "bold red"), first),
        ]
    lines.extend(Text(f"    {line}") for line in rest)
    if note:
        lines.append(Text(note, "bold red"))
    return lines


def quoted(error: str | None) -> str:
    """A multi-line error in one Markdown line (a list item, a box), escaped line by line."""
    return "<br>".join(markdown(line) for line in (error or "").split("\n"))


def failed_markdown(tenant: str, error: str | None, *, note: str = "") -> str:
    """The failure as a Markdown tenant section: ``### Tenant NAME`` then ``**Failed**NOTE: error``."""
    return f"### Tenant {code(tenant)}\n\n**Failed**{note}: {quoted(error)}"
