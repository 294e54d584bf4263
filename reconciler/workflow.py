"""Plan and apply across tenants: load, read, plan, check, apply -- one tenant's failure never stops another.

Contracts:
- Tenants are planned concurrently (``parallelism``); each outcome holds a plan or the error that
  stopped that tenant (a failed read is an error, never an empty tenant).
- :func:`apply_plan` applies only tenants the plan names, refusing any whose target is no longer the one
  the plan was made for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from reconciler.applier import ApplyReport, ChangeResult, apply_tenant
from reconciler.config import ExoformConfig, TenantConfig
from reconciler.errors import ExoformError
from reconciler.loader import TenantDesired
from reconciler.plan import Plan, PlanFinding, TenantPlan
from reconciler.planner import plan_tenant, target_of
from reconciler.providers.base import LiveState, Provider

Opener = Callable[[str, TenantConfig, ExoformConfig], Provider]


@dataclass
class TenantOutcome:
    """One tenant's plan, or the error that stopped it (with its live state, for status and export)."""

    tenant: str
    plan: TenantPlan | None = None
    live: LiveState | None = None
    error: str | None = None


def _opener() -> Opener:
    from reconciler.providers.registry import open_provider

    return open_provider


def posture_findings(desired: TenantDesired) -> list[PlanFinding]:
    """The posture findings of a tenant's desired connectors, as the plan carries them."""
    from reconciler import posture

    findings = posture.check([c.connector for c in desired.connectors], desired.settings.skip_checks)
    return [
        PlanFinding(
            rule=f.rule,
            severity=f.severity,
            kind=f.kind,
            name=f.name,
            message=f.message,
            reference=f.reference,
            skipped_reason=f.skipped_reason,
            field=f.field,
        )
        for f in findings
    ]


def plan_one(config: ExoformConfig, desired: TenantDesired, opener: Opener | None = None) -> TenantOutcome:
    """Read one tenant and plan it; errors are caught into the outcome."""
    outcome = TenantOutcome(desired.tenant)
    try:
        provider = (opener or _opener())(desired.tenant, desired.settings, config)
        try:
            outcome.live = provider.read()
        finally:
            provider.close()
        outcome.plan = plan_tenant(
            desired.tenant, desired.settings, [c.connector for c in desired.connectors], outcome.live
        )
        outcome.plan.findings = posture_findings(desired)
    except ExoformError as exc:
        outcome.error = str(exc)
    return outcome


def plan_tenants(
    config: ExoformConfig,
    desired: Sequence[TenantDesired],
    *,
    parallelism: int = 8,
    opener: Opener | None = None,
    on_done: Callable[[TenantOutcome], None] | None = None,
) -> list[TenantOutcome]:
    """Plan every tenant of ``desired`` concurrently; outcomes in ``desired``'s order."""

    def run(d: TenantDesired) -> TenantOutcome:
        outcome = plan_one(config, d, opener)
        if on_done is not None:
            on_done(outcome)
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        return list(pool.map(run, desired))


@dataclass
class TenantApply:
    """One tenant's apply: its report, or the error that stopped it before any write."""

    tenant: str
    report: ApplyReport | None = None
    error: str | None = None


def apply_plan(
    config: ExoformConfig,
    plan: Plan,
    *,
    force: bool = False,
    parallelism: int = 8,
    opener: Opener | None = None,
    on_result: Callable[[str, ChangeResult], None] | None = None,
) -> list[TenantApply]:
    """Apply each tenant of ``plan`` (see :mod:`reconciler.applier`)."""

    def run(tplan: TenantPlan) -> TenantApply:
        result = TenantApply(tplan.tenant)
        settings = config.tenants.get(tplan.tenant)
        if settings is None:
            result.error = (
                f"tenant {tplan.tenant}: the plan names a tenant that exoform.yaml does not declare"
            )
            return result
        if target_of(settings) != tplan.target:
            result.error = (
                f"tenant {tplan.tenant}: the plan was made for {tplan.target}, but the tenant is now "
                f"{target_of(settings)}; make a new plan"
            )
            return result
        if not tplan.changes:
            result.report = ApplyReport(tplan.tenant)
            return result
        try:
            provider = (opener or _opener())(tplan.tenant, settings, config)
            try:
                result.report = apply_tenant(
                    tplan,
                    provider,
                    force=force,
                    write_concurrency=settings.write_concurrency,
                    on_result=(lambda r: on_result(tplan.tenant, r)) if on_result else None,
                )
            finally:
                provider.close()
        except ExoformError as exc:
            result.error = str(exc)
        return result

    with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        return list(pool.map(run, plan.tenants))
