"""The fault matrix: plan and apply against the emulator over TLS while the service misbehaves.

The tenant (``provider: exchange`` at the emulator: endpoint, authority and ca_bundle pointing at it;
pages of 2 objects so every listing has several pages) starts with 8 connectors; the files ask for 3
creates, 2 updates, 1 rename and 1 delete and leave 5 connectors alone.  Each scenario switches faults on
during the plan or during the apply (or both, for the random mixes), then checks:

- the run reached the planned result, or stopped with a clear error (an :class:`ExoformError` message:
  no traceback, no Python repr) -- anything else raised fails the test;
- a plan made under faults is exactly the plan made without them (its JSON, to the last value: when only
  the plan met faults, that is the whole check);
- afterwards the tenant holds what it held before plus the changes reported applied (a change reported
  failed with "the outcome is unknown" may be either), no name is doubled, and every connector the plan
  does not name is unchanged down to WhenChanged;
- a fresh plan without faults shows exactly the changes not applied, and applying it converges.

Every fault kind of :mod:`reconciler.emulator.faults` is covered (a test fails when the emulator gains one
that the matrix lacks), plus added latency, the per-tenant concurrency cap and tokens expiring.

The provider's retry policy cannot be set from exoform.yaml or the environment, so the scenarios open
the real Exchange provider through the workflow's ``opener`` with a fast :class:`RetryPolicy` (the same
code path, shorter waits).  Two scenarios also run through the CLI with the default policy.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from hostile_server import zeros_gzip
from reliability_support import ORG, Repo, exchange_settings, inbound, outbound, tally

from reconciler.cli import cli
from reconciler.desired.config import ExoformConfig, TenantConfig
from reconciler.desired.connectors import TenantDesired, load_all
from reconciler.emulator import faults as faults_module
from reconciler.emulator.app import Emulator
from reconciler.emulator.config import AppConfig, EmulatorConfig, FederatedCredential
from reconciler.emulator.faults import Fault, Faults
from reconciler.emulator.server import EmulatorServer
from reconciler.emulator.store import MemoryStores, State
from reconciler.emulator.transport import EmulatorTransport
from reconciler.errors import AuthError, ReadError, WriteError
from reconciler.plan import Change, Plan
from reconciler.providers.auth import Endpoints, TokenSource
from reconciler.providers.base import BaseProvider
from reconciler.providers.exchange import ExchangeProvider, build_invoke_client, open_exchange
from reconciler.providers.retry import RetryPolicy
from reconciler.providers.session import Session
from reconciler.workflow import apply_plan, plan_tenants
from tests.providers.fake import FakeClock, in_fake_time
from tests.wiring import fake_time

SEED = 8
KINDS = ("InboundConnector", "OutboundConnector")
FAST = RetryPolicy(
    max_attempts=4, base_delay=0.01, max_delay=0.04, max_total=10, retry_after_cap=0.2, timeout=10
)
PAGE_SIZE = 2

INITIAL = {
    "keep-in-1.yaml": inbound("Keep in 1", ip="198.51.100.1", domain="k1.example.com"),
    "keep-in-2.yaml": inbound("Keep in 2", ip="198.51.100.2", domain="k2.example.com"),
    "keep-in-3.yaml": inbound("Keep in 3", ip="198.51.100.3", domain="k3.example.com"),
    "keep-out.yaml": outbound("Keep out", host="smtp.keep.example.net"),
    "upd-in.yaml": inbound("Update in", ip="198.51.100.4", domain="u.example.com", comment="v1"),
    "upd-out.yaml": outbound("Update out", host="smtp.upd.example.net", comment="v1"),
    "ren-in.yaml": inbound("Old in", ip="198.51.100.5", domain="r.example.com"),
    "del-out.yaml": outbound("Delete out", host="smtp.del.example.net"),
}
DESIRED = {
    **{k: v for k, v in INITIAL.items() if k.startswith("keep-")},
    "upd-in.yaml": inbound("Update in", ip="198.51.100.44", domain="u.example.com", comment="v2"),
    "upd-out.yaml": outbound("Update out", host="smtp2.upd.example.net", comment="v2"),
    "ren-in.yaml": inbound("New in", ip="198.51.100.5", domain="r.example.com") + "renamed_from: [Old in]\n",
    "add-in.yaml": inbound("Added in", ip="192.0.2.1", domain="add.example.com"),
    "add-out-1.yaml": outbound("Added out 1", host="smtp.add1.example.net"),
    "add-out-2.yaml": outbound("Added out 2", host="smtp.add2.example.net"),
}
UNTOUCHED = {"keep in 1", "keep in 2", "keep in 3", "keep out"}

ChangeKey = tuple[str, str, str, tuple[str, ...]]


def key_of(change: Change) -> ChangeKey:
    return (change.action, change.kind, change.name, tuple(sorted(change.fields)))


class Bench:
    """One emulator server for the module; each scenario starts the tenant from the same state."""

    def __init__(self, root: Path, server: EmulatorServer) -> None:
        self.sessions: list[Session] = []
        self.server = server
        self.emulator: Emulator = server.emulator
        self.settings = exchange_settings(
            server,
            {"client_id": "exoform-faults", "client_secret": "env:EXOFORM_FAULTS_SECRET"},
            unmanaged="delete",
            max_deletes=5,
            max_change_fraction=1.0,
            max_changes=None,
        )
        self.repo = Repo(root, self.settings)
        for name, text in INITIAL.items():
            self.repo.write(name, text)
        self.emulator.stores = MemoryStores()
        config, desired = load_all(self.repo.config)
        plan = self.plan(config, desired)
        [applied] = apply_plan(config, plan, opener=self.opener)
        assert applied.report is not None and applied.report.ok
        self.initial: State = self.store().read()
        self.repo.clear()
        for name, text in DESIRED.items():
            self.repo.write(name, text)
        self.config, self.desired = load_all(self.repo.config)
        self.reset()
        clean = self.plan(self.config, self.desired)
        #: The plan made without faults, as JSON: what a plan made under faults must equal.
        self.clean = clean.to_json()
        self.expected = {key_of(c) for c in clean.tenants[0].changes}
        assert sorted(a for a, *_ in self.expected) == ["create"] * 3 + ["delete"] + ["update"] * 3

    def opener(self, tenant: str, settings: TenantConfig, config: ExoformConfig) -> BaseProvider:
        """The real Exchange provider with small pages, in a session of its own (nothing learned carries
        over between scenarios), its retry waits (Retry-After, backoff) passed in fake time: the faults are
        real, the waits between attempts are not."""
        clock = FakeClock()
        session = Session(clock=clock, sleep=clock.sleep)
        self.sessions.append(session)
        policy = in_fake_time(FAST, clock)
        return open_exchange(tenant, settings, config, session=session, policy=policy, page_size=PAGE_SIZE)

    def close(self) -> None:
        for session in self.sessions:
            session.close()

    def store(self) -> Any:
        info = self.emulator.tenant(ORG)
        assert info is not None
        return self.emulator.stores.get(info.key)

    def reset(self) -> None:
        self.emulator.faults = Faults()
        self.emulator.stores = MemoryStores(self.initial)
        self.emulator.stats.reset()

    def objects(self) -> dict[str, dict[str, Any]]:
        state = self.store().read()
        return {o["Guid"]: {**o, "_kind": kind} for kind in KINDS for o in state[kind]}

    def plan(self, config: ExoformConfig, desired: list[TenantDesired]) -> Plan:
        [outcome] = plan_tenants(config, desired, opener=self.opener)
        assert outcome.plan is not None, outcome.error
        return Plan([outcome.plan])


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    os.environ["EXOFORM_FAULTS_SECRET"] = "emulator"  # the open emulator's client secret
    with EmulatorServer() as server:
        bench = Bench(tmp_path_factory.mktemp("faults"), server)
        yield bench
        bench.close()
    os.environ.pop("EXOFORM_FAULTS_SECRET", None)


# --------------------------------------------------------------------------------------------------------
# One scenario


@dataclass
class Scenario:
    """Faults for the plan and for the apply (rules as spec strings, plus latency and a concurrency cap)."""

    name: str
    plan: list[str] = field(default_factory=list)
    apply: list[str] = field(default_factory=list)
    latency_ms: float = 0.0
    cap: int | None = None
    phases: tuple[str, ...] = ()  # where latency and the cap apply
    must_fire: bool = True

    def faults(self, phase: str, seed: int) -> Faults:
        rules = [Fault.parse(spec) for spec in (self.plan if phase == "plan" else self.apply)]
        on = phase in self.phases
        return Faults(
            latency_ms=self.latency_ms if on else 0.0,
            jitter_ms=self.latency_ms / 2 if on else 0.0,
            max_concurrent_per_tenant=self.cap if on else None,
            seed=seed,
            rules=rules,
        )


def assert_clear(message: str | None) -> None:
    """An error a user can act on: ExoformError text, not a traceback or a Python repr."""
    assert message and message.strip()
    assert "Traceback" not in message and "object at 0x" not in message and "<class" not in message, message
    assert len(message) < 3000, message
    assert "tenant t:" in message, f"the error does not name the tenant: {message}"


def run_scenario(bench: Bench, scenario: Scenario, seed: int) -> str:
    """Run one scenario and check every invariant; returns ``reached`` or ``stopped``."""
    tally("fault scenarios run")
    bench.reset()
    before = bench.objects()
    fired: list[Fault] = []
    emulator = bench.emulator

    emulator.faults = scenario.faults("plan", seed)
    fired += emulator.faults.rules
    [outcome] = plan_tenants(bench.config, bench.desired, opener=bench.opener)
    emulator.faults = Faults()
    if outcome.plan is None:
        assert_clear(outcome.error)
        assert bench.objects() == before, "a failed plan changed the tenant"
        check_fired(scenario, fired, emulator)
        tally("fault scenarios held")
        tally("fault scenarios stopped with a clear error")
        return "stopped"
    plan = Plan([outcome.plan])
    assert {key_of(c) for c in outcome.plan.changes} == bench.expected, "a fault changed the plan"
    if not scenario.apply and "apply" not in scenario.phases:
        # Only the plan met faults: it equals the plan made without them to the last value (all an apply
        # of it would send), so applying it would only repeat the fault-free apply of the other scenarios.
        assert plan.to_json() == bench.clean, "a fault changed a value of the plan"
        check_fired(scenario, fired, emulator)
        tally("fault scenarios held")
        tally("fault scenarios reached the result")
        return "reached"

    emulator.faults = scenario.faults("apply", seed + 1)
    fired += emulator.faults.rules
    [result] = apply_plan(bench.config, plan, opener=bench.opener)
    emulator.faults = Faults()
    check_fired(scenario, fired, emulator)

    applied: set[ChangeKey] = set()
    unknown: set[ChangeKey] = set()
    if result.error is not None:
        assert_clear(result.error)
        assert bench.objects() == before, "apply stopped before writing, yet the tenant changed"
    else:
        assert result.report is not None
        assert not result.report.refused, f"a fault made apply refuse the plan: {result.report.refused}"
        for r in result.report.results:
            if r.status == "applied":
                applied.add(key_of(r.change))
            elif r.status == "failed":
                assert_clear(r.message)
                if "outcome is unknown" in r.message:
                    unknown.add(key_of(r.change))
    check_tenant(bench, before, plan, applied, unknown)
    tally("fault scenarios held")
    end = "reached" if applied == bench.expected else "stopped"
    tally(
        "fault scenarios reached the result"
        if end == "reached"
        else "fault scenarios stopped with a clear error"
    )
    return end


def check_fired(scenario: Scenario, rules: list[Fault], emulator: Emulator) -> None:
    """The scenario's faults happened (so it tested something)."""
    if not scenario.must_fire:
        return
    if rules:
        assert any(rule.fired for rule in rules), f"{scenario.name}: no fault fired"
    if scenario.cap is not None:
        assert emulator.stats.snapshot()["faults"].get("concurrency"), f"{scenario.name}: the cap never bit"


