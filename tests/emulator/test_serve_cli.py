"""``exoform emulator serve`` as a user runs it: prints where it listens, serves, stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import ssl
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from tests.serving import start_serve

pytestmark = pytest.mark.e2e  # real `exoform emulator serve` processes


def test_serve_prints_where_it_listens_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    process, printed = start_serve("--state", str(state), "--latency-ms", "1")
    try:
        base = printed["base"]
        assert base.startswith("https://127.0.0.1:")
        assert printed["authority"] == f"{base}/<tenant>"
        assert "client secret 'emulator'" in printed["auth"]
        with httpx.Client(
            base_url=base, verify=ssl.create_default_context(cafile=printed["CA bundle"])
        ) as client:
            token = client.post(
                "/contoso.onmicrosoft.com/oauth2/v2.0/token",
                data={"grant_type": "client_credentials", "client_id": "ci", "client_secret": "emulator",
                      "scope": "https://outlook.office365.com/.default"},
            ).json()["access_token"]  # fmt: skip
            params = {"Name": "From CI", "SenderDomains": ["a.com"]}
            body = {"CmdletInput": {"CmdletName": "New-InboundConnector", "Parameters": params}}
            response = client.post(
                "/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status_code == 200, response.text
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
    assert process.returncode == 0, output
    assert "Stopped after" in output
    assert [c["Name"] for c in json.loads(state.read_text())["InboundConnector"]] == ["From CI"]
    assert not Path(printed["CA bundle"]).exists()


def test_serve_older_service_refuses_mta_sts_mode() -> None:
    process, printed = start_serve("--older-service")
    try:
        assert printed["service"] == "older: no MtaStsMode, SmtpDaneMode"
        with httpx.Client(
            base_url=printed["base"], verify=ssl.create_default_context(cafile=printed["CA bundle"])
        ) as client:
            token = client.post(
                "/contoso.onmicrosoft.com/oauth2/v2.0/token",
                data={"grant_type": "client_credentials", "client_id": "ci", "client_secret": "emulator",
                      "scope": "https://outlook.office365.com/.default"},
            ).json()["access_token"]  # fmt: skip
            params = {"Name": "Out", "RecipientDomains": ["a.com"], "MtaStsMode": "None"}
            response = client.post(
                "/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand",
                json={"CmdletInput": {"CmdletName": "New-OutboundConnector", "Parameters": params}},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status_code == 400
            assert "AmbiguousParameterSetException" in response.text and "MtaStsMode" in response.text
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)


def test_serve_refuses_a_non_loopback_host() -> None:
    result = CliRunner().invoke(cli, ["emulator", "serve", "--host", "0.0.0.0"])
    assert result.exit_code == 1 and "loopback" in result.output


def test_serve_reports_a_bad_config_with_its_location(tmp_path: Path) -> None:
    config = tmp_path / "emulator.yaml"
    config.write_text("apps:\n  - client_id: a\n    colour: red\n")
    result = CliRunner().invoke(cli, ["emulator", "serve", "--config", str(config)])
    assert result.exit_code == 1
    assert f"{config}:3:5: error: apps.0.colour" in result.output


def test_serve_rejects_a_bad_fault_spec() -> None:
    result = CliRunner().invoke(cli, ["emulator", "serve", "--fault", "boom"])
    assert result.exit_code == 1 and "unknown fault kind 'boom'" in result.output


def test_config_file_registers_apps_tenants_and_faults(tmp_path: Path) -> None:
    from reconciler.emulator.config import load_config

    config_file = tmp_path / "emulator.yaml"
    config_file.write_text(
        "apps:\n"
        "  - client_id: 11111111-2222-3333-4444-555555555555\n"
        "    client_secret: ci-secret\n"
        "    federated:\n"
        "      - subject: repo:acme/mail:ref:refs/heads/main\n"
        "tenants:\n"
        "  - name: contoso.onmicrosoft.com\n"
        "    accepted_domains: [contoso.com]\n"
        "token_lifetime_seconds: 60\n"
        "faults:\n"
        "  latency_ms: 5\n"
        "  rules: ['429:count=1']\n"
    )
    config = load_config(config_file)
    assert not config.open and config.app("11111111-2222-3333-4444-555555555555") is not None
    assert config.tenants[0].accepted_domains == ("contoso.com",)
    assert config.token_lifetime_seconds == 60 and config.faults.rules == ("429:count=1",)
