"""``traffic: true`` over TLS: the PR comment of a plan deleting a used connector says it is in use, every
plan format carries the finding, and status and drift list the connectors without mail (never as drift)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.emulator.app import Emulator
from reconciler.emulator.faults import Faults
from reconciler.emulator.store import MemoryStores
from reconciler.emulator.trace import MessageLog
from tests.monitor.conftest import SEED, seed_traffic
from tests.providers.conftest import TENANT, Rig, make_rig  # noqa: F401  (fixtures)
from tests.wiring import fake_time


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXO_SECRET", "emulator")


def _project(
    make_rig: Callable[..., Rig],  # noqa: F811
    root: Path,
    files: dict[str, str],
    traffic: bool = True,
    extra: str = "",
) -> Rig:
    log = MessageLog()
    seed_traffic(log, filtered=12, now=datetime.now(UTC))
    rig = make_rig(emulator=Emulator(stores=MemoryStores(SEED), messages=log, faults=Faults()))
    (root / "connectors").mkdir()
    for name, text in files.items():
        (root / "connectors" / name).write_text(text)
    (root / "exoform.yaml").write_text(
        f"""tenants:
  contoso:
    provider: exchange
    organization: {TENANT}
    connectors: connectors
    endpoint: {rig.server.base_url}
    authority: {rig.server.authority(TENANT)}
    ca_bundle: {rig.server.ca_path}
    auth: {{client_id: exoform-ci, client_secret: env:EXO_SECRET}}
    traffic: {"true" if traffic else "false"}
    traffic_window: 2d
{extra}"""
    )
    return rig


def _run(root: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli, [*args, "--config", str(root / "exoform.yaml"), "--no-color"], obj=fake_time()
    )


def _trace_requests(rig: Rig) -> int:
    cmdlets = rig.cmdlets()
    return cmdlets.get("Get-MessageTraceV2", 0) + cmdlets.get("Get-MessageTraceDetailV2", 0)


DELETE_FILTER = {"filter.yaml": "kind: InboundConnector\nname: From Mail Filter\nabsent: true\n"}


def test_the_pr_comment_of_a_plan_deleting_a_used_connector_says_it_is_in_use(
    make_rig: Callable[..., Rig],  # noqa: F811
    tmp_path: Path,
) -> None:
    rig = _project(make_rig, tmp_path, DELETE_FILTER)
    result = _run(tmp_path, "plan", "--format", "markdown")
    assert result.exit_code == 0, result.output
    (row,) = [line for line in result.output.splitlines() if "EXO-USE-001" in line]
    assert "From Mail Filter" in row and "warning" in row
    assert "in use: 12 message(s) in the last 48 h, last at" in row
    assert 0 < _trace_requests(rig) <= 60


def test_every_plan_format_carries_the_finding(make_rig: Callable[..., Rig], tmp_path: Path) -> None:  # noqa: F811
    _project(make_rig, tmp_path, DELETE_FILTER)
    text = _run(tmp_path, "plan")
    assert text.exit_code == 0, text.output
    assert 'EXO-USE-001 InboundConnector "From Mail Filter": The change deletes it' in text.output
    data = json.loads(_run(tmp_path, "plan", "--format", "json").output)
    (finding,) = [f for t in data["tenants"] for f in t["findings"] if f["rule"] == "EXO-USE-001"]
    assert finding["source"] == "traffic" and "in use: 12" in finding["message"]
    sarif = json.loads(_run(tmp_path, "plan", "--format", "sarif").output)
    results = [r for run in sarif["runs"] for r in run["results"] if r["ruleId"] == "EXO-USE-001"]
    assert len(results) == 1 and "in use: 12" in results[0]["message"]["text"]


def test_without_traffic_true_the_plan_sends_no_trace_request(
    make_rig: Callable[..., Rig],  # noqa: F811
    tmp_path: Path,
) -> None:
    rig = _project(make_rig, tmp_path, DELETE_FILTER, traffic=False)
    result = _run(tmp_path, "plan", "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert "EXO-USE" not in result.output
    assert _trace_requests(rig) == 0


def test_status_lists_the_connectors_without_mail(make_rig: Callable[..., Rig], tmp_path: Path) -> None:  # noqa: F811
    rig = _project(make_rig, tmp_path, {})
    result = _run(tmp_path, "status")
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.output.splitlines() if "EXO-USE-002" in line]
    assert 'InboundConnector "From Scanner" (traffic)' in line and "attack surface" in line
    data = json.loads(_run(tmp_path, "status", "--format", "json").output)
    assert [(r["rule"], r["name"]) for r in data["risks"] if r["source"] == "traffic"] == [
        ("EXO-USE-002", "From Scanner")
    ]
    assert 0 < _trace_requests(rig) <= 2 * 60  # two runs, each within its budget


def test_drift_lists_them_but_they_are_not_drift(make_rig: Callable[..., Rig], tmp_path: Path) -> None:  # noqa: F811
    # The seeded connectors' own risks switched off: the only finding left is the traffic one.
    skips = "    skip_checks: [{rule: EXO-IN-005, reason: t}, {rule: EXO-OUT-001, reason: t}]\n"
    _project(make_rig, tmp_path, {}, extra=skips)
    result = _run(tmp_path, "drift", "--fail-on", "info")
    assert result.exit_code == 0, result.output
    assert "EXO-USE-002" in result.output and "From Scanner" in result.output
    markdown = _run(tmp_path, "drift", "--format", "markdown")
    assert markdown.exit_code == 0 and "#### Traffic (not drift)" in markdown.output
    data = json.loads(_run(tmp_path, "drift", "--format", "json").output)
    (tenant,) = data["tenants"]
    assert tenant["drift"] is False and [f["name"] for f in tenant["traffic"]] == ["From Scanner"]


def test_a_throttled_trace_shows_unknown_never_unused(make_rig: Callable[..., Rig], tmp_path: Path) -> None:  # noqa: F811
    rig = _project(make_rig, tmp_path, DELETE_FILTER)
    rig.server.emulator.faults.add("429:cmdlet=Get-MessageTraceV2,retry_after=600")
    result = _run(tmp_path, "plan", "--format", "markdown")
    assert result.exit_code == 0, result.output
    (row,) = [line for line in result.output.splitlines() if "EXO-USE-001" in line]
    assert "unknown" in row and "no traffic" not in row
    status = _run(tmp_path, "status")
    assert status.exit_code == 0, status.output
    assert "could not be read" in status.output and "From Scanner" not in status.output.split("Risks")[-1]
