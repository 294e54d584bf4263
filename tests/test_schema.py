"""JSON Schemas: committed files are current, name the Exchange parameters, and agree with the models."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.desired.connectors import connector_files
from reconciler.model import FIELDS
from reconciler.schema import CONFIG_FILE, CONNECTOR_FILE, rendered, stale_files
from reconciler.yamlio import AliasBudget, parse_file, to_python
from tests.schema_check import check

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "schemas"
HEADER = re.compile(r"^# yaml-language-server: \$schema=(?P<path>\S+)$")


def test_committed_schemas_are_current() -> None:
    stale = stale_files(SCHEMAS)
    assert stale == [], "schemas/ is out of date: run `make schema` (exoform schema) and commit the result"


def test_schema_command_writes_and_checks(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "s"
    assert runner.invoke(cli, ["schema", "--out", str(out), "--check"]).exit_code == 1
    result = runner.invoke(cli, ["schema", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == set(rendered())
    assert {
        CONNECTOR_FILE,
        CONFIG_FILE,
        "plan.schema.json",
        "drift.schema.json",
        "status.schema.json",
    } == set(rendered())
    assert (out / CONNECTOR_FILE).read_text() == rendered()[CONNECTOR_FILE]
    assert runner.invoke(cli, ["schema", "--out", str(out), "--check"]).exit_code == 0


def test_a_folder_name_with_a_control_character_is_printed_escaped(tmp_path: Path) -> None:
    out = tmp_path / "s\x1b[2Jcleared"
    runner = CliRunner()
    for args in (["--check"], []):
        result = runner.invoke(cli, ["schema", "--out", str(out), *args])
        assert "\x1b" not in result.output and "s\\x1b[2Jcleared" in result.output


def test_a_folder_that_cannot_be_made_is_an_error_naming_it_never_a_traceback(tmp_path: Path) -> None:
    """Any command: a file or folder the user named that cannot be written is one located error line."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = CliRunner().invoke(cli, ["schema", "--out", str(blocker / "schemas")])
    assert result.exit_code == 1
    assert result.stderr == f"error: {blocker / 'schemas'}: Not a directory\n"
    assert isinstance(result.exception, SystemExit)


def _connector_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / CONNECTOR_FILE).read_text())
    return schema


def test_every_field_names_its_exchange_parameter() -> None:
    definitions = _connector_schema()["$defs"]
    for kind, specs in FIELDS.items():
        properties = definitions[kind]["properties"]
        assert "kind" in definitions[kind]["required"]
        for name, spec in specs.items():
            assert properties[name]["x-exchange-parameter"] == spec.parameter
            assert properties[name]["description"].startswith(f"{spec.parameter}:"), name


def _documents(path: Path) -> list[Any]:
    documents, problems = parse_file(path)
    assert problems == []
    budget = AliasBudget(str(path))
    return [to_python(d.root, budget) for d in documents if d.root is not None]


@pytest.mark.parametrize("path", connector_files(REPO / "connectors" / "demo"), ids=lambda p: p.name)
def test_demo_files_validate_against_the_schema_and_name_it(path: Path) -> None:
    text = path.read_text()
    for document in _documents(path):
        check(document, CONNECTOR_FILE)
    first = HEADER.match(text.splitlines()[0])
    assert first, f"{path.name} must start with the yaml-language-server line"
    assert (path.parent / first.group("path")).resolve() == SCHEMAS / CONNECTOR_FILE


@pytest.mark.parametrize(
    "path", connector_files(REPO / "connectors" / "fleet"), ids=lambda p: p.relative_to(REPO).as_posix()
)
def test_fleet_files_with_variables_and_overrides_validate_against_the_schema(path: Path) -> None:
    for document in _documents(path):
        check(document, CONNECTOR_FILE)
    first = HEADER.match(path.read_text().splitlines()[0])
    assert first and (path.parent / first.group("path")).resolve() == SCHEMAS / CONNECTOR_FILE


def test_a_reference_is_accepted_for_every_field_but_not_a_wrong_literal() -> None:
    base = {"kind": "InboundConnector", "name": "x", "connector_type": "Partner", "sender_domains": ["*"]}
    check(base | {"sender_ip_addresses": "${vars.ips}", "enabled": "${vars.on}"}, CONNECTOR_FILE)
    with pytest.raises(jsonschema.ValidationError):
        check(base | {"enabled": "${vars.on} and more"}, CONNECTOR_FILE)
    with pytest.raises(jsonschema.ValidationError):
        check({"kind": "Override", "target": {"kind": "Inbound", "name": "x"}}, CONNECTOR_FILE)


