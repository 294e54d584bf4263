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
    if ignored:
        desired = {k: v for k, v in desired.items() if k not in ignored}
        live = {k: v for k, v in live.items() if k not in ignored}
        if desired == live:
            return []
    roots = DeepDiff(live, desired, ignore_order=True, report_repetition=False).affected_root_keys
    changed = [f for f in desired if f in roots]
    if "name" in changed and str(desired["name"]).casefold() == str(live.get("name", "")).casefold():
        changed.remove("name")
    return changed
