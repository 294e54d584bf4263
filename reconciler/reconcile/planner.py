"""Desired connectors + live state -> the plan of one tenant.

Contracts:
- Connectors match by kind and case-insensitive name; ``renamed_from`` matches an old name, and the
  plan renames in place (an update whose ``fields`` include ``name``) instead of delete + create.
- A connector declared ``absent`` (``absent: true``, or an Override dropping it) is deleted when it is
  live, under every ``unmanaged`` policy; the delete's ``reason`` says where (``declared absent in
  FILE:LINE``).  Every change carries the ``source`` of its connector's declaration (None for a delete of
  a connector no file declares).
- Live connectors that no file declares are unmanaged and follow the tenant's ``unmanaged`` policy:
  ``report`` lists them, ``ignore`` hides them, ``delete`` plans their deletion, except for a protected
  one (a ``protect`` glob, or made by the Hybrid Configuration Wizard unless ``protect_hybrid_wizard:
  false``), which is kept: listed as unmanaged with the reason.
- A delete the files declare (``absent``) or a rename-away of a protected connector, a change to a field
  the service only takes on create, or a create or rename onto a name a live connector of the other kind
  holds, is a :class:`PlanError` (no plan is made); thresholds mark the plan unsafe instead.
- With ``targets`` only the connectors they match (by name or by a ``renamed_from`` name) are planned
  and only the live connectors they match are unmanaged, so a targeted rename is never a delete; the plan
  carries the targets, and the thresholds count every existing connector.
- The live state must be complete: the provider guarantees it (a failed read raises, never "absent").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reconciler.desired.config import ExoformConfig, TenantConfig
from reconciler.desired.connectors import AbsentConnector
from reconciler.diff import changed_fields
from reconciler.errors import PlanError
from reconciler.live import LiveConnector, LiveState
from reconciler.model import FIELDS, Connector, Kind
from reconciler.plan import Change, Source, TenantPlan, Unmanaged, fingerprint
from reconciler.providers import registry
from reconciler.reconcile.policy import (
    hybrid_wizard_guids,
    protection_of,
    protection_violations,
    unsafe_reasons,
)
from reconciler.reconcile.targeting import Target, select, targeted

_ACTION_ORDER = {"create": 0, "update": 1, "delete": 2}


def target_of(tenant: str, settings: TenantConfig, config: ExoformConfig) -> str:
    """What a tenant's plan is made against: its provider's target (:func:`.registry.target_of`)."""
    return registry.target_of(tenant, settings, config)


def ignored_fields(kind: Kind, settings: TenantConfig, connector: Connector | None) -> frozenset[str]:
    """Fields neither diffed nor written for a connector: the tenant's, the connector's own, and the
    service-owned fields it leaves unset (all of them for a connector no file declares)."""
    names = set(settings.ignore_fields) | set(connector.ignore_fields if connector else ())
    if connector is not None:
        names |= connector.unset_service_owned()
    else:
        names |= {name for name, spec in FIELDS[kind].items() if spec.service_owned}
    return frozenset(n for n in names if n in FIELDS[kind])


def _names_taken_by_the_other_kind(changes: Sequence[Change], live: LiveState) -> list[str]:
    """Creates and renames onto a name a live connector of the other kind holds: the service keeps both
    kinds in one directory container and refuses them (docs/yaml-reference.md, "Connector files")."""
    holders = {c.name.casefold(): c for c in live.connectors}
    problems = []
    for change in changes:
        if change.action == "create" or (change.action == "update" and "name" in change.fields):
            holder = holders.get(change.name.casefold())
            if holder is not None and holder.kind != change.kind:
                problems.append(
                    f"{change.kind} '{change.name}': the tenant's {holder.kind} '{holder.name}' has that "
                    "name, and inbound and outbound connectors share one namespace; rename one"
                )
    return problems


def connector_key(connector: Connector) -> tuple[str, str]:
    """How :func:`plan_tenant`'s ``sources`` are keyed: kind and case-folded name."""
    return (connector.KIND, connector.name.casefold())


def _delete(current: LiveConnector, settings: TenantConfig, reason: str, source: Source | None) -> Change:
    ignored = ignored_fields(current.kind, settings, None)
    have = current.connector.managed_fields()
    return Change(
        action="delete",
        kind=current.kind,
        name=current.name,
        fields=[],
        before=have,
        after=None,
        fingerprint=fingerprint(current.guid, have, ignored),
        guid=current.guid,
        ignored=sorted(ignored),
        reason=reason,
        when_changed_utc=current.when_changed_utc,
        source=source,
    )


