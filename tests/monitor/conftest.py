"""A tenant with three connectors and seeded traffic, reachable in-process or over TLS."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

import bench.traffic
from reconciler.emulator.app import Emulator
from reconciler.emulator.config import OPEN_SECRET
from reconciler.emulator.store import MemoryStores
from reconciler.emulator.trace import MessageLog, send_through
from reconciler.emulator.transport import EmulatorTransport
from reconciler.providers.auth import CLOUDS, TokenSource
from reconciler.providers.exchange import ExchangeProvider
from reconciler.providers.invoke import InvokeClient
from reconciler.providers.retry import RetryPolicy
from reconciler.providers.session import Session
from tests.providers.conftest import make_rig  # noqa: F401  (fixtures: the TLS rig)

#: The tenant the benchmark measures too: two inbound connectors and one outbound.
SEED = bench.traffic.SEED

TENANT = "contoso.onmicrosoft.com"
BASE = "https://local.exoform.invalid"
NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02, max_total=5, retry_after_cap=0.05)


def seed_traffic(log: MessageLog, *, filtered: int = 40, partner: int = 7, now: datetime = NOW) -> None:
    """``filtered`` messages in through From Mail Filter (one an hour back from ``now``, from two
    domains), ``partner`` out through To Partner; none through From Scanner; 5 ordinary messages from the
    internet."""
    for i in range(filtered):
        send_through(
            log,
            TENANT,
            sender=f"user{i}@{'woodgrove.example' if i % 4 else 'tailspin.example'}",
            recipients=["ann@contoso.onmicrosoft.com"],
            received=now - timedelta(hours=i + 1),
            inbound="From Mail Filter",
            from_ip="198.51.100.25",
        )
    for i in range(partner):
        send_through(
            log,
            TENANT,
            sender="ann@contoso.onmicrosoft.com",
            recipients=[f"buyer{i}@fabrikam.com"],
            received=now - timedelta(hours=i + 2, minutes=30),
            outbound="To Partner",
        )
    for i in range(5):
        send_through(
            log,
            TENANT,
            sender=f"news{i}@litware.example",
            recipients=["ann@contoso.onmicrosoft.com"],
            received=now - timedelta(hours=i + 3, minutes=10),
            from_ip="192.0.2.80",
        )


class Clock:
    """The emulator's clock, moved by hand."""

    def __init__(self, start: datetime = NOW) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def traffic_emulator(clock: Clock) -> Emulator:
    log = MessageLog()
    seed_traffic(log)
    return Emulator(stores=MemoryStores(SEED), messages=log, clock=clock)


@pytest.fixture
def in_process() -> Iterator[Callable[..., ExchangeProvider]]:
    """``in_process(emulator, page_size=1000)``: the exchange provider over ``emulator`` in this process."""
    opened: list[tuple[httpx.Client, Session]] = []

    def make(emulator: Emulator, page_size: int = 1000) -> ExchangeProvider:
        http = httpx.Client(transport=EmulatorTransport(emulator), base_url=BASE)
        session = Session()
        opened.append((http, session))
        tokens = TokenSource(
            TENANT,
            client_id="exoform-tests",
            credential=lambda: OPEN_SECRET,
            authority=f"{BASE}/{TENANT}",
            scope=CLOUDS["commercial"].scope,
            http=http,
            clock=session.clock,
            retry=FAST,
        )
        client = InvokeClient(
            TENANT,
            http=http,
            tokens=tokens,
            api_base=BASE,
            tenant_segment=TENANT,
            policy=FAST,
            page_size=page_size,
        )
        return ExchangeProvider(TENANT, client, session)

    yield make
    for http, session in opened:
        http.close()
        session.close()
