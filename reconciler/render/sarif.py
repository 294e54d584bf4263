"""SARIF 2.1.0: validation problems and posture findings for GitHub code scanning.

Contracts:
- :func:`sarif_log` makes one run of the ``exoform`` tool holding a result per located problem: its rule
  (a posture rule id, or :data:`INPUT_RULE` for invalid input), its level (``error``, ``warning``, or
  ``note`` for info), its message and its place (file, line, column; paths relative, ``/``-separated).
  A problem silenced by ``skip_checks`` is a result with an in-source suppression and its reason.
- A result about a tenant's connector (a plan's findings) names the tenant in its message and in
  ``properties`` (``tenant``, ``kind``, ``connector``, ``source``), and carries ``partialFingerprints``
  (:data:`FINGERPRINT`: a hash of the rule, tenant, kind, connector name and source), which stay the same
  from run to run whatever the file's lines, so GitHub code scanning matches an alert to the one it saw
  before instead of opening a duplicate.  A result without that identity (invalid input, ``validate``'s
  problems, listed once for every tenant) carries none, and code scanning fingerprints its location.
- ``tool.driver.rules`` describes every rule a result names (title, default level, help link), so code
  scanning can show them; a result's ``ruleIndex`` points into that list.
- The log conforms to the SARIF 2.1.0 JSON schema (tests/fixtures/schemas/sarif-schema-2.1.0.json).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.errors import Problem
from reconciler.plan import canonical_json

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INPUT_RULE = "EXO-INPUT"
#: The ``partialFingerprints`` key of exoform's results (versioned: a new scheme gets a new key).
FINGERPRINT = "exoformFinding/v1"
_LEVELS = {"error": "error", "warning": "warning", "info": "note"}


@dataclass(frozen=True)
class RuleInfo:
    """What SARIF says about a rule: its title, default severity and help link."""

    title: str
    severity: str
    reference: str = ""


_INPUT = RuleInfo("Invalid input: a file or a setting that exoform cannot accept", "error")


@dataclass(frozen=True)
class Located:
    """A problem to report, and why it is suppressed (None when it is not); for a finding in a tenant,
    the tenant, the connector's kind and name (None for a tenant-wide finding) and the finding's source."""

    problem: Problem
    suppressed: str | None = None
    tenant: str | None = None
    kind: str | None = None
    connector: str | None = None
    source: str = "files"

    def fingerprint(self) -> str:
        """A stable hash of what the result is about: rule, tenant, kind, connector name and source."""
        identity = [self.problem.rule or INPUT_RULE, self.tenant, self.kind, self.connector, self.source]
        return hashlib.sha256(canonical_json(identity).encode()).hexdigest()


def _rule_json(rule_id: str, info: RuleInfo) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": rule_id,
        "shortDescription": {"text": info.title},
        "defaultConfiguration": {"level": _LEVELS.get(info.severity, "error")},
    }
    if info.reference.startswith("https://"):
        data["helpUri"] = info.reference
    return data


def _result(item: Located, index: int) -> dict[str, Any]:
    problem = item.problem
    loc = problem.location
    result: dict[str, Any] = {
        "ruleId": problem.rule or INPUT_RULE,
        "ruleIndex": index,
        "level": _LEVELS.get(problem.severity, "error"),
        "message": {"text": f"tenant {item.tenant}: {problem.message}" if item.tenant else problem.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": loc.path.replace("\\", "/")},
                    "region": {"startLine": max(1, loc.line), "startColumn": max(1, loc.column)},
                }
            }
        ],
    }
    if item.tenant is not None:
        result["partialFingerprints"] = {FINGERPRINT: item.fingerprint()}
        result["properties"] = {
            "tenant": item.tenant,
            "kind": item.kind,
            "connector": item.connector,
            "source": item.source,
        }
    if item.suppressed is not None:
        result["suppressions"] = [{"kind": "inSource", "justification": item.suppressed}]
    return result


def posture_rules() -> dict[str, RuleInfo]:
    """Every posture rule as SARIF describes it."""
    from reconciler import posture

    return {r.id: RuleInfo(r.title, r.severity, r.reference) for r in posture.RULES}


def sarif_log(items: Sequence[Located], rules: Mapping[str, RuleInfo], *, version: str) -> dict[str, Any]:
    """The SARIF log of ``items``; ``rules`` describes the posture rules by id."""
    used = sorted({i.problem.rule or INPUT_RULE for i in items})
    index = {rule_id: n for n, rule_id in enumerate(used)}
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "exoform",
                        "version": version,
                        "informationUri": "https://pypi.org/project/exoform/",
                        "rules": [_rule_json(r, rules.get(r, _INPUT)) for r in used],
                    }
                },
                "results": [_result(i, index[i.problem.rule or INPUT_RULE]) for i in items],
            }
        ],
    }
