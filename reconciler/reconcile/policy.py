"""Tenant policy applied to a plan: protected names and the safety thresholds.

Contract: protection lives in ``exoform.yaml`` (``protect`` globs, and ``protect_hybrid_wizard`` for the
connectors the Hybrid Configuration Wizard made), never on the connector, so removing a connector's file
cannot remove its protection.  A protected connector no file declares is kept (listed, with the reason)
under ``unmanaged: delete``; a delete the files ask for (``absent``) or a rename-away of one is refused.
Thresholds mark a plan unsafe; apply refuses an unsafe plan unless forced: per tenant ``max_deletes``,
``max_changes`` and ``max_change_fraction``, per run ``max_tenants_changed``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from reconciler.plan import Change, Plan, TenantPlan

if TYPE_CHECKING:
    from reconciler.live import LiveState

_WIZARD = (
    "(made by the Hybrid Configuration Wizard, ConnectorSource HybridWizard: re-run the wizard to change it)"
)
_WIZARD_FIX = "set protect_hybrid_wizard: false for the tenant in exoform.yaml"

#: Thresholds on the share of changed connectors apply only from this many existing connectors on.
MIN_EXISTING_FOR_FRACTION = 10


def is_protected(name: str, globs: Sequence[str]) -> bool:
    """True when ``name`` matches one of the ``protect`` globs (case-insensitive)."""
    folded = name.casefold()
    return any(fnmatchcase(folded, g.casefold()) for g in globs)


def hybrid_wizard_guids(live: LiveState, protect_hybrid_wizard: bool) -> frozenset[str]:
    """The guids :func:`protection_violations` protects as the Hybrid Configuration Wizard's: the live
    connectors with ``ConnectorSource: HybridWizard``, none when the tenant opts out."""
    if not protect_hybrid_wizard:
        return frozenset()
    return frozenset(c.guid for c in live.connectors if c.connector_source.casefold() == "hybridwizard")


def protection_of(name: str, guid: str, globs: Sequence[str], hybrid_wizard: Collection[str]) -> str | None:
    """Why the live connector ``name`` (``guid``) is protected, in parentheses, or None when it is not."""
    if guid in hybrid_wizard:
        return _WIZARD
    if is_protected(name, globs):
        return "(protect in exoform.yaml)"
    return None


def protection_violations(
    changes: Sequence[Change], globs: Sequence[str], hybrid_wizard: Collection[str] = ()
) -> list[str]:
    """Messages for every planned delete or rename-away of a protected connector.

    A connector is protected when its name matches a ``protect`` glob, or when its guid is in
    ``hybrid_wizard`` (the live connectors with ``ConnectorSource: HybridWizard``, when the tenant keeps
    ``protect_hybrid_wizard``).  A wizard connector's name is the wizard's, so any rename of one is a
    rename-away.  A change gives at most one message for its delete and one for its rename.
    """
    problems: list[str] = []
    for change in changes:
        wizard = bool(change.guid) and change.guid in hybrid_wizard
        if change.action == "delete" and (wizard or is_protected(change.name, globs)):
            why = _WIZARD if wizard else "(protect in exoform.yaml)"
            keep = (
                f"remove absent: true at {change.source}"
                if change.source is not None
                else "make a new plan (it keeps a protected connector no file declares)"
            )
            problems.append(
                f"{change.kind} '{change.name}' is protected {why} but the plan deletes it "
                f"({change.reason or 'no file declares it'}); {keep} or "
                f"{_WIZARD_FIX if wizard else 'remove it from protect'}"
            )
        if not change.previous_name:
            continue
        if wizard:
            problems.append(
                f"{change.kind} '{change.previous_name}' is protected {_WIZARD} but the plan renames it away "
                f"to '{change.name}'; keep the old name or {_WIZARD_FIX}"
            )
        elif is_protected(change.previous_name, globs) and not is_protected(change.name, globs):
            problems.append(
                f"{change.kind} '{change.previous_name}' is protected but the plan renames it away to "
                f"'{change.name}'; add the new name to protect or keep the old name"
            )
    return problems


def unsafe_reasons(
    changes: Sequence[Change],
    existing: int,
    *,
    max_deletes: int,
    max_change_fraction: float,
    max_changes: int | None = None,
) -> list[str]:
    """Why a plan is unsafe: more deletes than ``max_deletes``, more updated and deleted connectors than
    ``max_changes`` (None: no limit), or (with at least :data:`MIN_EXISTING_FOR_FRACTION` existing
    connectors) more updated and deleted ones than ``max_change_fraction`` of the ``existing`` ones."""
    reasons: list[str] = []
    deletes = sum(1 for c in changes if c.action == "delete")
    if deletes > max_deletes:
        reasons.append(f"{deletes} deletes exceed max_deletes {max_deletes}")
    touched = sum(1 for c in changes if c.action in ("update", "delete"))
    if max_changes is not None and touched > max_changes:
        reasons.append(
            f"{touched} existing connectors change (updated or deleted), more than max_changes {max_changes}"
        )
    if existing >= MIN_EXISTING_FOR_FRACTION and touched > max_change_fraction * existing:
        reasons.append(
            f"{touched} of {existing} existing connectors change ({touched / existing:.0%}), "
            f"more than max_change_fraction {max_change_fraction:.0%}"
        )
    return reasons


def fleet_unsafe_reasons(plan: Plan, max_tenants_changed: int | None) -> list[str]:
    """Why ``plan`` as a whole is unsafe: more tenants with changes than ``max_tenants_changed`` (None: no
    limit).  A shared file or variable edit reaches every tenant that uses it; this bounds one run."""
    changed = sum(1 for t in plan.tenants if t.changes)
    if max_tenants_changed is None or changed <= max_tenants_changed:
        return []
    return [f"{changed} tenants change, more than max_tenants_changed {max_tenants_changed}"]


def ring_split(
    plan: Plan, rings: Mapping[str, int], ring: int
) -> tuple[list[TenantPlan], list[tuple[int, TenantPlan]]]:
    """The tenants of ``plan`` in ``ring`` (by ``rings``, the tenants' current ``ring`` setting; a tenant
    ``rings`` does not know is kept, so apply reports it), and the tenants with changes of earlier rings,
    each with its ring: ``apply --ring`` applies the first once the second show the plan's changes."""
    mine = [t for t in plan.tenants if rings.get(t.tenant, ring) == ring]
    earlier = [(rings[t.tenant], t) for t in plan.tenants if t.changes and rings.get(t.tenant, ring) < ring]
    return mine, earlier
