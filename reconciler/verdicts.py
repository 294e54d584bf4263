"""Every verdict of a run, decided once: has drift, fails posture, fails at a ``--fail-on`` threshold,
and the exit status each command ends with.  Renderers and commands ask here; none decides itself.

Contracts:
- A threshold is a severity or ``never``; ``never`` fails on nothing.  A skipped
  finding never fails.  Any other threshold is a ``ValueError``, even with no findings.
- Exit status: :data:`EXIT_OK` 0, :data:`EXIT_ERROR` 1 (a tenant failed, a failing finding, invalid input,
  a failed validation), :data:`EXIT_CHANGES` 2 (``plan --detailed-exitcode`` with changes, ``drift`` with
  drift).  An error wins over changes.
- ``plan`` fails on the files' findings only: a risk already in the tenant (``source: live``) is shown and
  is drift, but it is not the change under review (docs/posture.md).  ``drift`` counts the live ones.

This module imports nothing heavy at run time (a command's ``--help`` stays fast).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from reconciler.errors import Problem
    from reconciler.plan import Plan, TenantPlan
    from reconciler.posture.findings import Finding
    from reconciler.workflow import TenantApply

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2
NEVER = "never"

_F = TypeVar("_F", bound="Finding")


def _at_or_above(severity: str, threshold: str) -> bool:
    # Imported here: reconciler.posture re-exports this module's verdicts (an import cycle otherwise).
    from reconciler.posture.severity import at_or_above

    return at_or_above(severity, threshold)


def _check(threshold: str) -> None:
    if threshold != NEVER:
        _at_or_above("error", threshold)  # a ValueError naming the severities for anything else


def failing(findings: Iterable[_F], threshold: str) -> list[_F]:
    """The findings that fail at ``threshold``: not skipped, of its severity or a higher one (none for
    ``never``)."""
    _check(threshold)
    if threshold == NEVER:
        return []
    return [f for f in findings if not f.skipped and _at_or_above(f.severity, threshold)]


def fails(findings: Sequence[Finding], threshold: str) -> bool:
    """True when :func:`failing` finds any."""
    return bool(failing(findings, threshold))


def live_risks(t: TenantPlan, fail_on: str) -> list[Finding]:
    """The findings on ``t``'s live connectors that count as drift: failing at ``fail_on``."""
    return [f for f in failing(t.findings, fail_on) if f.source == "live"]


def drifted(t: TenantPlan, fail_on: str) -> bool:
    """True when a planned tenant has drift: a change in its plan or a live risk failing at ``fail_on``;
    a failed tenant is never said to have drift (nor to have none)."""
    return not t.failed and bool(t.changes or live_risks(t, fail_on))


def has_drift(plan: Plan, fail_on: str) -> bool:
    """True when any tenant of ``plan`` drifted (:func:`drifted`)."""
    return any(drifted(t, fail_on) for t in plan.tenants)


def posture_failures(plan: Plan, fail_on: str) -> list[Finding]:
    """The files' findings of ``plan`` failing at ``fail_on``: each makes ``plan`` exit 1."""
    return [f for t in plan.tenants for f in failing(t.findings, fail_on) if f.source == "files"]


def plan_exit(plan: Plan, fail_on: str, *, detailed: bool) -> int:
    """``plan``'s exit status: 1 when a tenant failed or a files' finding fails at ``fail_on``; else 2 for
    changes with ``--detailed-exitcode``; else 0."""
    if plan.failed or posture_failures(plan, fail_on):
        return EXIT_ERROR
    return EXIT_CHANGES if detailed and plan.has_changes else EXIT_OK


def drift_exit(plan: Plan, fail_on: str) -> int:
    """``drift``'s exit status: 1 when a tenant failed (the others are still reported), 2 drift, 0 none."""
    if plan.failed:
        return EXIT_ERROR
    return EXIT_CHANGES if has_drift(plan, fail_on) else EXIT_OK


def status_exit(failed_tenants: int) -> int:
    """``status``'s exit status: 1 when a tenant could not be read."""
    return EXIT_ERROR if failed_tenants else EXIT_OK


def apply_exit(results: Iterable[TenantApply]) -> int:
    """``apply``'s exit status: 1 unless every tenant's plan was applied whole (none failed, was refused,
    or left a change failed or not attempted)."""
    ok = all(r.error is None and r.report is not None and r.report.ok for r in results)
    return EXIT_OK if ok else EXIT_ERROR


def problem_fails(problem: Problem, fail_on: str) -> bool:
    """Invalid input always fails; a posture finding fails at or above ``fail_on`` (never: never)."""
    _check(fail_on)
    if problem.rule is None:
        return True
    return fail_on != NEVER and _at_or_above(problem.severity, fail_on)


def validate_exit(problems: Iterable[Problem], fail_on: str) -> int:
    """``validate``'s exit status: 1 when any problem fails at ``fail_on`` (:func:`problem_fails`)."""
    return EXIT_ERROR if any(problem_fails(p, fail_on) for p in problems) else EXIT_OK


def validation_ok(results: Sequence[Mapping[str, Any]]) -> bool:
    """Validate-OutboundConnector succeeded: there are results and every smart host says ``Succeeded``."""
    return bool(results) and all(str(r.get("Status", "")).casefold() == "succeeded" for r in results)
