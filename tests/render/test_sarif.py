"""SARIF logs: one result per problem with its rule, level and place; conforming to SARIF 2.1.0."""

from __future__ import annotations

from reconciler.errors import Location, Problem
from reconciler.render.sarif import FINGERPRINT, Located, RuleInfo, sarif_log
from tests.schema_check import SARIF, check


def test_results_carry_rule_level_place_and_suppression() -> None:
    items = [
        Located(Problem(Location("c/a.yaml", 3, 17), "bad value")),
        Located(Problem(Location("c\\b.yaml", 4, 1), "open", severity="info", rule="EXO-IN-001"), "known"),
    ]
    rules = {"EXO-IN-001": RuleInfo("Open partner", "error", "https://example.com/rule")}
    log = sarif_log(items, rules, version="1.2.3")
    check(log, SARIF)
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
    check(log, SARIF)
    assert log["runs"][0]["results"] == []


def _finding(tenant: str, line: int, name: str = "To filter") -> Located:
    problem = Problem(Location("connectors/shared/out.yaml", line, 3), "TLS off", "warning", "EXO-OUT-001")
    return Located(problem, None, tenant, "OutboundConnector", name)


def test_results_name_their_tenant_and_carry_stable_fingerprints() -> None:
    log = sarif_log([_finding("contoso", 4), _finding("fabrikam", 4)], {}, version="1")
    check(log, SARIF)
    contoso, fabrikam = log["runs"][0]["results"]
    assert contoso["message"]["text"] == "tenant contoso: TLS off"
    assert contoso["properties"] == {
        "tenant": "contoso",
        "kind": "OutboundConnector",
        "connector": "To filter",
        "source": "files",
    }
    prints = [r["partialFingerprints"][FINGERPRINT] for r in (contoso, fabrikam)]
    assert prints[0] != prints[1]  # one alert per tenant, not one for the shared file
    # The next run, after lines were added above the connector: the same alert, not a new one.
    moved = sarif_log([_finding("contoso", 40)], {}, version="2")["runs"][0]["results"][0]
    assert moved["partialFingerprints"] == contoso["partialFingerprints"]
    other = sarif_log([_finding("contoso", 4, "To partner")], {}, version="1")["runs"][0]["results"][0]
    assert other["partialFingerprints"] != contoso["partialFingerprints"]


def test_input_problems_carry_no_tenant_fingerprint() -> None:
    (result,) = sarif_log([Located(Problem(Location("a.yaml", 1, 1), "bad"))], {}, version="1")["runs"][0][
        "results"
    ]
    assert "partialFingerprints" not in result and "properties" not in result
