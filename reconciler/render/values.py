"""How a field value reads in a plan, shared by the text and Markdown renderers."""

from __future__ import annotations

import json
from typing import Any

from reconciler.diff import FieldChange
from reconciler.model import FIELDS
from reconciler.plan import Change


def show(value: Any) -> str:
    """A value as JSON text: strings quoted, lists bracketed, absent as null."""
    return json.dumps(value, ensure_ascii=False)


def html(text: str) -> str:
    """Text safe inside HTML (``<code>``, ``<summary>``) in a Markdown comment."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: str) -> str:
    """Text in ``<code>``, escaped, for Markdown."""
    return f"<code>{html(text)}</code>"


def cell(value: Any) -> str:
    """A value in a Markdown table cell: shown as JSON, escaped, pipes kept out, in ``<code>``."""
    return "<code>" + html(show(value)).replace("|", "&#124;").replace("\n", " ") + "</code>"


def targets_note(targets: list[str], *, markdown: bool = False) -> str:
    """What a targeted plan says about itself: only the connectors matching its ``--target`` patterns
    (each in ``<code>``, escaped, for ``markdown``)."""
    shown = [code(t) if markdown else json.dumps(t, ensure_ascii=False) for t in targets]
    return (
        f"targeted: only connectors matching {', '.join(shown)} were planned (--target); "
        "other connectors were not compared"
    )


def create_fields(change: Change) -> list[str]:
    """The fields worth showing for a create: identity plus every value that is not the default."""
    assert change.after is not None
    specs = FIELDS[change.kind]
    return [
        f for f in change.fields if f in ("name", "connector_type") or change.after.get(f) != specs[f].default
    ]


def delta_cells(delta: FieldChange) -> tuple[str, str]:
    """The Markdown table cells (before, after) of one field change: for a list field, the items removed
    (``-``) and added (``+``) instead of the whole lists."""
    if delta.items:
        return (
            "<br>".join(f"- {cell(v)}" for v in delta.removed),
            "<br>".join(f"+ {cell(v)}" for v in delta.added),
        )
    return cell(delta.before), cell(delta.after)
