"""Field-level and item-level diff of normalized connectors.

Contract: values are already normalized (multi-valued fields are sorted lists without duplicates), so
equal connectors are equal dicts and plain inequality decides which fields change
(:func:`changed_fields`), and list membership decides which items (:func:`field_changes`, the one account
every renderer shows: the items added and removed for a list field, before and after for any other).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def changed_fields(
    desired: dict[str, Any], live: dict[str, Any], ignored: frozenset[str] = frozenset()
) -> list[str]:
    """The managed fields whose desired value differs from the live one, in ``desired``'s order.

    ``ignored`` fields are never reported.  ``name`` differing only in case is not a change: Exchange
    names are case-insensitive.
    """
    if desired == live:
        return []
    changed = [f for f in desired if f not in ignored and desired[f] != live.get(f)]
    if "name" in changed and str(desired["name"]).casefold() == str(live.get("name", "")).casefold():
        changed.remove("name")
    return changed


@dataclass(frozen=True)
class FieldChange:
    """How one field changes.

    ``items`` is True when both values are lists: ``added`` and ``removed`` then hold the items that
    appear and disappear (in the order of the list they come from).  Otherwise they are empty and the
    change is ``before`` -> ``after``.
    """

    field: str
    before: Any
    after: Any
    items: bool = False
    added: tuple[Any, ...] = ()
    removed: tuple[Any, ...] = ()


def field_changes(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, fields: Sequence[str]
) -> list[FieldChange]:
    """How each of ``fields`` whose value differs changes from ``before`` to ``after``, in ``fields``'
    order (an absent value is None).  Never raises, whatever the values (a plan file may hold anything)."""
    changes = []
    for f in fields:
        old, new = (before or {}).get(f), (after or {}).get(f)
        if old == new:
            continue
        if isinstance(old, list) and isinstance(new, list):
            added = tuple(v for v in new if v not in old)
            removed = tuple(v for v in old if v not in new)
            changes.append(FieldChange(f, old, new, items=True, added=added, removed=removed))
        else:
            changes.append(FieldChange(f, old, new))
    return changes
