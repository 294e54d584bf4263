"""A corpus of connector objects real tenants returned (tests/fixtures/README.md names each source).

Every object seeds a tenant on its own; ``exoform export`` writes it, ``exoform validate`` takes the file
and ``exoform plan`` shows zero changes -- through ``provider: local``, and through ``provider: exchange``
over TLS against the emulator playing the current service and an older one (no MtaStsMode/SmtpDaneMode).
The Microsoft365DSC mocks are synthetic and partly break the service's rules: for them the export must
either round-trip or say, per connector and field, why it cannot.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.emulator.config import EmulatorConfig
from tests.providers.conftest import TENANT, Rig
from tests.wiring import fake_time

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
KINDS = ("InboundConnector", "OutboundConnector")


def _objects(path: Path) -> Iterator[tuple[str, str, dict[str, Any]]]:
    document = json.loads(path.read_text())
    for kind in KINDS:
        for index, obj in enumerate(document.get(kind) or []):
            yield f"{path.stem}:{kind}:{index}", kind, obj


LIVE = [case for path in sorted((FIXTURES / "live").glob("*.json")) for case in _objects(path)]
MOCKS = list(_objects(FIXTURES / "m365dsc" / "test-mocks.json"))


def _as_tenant_holds_it(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The object as a seed.  A transcript that left ConnectorType out (Evotec's 2017 inbound) is completed
    with the only type its other values allow: CloudServicesMailEnabled true exists only on OnPremises
    connectors (docs/emulator.md, "Cmdlets and their rules").  A mock without a Name
    takes its Identity."""
    seeded = dict(obj)
    seeded.setdefault("Name", seeded.get("Identity"))
    if (
        kind == "InboundConnector"
        and "ConnectorType" not in seeded
        and seeded.get("CloudServicesMailEnabled")
    ):
        seeded["ConnectorType"] = "OnPremises"
    return seeded


class Project:
    """A repo with one tenant ``t`` whose live state is one seeded object."""

    def __init__(self, root: Path, tenant_yaml: str) -> None:
        self.root = root
        (root / "exoform.yaml").write_text(f"tenants:\n  t:\n    connectors: connectors\n{tenant_yaml}")

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, [*args, "--config", str(self.root / "exoform.yaml")], obj=fake_time())


Opener = Callable[[dict[str, Any]], Project]


@pytest.fixture(params=["local", "exchange", "exchange-older"])
def project_for(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    make_rig: Callable[..., Rig],
    monkeypatch: pytest.MonkeyPatch,
) -> Opener:
    """``project_for(seed)``: a project whose tenant starts from ``seed``, through either provider."""

    def local(seed: dict[str, Any]) -> Project:
        (tmp_path / "seed.json").write_text(json.dumps(seed))
        return Project(tmp_path, "    provider: local\n    state: state.json\n    seed: seed.json\n")

    def exchange(seed: dict[str, Any], service: str = "current") -> Project:
        rig = make_rig(seed=seed, config=EmulatorConfig(service=service))
        monkeypatch.setenv("EXO_SECRET", "emulator")
        return Project(
            tmp_path,
            f"    provider: exchange\n    organization: {TENANT}\n    endpoint: {rig.server.base_url}\n"
            f"    authority: {rig.server.authority(TENANT)}\n    ca_bundle: {rig.server.ca_path}\n"
            "    auth:\n      client_id: exoform-corpus\n      client_secret: env:EXO_SECRET\n",
        )

    if request.param == "exchange-older":
        return lambda seed: exchange(seed, "older")
    return local if request.param == "local" else exchange


def _file_errors(output: str) -> list[str]:
    """``validate``'s errors about the files themselves (posture findings, EXO-*, are judged elsewhere)."""
    return [line for line in output.splitlines() if ": error: " in line and not re.search(r"\bEXO-", line)]


@pytest.mark.parametrize(("case", "kind", "obj"), LIVE, ids=[case for case, _, _ in LIVE])
def test_real_objects_export_validate_and_plan_with_zero_changes(
    project_for: Opener, case: str, kind: str, obj: dict[str, Any]
) -> None:
    project = project_for({kind: [_as_tenant_holds_it(kind, obj)]})
    exported = project.run("export", "--tenant", "t")
    assert exported.exit_code == 0, exported.output
    assert "1 created" in exported.output and "warning" not in exported.output, exported.output
    validated = project.run("validate")
    assert _file_errors(validated.output) == [], validated.output
    plan = project.run("plan", "--detailed-exitcode", "--fail-on", "never")
    assert plan.exit_code == 0, plan.output
    assert "0 to create, 0 to update, 0 to delete." in plan.output


@pytest.mark.parametrize(("case", "kind", "obj"), MOCKS, ids=[case for case, _, _ in MOCKS])
def test_synthetic_mocks_round_trip_or_the_export_says_why(
    project_for: Opener, case: str, kind: str, obj: dict[str, Any]
) -> None:
    project = project_for({kind: [_as_tenant_holds_it(kind, obj)]})
    exported = project.run("export", "--tenant", "t")
    assert exported.exit_code == 0, exported.output
    if "warning" in exported.output:  # breaks the service's rules, or holds what no file can
        assert "note: " in exported.output, exported.output
        return
    validated = project.run("validate")
    assert _file_errors(validated.output) == [], validated.output
    plan = project.run("plan", "--detailed-exitcode", "--fail-on", "never")
    assert plan.exit_code == 0, plan.output


def test_the_corpus_holds_every_real_object() -> None:
    assert len(LIVE) == 6 and {kind for _, kind, _ in LIVE} == set(KINDS)
    assert len(MOCKS) == 5
