"""The ``validate`` report: every problem found, as text (with GitHub Actions annotations under Actions),
JSON or SARIF.

Contracts: problems are listed sorted by place; the text form prints each as ``path:line:col: severity:
message`` (escaped), then, when ``annotate``, each again as a workflow annotation whose data is escaped
as the runner reads it, then a verdict line; the JSON form is ``{valid, connectors, tenants, problems}``.
Whether the run fails is :func:`reconciler.verdicts.problem_fails`'s to say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reconciler.errors import Problem
from reconciler.escape import json_text, safe
from reconciler.render.sarif import Located, RuleInfo, sarif_log
from reconciler.verdicts import problem_fails


@dataclass(frozen=True)
class ValidateReport:
    """What ``validate`` found: its problems, how many connectors and tenants it read, the threshold."""

    problems: Sequence[Problem]
    connectors: int
    tenants: int
    fail_on: str
    rules: Mapping[str, RuleInfo]
    version: str

    @property
    def ordered(self) -> list[Problem]:
        return sorted(self.problems, key=lambda p: (p.location.path, p.location.line, p.location.column))

    @property
    def valid(self) -> bool:
        return not any(problem_fails(p, self.fail_on) for p in self.problems)


def _escape_data(text: str) -> str:
    return safe(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def problem_lines(problems: Sequence[Problem], *, annotate: bool = False) -> list[str]:
    """Each problem as ``path:line:col: severity: message`` (escaped); with ``annotate`` each again as a
    GitHub Actions workflow annotation."""
    lines = [safe(str(problem)) for problem in problems]
    for problem in problems if annotate else ():
        level = {"error": "error", "warning": "warning"}.get(problem.severity, "notice")
        loc = problem.location
        lines.append(
            f"::{level} file={_escape_property(loc.path)},line={loc.line},col={loc.column}::"
            f"{_escape_data(problem.message)}"
        )
    return lines


def validate_text(report: ValidateReport, *, annotate: bool = False) -> str:
    """The problems, then ``N problem(s) found`` when the run fails or ``... valid`` when it does not."""
    lines = problem_lines(report.ordered, annotate=annotate)
    if report.valid:
        lines.append(f"{report.connectors} connector(s) in {report.tenants} tenant(s) valid")
    else:
        errors = sum(1 for p in report.problems if p.severity == "error")
        lines.append(f"{len(report.problems)} problem(s) found ({errors} error(s))")
    return "\n".join(lines) + "\n"


def validate_json(report: ValidateReport) -> str:
    """The report as one JSON document."""
    shown = [
        {
            "path": p.location.path,
            "line": p.location.line,
            "column": p.location.column,
            "severity": p.severity,
            "rule": p.rule,
            "message": p.message,
        }
        for p in report.ordered
    ]
    data = {
        "valid": report.valid,
        "connectors": report.connectors,
        "tenants": report.tenants,
        "problems": shown,
    }
    return json_text(data)


def validate_sarif(report: ValidateReport) -> str:
    """The problems as a SARIF 2.1.0 log."""
    log = sarif_log([Located(p) for p in report.ordered], report.rules, version=report.version)
    return json_text(log)
