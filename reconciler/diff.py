"""Field-level diff of normalized connectors.

Contract: values are already normalized (multi-valued fields are sorted lists without duplicates), so
equal connectors are equal dicts.  :func:`changed_fields` costs one dict comparison when nothing differs;
the field-level diff (deepdiff, order-insensitive) runs only for connectors that differ.
"""

from __future__ import annotations

from typing import Any

from deepdiff import DeepDiff


def changed_fields(
    desired: dict[str, Any], live: dict[str, Any], ignored: frozenset[str] = frozenset()
) -> list[str]:
    """The managed fields whose desired value differs from the live one, in ``desired``'s order.

    ``ignored`` fields are never reported.  ``name`` differing only in case is not a change: Exchange
    names are case-insensitive.
    """
    if desired == live:
        return []
    candidates = [f for f in desired if f not in ignored and desired[f] != live.get(f)]
    if not candidates:
        return []
    # deepdiff judges only the fields that differ by plain equality: lists are compared as sets there.
    roots = DeepDiff(
        {f: live.get(f) for f in candidates},
        {f: desired[f] for f in candidates},
        ignore_order=True,
        report_repetition=False,
    ).affected_root_keys
    changed = [f for f in candidates if f in roots]
    if "name" in changed and str(desired["name"]).casefold() == str(live.get("name", "")).casefold():
        changed.remove("name")
    return changed
