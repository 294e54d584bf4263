"""How a field value reads in a plan, shared by the text and Markdown renderers.

Contracts: every value is shown as JSON text made safe by :mod:`reconciler.escape`; list items are
shown in value order (:func:`in_order`: IP addresses and ranges numerically, other items as text), so one
changed range among sixty stands where a reader looks for it.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from typing import Any

from reconciler.diff import FieldChange
from reconciler.escape import markdown, safe
from reconciler.model import FIELDS
from reconciler.plan import Change

#: What an IP address, CIDR block or range can be written with: anything else (a domain name) is text.
_ADDRESS = re.compile(r"[0-9A-Fa-f.:/-]+")


def _order_key(value: Any) -> tuple[int, int, int, str]:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if not _ADDRESS.fullmatch(text):
        return (1, 0, 0, text.casefold())
    start, _, end = text.partition("-")
    try:
        network = ipaddress.ip_network(start, strict=False)
        upper = int(ipaddress.ip_address(end)) if end else int(network.broadcast_address)
    except ValueError:
        return (1, 0, 0, text.casefold())
    return (0, int(network.network_address), upper, text)


def in_order(values: Iterable[Any]) -> list[Any]:
    """``values`` ordered as values: IP addresses, CIDR blocks and ranges numerically, then the rest as
    text (case-insensitive)."""
    return sorted(values, key=_order_key)


def show(value: Any) -> str:
    """A value as safe JSON text: strings quoted, lists bracketed (in value order), absent as null."""
    if isinstance(value, list):
        value = in_order(value)
    return safe(json.dumps(value, ensure_ascii=False))


def code(text: str) -> str:
    """Untrusted text in ``<code>`` in a Markdown comment, inert (see :func:`reconciler.escape.markdown`)."""
    return f"<code>{markdown(text)}</code>"


_IDENTIFIER = re.compile(r"[A-Za-z0-9_.-]+")


def ident(text: str) -> str:
    """A field name or rule id in a Markdown comment: in backticks when it is a plain identifier (all a
    valid plan holds), else inert in ``<code>`` like any untrusted text."""
    return f"`{text}`" if _IDENTIFIER.fullmatch(text) else code(text)


def cell(value: Any) -> str:
    """A value in a Markdown table cell: shown as JSON, escaped, in ``<code>``."""
    return code(show(value))


def targets_note(targets: list[str], *, markdown: bool = False) -> str:
    """What a targeted plan says about itself: only the connectors matching its ``--target`` patterns
    (each in ``<code>``, escaped, for ``markdown``)."""
    shown = [code(t) if markdown else safe(json.dumps(t, ensure_ascii=False)) for t in targets]
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


def delete_fields(change: Change) -> list[str]:
    """Every setting of a connector a delete removes (as Terraform shows a destroyed resource): identity
    plus every value that is not the default, in the model's field order."""
    before = change.before or {}
    specs = FIELDS[change.kind]
    return [
        f for f in specs if f in before and (f in ("name", "connector_type") or before[f] != specs[f].default)
    ]


def delta_cells(delta: FieldChange) -> tuple[str, str]:
    """The Markdown table cells (before, after) of one field change: for a list field, the items removed
    (``-``) and added (``+``) in value order instead of the whole lists."""
    if delta.items:
        return (
            "<br>".join(f"- {cell(v)}" for v in in_order(delta.removed)),
            "<br>".join(f"+ {cell(v)}" for v in in_order(delta.added)),
        )
    return cell(delta.before), cell(delta.after)