def check_tenant(
    bench: Bench,
    before: dict[str, dict[str, Any]],
    plan: Plan,
    applied: set[ChangeKey],
    unknown: set[ChangeKey],
) -> None:
    """The tenant holds ``before`` plus the applied changes; a fresh plan shows the rest; it converges."""
    now = bench.objects()
    names = [(o["_kind"], o["Name"].casefold()) for o in now.values()]
    assert len(names) == len(set(names)), f"duplicate names: {sorted(names)}"
    for guid, old in before.items():
        if old["Name"].casefold() in UNTOUCHED:
            assert now.get(guid) == old, f"{old['Name']} was changed though the plan does not name it"
    rest = bench.plan(bench.config, bench.desired)
    fresh = {key_of(c) for c in rest.tenants[0].changes}
    planned = {key_of(c) for c in plan.tenants[0].changes}
    assert fresh <= planned, f"the tenant moved outside the plan: {sorted(fresh - planned)}"
    assert not (fresh & applied), f"reported applied but not done: {sorted(fresh & applied)}"
    missing = (planned - applied - unknown) - fresh
    assert not missing, f"done but not reported applied: {sorted(missing)}"
    if rest.has_changes:
        [done] = apply_plan(bench.config, rest, opener=bench.opener)
        assert done.report is not None and done.report.ok, done.error or done.report
        assert not bench.plan(bench.config, bench.desired).has_changes, "no convergence after the faults"


