"""The fault matrix, continued: a server that misbehaves on purpose (:mod:`hostile_server`) cannot hang,
mislead or exhaust exoform.

A tenant (``provider: exchange``) reaches the emulator through the hostile server; sign-in goes to the
emulator directly.  Each scenario switches one misbehaviour on during the plan or during the apply and
checks that the run stops within a few seconds with a clear error naming the tenant (no traceback),
that nothing reached a host other than the service's (no token, no request body) and that the tenant
is unchanged.  A two-tenant run shows that one hostile tenant fails alone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hostile_server import MODES, SIGN_IN_MODES, HostileServer
from reliability_support import ORG, Repo, exchange_settings, inbound, tally

from reconciler.desired.config import ExoformConfig, TenantConfig
from reconciler.desired.connectors import TenantDesired, load_all
from reconciler.emulator.server import EmulatorServer
from reconciler.emulator.store import MemoryStores
from reconciler.plan import Plan
from reconciler.providers.base import BaseProvider
from reconciler.providers.exchange import open_exchange
from reconciler.providers.retry import RetryPolicy
from reconciler.workflow import apply_plan, plan_tenants

#: Short limits so a hostile scenario ends quickly: a request may take 1 s in all, two attempts.
POLICY = RetryPolicy(
    max_attempts=2, base_delay=0.01, max_delay=0.02, max_total=5, retry_after_cap=0.1, timeout=5, deadline=1.0
)
#: For a dripping answer: each attempt is cut at 0.5 s, so the two attempts end within 1 s of the real clock
#: (the drip is real bytes on a real socket: time cannot be faked here).  Far more than a whole answer of
#: the loopback emulator takes, far less than the several seconds the drip needs to send one.
DRIP_POLICY = RetryPolicy(
    max_attempts=2, base_delay=0.01, max_delay=0.02, max_total=5, retry_after_cap=0.1, timeout=5, deadline=0.5
)
SECRET_ENV = "EXOFORM_HOSTILE_SECRET"


def opener(tenant: str, settings: TenantConfig, config: ExoformConfig) -> BaseProvider:
    return open_exchange(tenant, settings, config, policy=POLICY, page_size=2)


def drip_opener(tenant: str, settings: TenantConfig, config: ExoformConfig) -> BaseProvider:
    return open_exchange(tenant, settings, config, policy=DRIP_POLICY, page_size=2)


def opener_for(mode: str) -> Callable[[str, TenantConfig, ExoformConfig], BaseProvider]:
    """The opener a scenario runs its hostile phase with: the short deadline for ``drip``."""
    return drip_opener if mode == "drip" else opener


class Stage:
    """The emulator with three connectors, the hostile server in front of it, and a repo whose files
    update one connector and create one."""

    def __init__(self, root: Path, server: EmulatorServer, hostile: HostileServer) -> None:
        self.server, self.hostile = server, hostile
        auth = {"client_id": "exoform-hostile", "client_secret": f"env:{SECRET_ENV}"}
        self.settings = exchange_settings(
            server, auth, endpoint=hostile.base_url, ca_bundle=str(hostile.bundle)
        )
        self.repo = Repo(root, self.settings)
        for index in range(3):
            self.repo.write(f"c{index}.yaml", inbound(f"C{index}", ip=f"198.51.100.{index + 1}"))
        config, desired = load_all(self.repo.config)
        [outcome] = plan_tenants(config, desired, opener=opener)
        assert outcome.plan is not None, outcome.error
        [done] = apply_plan(config, Plan([outcome.plan]), opener=opener)
        assert done.report is not None and done.report.ok
        self.initial = self.state()
        self.repo.write("c0.yaml", inbound("C0", ip="198.51.100.1", comment="changed"))
        self.repo.write("new.yaml", inbound("New", ip="192.0.2.9"))
        self.config, self.desired = load_all(self.repo.config)

    def reset(self) -> None:
        self.hostile.mode = None
        self.hostile.sign_in_mode = None
        self.hostile.offhost_hits.clear()
        self.server.emulator.stores = MemoryStores(self.initial)

    def state(self) -> Any:
        info = self.server.emulator.tenant(ORG)
        assert info is not None
        return self.server.emulator.stores.get(info.key).read()


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    import os

    os.environ[SECRET_ENV] = "emulator"  # the open emulator's client secret
    root = tmp_path_factory.mktemp("hostile")
    with EmulatorServer() as server, HostileServer(server, root) as hostile:
        server.emulator.stores = MemoryStores()
        yield Stage(root, server, hostile)
    os.environ.pop(SECRET_ENV, None)


def assert_clear(message: str | None) -> None:
    assert message and "tenant t:" in message, message
    assert "Traceback" not in message and "object at 0x" not in message and "<class" not in message, message


# Each: the mode, and a fragment of the error the user sees.
DURING_PLAN = {
    "next_self": "leads back to a page already read",
    "next_cycle": "leads back to a page already read",
    "next_nul": "'@odata.nextLink' is not a usable URL",
    "next_space": "'@odata.nextLink' is not a usable URL",
    "redirect_offhost": "which is not a host of the configured endpoint",
    "drip": "no complete response within 0.5 s",
    "gzip_bomb": "larger than 64 MiB once decompressed",
    "duplicate_guid": "share the Guid",
    "case_twin": "share a name",
    "errors_object": "hostile: errors as an object",
}
DURING_APPLY = {
    "redirect_writes_offhost": "which is not a host of the configured endpoint",
    "drip": "no complete response within 0.5 s",
}


def test_every_hostile_mode_is_in_the_matrix() -> None:
    assert set(MODES) == set(DURING_PLAN) | set(DURING_APPLY)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", sorted(DURING_PLAN))
def test_hostile_server_during_plan(stage: Stage, mode: str) -> None:
    tally("fault scenarios run")
    stage.reset()
    stage.hostile.mode = mode
    started = time.monotonic()
    [outcome] = plan_tenants(stage.config, stage.desired, opener=opener_for(mode))
    stage.hostile.mode = None
    assert time.monotonic() - started < 15, "the read was not cut short"
    assert outcome.plan is None, f"a plan was made from what a hostile server said: {outcome.plan}"
    assert_clear(outcome.error)
    assert DURING_PLAN[mode] in (outcome.error or ""), outcome.error
    assert stage.hostile.offhost_hits == []
    assert stage.state() == stage.initial
    tally("fault scenarios held")
    tally("fault scenarios stopped with a clear error")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", sorted(DURING_APPLY))
def test_hostile_server_during_apply(stage: Stage, mode: str) -> None:
    tally("fault scenarios run")
    stage.reset()
    [outcome] = plan_tenants(stage.config, stage.desired, opener=opener)
    assert outcome.plan is not None, outcome.error
    stage.hostile.mode = mode
    [result] = apply_plan(stage.config, Plan([outcome.plan]), opener=opener_for(mode))
    stage.hostile.mode = None
    messages = [result.error] if result.error else []
    if result.report is not None:
        messages += [r.message for r in result.report.results if r.status == "failed"]
        assert not any(r.status == "applied" for r in result.report.results), (
            "a write sent elsewhere was reported applied"
        )
    assert messages, f"apply reported success: {result}"
    assert any(DURING_APPLY[mode] in m for m in messages), messages
    assert stage.hostile.offhost_hits == []  # neither the token nor a write's parameters went there
    if mode == "redirect_writes_offhost":
        assert stage.state() == stage.initial
    tally("fault scenarios held")
    tally("fault scenarios stopped with a clear error")


def test_one_hostile_tenant_fails_alone(stage: Stage) -> None:
    """A malformed next link in one tenant of a multi-tenant run is that tenant's error, not a crash."""
    tally("fault scenarios run")
    stage.reset()
    healthy = {**stage.settings, "endpoint": stage.server.base_url, "ca_bundle": stage.server.ca_path}
    config = ExoformConfig.model_validate(
        {
            "tenants": {
                "t": {"connectors": "connectors", **stage.settings},
                "u": {"connectors": "connectors", **healthy},
            }
        }
    ).model_copy(update={"base_dir": stage.repo.root})
    [hostile] = stage.desired
    desired = [hostile, TenantDesired("u", config.tenants["u"], hostile.connectors)]
    stage.hostile.mode = "next_nul"
    first, second = plan_tenants(config, desired, opener=opener)
    stage.hostile.mode = None
    assert first.plan is None and "'@odata.nextLink' is not a usable URL" in (first.error or "")
    assert second.plan is not None and second.error is None
    tally("fault scenarios held")


