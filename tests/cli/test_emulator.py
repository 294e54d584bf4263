"""``exoform emulator serve`` without the ``emulator`` extra: a clear message naming the install command."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.desired.config import ExoformConfig
from reconciler.providers.registry import open_provider


def test_serve_without_the_emulator_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "trustme", None)  # what a plain install looks like: no trustme
    result = CliRunner().invoke(cli, ["emulator", "serve", "--port", "0"])
    assert result.exit_code == 1, result.output
    assert "pip install 'exoform[emulator]'" in result.output
    assert "Traceback" not in result.output and "listening" not in result.output


def test_the_local_provider_needs_no_emulator_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A plain install plans local tenants: only the HTTPS server needs the certificate authority."""
    monkeypatch.setitem(sys.modules, "trustme", None)
    config = ExoformConfig.model_validate({"tenants": {"demo": {"connectors": "c"}}})
    config = config.model_copy(update={"base_dir": tmp_path})
    provider = open_provider("demo", config.tenants["demo"], config)
    try:
        assert provider.read().connectors == []
    finally:
        provider.close()
