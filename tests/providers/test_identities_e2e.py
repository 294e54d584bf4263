"""Reads and writes sign in as different apps: ``auth`` for plan, drift, status and export, ``apply_auth``
for apply and ``status --validate``, end to end over the CLI against the emulator with two registered
apps, the read one holding only a read role (Global Reader)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.emulator.config import AppConfig, EmulatorConfig
from reconciler.emulator.config import TenantConfig as EmulatorTenant
from reconciler.emulator.store import load_seed
from tests.providers.conftest import TENANT, Rig

REPO = Path(__file__).resolve().parents[2]
READ_APP = "11111111-0000-0000-0000-00000000read"
WRITE_APP = "22222222-0000-0000-0000-0000000write"


def _apps() -> EmulatorConfig:
    return EmulatorConfig(
        apps=(
            AppConfig(client_id=READ_APP, client_secret="read-secret", read_only=True),
            AppConfig(client_id=WRITE_APP, client_secret="write-secret"),
        )
    )


def _rig(make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch) -> tuple[Rig, list[str]]:
    """A rig with both apps, and the client ids of its token requests, in order."""
    rig = make_rig(config=_apps(), seed=load_seed(REPO / "connectors" / "demo-seed.json"))
    identity = rig.server.emulator.identity
    asked: list[str] = []
    issue = identity.token

    def token(token_url: str, info: Any, form: dict[str, str]) -> dict[str, Any]:
        asked.append(form.get("client_id", ""))
        return issue(token_url, info, form)

    monkeypatch.setattr(identity, "token", token)
    monkeypatch.setenv("EXO_READ_CLIENT_ID", READ_APP)
    monkeypatch.setenv("EXO_READ_SECRET", "read-secret")
    monkeypatch.setenv("EXO_WRITE_SECRET", "write-secret")
    monkeypatch.setenv("EXO_CA_BUNDLE", str(rig.server.ca_path))
    return rig, asked


def _project(rig: Rig, root: Path, *, split: bool = True) -> Path:
    shutil.copytree(REPO / "connectors" / "demo", root / "connectors" / "demo")
    apply_auth = (
        f"    apply_auth:\n      client_id: {WRITE_APP}\n      client_secret: env:EXO_WRITE_SECRET\n"
        if split
        else ""
    )
    (root / "exoform.yaml").write_text(
        f"""tenants:
  demo:
    provider: exchange
    organization: {TENANT}
    connectors: connectors/demo
    endpoint: {rig.server.base_url}
    authority: {rig.server.authority(TENANT)}
    ca_bundle: env:EXO_CA_BUNDLE
    protect: ["Inbound from Contoso on-premises*"]
    auth:
      client_id: env:EXO_READ_CLIENT_ID
      client_secret: env:EXO_READ_SECRET
{apply_auth}"""
    )
    return root / "exoform.yaml"


def _run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--config", str(config)])


def test_reads_sign_in_with_auth_and_apply_with_apply_auth(
    make_rig: Callable[..., Rig], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig, asked = _rig(make_rig, monkeypatch)
    config = _project(rig, tmp_path)
    plan_file = tmp_path / "plan.json"
    for args in (
        ("plan", "--out", str(plan_file)),
        ("drift",),
        ("status",),
        ("export", "--tenant", "demo", "--out", str(tmp_path / "exported")),
    ):
        asked.clear()
        result = _run(config, *args)
        assert result.exit_code in (0, 2), (args, result.output)  # drift exits 2: the tenant drifted
        assert asked and set(asked) == {READ_APP}, args

    asked.clear()
    applied = _run(config, "apply", str(plan_file))
    assert applied.exit_code == 0, applied.output
    assert set(asked) == {WRITE_APP}
    assert any(rig.cmdlets().get(c) for c in ("New-InboundConnector", "New-OutboundConnector"))

    asked.clear()
    again = _run(config, "plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output  # applied: nothing left to change
    assert set(asked) == {READ_APP}


def test_status_validate_signs_in_with_the_write_identity(
    make_rig: Callable[..., Rig], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig, asked = _rig(make_rig, monkeypatch)
    config = _project(rig, tmp_path)
    outbound = rig.names("OutboundConnector")[0]
    result = _run(
        config, "status", "--tenant", "demo", "--validate", outbound, "--recipient", "postmaster@fabrikam.com"
    )
    assert rig.cmdlets().get("Validate-OutboundConnector") == 1, result.output
    assert set(asked) == {WRITE_APP}


def test_a_write_refused_for_the_role_names_the_identity_and_the_role(
    make_rig: Callable[..., Rig], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig, _ = _rig(make_rig, monkeypatch)
    config = _project(rig, tmp_path, split=False)  # apply falls back to auth: the read-only app
    result = _run(config, "apply", "--auto-approve")
    assert result.exit_code != 0
    assert f"auth (client id {READ_APP})" in result.output
    assert "Exchange Administrator" in result.output
    assert "read-secret" not in result.output


def test_an_unset_client_id_variable_is_named(
    make_rig: Callable[..., Rig], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig, asked = _rig(make_rig, monkeypatch)
    config = _project(rig, tmp_path)
    monkeypatch.delenv("EXO_READ_CLIENT_ID")
    result = _run(config, "plan")
    assert result.exit_code != 0
    assert "EXO_READ_CLIENT_ID is not set" in result.output
    assert asked == []
    checked = _run(config, "validate", "--check-env")
    assert checked.exit_code != 0
    assert "EXO_READ_CLIENT_ID" in checked.output


def test_a_fleet_tenant_that_has_not_consented_gets_its_own_consent_url(
    make_rig: Callable[..., Rig], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The MSP model: one multi-tenant read app for every tenant (from ``defaults:``), consented in contoso
    only.  fabrikam's plan fails with the admin-consent URL of fabrikam, for that app; contoso plans."""
    fabrikam = "fabrikam.onmicrosoft.com"
    emulator = EmulatorConfig(
        apps=(AppConfig(client_id=READ_APP, client_secret="read-secret", tenants=(TENANT,)),),
        tenants=(EmulatorTenant(name=TENANT), EmulatorTenant(name=fabrikam)),
    )
    rig = make_rig(config=emulator)
    monkeypatch.setenv("EXO_READ_SECRET", "read-secret")
    for name in ("contoso", "fabrikam"):
        (tmp_path / name).mkdir()
    (tmp_path / "exoform.yaml").write_text(
        f"""defaults:
  provider: exchange
  endpoint: {rig.server.base_url}
  ca_bundle: {rig.server.ca_path}
  auth: {{client_id: {READ_APP}, client_secret: env:EXO_READ_SECRET}}
tenants:
  contoso: {{connectors: contoso, organization: {TENANT}, authority: {rig.server.authority(TENANT)}}}
  fabrikam: {{connectors: fabrikam, organization: {fabrikam}, authority: {rig.server.authority(fabrikam)}}}
"""
    )
    result = _run(tmp_path / "exoform.yaml", "plan")
    assert result.exit_code == 1, result.output
    failed = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(failed) == 1 and "tenant fabrikam:" in failed[0] and "AADSTS7000229" in failed[0], (
        result.output
    )
    assert f"{rig.server.authority(fabrikam)}/adminconsent?client_id={READ_APP}" in failed[0]
    assert "read-secret" not in result.output
