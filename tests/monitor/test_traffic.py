"""Traffic per connector over the emulator's message trace: counts, sampling, budgets, unknown reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from reconciler.emulator.app import Emulator
from reconciler.emulator.faults import Faults
from reconciler.emulator.store import MemoryStores
from reconciler.emulator.trace import MessageLog
from reconciler.monitor.traffic import TenantTraffic, in_use_summary, measure, parse_since, tenant_traffic
from reconciler.providers.exchange import ExchangeProvider
from tests.monitor.conftest import NOW, SEED, TENANT, Clock, seed_traffic
from tests.providers.conftest import Rig

START = NOW - timedelta(days=2)


def _trace_requests(emulator: Emulator) -> int:
    cmdlets = emulator.stats.snapshot()["cmdlets"]
    return int(cmdlets.get("Get-MessageTraceV2", 0)) + int(cmdlets.get("Get-MessageTraceDetailV2", 0))


def _by_name(report: TenantTraffic) -> dict[str, Any]:
    return {c.name: c for c in report.connectors}


def test_three_connectors_with_seeded_traffic_give_the_right_counts(
    traffic_emulator: Emulator, in_process: Callable[..., ExchangeProvider]
) -> None:
    provider = in_process(traffic_emulator)
    report = tenant_traffic(provider, start=START, end=NOW, budget=99)

    assert report.status == "complete" and report.rows == 52
    figures = _by_name(report)
    mail_filter = figures["From Mail Filter"]
    assert (mail_filter.method, mail_filter.messages) == ("observed", 40)
    assert mail_filter.last_seen == NOW - timedelta(hours=1)
    assert mail_filter.first_seen == NOW - timedelta(hours=40)
    assert mail_filter.top_domains == (("woodgrove.example", 30), ("tailspin.example", 10))
    partner = figures["To Partner"]
    assert (partner.method, partner.messages, partner.top_domains) == ("observed", 7, (("fabrikam.com", 7),))
    scanner = figures["From Scanner"]
    assert (scanner.method, scanner.messages) == ("observed", 0)
    assert in_use_summary(report, "InboundConnector", "From Mail Filter") == (
        "in use: 40 message(s) in the last 48 h, last at 2026-12-06 07:00 UTC (observed)"
    )
    assert in_use_summary(report, "InboundConnector", "From Scanner").startswith(
        "no traffic in the last 48 h"
    )


def test_a_run_stays_within_its_request_budget_and_says_what_it_sampled(
    traffic_emulator: Emulator, in_process: Callable[..., ExchangeProvider]
) -> None:
    provider = in_process(traffic_emulator, page_size=10)  # 52 rows: 6 summary queries
    report = tenant_traffic(provider, start=START, end=NOW, budget=20)

    assert report.status == "complete"
    assert _trace_requests(traffic_emulator) == report.requests == 20
    assert report.sampled == 14 and "14 of 52" in report.sampling
    mail_filter = _by_name(report)["From Mail Filter"]
    assert mail_filter.method == "sampled" and mail_filter.messages == 40  # every sample named it
    assert 0 < mail_filter.observed < 40
    partner = _by_name(report)["To Partner"]
    assert partner.method == "sampled" and partner.messages == 7
    assert in_use_summary(report, "OutboundConnector", "To Partner").startswith("in use: about 7 message(s)")


def test_without_budget_for_details_inbound_figures_are_estimated_by_from_ip(
    traffic_emulator: Emulator, in_process: Callable[..., ExchangeProvider]
) -> None:
    report = tenant_traffic(in_process(traffic_emulator), start=START, end=NOW, budget=1)

    mail_filter = _by_name(report)["From Mail Filter"]
    assert (mail_filter.method, mail_filter.messages, mail_filter.observed) == ("estimated", 40, 0)
    assert "FromIP" in mail_filter.how
    assert _trace_requests(traffic_emulator) == 1


@pytest.mark.parametrize(
    "fault", ["429:count=50,retry_after=0", "503:count=50", "500:cmdlet=Get-MessageTraceDetailV2"]
)
def test_a_throttled_or_failed_trace_is_unknown_never_unused(
    traffic_emulator: Emulator, in_process: Callable[..., ExchangeProvider], fault: str
) -> None:
    provider = in_process(traffic_emulator)
    live = provider.read()  # the connectors are read before the fault is switched on
    traffic_emulator.faults.add(fault)
    report = measure(TENANT, live, provider.message_trace(_budget(20)), start=START, end=NOW)

    assert report.status in ("failed", "partial") and report.error
    assert all(c.method == "unknown" and c.messages is None for c in report.connectors)
    assert in_use_summary(report, "InboundConnector", "From Scanner").startswith("traffic unknown")
    assert in_use_summary(report, "OutboundConnector", "To Partner").startswith(
        ("traffic unknown", "in use: at least")
    )


def test_the_services_throttle_past_100_requests_makes_the_run_unknown(
    clock: Clock, in_process: Callable[..., ExchangeProvider]
) -> None:
    log = MessageLog()
    seed_traffic(log)
    emulator = Emulator(stores=MemoryStores(SEED), messages=log, clock=clock)
    provider = in_process(emulator)
    live = provider.read()
    spent = measure(TENANT, live, provider.message_trace(_budget(99)), start=START, end=NOW)
    assert spent.status == "complete"
    # Another tool used the rest of the 5-minute window: the next run is refused with 429 and says unknown.
    for _ in range(100 - spent.requests):
        emulator.trace.admit(TENANT)
    report = measure(TENANT, live, provider.message_trace(_budget(20)), start=START, end=NOW)
    assert report.status == "failed" and "throttled" in (report.error or "")
    assert all(c.method == "unknown" for c in report.connectors)
    assert emulator.stats.snapshot()["faults"]["trace_throttled"] >= 1
    clock.now += 301  # the window has moved on: accepted again
    assert (
        measure(TENANT, live, provider.message_trace(_budget(20)), start=START, end=NOW).status == "complete"
    )


def test_a_budget_spent_before_the_summary_is_whole_is_partial_and_unknown(
    traffic_emulator: Emulator, in_process: Callable[..., ExchangeProvider]
) -> None:
    provider = in_process(traffic_emulator, page_size=10)
    report = tenant_traffic(provider, start=START, end=NOW, budget=3)

    assert report.status == "partial" and _trace_requests(traffic_emulator) == 3
    assert all(c.messages is None for c in report.connectors)


def test_a_provider_without_message_trace_is_a_failed_tenant() -> None:
    from tests.providers.fake import FakeProvider

    report = tenant_traffic(FakeProvider("t"), start=START, end=NOW)
    assert report.status == "failed" and "cannot read message trace" in (report.error or "")


def test_over_tls_the_counts_are_the_same(make_rig: Callable[..., Rig], clock: Clock) -> None:
    log = MessageLog()
    seed_traffic(log)
    rig = make_rig(emulator=Emulator(stores=MemoryStores(SEED), messages=log, clock=clock, faults=Faults()))
    report = tenant_traffic(rig.provider(), start=START, end=NOW, budget=99)

    assert report.status == "complete"
    assert {c.name: c.messages for c in report.connectors} == {
        "From Mail Filter": 40,
        "From Scanner": 0,
        "To Partner": 7,
    }


@pytest.mark.parametrize(("text", "hours"), [("2d", 48), ("48h", 48), ("90m", 1.5), ("90d", 2160)])
def test_since_parses_durations_up_to_90_days(text: str, hours: float) -> None:
    assert parse_since(text) == timedelta(hours=hours)


@pytest.mark.parametrize("text", ["91d", "0d", "2w", "", "-1d"])
def test_since_refuses_what_message_trace_cannot_answer(text: str) -> None:
    with pytest.raises(ValueError):
        parse_since(text)


def _budget(limit: int) -> Any:
    from reconciler.providers.trace import RequestBudget

    return RequestBudget(limit)


def _report(**figure: Any) -> TenantTraffic:
    from reconciler.monitor.traffic import ConnectorTraffic

    values: dict[str, Any] = {
        "kind": "InboundConnector",
        "name": "In",
        "method": "observed",
        "messages": 1234,
        "observed": 1234,
        "candidates": 0,
        "first_seen": NOW - timedelta(hours=30),
        "last_seen": NOW - timedelta(minutes=5),
        "top_domains": (),
        "how": "observed: ...",
    }
    values.update(figure)
    return TenantTraffic(
        tenant="t", start=START, end=NOW, status="complete", connectors=(ConnectorTraffic(**values),)
    )


def test_the_review_sentence_of_a_used_connector() -> None:
    assert in_use_summary(_report(), "InboundConnector", "in") == (
        "in use: 1,234 message(s) in the last 48 h, last at 2026-12-06 07:55 UTC (observed)"
    )


def test_an_incomplete_read_says_at_least_what_it_saw_and_never_no_traffic() -> None:
    seen = _report(method="unknown", messages=None, observed=3, how="unknown: throttled")
    assert in_use_summary(seen, "InboundConnector", "In").startswith("in use: at least 3 message(s)")
    unseen = _report(method="unknown", messages=None, observed=0, how="unknown: throttled")
    assert in_use_summary(unseen, "InboundConnector", "In") == "traffic unknown in the last 48 h: throttled"
    assert in_use_summary(unseen, "OutboundConnector", "In").startswith("traffic unknown")


def test_rows_in_both_directions_are_not_counted_twice(
    clock: Clock, in_process: Callable[..., ExchangeProvider]
) -> None:
    """Mail in through the filter to a domain the tenant has not accepted is also an outbound candidate: the
    estimate of the inbound connector uses the inbound groups only."""
    from reconciler.emulator.trace import send_through

    log = MessageLog()
    for i in range(40):
        send_through(
            log,
            TENANT,
            sender=f"u{i}@woodgrove.example",
            recipients=["ann@contoso.com"],  # not an accepted domain of the tenant
            received=NOW - timedelta(hours=i + 1),
            inbound="From Mail Filter",
            from_ip="198.51.100.25",
        )
    emulator = Emulator(stores=MemoryStores(SEED), messages=log, clock=clock)
    report = tenant_traffic(in_process(emulator), start=START, end=NOW, budget=11)

    mail_filter = _by_name(report)["From Mail Filter"]
    assert mail_filter.method == "sampled" and mail_filter.messages == 40