def test_demo_config_validates_against_the_schema() -> None:
    path = REPO / "exoform.yaml"
    (document,) = _documents(path)
    check(document, CONFIG_FILE)
    first = HEADER.match(path.read_text().splitlines()[0])
    assert first and (REPO / first.group("path")).resolve() == SCHEMAS / CONFIG_FILE


@pytest.mark.parametrize(
    "document",
    [
        {
            "kind": "InboundConnector",
            "name": "x",
            "connector_type": "Partner",
            "sender_domains": ["a.com"],
            "x": 1,
        },
        {"kind": "OutboundConnector", "name": "x", "connector_type": "Partner", "sender_domains": ["a.com"]},
        {"kind": "InboundConnector", "name": "x", "connector_type": "Partnr", "sender_domains": ["a.com"]},
        {"name": "x", "connector_type": "Partner", "sender_domains": ["a.com"]},
        {
            "kind": "InboundConnector",
            "name": "x" * 65,
            "connector_type": "Partner",
            "sender_domains": ["a.com"],
        },
    ],
)
def test_schema_rejects_what_the_models_reject(document: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        check(document, CONNECTOR_FILE)


# ------------------------------------------------------------- report schemas, from their one definition


def _every_kind_of_plan() -> Any:
    from reconciler.plan import Change, Plan, TenantPlan, Unmanaged
    from reconciler.posture.findings import Finding

    changes = [
        Change(
            "create", "InboundConnector", "new", ["name", "enabled"], None, {"name": "new", "enabled": True}
        ),
        Change(
            "update",
            "OutboundConnector",
            "hosts",
            ["smart_hosts", "enabled", "comment"],
            {"name": "hosts", "smart_hosts": ["a"], "enabled": True, "comment": None},
            {"name": "hosts", "smart_hosts": ["b"], "enabled": False, "comment": "c"},
            previous_name="old",
            guid="g",
            fingerprint="sha256:1",
            when_changed_utc="2026-01-01T00:00:00Z",
        ),
        Change(
            "delete",
            "InboundConnector",
            "gone",
            [],
            {"name": "gone"},
            None,
            guid="g2",
            fingerprint="sha256:2",
        ),
    ]
    findings = [
        Finding("EXO-1", "error", "InboundConnector", "new", "m", field="enabled"),
        Finding("EXO-2", "warning", None, None, "m", skipped_reason="accepted", source="live"),
        Finding("EXO-3", "info", "OutboundConnector", "hosts", "m", source="live"),
    ]
    planned = TenantPlan(
        "t",
        "local:t",
        changes,
        [Unmanaged("InboundConnector", "legacy")],
        findings,
        ["too many"],
        4,
        ["InboundConnector/*"],
    )
    return Plan([planned, TenantPlan.failed_with("bad", "local:bad", "boom\nsecond line")])


def test_every_report_the_tool_emits_matches_its_published_schema() -> None:
    from reconciler.live import LiveConnector, LiveState
    from reconciler.model import from_live
    from reconciler.render.drift import drift_json
    from reconciler.render.status import status_document
    from reconciler.workflow import TenantOutcome

    plan = _every_kind_of_plan()
    data = plan.to_json()
    check(data, "plan.schema.json")
    check(data | {"digest": "sha256:0"}, "plan.schema.json")
    for fail_on in ("error", "info", "never"):
        check(drift_json(plan, fail_on=fail_on), "drift.schema.json")
    obj = {"Name": "hosts", "ConnectorType": "Partner", "SmartHosts": ["a"], "IsValidated": True}
    live = LiveConnector("OutboundConnector", "hosts", "g", from_live("OutboundConnector", obj), obj)
    outcomes = [
        TenantOutcome("t", plan=plan.tenants[0], live=LiveState("t", [live])),
        TenantOutcome("bad", error="boom"),
    ]
    status = status_document(outcomes, []).model_dump(mode="json")
    assert status["risks"] and status["errors"] and status["connectors"]
    check(status, "status.schema.json")


@pytest.mark.parametrize("name", ["plan.schema.json", "drift.schema.json", "status.schema.json"])
def test_report_schemas_are_closed_and_name_their_format_version(name: str) -> None:
    from reconciler.render.drift import drift_json
    from reconciler.render.status import StatusDocument

    plan = _every_kind_of_plan()
    document = {
        "plan.schema.json": plan.to_json(),
        "drift.schema.json": drift_json(plan),
        "status.schema.json": StatusDocument(connectors=[], risks=[], tenants=[], errors=[]).model_dump(),
    }[name]
    check(document, name)
    with pytest.raises(jsonschema.ValidationError):
        check(document | {"unexpected": 1}, name)
    with pytest.raises(jsonschema.ValidationError):
        check(document | {"format_version": 2}, name)
    with pytest.raises(jsonschema.ValidationError):
        check({k: v for k, v in document.items() if k != "tenants"}, name)