# --------------------------------------------------------------------------------------------------------
# The matrix: each fault alone, in the plan and in the apply


SINGLE: dict[str, Scenario] = {}


def single(
    name: str,
    spec: str = "",
    *,
    latency_ms: float = 0.0,
    cap: int | None = None,
    phases: tuple[str, ...] = ("plan", "apply"),
) -> None:
    for phase in phases:
        SINGLE[f"{name} during {phase}"] = Scenario(
            f"{name} during {phase}",
            plan=[spec] if spec and phase == "plan" else [],
            apply=[spec] if spec and phase == "apply" else [],
            latency_ms=latency_ms,
            cap=cap,
            phases=(phase,),
        )


WRITES = ("apply",)  # faults that hit writes only: the plan does not write
# Transient: retried until the request goes through.
single("429 Retry-After seconds", "429:count=2,retry_after=0.05")
single("429 Retry-After HTTP date", "429:count=2,retry_after=0.05,retry_after_form=date")
single("500", "500:count=2")
single("502", "502:count=1")
single("503", "503:count=2")
single("504", "504:count=1")
single("503 HTML page", "html:status=503,count=2")
single("503 plain text", "text:status=503,count=2")
single("connection reset", "reset:count=2")
single("connection closed", "close:count=2")
single("throttled inside a 200", "throttled_200:count=2")
single("token expiry", "expire_tokens:after=2,count=1")
single("failure on page 2", "500:page=2,count=2")
single("reset on page 3", "reset:page=3,count=1")
single("write applied, response dropped", "drop_after_write:count=2", phases=WRITES)
single("write failed with 500 (outcome unknown)", "500:writes_only=true,count=1", phases=WRITES)
single("latency 30 ms", latency_ms=30)
single("concurrency cap 1", latency_ms=20, cap=1)
# Persistent: the run must stop with a clear error, having written nothing it does not report.
single("503 always", "503")
single("reset always", "reset")
single("throttled inside a 200 always", "throttled_200")
single("tokens always expired", "expire_tokens")
single("page 2 always fails", "500:page=2")
single("every write's response dropped", "drop_after_write", phases=WRITES)
single("every write fails with 500", "500:writes_only=true", phases=WRITES)
single("New-OutboundConnector always reset", "reset:cmdlet=New-OutboundConnector", phases=WRITES)
single("429 always", "429:retry_after=0.01")


