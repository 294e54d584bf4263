"""Apply a reviewed tenant plan exactly, or refuse it when the world has moved.

Contracts:
- A plan file is data from outside: apply trusts none of its verdicts.  Before any write the live state
  is read again and the plan is checked under the *current* tenant settings of ``exoform.yaml``; the
  whole plan is refused (nothing written), with every reason, when
  - a change's connector changed or vanished since the plan (fingerprint), or a connector it creates now
    exists;
  - a change is malformed: an ``after`` that is not a valid connector under the service's rules, a
    ``name`` that differs from ``after.name``, a guid that names a connector of another kind or of another
    name than the change shows, a field that is not a connector field or can only be set on create;
  - the current policy forbids it: a delete or rename-away of a ``protect``ed connector (judged by the
    live connector's own name, not the name the plan gives it) or of one the Hybrid Configuration Wizard
    made (unless ``protect_hybrid_wizard: false``; the planner keeps such a connector when no file
    declares it, so a plan holding its delete predates the protection), a delete of a connector no file
    declares while ``unmanaged`` is not ``delete`` (a delete the plan says the files declare, ``absent``,
    is allowed under every policy), or (without ``force``) more deletes than ``max_deletes``, more updated
    and deleted connectors than ``max_changes``, or more than ``max_change_fraction`` of the connectors
    the tenant has now.
  The plan's own ``unsafe_reasons`` are not consulted.  A plan refused as stale under a CI system
  (``GITHUB_ACTIONS``, ``TF_BUILD``, ``GITLAB_CI`` set) also says what to re-run there
  (:func:`ci_stale_hint`); outside CI the reasons are the same without it.
- Creates and updates run before deletes, so mail flow never loses a route midway.  Writes go one at a
  time unless ``write_concurrency`` says otherwise.
- At the first failed write no further write is started; the report lists every change as applied,
  failed (with the service's message) or not attempted.  Nothing is written that the plan did not name.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from pydantic import ValidationError

from reconciler.desired.config import TenantConfig
from reconciler.diff import changed_fields
from reconciler.errors import ExoformError
from reconciler.live import LiveConnector, LiveState
from reconciler.model import FIELDS, MODELS, Connector
from reconciler.plan import Change, TenantPlan, fingerprint
from reconciler.providers.base import BaseProvider
from reconciler.reconcile.policy import hybrid_wizard_guids, protection_violations, unsafe_reasons

Status = Literal["applied", "failed", "not attempted"]


@dataclass(frozen=True)
class ChangeResult:
    """What became of one planned change."""

    change: Change
    status: Status
    message: str = ""


@dataclass
class ApplyReport:
    """What apply did to one tenant: ``refused`` (nothing written) or a result per change."""

    tenant: str
    results: list[ChangeResult] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.refused and all(r.status == "applied" for r in self.results)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)


def _by_guid(guid: str, live: LiveState) -> LiveConnector | None:
    return next((current for current in live.connectors if current.guid == guid), None)


def _live_for(change: Change, live: LiveState) -> LiveConnector | None:
    if change.guid:
        current = _by_guid(change.guid, live)
        return current if current is not None and current.kind == change.kind else None
    return live.find(change.kind, change.previous_name or change.name)


def stale_reasons(tplan: TenantPlan, live: LiveState) -> list[str]:
    """Why the plan no longer matches the tenant; empty when every change still applies as reviewed."""
    reasons: list[str] = []
    for change in tplan.changes:
        label = f"{change.kind} '{change.previous_name or change.name}'"
        if change.action == "create":
            if live.find(change.kind, change.name) is not None:
                reasons.append(f"{label} now exists; the plan would create it")
            continue
        current = _live_for(change, live)
        if current is None:
            reasons.append(f"{label} no longer exists")
            continue
        now = fingerprint(current.guid, current.connector.managed_fields(), frozenset(change.ignored))
        if now != change.fingerprint:
            when = f" (last changed {current.when_changed_utc})" if current.when_changed_utc else ""
            reasons.append(f"{label} changed since the plan was made{when}")
        if change.previous_name and change.name.casefold() != change.previous_name.casefold():
            clash = live.find(change.kind, change.name)
            if clash is not None and clash.guid != current.guid:
                reasons.append(f"{change.kind} '{change.name}' now exists; the plan would rename onto it")
    return reasons


#: The CI systems a stale plan's refusal names, by the variable each sets in its runs.
_CI_SYSTEMS = (
    ("GITHUB_ACTIONS", "GitHub Actions"),
    ("TF_BUILD", "Azure Pipelines"),
    ("GITLAB_CI", "GitLab CI"),
)


def ci_stale_hint(environ: Mapping[str, str]) -> str | None:
    """What to re-run when a CI run's saved plan is stale, or None outside CI (``environ``: the process
    environment)."""
    system = next((name for var, name in _CI_SYSTEMS if environ.get(var, "").lower() == "true"), None)
    if system is None:
        return None
    return (
        f"in {system}: this saved plan is out of date; re-run the plan of this commit (for a pull request, "
        "its plan workflow or pipeline; after a merge, the whole apply workflow or pipeline, which plans "
        "again), review the new plan, then approve its apply"
    )


def pending_changes(tplan: TenantPlan, live: LiveState) -> list[str]:
    """The changes of ``tplan`` that ``live`` does not show yet: a connector to create that does not exist
    or to update whose changed fields differ from the plan's values, one to delete that still exists.
    Empty once the plan has been applied (``apply --ring`` asks this of the earlier rings' tenants)."""
    pending: list[str] = []
    for change in tplan.changes:
        current = (
            live.find(change.kind, change.name) if change.action == "create" else _live_for(change, live)
        )
        label = f"{change.action} {change.kind} '{change.name}'"
        if change.action == "delete":
            if current is not None:
                pending.append(label)
        elif current is None or changed_fields(
            {f: (change.after or {}).get(f) for f in change.fields},
            current.connector.managed_fields(),
            frozenset(change.ignored),
        ):
            pending.append(label)
    return pending


def shape_reasons(tplan: TenantPlan, live: LiveState) -> list[str]:
    """Why changes of the plan are malformed: values that are not a valid connector, a name that is not
    the one written, a guid of another kind, fields that cannot be written."""
    reasons: list[str] = []
    for change in tplan.changes:
        label = f"{change.action} of {change.kind} {change.name!r}"  # repr: the plan file is untrusted
        specs = FIELDS[change.kind]
        if change.action == "delete":
            if change.after is not None or change.fields or change.previous_name:
                reasons.append(f"the {label} carries values to write; a delete has none")
        else:
            try:
                _planned(change)
            except ExoformError as exc:
                reasons.append(str(exc))
            written = (change.after or {}).get("name")
            if written != change.name:
                reasons.append(f"the {label} would write the name {written!r}, not the one the plan shows")
            unknown = [f for f in change.fields if f not in specs]
            if unknown:
                reasons.append(f"the {label} names fields that are not {change.kind} fields: {unknown}")
        if change.action == "create":
            if change.guid or change.previous_name:
                reasons.append(f"the {label} names an existing connector; a create has none")
        elif change.action == "update":
            create_only = [f for f in change.fields if f in specs and specs[f].create_only]
            if create_only:
                reasons.append(f"the {label} changes {create_only}, which can only be set on create")
        if change.guid:
            current = _by_guid(change.guid, live)
            if current is not None and current.kind != change.kind:
                reasons.append(f"the {label} names the guid of {current.kind} {current.name!r}")
            elif (
                current is not None
                and (change.previous_name or change.name).casefold() != current.name.casefold()
            ):
                reasons.append(
                    f"the {label} names the guid of {current.name!r}, which it would change instead"
                )
    return reasons


def policy_reasons(
    tplan: TenantPlan, live: LiveState, settings: TenantConfig, *, force: bool = False
) -> list[str]:
    """What the tenant's current policy forbids in the plan, judged against ``live`` (see the module
    contract); thresholds only when not ``force``d."""
    as_live: list[Change] = []
    for change in tplan.changes:
        current = _by_guid(change.guid, live) if change.guid else None
        if current is None or change.action == "create":
            as_live.append(change)
        elif change.action == "delete":
            as_live.append(dataclasses.replace(change, name=current.name))
        else:
            renamed = current.name.casefold() != change.name.casefold()
            as_live.append(dataclasses.replace(change, previous_name=current.name if renamed else None))
    reasons = protection_violations(
        as_live, settings.protect, hybrid_wizard_guids(live, settings.protect_hybrid_wizard)
    )
    deletes = [c for c in as_live if c.action == "delete" and not c.declared_absent]
    if deletes and settings.unmanaged != "delete":
        names = ", ".join(f"{c.kind} {c.name!r}" for c in deletes)
        reasons.append(f"the plan deletes {names}, but exoform.yaml now says unmanaged: {settings.unmanaged}")
    if not force:
        unsafe = unsafe_reasons(
            as_live,
            len(live.connectors),
            max_deletes=settings.max_deletes,
            max_change_fraction=settings.max_change_fraction,
            max_changes=settings.max_changes,
        )
        if unsafe:
            reasons += [f"the plan is unsafe under exoform.yaml now: {r}" for r in unsafe]
            reasons.append("review it and apply with --force to proceed")
    return reasons


def apply_tenant(
    tplan: TenantPlan,
    provider: BaseProvider,
    settings: TenantConfig,
    *,
    force: bool = False,
    write_concurrency: int = 1,
    on_result: Callable[[ChangeResult], None] | None = None,
) -> ApplyReport:
    """Apply ``tplan`` through ``provider`` under the tenant's current ``settings``; see the module
    contract."""
    report = ApplyReport(tenant=tplan.tenant)
    if not tplan.changes:
        return report
    live = provider.read()
    stale = stale_reasons(tplan, live)
    hint = ci_stale_hint(os.environ) if stale else None
    report.refused = (
        shape_reasons(tplan, live)
        + policy_reasons(tplan, live, settings, force=force)
        + stale
        + ([hint] if hint else [])
    )
    if report.refused:
        return report

    failed = threading.Event()
    lock = threading.Lock()
    results: dict[int, ChangeResult] = {}

    def run(index: int, change: Change) -> None:
        if failed.is_set():
            result = ChangeResult(change, "not attempted")
        else:
            try:
                _write(change, live, provider)
                result = ChangeResult(change, "applied")
            except ExoformError as exc:
                failed.set()
                result = ChangeResult(change, "failed", str(exc))
        with lock:
            results[index] = result
        if on_result is not None:
            on_result(result)

    phases = [
        [(i, c) for i, c in enumerate(tplan.changes) if c.action != "delete"],
        [(i, c) for i, c in enumerate(tplan.changes) if c.action == "delete"],
    ]
    with ThreadPoolExecutor(max_workers=max(1, write_concurrency)) as pool:
        for phase in phases:
            for future in [pool.submit(run, i, c) for i, c in phase]:
                future.result()
    report.results = [results[i] for i in range(len(tplan.changes))]
    return report


def _planned(change: Change) -> Connector:
    """The connector a create or update leads to, validated again with every rule of the service: a plan
    file is data from outside, and nothing unvalidated is ever written."""
    try:
        return MODELS[change.kind].model_validate(change.after)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "its values"
        raise ExoformError(
            f"the planned {change.kind} '{change.name}' is not valid: {where}: {first['msg']}"
        ) from None


def _write(change: Change, live: LiveState, provider: BaseProvider) -> None:
    if change.action == "create":
        provider.create(_planned(change), skip_fields=frozenset(change.ignored))
        return
    current = _live_for(change, live)
    if current is None:  # stale_reasons found it; only a change naming no guid can get here
        raise ExoformError(f"{change.kind} '{change.name}' is not in the tenant")
    if change.action == "update":
        wanted = _planned(change).managed_fields()
        provider.update(current, {f: wanted[f] for f in change.fields})
    else:
        provider.delete(current)
