"""Apply a reviewed tenant plan exactly, or refuse it when the world has moved.

Contracts:
- Before any write the live state is read again; the whole plan is refused (nothing written) when a
  change's connector changed or vanished since the plan (fingerprint), when a connector it creates now
  exists, or when the plan is unsafe and not forced.
- Creates and updates run before deletes, so mail flow never loses a route midway.  Writes go one at a
  time unless ``write_concurrency`` says otherwise.
- At the first failed write no further write is started; the report lists every change as applied,
  failed (with the service's message) or not attempted.  Nothing is written that the plan did not name.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from pydantic import ValidationError

from reconciler.errors import ExoformError
from reconciler.model import MODELS, Connector
from reconciler.plan import Change, TenantPlan, fingerprint
from reconciler.providers.base import BaseProvider, LiveConnector, LiveState

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


def _live_for(change: Change, live: LiveState) -> LiveConnector | None:
    if change.guid:
        for current in live.connectors:
            if current.guid == change.guid:
                return current
        return None
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


def apply_tenant(
    tplan: TenantPlan,
    provider: BaseProvider,
    *,
    force: bool = False,
    write_concurrency: int = 1,
    on_result: Callable[[ChangeResult], None] | None = None,
) -> ApplyReport:
    """Apply ``tplan`` through ``provider``; see the module contract."""
    report = ApplyReport(tenant=tplan.tenant)
    if not tplan.changes:
        return report
    if tplan.unsafe and not force:
        report.refused = [f"the plan is unsafe: {r}" for r in tplan.unsafe_reasons] + [
            "review it and apply with --force to proceed"
        ]
        return report
    live = provider.read()
    report.refused = stale_reasons(tplan, live)
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
        raise ExoformError(f"the planned {change.kind} '{change.name}' is not valid: {exc}") from None


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
