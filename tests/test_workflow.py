"""Planning many tenants: outcomes in order, one tenant's failed sign-in stops only that tenant, and
sign-ins run ahead of the reads within a bounded number of open providers."""

from __future__ import annotations

import itertools
import json
import socket
import threading
from pathlib import Path

import pytest

from reconciler.desired.config import ExoformConfig, TenantConfig
from reconciler.desired.connectors import load_all
from reconciler.providers.base import BaseProvider
from reconciler.providers.registry import open_provider
from reconciler.providers.session import Session
from reconciler.workflow import plan_of, plan_tenants, posture_findings
from tests.providers.fake import FakeClock

RELAY = (
    "kind: InboundConnector\nname: Printer relay\nconnector_type: OnPremises\n"
    "sender_domains: ['*']\nsender_ip_addresses: [192.0.2.10]\n"
)
SEED = {"InboundConnector": [{"Name": "Legacy", "ConnectorType": "Partner", "SenderDomains": ["a.example"]}]}


def _closed_port() -> int:
    """A loopback port nobody listens on (connections to it are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _repo(root: Path, names: list[str], unreachable: str | None = None) -> Path:
    (root / "seed.json").write_text(json.dumps(SEED))
    lines = ["tenants:"]
    for name in names:
        folder = root / "connectors" / name
        folder.mkdir(parents=True)
        (folder / "relay.yaml").write_text(RELAY)
        lines += [f"  {name}:", f"    connectors: connectors/{name}"]
        if name == unreachable:
            port = _closed_port()
            lines += [
                "    provider: exchange",
                f"    organization: {name}.onmicrosoft.com",
                f"    endpoint: https://127.0.0.1:{port}",
                f"    authority: https://127.0.0.1:{port}/{name}.onmicrosoft.com",
                "    auth:",
                "      client_id: exoform-tests",
                "      client_secret: env:EXOFORM_WORKFLOW_SECRET",
            ]
        else:
            lines += ["    provider: local", f"    state: state/{name}.json", "    seed: seed.json"]
    path = root / "exoform.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


class Recorder:
    """Opens the real providers on one session with a fake clock (retries wait no real time) and notes, in
    order, each sign-in, read and close (and how many are open)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.events: list[tuple[str, str]] = []
        self.open = 0
        self.most_open = 0
        self.lock = threading.Lock()

    def note(self, event: str, tenant: str, change: int = 0) -> None:
        with self.lock:
            self.events.append((event, tenant))
            self.open += change
            self.most_open = max(self.most_open, self.open)

    def opener(self, tenant: str, settings: TenantConfig, config: ExoformConfig) -> BaseProvider:
        provider = open_provider(tenant, settings, config, session=self.session)
        recorder = self
        self.note("open", tenant, +1)

        class Noted:
            def __getattr__(self, name: str) -> object:
                return getattr(provider, name)

            def sign_in(self) -> None:
                provider.sign_in()
                recorder.note("signed in", tenant)

            def read(self) -> object:
                recorder.note("read", tenant)
                return provider.read()

            def close(self) -> None:
                provider.close()
                recorder.note("closed", tenant, -1)

        return Noted()  # type: ignore[return-value]


def test_outcomes_in_order_and_a_failed_sign_in_stops_only_its_tenant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXOFORM_WORKFLOW_SECRET", "not-a-real-secret")
    names = [f"cust-{i}" for i in range(6)]
    config, desired = load_all(_repo(tmp_path, names, unreachable="cust-2"))
    clock = FakeClock()
    with Session(clock=clock, sleep=clock.sleep) as session:
        recorder = Recorder(session)
        outcomes = plan_tenants(config, desired, parallelism=2, opener=recorder.opener)
    assert clock.slept  # the unreachable tenant's sign-in was retried, in fake time
    assert [o.tenant for o in outcomes] == names
    failed = outcomes[2]
    assert failed.plan is None and failed.error is not None
    assert "cannot reach the authority" in failed.error and "not-a-real-secret" not in failed.error
    for outcome in outcomes[:2] + outcomes[3:]:
        assert outcome.error is None and outcome.plan is not None
        assert [(c.action, c.name) for c in outcome.plan.changes] == [("create", "Printer relay")]
    assert recorder.open == 0  # every provider closed, the failed one too
    assert ("read", "cust-2") not in recorder.events
    plan = plan_of(outcomes)  # the plan names every tenant, the failed one with its error and target
    assert [t.tenant for t in plan.tenants] == names
    assert [t.tenant for t in plan.failed] == ["cust-2"]
    assert plan.tenants[2].error == failed.error
    assert plan.tenants[2].target.startswith("exchange:commercial:https://127.0.0.1:")
    assert plan.tenants[2].target.endswith(":cust-2.onmicrosoft.com")


def test_posture_runs_on_live_connectors_without_repeating_the_files(tmp_path: Path) -> None:
    _repo(tmp_path, ["t"])
    (tmp_path / "connectors" / "t" / "relay.yaml").write_text(RELAY + "treat_messages_as_internal: true\n")
    relay = {
        "Name": "Printer relay",
        "ConnectorType": "OnPremises",
        "SenderDomains": ["smtp:*;1"],
        "SenderIPAddresses": ["192.0.2.10"],
        "TreatMessagesAsInternal": True,
    }
    # made in the admin center: a Partner connector for any domain, open to any server
    open_partner = {
        "Name": "Legacy",
        "ConnectorType": "Partner",
        "SenderDomains": ["smtp:*;1"],
        "RequireTls": False,
    }
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "t.json").write_text(json.dumps({"InboundConnector": [relay, open_partner]}))
    config, desired = load_all(tmp_path / "exoform.yaml")
    (outcome,) = plan_tenants(config, desired)
    assert outcome.plan is not None and outcome.plan.changes == []
    files = [f for f in outcome.plan.findings if f.source == "files"]
    live = [f for f in outcome.plan.findings if f.source == "live"]
    assert files == posture_findings(desired[0]) and [f.rule for f in files] == ["EXO-IN-004"]
    # the relay's live finding is the files' one: shown once; the open partner is a risk only live
    assert {(f.rule, f.name) for f in live} == {("EXO-IN-001", "Legacy"), ("EXO-IN-002", "Legacy")}


