"""Verdicts, decided in one module: failing at a threshold (``never`` included), drift, exit statuses."""

from __future__ import annotations

import pytest

from reconciler.errors import Location, Problem
from reconciler.plan import Change, Plan, TenantPlan
from reconciler.posture.findings import Finding
from reconciler.verdicts import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    drift_exit,
    failing,
    has_drift,
    plan_exit,
    problem_fails,
    validate_exit,
)


def finding(severity: str, source: str = "files", skipped: str | None = None) -> Finding:
    return Finding("EXO-T", severity, "InboundConnector", "x", "m", source=source, skipped_reason=skipped)  # type: ignore[arg-type]


def plan_of(*findings: Finding, changes: int = 0, failed: bool = False) -> Plan:
    create = Change("create", "InboundConnector", "x", ["name"], None, {"name": "x"})
    tenants = [TenantPlan("t", "local:t", changes=[create] * changes, findings=list(findings))]
    if failed:
        tenants.append(TenantPlan.failed_with("bad", "local:bad", "boom"))
    return Plan(tenants)


@pytest.mark.parametrize(
    ("threshold", "failing_severities"),
    [
        ("error", ["error"]),
        ("warning", ["error", "warning"]),
        ("info", ["error", "warning", "info"]),
        ("never", []),
    ],
)
def test_failing_at_each_threshold(threshold: str, failing_severities: list[str]) -> None:
    findings = [finding(s) for s in ("error", "warning", "info")] + [finding("error", skipped="accepted")]
    assert [f.severity for f in failing(findings, threshold)] == failing_severities


def test_an_unknown_threshold_is_refused_even_without_findings() -> None:
    with pytest.raises(ValueError, match="not a severity"):
        failing([], "fatal")


def test_plan_exit_fails_on_the_files_findings_only_and_never_means_never() -> None:
    assert plan_exit(plan_of(finding("error")), "error", detailed=False) == EXIT_ERROR
    assert plan_exit(plan_of(finding("error", "live")), "error", detailed=False) == EXIT_OK
    assert plan_exit(plan_of(finding("error")), "never", detailed=True) == EXIT_OK
    assert plan_exit(plan_of(changes=1), "never", detailed=True) == EXIT_CHANGES
    assert plan_exit(plan_of(changes=1), "never", detailed=False) == EXIT_OK
    assert plan_exit(plan_of(changes=1, failed=True), "never", detailed=True) == EXIT_ERROR


def test_drift_counts_live_risks_at_the_threshold_and_an_error_wins() -> None:
    live = plan_of(finding("warning", "live"))
    assert has_drift(live, "warning") and drift_exit(live, "warning") == EXIT_CHANGES
    assert not has_drift(live, "error") and drift_exit(live, "never") == EXIT_OK
    assert not has_drift(plan_of(finding("error", "files")), "info")
    assert drift_exit(plan_of(changes=1, failed=True), "error") == EXIT_ERROR


def test_invalid_input_always_fails_validate_a_finding_only_at_the_threshold() -> None:
    where = Location("c.yaml", 1, 1)
    invalid, risk = Problem(where, "bad"), Problem(where, "risky", severity="warning", rule="EXO-T")
    assert problem_fails(invalid, "never") and not problem_fails(risk, "never")
    assert validate_exit([risk], "warning") == EXIT_ERROR and validate_exit([risk], "error") == EXIT_OK


def test_apply_exits_1_unless_every_tenant_was_applied_whole() -> None:
    from reconciler.reconcile.applier import ApplyReport
    from reconciler.verdicts import apply_exit
    from reconciler.workflow import TenantApply

    applied = TenantApply("t", ApplyReport("t"))
    assert apply_exit([applied]) == EXIT_OK and apply_exit([]) == EXIT_OK
    assert apply_exit([applied, TenantApply("bad", error="cannot sign in")]) == EXIT_ERROR
    assert apply_exit([TenantApply("t", ApplyReport("t", refused=["protected"]))]) == EXIT_ERROR
