"""A fleet's plan grouped across tenants: what the grouped text (``--group``) and the PR comment show.

Contracts:
- Two tenants' changes are in one :class:`ChangeGroup` when they have the same action, kind, name,
  previous name, reason, cause (``plan --base``: a repair is never grouped with a change of the files)
  and the same fields shown (:func:`shown_fields`); within a group each field holds
  its distinct values with the tenants that have each (:class:`FieldValues`).  A change identical in every
  tenant is a group whose every field has one value; a shared connector whose values differ per tenant
  (``${vars.filter_ips}``) is one group whose varying fields list the tenants of each value.
- Values compare as values: the same list items in another order are the same value.
- Unmanaged connectors, risks, unsafe reasons and rows of counts are grouped the same way: identical
  items once, with their tenants.  Everything keeps the plan's order (first seen first); failed tenants
  are never grouped with planned ones.
- This module only groups; it escapes nothing and renders nothing.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from reconciler.diff import FieldChange
from reconciler.plan import Action, Cause, Change, Plan, TenantPlan, Unmanaged, canonical_json
from reconciler.posture.findings import Finding
from reconciler.render.values import create_fields, delete_fields

K = TypeVar("K", bound=Hashable)


def by_key(pairs: Iterable[tuple[K, str]]) -> dict[K, list[str]]:
    """The tenants of each key, keys and tenants in first-seen order, each tenant once per key."""
    groups: dict[K, list[str]] = {}
    for key, tenant in pairs:
        tenants = groups.setdefault(key, [])
        if not tenants or tenants[-1] != tenant:
            tenants.append(tenant)
    return groups


def shown_fields(change: Change) -> list[FieldChange]:
    """What a plan shows of a change, field by field: a create's values (identity and every value that is
    not the default), an update's field changes, every setting a delete removes."""
    if change.action == "create":
        after = change.after or {}
        return [FieldChange(f, None, after[f]) for f in create_fields(change)]
    if change.action == "update":
        return list(change.field_changes)
    before = change.before or {}
    return [FieldChange(f, before[f], None) for f in delete_fields(change)]


def _value_key(fc: FieldChange) -> str:
    def items(values: Iterable[Any]) -> list[str]:
        return sorted(canonical_json(v) for v in values)

    def norm(value: Any) -> Any:
        return items(value) if isinstance(value, list) else value

    if fc.items:
        return canonical_json({"added": items(fc.added), "removed": items(fc.removed)})
    return canonical_json({"before": norm(fc.before), "after": norm(fc.after)})


@dataclass
class FieldValues:
    """One field of a change group: each distinct change of the field with the tenants it applies to."""

    field: str
    values: list[tuple[FieldChange, list[str]]]

    @property
    def common(self) -> bool:
        """True when every tenant of the group changes the field the same way."""
        return len(self.values) == 1


@dataclass
class ChangeGroup:
    """The same change of one connector in one or more tenants (see the module contract)."""

    action: Action
    kind: str
    name: str
    previous_name: str | None
    reason: str
    tenants: list[str]
    fields: list[FieldValues]
    #: The live connectors' last-changed times (distinct, sorted); empty for a create.
    changed_utc: list[str]
    #: The changes' cause (``plan --base``), None when not marked.
    cause: Cause | None = None

    @property
    def varying(self) -> list[FieldValues]:
        """The fields whose change differs between the group's tenants."""
        return [f for f in self.fields if not f.common]


def change_key(change: Change) -> tuple[Any, ...]:
    """What makes two tenants' changes one group: every part of the change a reader sees but the values
    (and the live object's identity and times, which differ in every tenant)."""
    names = tuple(fc.field for fc in shown_fields(change))
    return (change.action, change.kind, change.name, change.previous_name, change.reason, names, change.cause)


def change_groups(tenants: Iterable[TenantPlan]) -> list[ChangeGroup]:
    """The changes of the planned ``tenants`` grouped across them, in the planner's order (creates,
    updates, deletes; by kind and name)."""
    members: dict[tuple[Any, ...], list[tuple[str, Change]]] = {}
    for t in tenants:
        if not t.failed:
            for change in t.changes:
                members.setdefault(change_key(change), []).append((t.tenant, change))
    groups = [_group(items) for items in members.values()]
    order = {"create": 0, "update": 1, "delete": 2}
    groups.sort(key=lambda g: (order[g.action], g.kind, g.name.casefold()))
    return groups


def _group(items: list[tuple[str, Change]]) -> ChangeGroup:
    first = items[0][1]
    per_field: dict[str, dict[str, tuple[FieldChange, list[str]]]] = {}
    for tenant, change in items:
        for fc in shown_fields(change):
            entry = per_field.setdefault(fc.field, {}).setdefault(_value_key(fc), (fc, []))
            entry[1].append(tenant)
    return ChangeGroup(
        action=first.action,
        kind=first.kind,
        name=first.name,
        previous_name=first.previous_name,
        reason=first.reason,
        tenants=[tenant for tenant, _ in items],
        fields=[FieldValues(f, list(values.values())) for f, values in per_field.items()],
        changed_utc=sorted({c.when_changed_utc for _, c in items if c.when_changed_utc}),
        cause=first.cause,
    )


def unmanaged_groups(tenants: Iterable[TenantPlan]) -> dict[Unmanaged, list[str]]:
    """Each unmanaged connector (kind, name, source) with the tenants that have it."""
    return by_key((u, t.tenant) for t in tenants for u in t.unmanaged)


def finding_groups(tenants: Iterable[TenantPlan]) -> dict[Finding, list[str]]:
    """Each distinct risk with the tenants it was found in."""
    return by_key((f, t.tenant) for t in tenants for f in t.findings)


def unsafe_groups(tenants: Iterable[TenantPlan]) -> dict[str, list[str]]:
    """Each unsafe reason with the tenants it applies to."""
    return by_key((r, t.tenant) for t in tenants for r in t.unsafe_reasons)


def targets_groups(tenants: Iterable[TenantPlan]) -> dict[tuple[str, ...], list[str]]:
    """Each set of ``--target`` patterns with the tenants planned with it (untargeted tenants left out)."""
    return by_key((tuple(t.targets), t.tenant) for t in tenants if t.targets)


@dataclass(frozen=True)
class Row:
    """A row of the summary: a tenant's status and counts (risks not skipped)."""

    failed: bool
    create: int = 0
    update: int = 0
    delete: int = 0
    unmanaged: int = 0
    risks: int = 0
    unsafe: bool = False

    @property
    def changes(self) -> int:
        return self.create + self.update + self.delete


def row_of(t: TenantPlan) -> Row:
    """The summary row of one tenant."""
    if t.failed:
        return Row(failed=True)
    return Row(
        failed=False,
        create=t.count("create"),
        update=t.count("update"),
        delete=t.count("delete"),
        unmanaged=len(t.unmanaged),
        risks=sum(1 for f in t.findings if not f.skipped),
        unsafe=t.unsafe,
    )


def row_groups(plan: Plan) -> dict[Row, list[str]]:
    """Tenants with the same summary row together: failed ones first, then unsafe ones, then the rest
    in the plan's order."""
    rows = by_key((row_of(t), t.tenant) for t in plan.tenants)
    return dict(sorted(rows.items(), key=lambda item: (not item[0].failed, not item[0].unsafe)))
