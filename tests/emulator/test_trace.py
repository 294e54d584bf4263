"""Message trace in the emulator: the documented windows, result limits, continuation and throttling."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator.app import Emulator
from reconciler.emulator.binding import format_time
from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.trace import (
    INBOUND_KEY,
    OUTBOUND_KEY,
    ROUTE_ACTION,
    MessageLog,
    dump_messages,
    load_messages,
    send_through,
)
from reconciler.errors import InputError
from tests.emulator.conftest import TENANT

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW.timestamp()

    def __call__(self) -> float:
        return self.now


def _emulator(log: MessageLog, clock: Clock | None = None) -> Emulator:
    return Emulator(messages=log, clock=clock or Clock())


def _inbound(log: MessageLog, hours_ago: float, recipient: str = "ann@contoso.com", **extra: Any) -> None:
    send_through(
        log,
        TENANT,
        sender="bob@fabrikam.com",
        recipients=[recipient],
        received=NOW - timedelta(hours=hours_ago),
        inbound="From Filter",
        from_ip="198.51.100.7",
        **extra,
    )


def test_without_dates_only_the_last_48_hours(exo_for: Any) -> None:
    log = MessageLog()
    for hours in (1, 47, 49, 200):
        _inbound(log, hours)
    rows = exo_for(_emulator(log)).ok("Get-MessageTraceV2")
    assert [r["Received"] for r in rows] == [format_time(NOW - timedelta(hours=h)) for h in (1, 47)]
    assert {r["FromIP"] for r in rows} == {"198.51.100.7"}


@pytest.mark.parametrize(
    ("start", "end", "why"),
    [
        (NOW - timedelta(days=11), NOW, "10 days"),
        (NOW - timedelta(days=91), NOW - timedelta(days=85), "90 days"),
        (NOW, NOW - timedelta(days=1), "earlier than the EndDate"),
    ],
)
def test_windows_the_service_refuses(exo_for: Any, start: datetime, end: datetime, why: str) -> None:
    exo = exo_for(_emulator(MessageLog()))
    _, exception_type, text = exo.fail(
        "Get-MessageTraceV2", StartDate=format_time(start), EndDate=format_time(end)
    )
    assert exception_type.endswith("InvalidArgumentException") and why in text


def test_result_size_defaults_to_1000_and_stops_at_5000(exo_for: Any) -> None:
    log = MessageLog()
    for i in range(1001):
        _inbound(log, 1 + i / 1000, recipient=f"u{i}@contoso.com")
    exo = exo_for(_emulator(log))
    response = exo.post("Get-MessageTraceV2", {}, headers={"Prefer": "odata.maxpagesize=5000"})
    assert len(response.json()["value"]) == 1000
    assert "more results" in response.json()["@adminapi.warnings"][0]
    exo.fail("Get-MessageTraceV2", ResultSize=5001)


def test_continuation_with_starting_recipient_address_reads_every_row_once(exo_for: Any) -> None:
    log = MessageLog()
    for i in range(7):  # three recipients of one message at the same moment, then four later ones
        _inbound(log, 5 if i < 3 else 7 - i, recipient=f"r{i}@contoso.com")
    exo = exo_for(_emulator(log))
    params: dict[str, Any] = {
        "StartDate": format_time(NOW - timedelta(days=1)),
        "EndDate": format_time(NOW),
        "ResultSize": 2,
    }
    seen: list[str] = []
    while True:
        rows = exo.ok("Get-MessageTraceV2", **params)
        seen += [r["RecipientAddress"] for r in rows]
        if len(rows) < 2:
            break
        params.update(EndDate=rows[-1]["Received"], StartingRecipientAddress=rows[-1]["RecipientAddress"])
    assert sorted(seen) == [f"r{i}@contoso.com" for i in range(7)] and len(seen) == 7
    assert seen[:2] == ["r6@contoso.com", "r5@contoso.com"]  # newest first


def test_detail_events_carry_the_connector_data_keys(exo_for: Any) -> None:
    log = MessageLog()
    _inbound(log, 2)
    send_through(
        log,
        TENANT,
        sender="ann@contoso.com",
        recipients=["buyer@fabrikam.com"],
        received=NOW - timedelta(hours=1),
        outbound="To Partner",
    )
    exo = exo_for(_emulator(log))
    rows = {r["RecipientAddress"]: r for r in exo.ok("Get-MessageTraceV2")}
    inbound = exo.ok(
        "Get-MessageTraceDetailV2",
        MessageTraceId=rows["ann@contoso.com"]["MessageTraceId"],
        RecipientAddress="ann@contoso.com",
    )
    assert any(f"{INBOUND_KEY}From Filter" in e["Data"] for e in inbound if e["Event"] == "Receive")
    outbound = exo.ok(
        "Get-MessageTraceDetailV2",
        MessageTraceId=rows["buyer@fabrikam.com"]["MessageTraceId"],
        RecipientAddress="buyer@fabrikam.com",
        Action=ROUTE_ACTION,
    )
    assert len(outbound) == 1 and f"{OUTBOUND_KEY}To Partner" in outbound[0]["Data"]
    exo.fail("Get-MessageTraceDetailV2", MessageTraceId=rows["ann@contoso.com"]["MessageTraceId"])


def test_100_query_requests_in_5_minutes_then_429_until_the_window_moves(exo_for: Any) -> None:
    clock = Clock()
    emulator = _emulator(MessageLog(), clock)
    exo = exo_for(emulator)
    for _ in range(100):
        clock.now += 2.9  # 100 requests within 290 s
        assert exo.post("Get-MessageTraceV2").status_code == 200
    refused = exo.post("Get-MessageTraceDetailV2", {"MessageTraceId": "x", "RecipientAddress": "a@b.c"})
    assert refused.status_code == 429
    assert float(refused.headers["retry-after"]) == pytest.approx(12.9, abs=0.01)
    assert "throttled" in refused.json()["error"]["message"]
    clock.now += 13  # the first request left the window
    assert exo.post("Get-MessageTraceV2").status_code == 200
    assert emulator.stats.snapshot()["faults"]["trace_throttled"] == 1
    assert exo.post("Get-InboundConnector").status_code == 200  # connector cmdlets are not counted


def test_messages_seeded_from_a_file(tmp_path: Path, exo_for: Any) -> None:
    seed = tmp_path / "messages.json"
    message = {
        "Received": format_time(NOW - timedelta(hours=3)),
        "SenderAddress": "a@fabrikam.com",
        "RecipientAddress": "b@contoso.com",
        "FromIP": "198.51.100.7",
        "InboundConnector": "From Filter",
    }
    seed.write_text(json.dumps({"messages": [message]}))
    emulator = Emulator(config=EmulatorConfig(messages=str(seed)), clock=Clock())
    exo = exo_for(emulator)
    (row,) = exo.ok("Get-MessageTraceV2")
    events = exo.ok(
        "Get-MessageTraceDetailV2", MessageTraceId=row["MessageTraceId"], RecipientAddress="b@contoso.com"
    )
    assert f"{INBOUND_KEY}From Filter" in events[0]["Data"]
    again = tmp_path / "again.json"
    loaded = load_messages(seed)  # ids are generated where the seed gives none: dumped, they are kept
    again.write_text(dump_messages(loaded))
    assert [(m.row(), m.events) for m in load_messages(again)] == [(m.row(), m.events) for m in loaded]


def test_a_bad_message_seed_is_a_located_error(tmp_path: Path) -> None:
    seed = tmp_path / "messages.json"
    seed.write_text('{"messages": [\n  {"Received": "2026-12-01T00:00:00Z"}\n]}\n')
    with pytest.raises(InputError) as caught:
        load_messages(seed)
    problem = caught.value.problems[0]
    assert problem.location.line == 2 and "SenderAddress" in problem.message