# --------------------------------------------------------------------------------------------------------
# Sign-in through the hostile server: discovery and token requests bounded like the API's


#: Each sign-in mode, and a fragment of the error the user sees.
DURING_SIGN_IN = {
    "token_drip": "sent no complete answer in time",
    "discovery_drip": "sent no complete answer in time",
    "token_gzip_bomb": "answered with more than 1024 KiB once decompressed",
    "discovery_gzip_bomb": "answered with more than 1024 KiB once decompressed",
    "token_redirect_offhost": "which is not the host signing in started at",
    "discovery_redirect_offhost": "which is not the host signing in started at",
    "discovery_offhost_token_endpoint": "which is not the host signing in started at",
}


def test_every_sign_in_mode_is_in_the_matrix() -> None:
    assert set(SIGN_IN_MODES) == set(DURING_SIGN_IN)


def sign_in_opener(tenant: str, settings: TenantConfig, config: ExoformConfig) -> BaseProvider:
    """The provider with the tenant's own limits from exoform.yaml (retry_max_seconds bounds sign-in)."""
    return open_exchange(tenant, settings, config, page_size=2)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", sorted(DURING_SIGN_IN))
def test_hostile_sign_in_during_plan(stage: Stage, mode: str) -> None:
    """The tenant signs in through the hostile server with ``retry_max_seconds: 0.5``: a dripping answer
    stops at that limit, a compression bomb is refused at the size cap, a redirect or a token endpoint off
    the identity host is refused before anything (the client secret above all) is sent there."""
    tally("fault scenarios run")
    stage.reset()
    settings = {**stage.settings, "authority": stage.hostile.authority(ORG), "retry_max_seconds": 0.5}
    stage.repo.set_tenant(settings)
    config, desired = load_all(stage.repo.config)
    stage.repo.set_tenant(stage.settings)
    stage.hostile.sign_in_mode = mode
    started = time.monotonic()
    try:
        [outcome] = plan_tenants(config, desired, opener=sign_in_opener)
    finally:
        stage.hostile.sign_in_mode = None
    elapsed = time.monotonic() - started
    assert outcome.plan is None, f"planned after a hostile sign-in: {outcome.plan}"
    assert_clear(outcome.error)
    assert DURING_SIGN_IN[mode] in (outcome.error or ""), outcome.error
    # Dripping: cut at retry_max_seconds (0.5 s), not after the 3 s a byte; the rest: refused at once.
    assert elapsed < (3.0 if mode.endswith("_drip") else 2.0), elapsed
    assert stage.hostile.offhost_hits == []
    assert SECRET_ENV not in (outcome.error or "") and os.environ[SECRET_ENV] not in (outcome.error or "")
    assert stage.state() == stage.initial
    tally("fault scenarios held")
    tally("fault scenarios stopped with a clear error")
