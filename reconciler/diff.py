"""Field-level and item-level diff of normalized connectors.

Contract: values are already normalized (multi-valued fields are sorted lists without duplicates), so
equal connectors are equal dicts and plain inequality decides which fields change
(:func:`changed_fields`).  :func:`field_changes` says how each changed field changes, the one account
every renderer shows: the items added and removed for a list field (deepdiff, order-insensitive), the
before and after values for any other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from deepdiff import DeepDiff
from deepdiff.helper import notpresent


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

    def to_json(self) -> dict[str, Any]:
        """The change as the JSON plan carries it: items added and removed, or before and after."""
        if self.items:
            return {"field": self.field, "added": list(self.added), "removed": list(self.removed)}
        return {"field": self.field, "before": self.before, "after": self.after}


def field_changes(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, fields: Sequence[str]
) -> list[FieldChange]:
    """How each of ``fields`` whose value differs changes from ``before`` to ``after``, in ``fields``'
    order (an absent value is None)."""
    old = {f: (before or {}).get(f) for f in fields}
    new = {f: (after or {}).get(f) for f in fields}
    changed = [f for f in fields if old[f] != new[f]]
    lists = [f for f in changed if isinstance(old[f], list) and isinstance(new[f], list)]
    added: dict[str, list[Any]] = {f: [] for f in lists}
    removed: dict[str, list[Any]] = {f: [] for f in lists}
    if lists:
        tree = DeepDiff(
            {f: old[f] for f in lists},
            {f: new[f] for f in lists},
            ignore_order=True,
            report_repetition=False,
            view="tree",
        )
        for report in tree.values():
            for level in report:
                name = level.path(output_format="list")[0]
                # A list item that deepdiff reports as changed is one item removed and another added.
                if level.t2 is not notpresent:
                    added[name].append(level.t2)
                if level.t1 is not notpresent:
                    removed[name].append(level.t1)
    changes = []
    for f in changed:
        a, b = old[f], new[f]
        if isinstance(a, list) and isinstance(b, list):
            changes.append(
                FieldChange(
                    f,
                    a,
                    b,
                    items=True,
                    added=tuple(sorted(added[f], key=b.index)),
                    removed=tuple(sorted(removed[f], key=a.index)),
                )
            )
        else:
            changes.append(FieldChange(f, a, b))
    return changes
