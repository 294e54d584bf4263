"""SARIF logs: one result per problem with its rule, level and place; conforming to SARIF 2.1.0."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from reconciler.errors import Location, Problem
from reconciler.render.sarif import Located, RuleInfo, sarif_log

SCHEMA = Path(__file__).resolve().parents[1] / "fixtures" / "schemas" / "sarif-schema-2.1.0.json"


def test_results_carry_rule_level_place_and_suppression() -> None:
    items = [
        Located(Problem(Location("c/a.yaml", 3, 17), "bad value")),
        Located(Problem(Location("c\\b.yaml", 4, 1), "open", severity="info", rule="EXO-IN-001"), "known"),
    ]
    rules = {"EXO-IN-001": RuleInfo("Open partner", "error", "https://example.com/rule")}
    log = sarif_log(items, rules, version="1.2.3")
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(log)
    run = log["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["EXO-IN-001", "EXO-INPUT"]
    first, second = run["results"]
    assert (first["ruleId"], first["ruleIndex"], first["level"]) == ("EXO-INPUT", 1, "error")
    assert first["locations"][0]["physicalLocation"]["region"] == {"startLine": 3, "startColumn": 17}
    assert (second["ruleId"], second["ruleIndex"], second["level"]) == ("EXO-IN-001", 0, "note")
    assert second["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "c/b.yaml"
    assert second["suppressions"] == [{"kind": "inSource", "justification": "known"}]


def test_an_empty_log_is_valid() -> None:
    log = sarif_log([], {}, version="1.2.3")
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(log)
    assert log["runs"][0]["results"] == []