@pytest.mark.parametrize("name", sorted(SINGLE))
def test_single_fault(bench: Bench, name: str) -> None:
    run_scenario(bench, SINGLE[name], SEED)


def test_matrix_covers_every_fault_kind() -> None:
    covered = {Fault.parse(spec).kind for s in SINGLE.values() for spec in s.plan + s.apply}
    assert set(faults_module.KINDS) <= covered, sorted(set(faults_module.KINDS) - covered)
    statuses = {Fault.parse(spec).status for s in SINGLE.values() for spec in s.plan + s.apply}
    assert {429, 500, 502, 503, 504} <= statuses
    assert any(s.latency_ms for s in SINGLE.values()) and any(s.cap for s in SINGLE.values())


# --------------------------------------------------------------------------------------------------------
# Random mixes


POOL = [
    "429:retry_after={r}",
    "429:retry_after={r},retry_after_form=date",
    "500",
    "502",
    "503",
    "504",
    "html:status=503",
    "text:status=502",
    "reset",
    "close",
    "throttled_200",
    "expire_tokens",
    "drop_after_write",
    "500:page={page}",
    "reset:page={page}",
    "500:writes_only=true",
]


def random_scenario(rng: random.Random, index: int) -> Scenario:
    def spec() -> str:
        text = rng.choice(POOL).format(r=rng.choice([0.01, 0.05]), page=rng.randint(2, 3))
        selection = rng.choice(
            [
                f"count={rng.randint(1, 3)}",
                f"fraction={rng.choice([0.1, 0.2, 0.3])}",
                f"after={rng.randint(0, 6)},count=1",
            ]
        )
        return f"{text}{',' if ':' in text else ':'}{selection}"

    return Scenario(
        f"mix {index}",
        plan=[spec() for _ in range(rng.randint(0, 2))],
        apply=[spec() for _ in range(rng.randint(1, 3))],
        latency_ms=rng.choice([0.0, 0.0, 5.0, 20.0]),
        cap=rng.choice([None, None, 2, 3]),
        phases=("plan", "apply"),
        must_fire=False,
    )


