"""Honest reports (issue 14), through the CLI against local tenants: failed tenants in every format, one
meaning per exit code, escaped untrusted text, risks in the live tenant, diffs a reviewer can read,
SARIF and the published JSON Schemas."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler import __version__
from reconciler.cli import cli
from tests.schema_check import SARIF, check
from tests.wiring import fake_time

RELAY = """\
kind: InboundConnector
name: Printer relay
connector_type: OnPremises
sender_domains: [contoso.com]
sender_ip_addresses: [203.0.113.10]
"""
RELAY_LIVE = {
    "Name": "Printer relay",
    "ConnectorType": "OnPremises",
    "SenderDomains": ["smtp:contoso.com;1"],
    "SenderIPAddresses": ["203.0.113.10"],
}
#: A Partner inbound connector for any domain, without TLS or any IP or certificate restriction: made in
#: the admin center, it lets spoofed mail in.
OPEN_LIVE = {
    "Name": "Partner catch-all",
    "ConnectorType": "Partner",
    "ConnectorSource": "AdminUI",
    "SenderDomains": ["smtp:*;1"],
    "RequireTls": False,
}


class Repo:
    """exoform.yaml with local tenants, each declaring the relay; ``broken`` tenants cannot be read."""

    def __init__(
        self,
        root: Path,
        names: list[str],
        *,
        broken: tuple[str, ...] = (),
        live: list[dict[str, Any]] | None = None,
        outbound: list[dict[str, Any]] | None = None,
        files: dict[str, str] | None = None,
    ) -> None:
        self.root = root
        lines = ["tenants:"]
        for name in names:
            folder = root / "connectors" / name
            folder.mkdir(parents=True)
            for file, text in (files or {"relay.yaml": RELAY}).items():
                (folder / file).write_text(textwrap.dedent(text))
            state = root / "state" / f"{name}.json"
            state.parent.mkdir(exist_ok=True)
            if name in broken:
                state.write_text('{"InboundConnector": [')  # a truncated state file: the read fails
            else:
                inbound = [RELAY_LIVE] if live is None else live
                tenant = {"InboundConnector": inbound, "OutboundConnector": outbound or []}
                state.write_text(json.dumps(tenant))
            lines += [
                f"  {name}:",
                "    provider: local",
                f"    connectors: connectors/{name}",
                f"    state: state/{name}.json",
            ]
        (root / "exoform.yaml").write_text("\n".join(lines) + "\n")

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        config = ["--config", str(self.root / "exoform.yaml")]
        return CliRunner(env=env).invoke(cli, [*args, *config], obj=fake_time())


# ---------------------------------------------------------------------------------- failed tenants


def test_a_failed_tenant_is_in_every_plan_format_and_never_no_changes(tmp_path: Path) -> None:
    repo = Repo(tmp_path, ["good", "bad"], broken=("bad",))

    text = repo.run("plan")
    assert text.exit_code == 1
    assert re.search(r"Tenant bad .*\n  ! FAILED: tenant bad: ", text.stdout)
    assert "1 of 2 tenant(s) failed: the plan is incomplete." in text.stdout

    data = json.loads(repo.run("plan", "--format", "json").stdout)
    by_name = {t["tenant"]: t for t in data["tenants"]}
    assert list(by_name) == ["good", "bad"]
    assert by_name["bad"]["status"] == "failed" and "tenant bad" in by_name["bad"]["error"]
    assert by_name["good"]["status"] == "planned" and by_name["good"]["error"] is None
    assert data["failed"] == 1
    check(data, "plan.schema.json")

    md = repo.run("plan", "--format", "markdown").stdout
    banner = md.split("| Tenant |", 1)[0]
    assert "> [!CAUTION]" in banner and "1 of 2 tenant(s) could not be planned" in banner
    assert "<code>bad</code>: tenant bad: " in banner
    assert "| <code>bad</code> | **failed** |" in md
    assert "No changes" not in md


def test_every_tenant_failed_is_reported_as_failures_not_as_nothing(tmp_path: Path) -> None:
    repo = Repo(tmp_path, ["a", "b"], broken=("a", "b"))
    text = repo.run("plan")
    assert text.exit_code == 1
    assert "No tenants selected." not in text.stdout
    assert "2 of 2 tenant(s) failed" in text.stdout
    md = repo.run("plan", "--format", "markdown")
    assert md.exit_code == 1
    assert "No changes" not in md.stdout and "2 of 2 tenant(s) could not be planned" in md.stdout
    assert "2 tenant(s) failed, 0 planned." in md.stdout

    drift_md = repo.run("drift", "--format", "markdown")
    assert drift_md.exit_code == 1
    assert "No drift:" not in drift_md.stdout
    assert "2 of 2 tenant(s) could not be read" in drift_md.stdout
    assert "**Failed**, not checked: tenant a: " in drift_md.stdout
    drift_text = repo.run("drift").stdout
    assert "! FAILED: tenant a:" in drift_text and "2 of 2 tenant(s) failed: not checked." in drift_text
    drift_json = json.loads(repo.run("drift", "--format", "json").stdout)
    assert [t["status"] for t in drift_json["tenants"]] == ["failed", "failed"]
    assert drift_json["drift"] is False and drift_json["errors"] == 2
    check(drift_json, "drift.schema.json")

    status = repo.run("status")
    assert status.exit_code == 1
    assert "a: FAILED: tenant a:" in status.stdout
    status_json = json.loads(repo.run("status", "--format", "json").stdout)
    assert [t["status"] for t in status_json["tenants"]] == ["failed", "failed"]
    check(status_json, "status.schema.json")


def test_no_plan_file_is_written_when_a_tenant_failed(tmp_path: Path) -> None:
    repo = Repo(tmp_path, ["good", "bad"], broken=("bad",))
    result = repo.run("plan", "--out", str(tmp_path / "plan.json"))
    assert result.exit_code == 1
    assert not (tmp_path / "plan.json").exists()


# --------------------------------------------------------------------------------------- exit codes


@pytest.mark.parametrize(
    "args",
    [
        ("plan", "--format", "yaml"),
        ("plan", "--detailed-exitcod"),
        ("drift", "--fail-on", "sometimes"),
        ("validate", "--format", "xml"),
        ("nosuchcommand",),
    ],
)
def test_usage_errors_exit_1_never_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    repo = Repo(tmp_path, ["t"])
    result = repo.run(*args)
    assert result.exit_code == 1, result.output
    assert "Usage:" in result.output or "Error:" in result.output


# ------------------------------------------------------------------------------------ intact messages


def test_a_posture_message_quoting_star_and_an_apostrophe_stays_intact(tmp_path: Path) -> None:
    partner = """\
    kind: InboundConnector
    name: Partner catch-all
    connector_type: Partner
    sender_domains: ["*"]
    """
    repo = Repo(tmp_path, ["t"], files={"partner.yaml": partner})
    result = repo.run("validate", "--fail-on", "warning")
    assert result.exit_code == 1
    assert "or list the partner's own domains instead of '*'. [EXO-IN-002]" in result.output
    assert "characters)" not in result.output


# ----------------------------------------------------------------------------------- escaped text

FORGED = "Evil\n::error file=x::forged\x1b[31m"


#: The only workflow commands exoform prints: validate's annotations of files under a tenant's folder.
OWN_ANNOTATION = re.compile(r"^::(error|warning|notice) file=/[^:,]*/connectors/t/")


def _no_forged_line(output: str) -> None:
    assert "\x1b" not in output
    commands = [line for line in output.splitlines() if line.lstrip().startswith("::")]
    assert all(OWN_ANNOTATION.match(line) for line in commands), output


def test_a_live_name_cannot_forge_workflow_commands_or_terminal_escapes(tmp_path: Path) -> None:
    forged = dict(OPEN_LIVE, Name=FORGED)
    repo = Repo(tmp_path, ["t"], live=[RELAY_LIVE, forged])
    env = {"GITHUB_ACTIONS": "true"}
    for args in (("plan",), ("plan", "--format", "markdown"), ("drift",), ("drift", "--format", "markdown")):
        result = repo.run(*args, env=env)
        assert result.exit_code in (0, 2), result.output
        _no_forged_line(result.stdout)
        _no_forged_line(result.stderr)
        assert "Evil\\n" in result.stdout or "Evil&#92;n" in result.stdout  # shown, escaped
    _no_forged_line(repo.run("status", env=env).stdout)
    md = repo.run("plan", "--format", "markdown").stdout
    assert "<code>Evil&#92;n::error file=x::forged&#92;x1b&#91;31m</code>" in md


def test_a_file_name_cannot_forge_workflow_commands(tmp_path: Path) -> None:
    forged = "x\n::error file=a::forged.yaml"
    repo = Repo(tmp_path, ["t"], files={forged: "kind: InboundConnector\nname: x\n"})
    env = {"GITHUB_ACTIONS": "true"}
    for command in ("validate", "plan", "drift"):
        result = repo.run(command, env=env)
        assert result.exit_code == 1
        assert "x\\n::error file=a::forged.yaml" in result.output  # named, escaped
        _no_forged_line(result.stdout)
        _no_forged_line(result.stderr)


def test_validate_refuses_control_characters_in_names(tmp_path: Path) -> None:
    named = 'kind: InboundConnector\nname: "Relay\\n::error::x"\nconnector_type: OnPremises\n'
    named += "sender_domains: [contoso.com]\nsender_ip_addresses: [203.0.113.10]\n"
    repo = Repo(tmp_path, ["t"], files={"relay.yaml": named})
    result = repo.run("validate", env={"GITHUB_ACTIONS": "true"})
    assert result.exit_code == 1
    assert "name: a connector name cannot contain control characters" in result.output
    _no_forged_line(result.output)


# ----------------------------------------------------------------------------------- live risks


def test_an_out_of_band_open_connector_is_a_risk_in_plan_drift_and_status(tmp_path: Path) -> None:
    repo = Repo(tmp_path, ["t"], live=[RELAY_LIVE, OPEN_LIVE])

    plan = repo.run("plan")
    assert plan.exit_code == 0, plan.output  # not the change under review: shown, does not fail the plan
    assert re.search(r'error EXO-IN-001 InboundConnector "Partner catch-all" \(live\)', plan.stdout)
    plan_json = json.loads(repo.run("plan", "--format", "json").stdout)
    live = [f for f in plan_json["tenants"][0]["findings"] if f["source"] == "live"]
    assert {f["rule"] for f in live} >= {"EXO-IN-001", "EXO-IN-002"}

    drift = repo.run("drift")
    assert drift.exit_code == 2, drift.output
    assert 'live risk error EXO-IN-001 InboundConnector "Partner catch-all"' in drift.stdout
    assert "Drift in 1 of 1 tenant(s): 1 risk(s) in the live connectors." in drift.stdout
    drift_md = repo.run("drift", "--format", "markdown")
    assert drift_md.exit_code == 2
    assert "`EXO-IN-001` | InboundConnector <code>Partner catch-all</code> (live)" in drift_md.stdout
    drift_json = json.loads(repo.run("drift", "--format", "json").stdout)
    assert drift_json["drift"] is True and drift_json["tenants"][0]["risks"]
    check(drift_json, "drift.schema.json")
    assert repo.run("drift", "--fail-on", "never").exit_code == 0

    status = repo.run("status")
    assert "Risks in the live connectors:" in status.stdout
    assert 'error EXO-IN-001 InboundConnector "Partner catch-all" (live)' in status.stdout
    status_json = json.loads(repo.run("status", "--format", "json").stdout)
    assert {r["rule"] for r in status_json["risks"]} >= {"EXO-IN-001"}
    check(status_json, "status.schema.json")


def test_a_live_finding_equal_to_the_files_one_is_shown_once(tmp_path: Path) -> None:
    partner = """\
    kind: InboundConnector
    name: Partner catch-all
    connector_type: Partner
    sender_domains: ["*"]
    require_tls: false
    skip_checks: [{rule: EXO-IN-001, reason: test}]
    """
    repo = Repo(tmp_path, ["t"], live=[OPEN_LIVE], files={"partner.yaml": partner})
    data = json.loads(repo.run("plan", "--format", "json", "--fail-on", "never").stdout)
    findings = data["tenants"][0]["findings"]
    assert [f["rule"] for f in findings if f["rule"] in ("EXO-IN-001", "EXO-IN-002")] == [
        "EXO-IN-001",
        "EXO-IN-002",
    ]
    assert all(f["source"] == "files" for f in findings)
    assert findings[0]["skipped_reason"] == "test"


# ---------------------------------------------------------------------------------- readable diffs

#: Sixty addresses, ordered as text ("203.0.113.10" before "203.0.113.2") rather than as values.
SIXTY = [f"203.0.113.{i}" for i in range(1, 61)]


def test_one_changed_ip_among_sixty_is_visible_at_a_glance(tmp_path: Path) -> None:
    wanted = [ip if ip != "203.0.113.7" else "198.51.100.99" for ip in SIXTY]
    relay = RELAY.replace("[203.0.113.10]", json.dumps(wanted))
    live = dict(RELAY_LIVE, SenderIPAddresses=SIXTY)
    repo = Repo(tmp_path, ["t"], live=[live], files={"relay.yaml": relay})
    md = repo.run("plan", "--format", "markdown")
    assert md.exit_code == 0, md.output
    (row,) = [line for line in md.stdout.splitlines() if line.startswith("| `sender_ip_addresses`")]
    assert row == '| `sender_ip_addresses` | - <code>"203.0.113.7"</code> | + <code>"198.51.100.99"</code> |'
    text = repo.run("plan").stdout
    assert '~ sender_ip_addresses +"198.51.100.99" -"203.0.113.7"' in text
    drift = repo.run("drift").stdout  # whole lists read in value order: .1, .2, ... .60
    assert 'files: ["198.51.100.99", "203.0.113.1", "203.0.113.2", "203.0.113.3",' in drift
    assert 'live:  ["203.0.113.1", "203.0.113.2", "203.0.113.3",' in drift


def test_lists_read_in_value_order(tmp_path: Path) -> None:
    relay = RELAY.replace("[203.0.113.10]", "[203.0.113.10, 203.0.113.9, 198.51.100.0/24]")
    repo = Repo(tmp_path, ["t"], live=[], files={"relay.yaml": relay})
    text = repo.run("plan").stdout
    assert '["198.51.100.0/24", "203.0.113.9", "203.0.113.10"]' in text
    md = repo.run("plan", "--format", "markdown").stdout
    assert '&#91;"198.51.100.0/24", "203.0.113.9", "203.0.113.10"&#93;' in md


def test_a_delete_shows_every_setting_of_the_removed_connector(tmp_path: Path) -> None:
    config = "tenants:\n  t:\n    provider: local\n    connectors: connectors/t\n    state: state/t.json\n"
    repo = Repo(tmp_path, ["t"], live=[RELAY_LIVE, OPEN_LIVE])
    (tmp_path / "exoform.yaml").write_text(config + "    unmanaged: delete\n")
    text = repo.run("plan", "--fail-on", "never").stdout
    assert '- InboundConnector "Partner catch-all"' in text
    assert re.search(r'- sender_domains\s+= \["\*"\]', text)
    assert re.search(r'- connector_type\s+= "Partner"', text)
    md = repo.run("plan", "--format", "markdown", "--fail-on", "never").stdout
    block = md.split("- delete InboundConnector <code>Partner catch-all</code>", 1)[1].split("</details>")[0]
    assert '| `sender_domains` | <code>&#91;"&#42;"&#93;</code> | |' in block
    assert '| `connector_type` | <code>"Partner"</code> | |' in block


def test_markdown_caution_box_severity_words_and_footer(tmp_path: Path) -> None:
    config = "tenants:\n  t:\n    provider: local\n    connectors: connectors/t\n    state: state/t.json\n"
    repo = Repo(tmp_path, ["t"], live=[RELAY_LIVE, OPEN_LIVE, dict(OPEN_LIVE, Name="Second")])
    (tmp_path / "exoform.yaml").write_text(config + "    unmanaged: delete\n    max_deletes: 1\n")
    sha = "0123456789abcdef0123456789abcdef01234567"
    md = repo.run("plan", "--format", "markdown", "--fail-on", "never", env={"GITHUB_SHA": sha}).stdout
    box = md.split("> [!CAUTION]\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert box[0].startswith("> **Unsafe plan**")
    assert any(line.startswith("> - <code>t</code>: ") and "max&#95;deletes" in line for line in box[1:])
    assert "| 🛑 error | `EXO-IN-001` |" in md
    assert md.endswith(f"<sub>exoform {__version__} · commit {sha}</sub>\n")


# ------------------------------------------------------------------------------------------ show


def test_show_renders_a_saved_plan_without_reading_any_tenant(tmp_path: Path) -> None:
    repo = Repo(tmp_path, ["t"], live=[])
    plan_file = tmp_path / "plan.json"
    assert repo.run("plan", "--out", str(plan_file)).exit_code == 0
    (tmp_path / "state" / "t.json").write_text("not json")  # any read of the tenant would fail now
    text = CliRunner().invoke(cli, ["show", str(plan_file)])
    assert text.exit_code == 0, text.output
    assert '+ InboundConnector "Printer relay"' in text.stdout
    md = CliRunner().invoke(cli, ["show", str(plan_file), "--format", "markdown"])
    assert md.stdout.startswith("<!-- exoform-plan -->") and "Printer relay" in md.stdout
    as_json = json.loads(CliRunner().invoke(cli, ["show", str(plan_file), "--format", "json"]).stdout)
    check(as_json, "plan.schema.json")
    plan_file.write_text(plan_file.read_text().replace("Printer relay", "Printer relaY"))
    edited = CliRunner().invoke(cli, ["show", str(plan_file)])
    assert edited.exit_code == 1 and "edited after it was made" in edited.stderr


# ------------------------------------------------------------------------------------------ SARIF


def test_validate_sarif_conforms_and_locates_problems(tmp_path: Path) -> None:
    partner = """\
    kind: InboundConnector
    name: Partner catch-all
    connector_type: Partnr
    sender_domains: ["*"]
    require_tls: false
    """
    repo = Repo(tmp_path, ["t"], files={"partner.yaml": partner})
    result = repo.run("validate", "--format", "sarif")
    assert result.exit_code == 1
    log = json.loads(result.stdout)
    check(log, SARIF)
    (run,) = log["runs"]
    (res,) = run["results"]
    assert res["ruleId"] == "EXO-INPUT" and res["level"] == "error"
    region = res["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 3, "startColumn": 17}
    assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("t/partner.yaml")

    fixed = Repo(tmp_path / "b", ["t"], files={"partner.yaml": partner.replace("Partnr", "Partner")})
    posture = json.loads(fixed.run("validate", "--format", "sarif").stdout)
    check(posture, SARIF)
    rules = {r["id"]: r for r in posture["runs"][0]["tool"]["driver"]["rules"]}
    assert {"EXO-IN-001", "EXO-IN-002"} <= set(rules)
    assert rules["EXO-IN-001"]["defaultConfiguration"]["level"] == "error"
    assert rules["EXO-IN-002"]["defaultConfiguration"]["level"] == "warning"
    found = {r["ruleId"]: r for r in posture["runs"][0]["results"]}
    assert found["EXO-IN-002"]["locations"][0]["physicalLocation"]["region"]["startLine"] == 4

    as_json = json.loads(fixed.run("validate", "--format", "json").stdout)
    assert as_json["valid"] is False and {p["rule"] for p in as_json["problems"]} >= {"EXO-IN-002"}


def test_plan_sarif_conforms_and_locates_files_and_live_findings(tmp_path: Path) -> None:
    partner = """\
    kind: InboundConnector
    name: Partner catch-all
    connector_type: Partner
    sender_domains: ["*"]
    require_tls: false
    skip_checks: [{rule: EXO-IN-001, reason: reviewed}]
    """
    repo = Repo(tmp_path, ["t"], live=[RELAY_LIVE, dict(OPEN_LIVE, Name="Other")], files={"p.yaml": partner})
    result = repo.run("plan", "--format", "sarif", "--fail-on", "never")
    assert result.exit_code == 0, result.output
    log = json.loads(result.stdout)
    check(log, SARIF)
    results = log["runs"][0]["results"]
    files = [r for r in results if r["ruleId"] == "EXO-IN-002" and "live" not in r["message"]["text"]]
    assert files[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 4
    skipped = [r for r in results if r["ruleId"] == "EXO-IN-001" and "suppressions" in r]
    assert skipped[0]["suppressions"] == [{"kind": "inSource", "justification": "reviewed"}]
    live = [r for r in results if "live InboundConnector 'Other'" in r["message"]["text"]]
    assert live and live[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(
        "exoform.yaml"
    )


def test_plan_saves_the_sarif_log_beside_the_plan_and_never_a_partial_one(tmp_path: Path) -> None:
    """``--sarif FILE``: the log ``--format sarif`` prints, from the same read as the Markdown plan; not
    written when a tenant failed (a log missing its findings would close their alerts)."""
    repo = Repo(tmp_path, ["t"], live=[RELAY_LIVE, dict(OPEN_LIVE, Name="Other")])
    sarif = tmp_path / "exoform.sarif"
    both = repo.run("plan", "--format", "markdown", "--sarif", str(sarif), "--fail-on", "never")
    assert both.exit_code == 0, both.output
    assert both.stdout.startswith("<!-- exoform-plan -->") and f"SARIF log saved to {sarif}." in both.stderr
    alone = repo.run("plan", "--format", "sarif", "--fail-on", "never")
    assert json.loads(sarif.read_text()) == json.loads(alone.stdout)
    assert "live InboundConnector 'Other'" in sarif.read_text()

    sarif.unlink()
    partial = Repo(tmp_path / "partial", ["good", "bad"], broken=("bad",))
    failed = partial.run("plan", "--format", "markdown", "--sarif", str(sarif), "--fail-on", "never")
    assert failed.exit_code == 1
    assert f"error: no SARIF log written to {sarif}: not every tenant could be planned" in failed.stderr
    assert not sarif.exists()


def test_a_plan_or_sarif_file_that_cannot_be_written_is_an_error_never_a_traceback(tmp_path: Path) -> None:
    repo = Repo(tmp_path, ["t"])
    missing = tmp_path / "no-such-folder"
    result = repo.run(
        "plan", "--out", str(missing / "plan.json"), "--sarif", str(missing / "x.sarif"), "--fail-on", "never"
    )
    assert result.exit_code == 1  # the plan has no changes: only the failed writes fail it
    assert f"error: cannot write the plan file to {missing / 'plan.json'}: No such file or directory" in (
        result.stderr
    )
    assert f"error: cannot write the SARIF log to {missing / 'x.sarif'}: No such file or directory" in (
        result.stderr
    )
    assert result.exception is None or isinstance(result.exception, SystemExit)


# ---------------------------------------------------------------------------- options and colour


@pytest.mark.parametrize("level", ["error", "warning", "info", "never"])
def test_fail_on_takes_the_same_values_everywhere(tmp_path: Path, level: str) -> None:
    repo = Repo(tmp_path, ["t"])
    for command in ("validate", "plan", "drift"):
        assert repo.run(command, "--fail-on", level).exit_code == 0, (command, level)


def test_validate_fail_on_never_and_info(tmp_path: Path) -> None:
    partner = 'kind: InboundConnector\nname: P\nconnector_type: Partner\nsender_domains: ["*"]\n'
    repo = Repo(tmp_path, ["t"], files={"p.yaml": partner})  # EXO-IN-002, a warning
    assert repo.run("validate").exit_code == 0
    assert repo.run("validate", "--fail-on", "warning").exit_code == 1
    assert repo.run("validate", "--fail-on", "info").exit_code == 1
    assert repo.run("validate", "--fail-on", "never").exit_code == 0


def test_force_color_colours_a_log_and_no_color_wins(tmp_path: Path) -> None:
    repo = Repo(tmp_path, ["t"], live=[])
    assert "\x1b[" not in repo.run("plan").stdout
    assert "\x1b[32m+" in repo.run("plan", env={"FORCE_COLOR": "1"}).stdout
    assert "\x1b[" not in repo.run("plan", env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout
    assert "\x1b[" not in repo.run("plan", "--no-color", env={"FORCE_COLOR": "1"}).stdout
    assert "\x1b[" in repo.run("drift", env={"FORCE_COLOR": "1"}).stdout


# ---------------------------------------------------------------------------------- small truths


def test_a_local_tenant_without_state_names_its_real_state_file(tmp_path: Path) -> None:
    (tmp_path / "connectors").mkdir()
    (tmp_path / "connectors" / "relay.yaml").write_text(RELAY)
    config = "tenants:\n  lab:\n    provider: local\n    connectors: connectors\n"
    (tmp_path / "exoform.yaml").write_text(config)
    result = CliRunner().invoke(cli, ["plan", "--config", str(tmp_path / "exoform.yaml")])
    assert result.exit_code == 0, result.output
    state = (tmp_path / ".exoform" / "lab.json").resolve()
    assert f"Tenant lab (local:{state})" in result.stdout


def test_drift_text_names_the_tenant_in_its_accept_hint(tmp_path: Path) -> None:
    repo = Repo(tmp_path, ["contoso"], live=[dict(RELAY_LIVE, Comment="hand edit")])
    result = repo.run("drift")
    assert result.exit_code == 2
    assert "exoform accept --tenant contoso --target 'InboundConnector/Printer relay'" in result.stdout
    assert "--tenant NAME" not in repo.run("drift", "--format", "markdown").stdout


# ----------------------------------------------------------------------------------- JSON Schemas


def test_plan_json_with_changes_findings_and_a_rename_matches_its_schema(tmp_path: Path) -> None:
    renamed = RELAY.replace("name: Printer relay", "name: Printers\nrenamed_from: [Printer relay]")
    repo = Repo(tmp_path, ["t"], live=[dict(RELAY_LIVE, Comment="x"), OPEN_LIVE], files={"r.yaml": renamed})
    data = json.loads(repo.run("plan", "--format", "json").stdout)
    assert data["tenants"][0]["changes"] and data["tenants"][0]["findings"]
    check(data, "plan.schema.json")
    repo.run("plan", "--out", str(tmp_path / "plan.json"))
    check(json.loads((tmp_path / "plan.json").read_text()), "plan.schema.json")


def test_a_declined_interactive_apply_exits_1_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    from types import SimpleNamespace

    from reconciler.cli import plan as plan_module

    terminal = SimpleNamespace(stdin=SimpleNamespace(isatty=lambda: True), exit=sys.exit)
    monkeypatch.setattr(plan_module, "sys", terminal)
    repo = Repo(tmp_path, ["t"], live=[])
    result = CliRunner().invoke(cli, ["apply", "--config", str(tmp_path / "exoform.yaml")], input="no\n")
    assert result.exit_code == 1
    assert "Apply cancelled." in result.output
    assert json.loads((tmp_path / "state" / "t.json").read_text())["InboundConnector"] == []
    assert repo.run("plan", "--detailed-exitcode").exit_code == 2  # still to do


# ------------------------------------------------------------------------- show of hostile plan files

#: A name that would end the line, start a workflow command and recolour a terminal if printed raw.
EVIL = "evil\n::error::pwned\x1b[31m\u2028"


def _hostile_plan(path: Path, *, key: bytes | None = None, **change: Any) -> Path:
    """A plan file whose every untrusted text is hostile, with a valid digest (made with ``key``)."""
    from reconciler.plan import plan_digest

    create = {
        "action": "create",
        "kind": "InboundConnector",
        "name": EVIL,
        "fields": ["name", "comment"],
        "before": None,
        "after": {"name": EVIL, "comment": EVIL},
        "reason": EVIL,
    } | change
    delete = {
        "action": "delete",
        "kind": "OutboundConnector",
        "name": EVIL,
        "fields": [],
        "before": {"name": EVIL, "comment": EVIL},
        "after": None,
        "guid": "g",
        "fingerprint": "sha256:f",
        "reason": EVIL,
        "when_changed_utc": EVIL,
    }
    finding = {
        "rule": EVIL,
        "severity": "error",
        "kind": "InboundConnector",
        "name": EVIL,
        "message": EVIL,
        "reference": EVIL,
        "field": EVIL,
        "skipped_reason": None,
        "source": "live",
    }
    body: dict[str, Any] = {
        "format_version": 1,
        "exoform_version": EVIL,
        "tenants": [
            {
                "tenant": EVIL,
                "target": EVIL,
                "status": "planned",
                "error": None,
                "existing_count": 1,
                "targets": [EVIL],
                "unsafe_reasons": [EVIL],
                "changes": [create, delete],
                "unmanaged": [{"kind": "InboundConnector", "name": EVIL, "connector_source": EVIL}],
                "findings": [finding, finding | {"skipped_reason": EVIL, "source": "files"}],
            }
        ],
    }
    body["digest"] = plan_digest(body, key)
    path.write_text(json.dumps(body))
    return path


def _inert(output: str) -> None:
    """No control character (but newlines) and no line that a runner would read as a workflow command."""
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]", output), output
    assert not [line for line in output.splitlines() if line.lstrip().startswith("::")], output


def test_show_of_a_hostile_plan_prints_nothing_raw_in_any_format(tmp_path: Path) -> None:
    plan_file = _hostile_plan(tmp_path / "plan.json")
    for fmt in ("text", "markdown", "json"):
        result = CliRunner().invoke(cli, ["show", str(plan_file), "--format", fmt, "--no-color"])
        assert result.exit_code == 0, result.output
        _inert(result.stdout)
        assert "evil" in result.stdout
    as_json = CliRunner().invoke(cli, ["show", str(plan_file), "--format", "json"]).stdout
    assert json.loads(as_json)["tenants"][0]["tenant"] == EVIL  # escaped for the terminal, not changed
    check(json.loads(as_json), "plan.schema.json")


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"fields": ["name", "no_such_field"]}, "tenants.0.changes.0.fields.1"),
        ({"after": {"name": "x", "comment": "y", "bogus": 1}}, "tenants.0.changes.0.after.bogus"),
    ],
)
def test_show_of_a_change_with_an_unknown_field_is_a_located_error(
    tmp_path: Path, change: dict[str, Any], where: str
) -> None:
    plan_file = _hostile_plan(tmp_path / "plan.json", **change)
    for fmt in ("text", "markdown"):
        result = CliRunner().invoke(cli, ["show", str(plan_file), "--format", fmt])
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
        assert f"{plan_file}: not a valid exoform plan: {where}: " in result.stderr
        assert "is not a field of InboundConnector" in result.stderr and "Traceback" not in result.output


def test_show_verifies_a_keyed_plan_with_the_key_and_shows_it_unverified_without(tmp_path: Path) -> None:
    plan_file = _hostile_plan(tmp_path / "plan.json", key=b"s3cret")
    banner = "integrity not verified"
    keyed = CliRunner(env={"EXOFORM_PLAN_KEY": "s3cret"})
    verified = keyed.invoke(cli, ["show", str(plan_file)])
    assert verified.exit_code == 0, verified.output
    assert banner not in verified.output and "evil" in verified.stdout
    wrong = CliRunner(env={"EXOFORM_PLAN_KEY": "other"}).invoke(cli, ["show", str(plan_file)])
    assert wrong.exit_code == 1 and "integrity check mismatch" in wrong.stderr
    unkeyed = CliRunner(env={"EXOFORM_PLAN_KEY": ""})
    for fmt in ("text", "markdown", "json"):
        shown = unkeyed.invoke(cli, ["show", str(plan_file), "--format", fmt])
        assert shown.exit_code == 0, shown.output
        assert "error" not in shown.stderr and "evil" in shown.stdout
        assert banner in (shown.stderr if fmt == "json" else shown.stdout.splitlines()[0] + shown.stdout)
    text = unkeyed.invoke(cli, ["show", str(plan_file)]).stdout
    assert text.startswith(f"! {banner}")
    # An edit is still caught without the key only where a checksum can catch it: apply refuses the file.
    refused = unkeyed.invoke(cli, ["apply", str(plan_file), "--config", str(tmp_path / "none.yaml")])
    assert refused.exit_code == 1 and "which is not set here" in refused.stderr