def plan_tenant(
    tenant: str,
    settings: TenantConfig,
    desired: Sequence[Connector],
    live: LiveState,
    targets: Sequence[Target] = (),
    *,
    target: str = "",
    absent: Sequence[AbsentConnector] = (),
    sources: Mapping[tuple[str, str], Source] | None = None,
) -> TenantPlan:
    """The plan that makes ``live`` match ``desired`` and ``absent`` under the tenant's policy, within
    ``targets`` (all connectors when empty; see :mod:`.targeting`); ``target`` is what the plan records it
    was made against (:func:`target_of`); ``sources`` says where each desired connector is declared, by
    kind and case-folded name (see :meth:`reconciler.desired.connectors.TenantDesired.sources`)."""
    existing = len(live.connectors)
    every_live = live  # names are unique across kinds in the whole tenant, targeted or not
    sources = sources or {}
    wizard = hybrid_wizard_guids(every_live, settings.protect_hybrid_wizard)
    desired, live = select(targets, desired, live)
    by_key: dict[tuple[Kind, str], LiveConnector] = {(c.kind, c.name.casefold()): c for c in live.connectors}
    claimed: set[str] = set()
    changes: list[Change] = []
    problems: list[str] = []

    for connector in desired:
        kind = connector.KIND
        current = by_key.get((kind, connector.name.casefold()))
        previous_name = None
        if current is None:
            for old in connector.renamed_from:
                candidate = by_key.get((kind, old.casefold()))
                if candidate is not None and candidate.guid not in claimed:
                    current, previous_name = candidate, candidate.name
                    break
        ignored = ignored_fields(kind, settings, connector)
        wanted = connector.managed_fields()
        if current is None:
            changes.append(
                Change(
                    action="create",
                    kind=kind,
                    name=connector.name,
                    fields=[f for f in wanted if f not in ignored],
                    before=None,
                    after=wanted,
                    ignored=sorted(ignored),
                    source=sources.get(connector_key(connector)),
                )
            )
            continue
        claimed.add(current.guid)
        have = current.connector.managed_fields()
        fields = changed_fields(wanted, have, ignored)
        if not fields:
            continue
        create_only = [f for f in fields if FIELDS[kind][f].create_only]
        if create_only:
            problems.append(
                f"{kind} '{connector.name}': {', '.join(create_only)} can only be set when a connector is "
                "created; delete and re-create it (remove its file, apply, restore it) or ignore the field"
            )
        changes.append(
            Change(
                action="update",
                kind=kind,
                name=connector.name,
                fields=fields,
                before=have,
                after=wanted,
                previous_name=previous_name if "name" in fields else None,
                fingerprint=fingerprint(current.guid, have, ignored),
                guid=current.guid,
                ignored=sorted(ignored),
                when_changed_utc=current.when_changed_utc,
                source=sources.get(connector_key(connector)),
            )
        )

    for gone in absent:
        current = by_key.get((gone.kind, gone.name.casefold()))
        if current is None or current.guid in claimed or not targeted(targets, gone.kind, gone.name):
            continue
        claimed.add(current.guid)
        source = gone.source()
        how = " for this tenant by an Override" if gone.overrides else ""
        changes.append(_delete(current, settings, f"declared absent{how} in {source}", source))

    unmanaged: list[Unmanaged] = []
    for current in live.connectors:
        if current.guid in claimed:
            continue
        if settings.unmanaged == "delete":
            kept = protection_of(current.name, current.guid, settings.protect, wizard)
            if kept is None:
                changes.append(_delete(current, settings, "no file declares it (unmanaged: delete)", None))
            else:
                reason = f"kept under unmanaged: delete: protected {kept}"
                unmanaged.append(Unmanaged(current.kind, current.name, current.connector_source, reason))
        elif settings.unmanaged == "report":
            unmanaged.append(Unmanaged(current.kind, current.name, current.connector_source))

    problems += _names_taken_by_the_other_kind(changes, every_live)
    problems += protection_violations(changes, settings.protect, wizard)
    if problems:
        raise PlanError(f"tenant {tenant}: cannot plan:\n" + "\n".join(f"  {p}" for p in problems))

    changes.sort(key=lambda c: (_ACTION_ORDER[c.action], c.kind, c.name.casefold()))
    unmanaged.sort(key=lambda u: (u.kind, u.name.casefold()))
    return TenantPlan(
        tenant=tenant,
        target=target,
        changes=changes,
        unmanaged=unmanaged,
        unsafe_reasons=unsafe_reasons(
            changes,
            existing,
            max_deletes=settings.max_deletes,
            max_change_fraction=settings.max_change_fraction,
            max_changes=settings.max_changes,
        ),
        existing_count=existing,
        targets=[t.text for t in targets],
    )
