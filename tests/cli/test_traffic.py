"""``exoform traffic`` against ``provider: exchange`` at the emulator over TLS: formats and exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.emulator.app import Emulator
from reconciler.emulator.faults import Faults
from reconciler.emulator.store import MemoryStores
from reconciler.emulator.trace import MessageLog, send_through
from tests.monitor.conftest import SEED
from tests.providers.conftest import TENANT, Rig, make_rig  # noqa: F401  (fixtures)


def _rig(make_rig: Callable[..., Rig], messages: int) -> Rig:  # noqa: F811
    log = MessageLog()
    now = datetime.now(UTC)
    for i in range(messages):
        send_through(
            log,
            TENANT,
            sender=f"u{i}@woodgrove.example",
            recipients=["ann@contoso.onmicrosoft.com"],
            received=now - timedelta(hours=i + 1),
            inbound="From Mail Filter",
            from_ip="198.51.100.25",
        )
    return make_rig(emulator=Emulator(stores=MemoryStores(SEED), messages=log, faults=Faults()))


def _run(rig: Rig, root: Path, *args: str) -> Result:
    config = root / "exoform.yaml"
    config.write_text(
        f"""tenants:
  contoso:
    provider: exchange
    organization: {TENANT}
    connectors: connectors
    endpoint: {rig.server.base_url}
    authority: {rig.server.authority(TENANT)}
    ca_bundle: {rig.server.ca_path}
    auth: {{client_id: exoform-ci, client_secret: env:EXO_SECRET}}
"""
    )
    return CliRunner().invoke(cli, ["traffic", "--config", str(config), "--no-color", *args])


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXO_SECRET", "emulator")


def test_json_counts_each_connector_and_exits_0(make_rig: Callable[..., Rig], tmp_path: Path) -> None:  # noqa: F811
    rig = _rig(make_rig, 12)
    result = _run(rig, tmp_path, "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    (tenant,) = report["tenants"]
    assert tenant["status"] == "complete" and not report["failed"]
    figures = {c["name"]: (c["messages"], c["method"]) for c in tenant["connectors"]}
    assert figures == {
        "From Mail Filter": (12, "observed"),
        "From Scanner": (0, "observed"),
        "To Partner": (0, "observed"),
    }
    assert tenant["requests"] <= tenant["budget"] == 60


def test_target_and_text_output(make_rig: Callable[..., Rig], tmp_path: Path) -> None:  # noqa: F811
    rig = _rig(make_rig, 3)
    result = _run(rig, tmp_path, "--target", "InboundConnector/From Mail*", "--since", "7d")
    assert result.exit_code == 0, result.output
    assert "From Mail Filter" in result.output and "To Partner" not in result.output
    assert "in the last 7 days" in result.output and "woodgrove.example (3)" in result.output


def test_a_throttled_trace_is_unknown_in_every_format_and_exits_1(
    make_rig: Callable[..., Rig],  # noqa: F811
    tmp_path: Path,
) -> None:
    rig = _rig(make_rig, 3)
    for _ in range(100):
        rig.server.emulator.trace.admit(TENANT)  # another tool spent the 5-minute window
    text = _run(rig, tmp_path)
    assert text.exit_code == 1
    assert "FAILED" in text.output and "unknown" in text.output and " 0 " not in text.output
    markdown = _run(rig, tmp_path, "--format", "markdown")
    assert markdown.exit_code == 1 and "[!CAUTION]" in markdown.output and "**unknown**" in markdown.output
    data = json.loads(_run(rig, tmp_path, "--format", "json").stdout)
    assert data["failed"] and all(c["messages"] is None for c in data["tenants"][0]["connectors"])


def test_a_window_longer_than_90_days_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "exoform.yaml").write_text("tenants: {}\n")
    result = CliRunner().invoke(
        cli, ["traffic", "--config", str(tmp_path / "exoform.yaml"), "--since", "91d"]
    )
    assert result.exit_code == 1 and "90 days" in result.output
