"""Why each change is in a plan: the files (the pull request) or a repair of a change made outside exoform.

``exoform plan --base REF`` plans each tenant twice from ONE read of it: the desired state now against
the live state (the plan), and the desired state at the base revision against the same live state.  A
change of the plan is then marked (``Change.cause``):

- ``files``: the desired state of that connector differs between the base and now (the pull request
  creates, edits, renames or deletes it), and the live object is what the base declared;
- ``repair``: the desired state of that connector is the same at the base and now, and the live object
  differs from it: someone changed it outside exoform (the admin center, PowerShell), and applying the
  plan reverts that change ("objects changed outside exoform", as Terraform says);
- ``both``: the pull request edits a connector that was also changed outside exoform (the plan both
  applies the edit and reverts the live change).

For an update, field by field: a changed field the base also plans (the live value is not what the base
declared) is a repair; a changed field whose desired value differs between the base and now is the
files'; one field may be both.  A create the base also plans is a repair (the connector was deleted
outside exoform) and also the files' when its values differ from the base's; a delete the base also plans
is a repair (a connector created outside exoform, under ``unmanaged: delete``, or one re-created after the
base declared it absent), and the files' when the base declared the connector.  A tenant (or the whole
``exoform.yaml``) not declared at the base: every change is the files'.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from reconciler.desired.connectors import TenantDesired
from reconciler.desired.revision import BaseDesired
from reconciler.diff import changed_fields
from reconciler.errors import PlanError
from reconciler.live import LiveState
from reconciler.plan import Cause, Change, TenantPlan
from reconciler.reconcile.planner import plan_tenant
from reconciler.reconcile.targeting import Target


def mark_causes(
    plan: TenantPlan, base: TenantDesired | None, live: LiveState, targets: Sequence[Target] = ()
) -> list[Change]:
    """``plan``'s changes, each with its ``cause``, given the tenant's desired state at the base (None:
    the base does not declare the tenant) and the live state ``plan`` was made against (within the same
    ``targets``).

    Raises the :class:`~reconciler.errors.PlanError` of a base that cannot be planned (the caller then
    leaves the changes unmarked).
    """
    if base is None:
        return [replace(c, cause="files") for c in plan.changes]
    before = plan_tenant(
        plan.tenant,
        base.settings,
        [c.connector for c in base.connectors],
        live,
        targets,
        absent=base.absent,
    )
    by_object = {_object(c): c for c in before.changes}
    return [replace(c, cause=_cause(c, by_object.get(_object(c)))) for c in plan.changes]


def _object(change: Change) -> tuple[str, ...]:
    """The object a change is about: the live connector (its guid), or for a create the connector made."""
    if change.guid:
        return ("live", change.guid)
    return ("create", change.kind, change.name.casefold())


def _cause(now: Change, base: Change | None) -> Cause:
    """The cause of ``now`` given the base's change of the same object (None: the live object is what the
    base declared, so the change is the files')."""
    if base is None:
        return "files"
    ignored = frozenset(now.ignored)
    if now.action == "update":
        if base.action != "update":  # the base deletes it: declared now, absent (or undeclared) then
            return "both"
        repair = bool(set(now.fields) & set(base.fields))
        files = bool(set(now.fields) & set(changed_fields(now.after or {}, base.after or {}, ignored)))
    elif now.action == "create":
        repair, files = True, bool(changed_fields(now.after or {}, base.after or {}, ignored))
    else:
        repair, files = True, base.action != "delete"
    if repair and files:
        return "both"
    return "repair" if repair else "files"


def mark_at_base(
    base: BaseDesired, plan: TenantPlan, live: LiveState, targets: Sequence[Target] = ()
) -> str | None:
    """Mark ``plan``'s changes (in place) against its tenant's desired state in ``base``; when the tenant's
    files do not load or plan at the base, leave them unmarked and return why (a warning for the user)."""
    tenant = plan.tenant
    if tenant in base.problems:
        why = base.problems[tenant]
    else:
        try:
            plan.changes = mark_causes(plan, base.tenants.get(tenant), live, targets)
            return None
        except PlanError as exc:
            why = str(exc)
    return (
        f"tenant {tenant}: its files at {base.ref} cannot be planned, so its changes are not marked as "
        f"files or repair: {why}"
    )
