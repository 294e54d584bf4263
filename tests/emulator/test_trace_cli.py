"""``exoform emulator mail``: messages through a connector appended to a message seed file."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.emulator.app import Emulator
from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.trace import INBOUND_KEY, OUTBOUND_KEY, load_messages


def test_mail_appends_rows_with_the_connector_events(tmp_path: Path, exo_for: object) -> None:
    seed = tmp_path / "traffic.json"
    first = CliRunner().invoke(
        cli,
        [
            "emulator",
            "mail",
            str(seed),
            "--through",
            "InboundConnector/From Filter",
            "--sender",
            "b@woodgrove.example",
            "--recipient",
            "ann@contoso.com",
            "--recipient",
            "joe@contoso.com",
            "--from-ip",
            "198.51.100.7",
            "--count",
            "3",
        ],
    )
    assert first.exit_code == 0, first.output
    second = CliRunner().invoke(
        cli,
        [
            "emulator",
            "mail",
            str(seed),
            "--through",
            "OutboundConnector/To Partner",
            "--sender",
            "ann@contoso.com",
            "--recipient",
            "buyer@fabrikam.com",
        ],
    )
    assert second.exit_code == 0, second.output
    messages = load_messages(seed)
    assert len(messages) == 7
    assert sum(INBOUND_KEY + "From Filter" in e["Data"] for m in messages for e in m.events) == 6
    assert sum(OUTBOUND_KEY + "To Partner" in e["Data"] for m in messages for e in m.events) == 1
    exo = exo_for(Emulator(config=EmulatorConfig(messages=str(seed))))  # type: ignore[operator]
    assert len(exo.ok("Get-MessageTraceV2")) == 7


def test_mail_refuses_a_connector_that_is_not_kind_slash_name(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "emulator",
            "mail",
            str(tmp_path / "t.json"),
            "--through",
            "From Filter",
            "--sender",
            "a@b.c",
            "--recipient",
            "d@e.f",
        ],
    )
    assert result.exit_code == 1 and "InboundConnector/NAME" in result.output
    assert not (tmp_path / "t.json").exists()
