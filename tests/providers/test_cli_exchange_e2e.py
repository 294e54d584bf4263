"""``exoform plan`` and ``exoform apply`` unchanged against ``provider: exchange`` at the emulator over TLS.

The demo connectors are applied to a tenant seeded like the demo; with faults switched on the run still
converges: a second plan shows no changes and the tenant holds each connector exactly once.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.emulator.config import AppConfig, EmulatorConfig
from reconciler.emulator.faults import Faults
from reconciler.emulator.store import load_seed
from tests.providers.conftest import TENANT, Rig
from tests.wiring import fake_time

REPO = Path(__file__).resolve().parents[2]


def _project(rig: Rig, root: Path) -> Path:
    shutil.copytree(REPO / "connectors" / "demo", root / "connectors" / "demo")
    (root / "exoform.yaml").write_text(
        f"""tenants:
  demo:
    provider: exchange
    organization: {TENANT}
    connectors: connectors/demo
    endpoint: {rig.server.base_url}
    authority: {rig.server.authority(TENANT)}
    ca_bundle: {rig.server.ca_path}
    protect: ["Inbound from Contoso on-premises*"]
    auth:
      client_id: exoform-ci
      client_secret: env:EXO_SECRET
"""
    )
    return root / "exoform.yaml"


def _run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--no-color", "--config", str(config)], obj=fake_time())


FAULTS = (
    "drop_after_write:cmdlet=New-InboundConnector,count=1",
    "drop_after_write:cmdlet=Set-OutboundConnector,count=1",
    "429:count=2,retry_after=0.1",
)  # the CLI uses the default retry policy (1 s backoff): few faults here, every kind in the provider tests


@pytest.mark.parametrize("faulty", [False, True], ids=["clean", "faulty"])
def test_plan_apply_plan_converges(
    make_rig: Callable[..., Rig], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faulty: bool
) -> None:
    rig = make_rig(seed=load_seed(REPO / "connectors" / "demo-seed.json"), faults=Faults(seed=7))
    if faulty:
        for spec in FAULTS:
            rig.server.emulator.faults.add(spec)
    monkeypatch.setenv("EXO_SECRET", "emulator")
    config = _project(rig, tmp_path)

    first = _run(config, "plan")
    assert first.exit_code == 0, first.output
    assert "to create" in first.output
    applied = _run(config, "apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    again = _run(config, "plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    assert "No changes" in again.output

    for kind in ("InboundConnector", "OutboundConnector"):
        counts = Counter(o["Name"].casefold() for o in rig.stored(kind))
        assert all(n == 1 for n in counts.values()), counts
    assert "Legacy scanner relay" in rig.names("InboundConnector")  # unmanaged: reported, never deleted
    injected = rig.server.emulator.stats.snapshot()["faults"]
    assert bool(injected) == faulty and (not faulty or injected.get("drop_after_write") == 2)


def test_log_level_debug_shows_the_retries_and_no_secret(
    make_rig: Callable[..., Rig], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "Zq9~not-a-real-client-secret"
    rig = make_rig(
        seed=load_seed(REPO / "connectors" / "demo-seed.json"),
        config=EmulatorConfig(apps=(AppConfig(client_id="exoform-ci", client_secret=secret),)),
    )
    rig.server.emulator.faults.add("429:count=1,retry_after=0.05")
    monkeypatch.setenv("EXO_SECRET", secret)
    config = _project(rig, tmp_path)
    quiet = CliRunner().invoke(cli, ["plan", "--no-color", "--config", str(config)])
    assert quiet.exit_code == 0, quiet.output
    assert "retrying" not in quiet.stderr  # a retry that worked is not news by default
    rig.server.emulator.faults.add("429:count=1,retry_after=0.05")
    loud = CliRunner().invoke(cli, ["--log-level", "debug", "plan", "--no-color", "--config", str(config)])
    assert loud.exit_code == 0, loud.output
    assert "exoform: DEBUG: reconciler.providers.exchange: tenant demo: attempt 1 failed" in loud.stderr
    assert "retrying in" in loud.stderr
    assert "fetched a token" in loud.stderr
    assert secret not in loud.stderr
    assert "eyJ" not in loud.stderr  # nor a token (the emulator's are JWTs; msal's own lines mask them)