def run_mixes(bench: Bench, count: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    ends = {"reached": 0, "stopped": 0}
    for index in range(count):
        scenario = random_scenario(rng, index)
        try:
            ends[run_scenario(bench, scenario, seed + index)] += 1
        except AssertionError as exc:
            raise AssertionError(f"{scenario}: {exc}") from exc
    return ends


def test_random_fault_mixes(bench: Bench) -> None:
    ends = run_mixes(bench, 12, SEED)
    assert ends["reached"] > 0  # the mixes are not all fatal: retries do their work


@pytest.mark.long
@pytest.mark.timeout(1200)
def test_random_fault_mixes_long(bench: Bench) -> None:
    ends = run_mixes(bench, 300, SEED + 1000)
    assert ends["reached"] > 0 and ends["stopped"] > 0


# --------------------------------------------------------------------------------------------------------
# Through the CLI, with the provider's default retry policy


def test_cli_plan_and_apply_ride_out_faults(bench: Bench) -> None:
    """``exoform plan --out`` under a 503 and ``exoform apply PLAN`` under a dropped write response."""
    bench.reset()
    before = bench.objects()
    runner = CliRunner()
    env = {"EXOFORM_FAULTS_SECRET": "emulator"}
    plan_file = bench.repo.root / "plan.json"
    bench.emulator.faults = Faults(rules=[Fault.parse("503:count=1")])
    planned = runner.invoke(
        cli, ["plan", "--out", str(plan_file), "--config", str(bench.repo.config)], env=env, obj=fake_time()
    )
    assert planned.exit_code == 0, planned.output
    assert bench.emulator.faults.rules[0].fired == 1
    bench.emulator.faults = Faults(rules=[Fault.parse("drop_after_write:count=1")])
    applied = runner.invoke(
        cli, ["apply", str(plan_file), "--config", str(bench.repo.config)], env=env, obj=fake_time()
    )
    assert applied.exit_code == 0, applied.output
    assert "Apply for t: 7 applied." in applied.output
    assert bench.emulator.faults.rules[0].fired == 1
    bench.emulator.faults = Faults()
    for guid, old in before.items():
        if old["Name"].casefold() in UNTOUCHED:
            assert bench.objects()[guid] == old
    again = runner.invoke(
        cli, ["plan", "--detailed-exitcode", "--config", str(bench.repo.config)], env=env, obj=fake_time()
    )
    assert again.exit_code == 0, again.output


def test_cli_reports_a_failed_write_clearly(bench: Bench) -> None:
    """A write the service rejects outright (not retried): exit 1, its message, the rest not attempted."""
    bench.reset()
    bench.emulator.faults = Faults(
        rules=[Fault.parse("text:status=400,body=Connector quota exceeded,writes_only=true")]
    )
    result = CliRunner().invoke(
        cli,
        ["apply", "--auto-approve", "--config", str(bench.repo.config)],
        env={"EXOFORM_FAULTS_SECRET": "emulator"},
    )
    bench.emulator.faults = Faults()
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert re.search(r"FAILED create \w+ \"[^\"]+\": .*Connector quota exceeded", result.output), (
        result.output
    )
    assert "not attempted" in result.output and "Run exoform plan to see what remains." in result.output


# --------------------------------------------------------------------------------------------------------
# Sign-in under a misbehaving identity endpoint, in fake time: the emulator in process, its discovery or
# token answers tampered with, every wait and every byte's delay passed on a FakeClock.

SIGN_IN_BASE = "https://login.exoform.invalid"
SIGN_IN_SCOPE = "https://outlook.office365.com/.default"


class _Drip(httpx.SyncByteStream):
    """``content`` one byte at a time, ``interval`` seconds of fake time before each."""

    def __init__(self, content: bytes, clock: FakeClock, interval: float) -> None:
        self.content, self.clock, self.interval = content, clock, interval

    def __iter__(self) -> Iterator[bytes]:
        for index in range(len(self.content)):
            self.clock.sleep(self.interval)
            yield self.content[index : index + 1]


class _Counted(httpx.SyncByteStream):
    """``content`` in 16 KiB chunks, counting the chunks taken (how much of a bomb was read)."""

    def __init__(self, content: bytes) -> None:
        self.content, self.taken = content, 0

    def __iter__(self) -> Iterator[bytes]:
        for start in range(0, len(self.content), 16 << 10):
            self.taken += 1
            yield self.content[start : start + (16 << 10)]


class SignInTamper(httpx.BaseTransport):
    """The emulator in process, with the ``mode`` of :data:`SIGN_IN_FAULTS` on its identity endpoint."""

    def __init__(self, mode: str, clock: FakeClock) -> None:
        self.mode, self.clock = mode, clock
        self.inner = EmulatorTransport(Emulator())
        self.hosts: list[str] = []
        self.bomb: _Counted | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.hosts.append(request.url.host)
        response = self.inner.handle_request(request)
        path = request.url.path
        endpoint = "github" if "/_github/" in path else "token" if path.endswith("/token") else "discovery"
        if not self.mode.startswith(endpoint + "_"):
            return response
        content = response.read()
        headers = {"content-type": "application/json"}
        if self.mode.endswith("_drip"):
            return httpx.Response(200, headers=headers, stream=_Drip(content, self.clock, 3.0))
        if self.mode.endswith("_gzip_bomb"):
            self.bomb = _Counted(zeros_gzip())
            return httpx.Response(200, headers={**headers, "content-encoding": "gzip"}, stream=self.bomb)
        return httpx.Response(307, headers={"location": f"https://elsewhere.example{request.url.path}"})


def _sign_in(mode: str, retry: RetryPolicy) -> tuple[str, float, SignInTamper]:
    """Sign in at the tampered emulator: (the error, fake seconds spent, the transport)."""
    clock = FakeClock()
    transport = SignInTamper(mode, clock)
    with httpx.Client(transport=transport, follow_redirects=False) as http:
        tokens = TokenSource(
            "t",
            client_id="exoform-faults",
            credential=lambda: "emulator",
            authority=f"{SIGN_IN_BASE}/{ORG}",
            scope=SIGN_IN_SCOPE,
            http=http,
            clock=clock,
            retry=in_fake_time(retry, clock),
        )
        started = clock()
        with pytest.raises(AuthError) as caught:
            tokens.token()
    return str(caught.value), clock() - started, transport


#: ``retry_max_seconds: 10`` with the default request deadline, as a tenant's policy has it.
TEN_SECONDS = RetryPolicy(max_attempts=6, base_delay=0.5, max_delay=2, max_total=10)


@pytest.mark.parametrize("endpoint", ["token", "discovery"])
def test_a_dripping_sign_in_stops_at_retry_max_seconds(endpoint: str) -> None:
    """One byte every 3 s: the sign-in ends at its 10 s, with no second attempt started past it."""
    tally("fault scenarios run")
    message, spent, _ = _sign_in(f"{endpoint}_drip", TEN_SECONDS)
    assert_clear(message)
    assert "sent no complete answer in time" in message and "signing in 10 s" in message, message
    assert "gave up after 1 attempt in" in message, message
    assert 10 <= spent <= 10 + 3, spent  # cut within one byte's delay of the limit
    tally("fault scenarios held")
    tally("fault scenarios stopped with a clear error")


def test_a_dripping_sign_in_stops_at_each_request_deadline() -> None:
    """The request deadline (4 s) cuts each attempt; the attempts stop at retry_max_seconds (30 s)."""
    tally("fault scenarios run")
    policy = RetryPolicy(max_attempts=20, base_delay=0.5, max_delay=1, max_total=30, deadline=4)
    message, spent, _ = _sign_in("token_drip", policy)
    assert_clear(message)
    attempts = int(re.search(r"gave up after (\d+) attempts", message).group(1))  # type: ignore[union-attr]
    assert 4 <= attempts <= 8, message  # 4 s a request (+3 s of the byte in flight), a short wait between
    assert spent <= 30 + 3, spent
    tally("fault scenarios held")
    tally("fault scenarios stopped with a clear error")


@pytest.mark.parametrize("endpoint", ["token", "discovery"])
def test_a_gzip_bomb_at_sign_in_is_refused_at_the_size_cap(endpoint: str) -> None:
    """1 GiB of zeros in about 1 MB of gzip: refused after 1 MiB of decompressed body, not retried."""
    tally("fault scenarios run")
    message, _, transport = _sign_in(f"{endpoint}_gzip_bomb", TEN_SECONDS)
    assert_clear(message)
    assert "answered with more than 1024 KiB once decompressed" in message, message
    assert "gave up" not in message  # refused for good, not retried
    assert transport.bomb is not None and transport.bomb.taken <= 4  # at most 64 KiB of the 1 MB read
    tally("fault scenarios held")
    tally("fault scenarios stopped with a clear error")


@pytest.mark.parametrize("endpoint", ["token", "discovery"])
def test_a_sign_in_redirect_off_the_identity_host_is_refused(endpoint: str) -> None:
    tally("fault scenarios run")
    message, _, transport = _sign_in(f"{endpoint}_redirect_offhost", TEN_SECONDS)
    assert_clear(message)
    assert "sent exoform to https://elsewhere.example" in message, message
    assert "elsewhere.example" not in transport.hosts  # nothing, the client secret least of all, went there
    tally("fault scenarios held")
    tally("fault scenarios stopped with a clear error")


# --------------------------------------------------------------------------------------------------------
# retry_max_seconds bounds a whole operation -- a listing of every page, a write with its verifying read --
# not each request: the emulator in process, every wait passed on a FakeClock.

#: ``retry_max_seconds: 10``, attempts to spare and Retry-After honoured in full, so time is what stops.
TEN_SECONDS_WHOLE = RetryPolicy(max_attempts=6, base_delay=0.5, max_delay=2, max_total=10, retry_after_cap=60)


def _in_process(emulator: Emulator, clock: FakeClock, page_size: int) -> BaseProvider:
    """The Exchange provider over ``emulator`` in this process, its retry waits in fake time."""
    http = httpx.Client(transport=EmulatorTransport(emulator), follow_redirects=False)
    session = Session(clock=clock, sleep=clock.sleep)
    base = "https://exo.exoform.invalid"
    client = build_invoke_client(
        "t",
        TenantConfig.model_validate({"connectors": "c", "provider": "local"}),
        http=http,
        session=session,
        policy=in_fake_time(TEN_SECONDS_WHOLE, clock),
        endpoints=Endpoints(
            api_base=base, scope=SIGN_IN_SCOPE, authority=f"{base}/{ORG}", tenant_segment=ORG
        ),
        client_id="exoform-faults",
        credential=lambda: "emulator",
        page_size=page_size,
    )
    return ExchangeProvider("t", client, session, owned=(http, session))


def _inbound_seed(count: int) -> State:
    return {
        "InboundConnector": [
            {"Name": f"In {i}", "ConnectorType": "Partner", "SenderDomains": [f"in{i}.example.com"]}
            for i in range(count)
        ]
    }


def test_a_listing_throttled_on_every_page_stops_at_retry_max_seconds() -> None:
    """Ten pages, each throttled once with Retry-After 3 s: 30 s of waiting in all, though no page alone
    comes near the limit.  The listing stops within its 10 s, saying what ran out and what to raise."""
    tally("fault scenarios run")
    emulator = Emulator(stores=MemoryStores(_inbound_seed(10)))
    emulator.faults = Faults(
        rules=[
            Fault.parse(f"429:cmdlet=Get-InboundConnector,page={p},count=1,retry_after=3")
            for p in range(1, 11)
        ]
    )
    clock = FakeClock()
    provider = _in_process(emulator, clock, page_size=1)
    provider.sign_in()
    started = clock()
    with pytest.raises(ReadError) as caught:
        provider.read()
    provider.close()
    assert clock() - started <= 10
    message = str(caught.value)
    assert_clear(message)
    assert "HTTP 429" in message and "on page 4;" in message, message
    assert "the Get-InboundConnector listing ran out of time after 9.0 s" in message, message
    assert "retry_max_seconds: 10 s bounds it whole" in message and "raise it in exoform.yaml" in message
    assert sum(rule.fired for rule in emulator.faults.rules) == 4  # pages 5 to 10 were never asked for
    tally("fault scenarios held")
    tally("fault scenarios stopped with a clear error")


def test_a_write_whose_verifying_read_is_throttled_stops_within_retry_max_seconds() -> None:
    """An update throttled twice (8 s of Retry-After), then its answer lost: the read that would tell
    whether it was carried out is throttled too, and is given only what is left of the write's 10 s."""
    tally("fault scenarios run")
    emulator = Emulator(stores=MemoryStores(_inbound_seed(1)))
    clock = FakeClock()
    provider = _in_process(emulator, clock, page_size=1000)
    [live] = provider.read().connectors
    emulator.faults = Faults(
        rules=[
            Fault.parse("429:cmdlet=Set-InboundConnector,count=2,retry_after=4"),
            Fault.parse("drop_after_write:cmdlet=Set-InboundConnector,count=1"),
            Fault.parse("429:cmdlet=Get-InboundConnector,retry_after=4"),
        ]
    )
    started = clock()
    with pytest.raises(WriteError) as caught:
        provider.update(live, {"comment": "v2"})
    provider.close()
    assert clock() - started <= 10
    message = str(caught.value)
    assert "Set-InboundConnector 'In 0' failed: the outcome is unknown" in message, message
    assert "Set-InboundConnector 'In 0' (with its retries and verifying reads) ran out of time" in message
    assert "retry_max_seconds: 10 s bounds it whole" in message, message
    assert [rule.fired for rule in emulator.faults.rules] == [2, 1, 1]
    tally("fault scenarios held")
    tally("fault scenarios stopped with a clear error")


class _InProcessSession(Session):
    """A session whose client (every trust store's) serves requests from ``transport`` in this process."""

    def __init__(self, transport: httpx.BaseTransport, clock: FakeClock) -> None:
        super().__init__(clock=clock, sleep=clock.sleep)
        self._in_process = httpx.Client(transport=transport, follow_redirects=False)

    def http(self, ca_bundle: Path | None = None) -> httpx.Client:
        return self._in_process


def test_a_dripping_github_oidc_token_stops_within_the_tenants_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``federated: github`` with the job's OIDC token dripped one byte every 3 s: each request ends at the
    tenant's request deadline (4 s, within one byte's delay), on the tenant's clock, and no attempt starts
    past its retry_max_seconds (20 s).  (With a policy of its own, the fetch ran on the real clock and the
    dripped token arrived whole.)"""
    tally("fault scenarios run")
    app = AppConfig(client_id="exoform-faults", federated=(FederatedCredential(subject="repo:o/r:ref:x"),))
    clock = FakeClock()
    transport = SignInTamper("github_drip", clock)
    transport.inner = EmulatorTransport(
        Emulator(config=EmulatorConfig.model_validate({"apps": [app.model_dump()]}))
    )
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", f"{SIGN_IN_BASE}/_github/oidc/token")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "emulator")
    values = {
        "connectors": "c",
        "provider": "exchange",
        "organization": ORG,
        "endpoint": SIGN_IN_BASE,
        "authority": f"{SIGN_IN_BASE}/{ORG}",
        "auth": {"client_id": "exoform-faults", "federated": "github"},
    }
    config = ExoformConfig.model_validate({"tenants": {"t": values}})
    policy = RetryPolicy(max_attempts=20, base_delay=0.5, max_delay=1, max_total=20, deadline=4)
    session = _InProcessSession(transport, clock)
    provider = open_exchange(
        "t", config.tenants["t"], config, session=session, policy=in_fake_time(policy, clock)
    )
    started = clock()
    with pytest.raises(AuthError) as caught:
        provider.sign_in()
    provider.close()
    session.close()
    message = str(caught.value)
    assert_clear(message)
    assert "cannot fetch the GitHub OIDC token" in message and "limits: 20 attempts, 20 s" in message, message
    attempts = int(re.search(r"gave up after (\d+) attempts", message).group(1))  # type: ignore[union-attr]
    assert 2 <= attempts <= 4, message  # 4 s a request (+3 s of the byte in flight), a short wait between
    assert clock() - started <= 20 + 4 + 3, clock() - started
    tally("fault scenarios held")
    tally("fault scenarios stopped with a clear error")