def test_sign_ins_run_ahead_of_reads_with_a_bounded_number_of_open_providers(tmp_path: Path) -> None:
    names = [f"cust-{i}" for i in range(8)]
    config, desired = load_all(_repo(tmp_path, names))
    with Session() as session:
        recorder = Recorder(session)
        outcomes = plan_tenants(config, desired, parallelism=1, opener=recorder.opener)
    assert all(o.plan is not None for o in outcomes)
    assert recorder.most_open <= 2  # 2 x parallelism
    events = recorder.events
    for name in names:
        assert events.index(("signed in", name)) < events.index(("read", name))
    # With one tenant read at a time, the next tenant signs in before the current one is done.
    ahead = [
        name
        for current, name in itertools.pairwise(names)
        if events.index(("signed in", name)) < events.index(("closed", current))
    ]
    assert ahead, events


def test_outcomes_keep_the_live_state_only_when_asked_even_when_the_plan_is_refused(tmp_path: Path) -> None:
    from reconciler.workflow import RunScope

    config_path = _repo(tmp_path, ["a"])
    config_path.write_text(config_path.read_text() + "    protect: [Legacy]\n")
    gone = "kind: InboundConnector\nname: Legacy\nabsent: true\n"
    (tmp_path / "connectors" / "a" / "legacy.yaml").write_text(gone)  # deletes the protected Legacy: refused
    config, desired = load_all(config_path)
    [kept] = plan_tenants(config, desired)
    assert kept.error and "protected" in kept.error
    assert kept.live is not None and [c.name for c in kept.live.connectors] == ["Legacy"]  # status shows it
    [dropped] = plan_tenants(config, desired, scope=RunScope(keep_live=False))
    assert dropped.live is None


class Sessions:
    """A session factory in fake time that notes each session it made and each one closed."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.made: list[Session] = []
        self.closed: list[Session] = []

    def __call__(self) -> Session:
        sessions = self

        class Noted(Session):
            def close(self) -> None:
                super().close()
                sessions.closed.append(self)

        session = Noted(clock=self.clock, sleep=self.clock.sleep)
        self.made.append(session)
        return session


def test_a_corrupt_local_state_fails_its_tenant_at_once_never_retried(tmp_path: Path) -> None:
    config_path = _repo(tmp_path, ["good", "bad"])
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "bad.json").write_text('{"InboundConnector": [')  # truncated: stays corrupt
    config, desired = load_all(config_path)
    sessions = Sessions()
    good, bad = plan_tenants(config, desired, new_session=sessions)
    assert good.error is None and good.plan is not None
    assert bad.error is not None and "bad.json:1:" in bad.error and "invalid JSON" in bad.error
    assert sessions.clock.slept == []  # no backoff: retrying cannot mend the file
    assert sessions.made == sessions.closed and len(sessions.made) == 1  # the run's one session, closed


def test_export_and_status_validate_run_on_the_injected_session_and_close_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from reconciler.cli import cli
    from reconciler.cli.common import Wiring

    outbound = {"Name": "To filter", "ConnectorType": "Partner", "RecipientDomains": ["*"]}
    outbound |= {"UseMXRecord": False, "SmartHosts": ["smtp.filter.example.net"]}
    config = _repo(tmp_path, ["t"])
    (tmp_path / "seed.json").write_text(json.dumps({**SEED, "OutboundConnector": [outbound]}))
    monkeypatch.chdir(tmp_path)
    sessions = Sessions()

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, [*args, "--config", str(config)], obj=Wiring(new_session=sessions))
        assert result.exit_code == 0, result.output
        return result.output

    assert "Exported 2 connector(s) of t" in run("export", "--tenant", "t", "--out", "adopted")
    assert (tmp_path / "adopted").is_dir()
    assert len(sessions.made) == 1 and sessions.closed == sessions.made

    validated = run("status", "--tenant", "t", "--validate", "to filter", "--recipient", "a@contoso.com")
    assert 'Validate-OutboundConnector "To filter" in t' in validated
    assert len(sessions.made) == 2 and sessions.closed == sessions.made


def test_validate_names_a_missing_connector_with_a_hint(tmp_path: Path) -> None:
    from reconciler.errors import ConfigError
    from reconciler.workflow import validate_outbound

    outbound = {"Name": "To filter", "ConnectorType": "Partner", "RecipientDomains": ["*"]}
    config_path = _repo(tmp_path, ["t"])
    (tmp_path / "seed.json").write_text(json.dumps({"OutboundConnector": [outbound]}))
    config, _ = load_all(config_path)
    sessions = Sessions()
    with pytest.raises(ConfigError, match=r"tenant t has no outbound connector 'To filtr'.*To filter"):
        validate_outbound(config, "t", "To filtr", ["a@contoso.com"], new_session=sessions)
    assert sessions.closed == sessions.made and len(sessions.made) == 1
