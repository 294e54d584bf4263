"""``exoform traffic`` on one tenant with 10,000 messages in the window, 50 ms of emulator latency.

The emulator runs in its own process (``exoform emulator serve --messages``) with three connectors and
10,000 messages in the last 48 hours: 6,000 in through the mail filter (by IP), 1,000 in through the
scanner relay (by IP), 2,000 out through the partner connector, 1,000 ordinary internet mail.  The
measurement is one ``tenant_traffic`` run with the default budget (60 requests), the provider opened fresh
(sign-in and TLS included).

Summary queries run one after the other (each continuation's cursor comes from the previous result);
detail reads run four at a time (``DETAIL_CONCURRENCY``).  The ideal is the sequential round trips x the
latency: the connector read (1, its listings concurrent), the accepted domains (1), the summary queries,
and the detail reads in waves of four.  Reported: requests (target: within the
budget, well under the service's 100 per 5 minutes), wall time, ratio wall / ideal (target <= 1.3) and how
close the sampled figures come to the truth.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.emulator_process import SECRET_ENV, TENANT, emulator_process, tenant_settings
from reconciler.desired.config import ExoformConfig
from reconciler.emulator.config import OPEN_SECRET
from reconciler.emulator.trace import MessageLog, dump_messages, send_through
from reconciler.monitor.traffic import DEFAULT_BUDGET, DETAIL_CONCURRENCY, TenantTraffic, tenant_traffic
from reconciler.providers.exchange import open_exchange

LATENCY_MS = 50.0
MESSAGES = 10_000
TARGET = 1.3
TRUTH = {"From Mail Filter": 6000, "From Scanner": 1000, "To Partner": 2000}

SEED = {
    "InboundConnector": [
        {
            "Name": "From Mail Filter",
            "SenderDomains": ["*"],
            "SenderIPAddresses": ["198.51.100.0/24"],
            "RestrictDomainsToIPAddresses": True,
        },
        {
            "Name": "From Scanner",
            "ConnectorType": "OnPremises",
            "SenderDomains": ["*"],
            "SenderIPAddresses": ["203.0.113.10"],
        },
    ],
    "OutboundConnector": [
        {
            "Name": "To Partner",
            "RecipientDomains": ["fabrikam.com"],
            "UseMXRecord": False,
            "SmartHosts": ["relay.fabrikam.com"],
        }
    ],
}


def messages(now: datetime) -> str:
    """The message seed: 10,000 messages spread over the 48 hours before ``now``."""
    log = MessageLog()
    step = timedelta(hours=47) / MESSAGES
    for i in range(MESSAGES):
        at = now - timedelta(minutes=30) - i * step
        if i % 10 < 6:
            extra: dict[str, Any] = {"inbound": "From Mail Filter", "from_ip": "198.51.100.25"}
            sender, recipient = f"u{i % 97}@woodgrove.example", "ann@bench.onmicrosoft.com"
        elif i % 10 == 6:
            extra = {"inbound": "From Scanner", "from_ip": "203.0.113.10"}
            sender, recipient = "scanner@bench.onmicrosoft.com", "ann@bench.onmicrosoft.com"
        elif i % 10 < 9:
            extra = {"outbound": "To Partner"}
            sender, recipient = "ann@bench.onmicrosoft.com", f"buyer{i % 13}@fabrikam.com"
        else:
            extra = {"from_ip": "192.0.2.80"}
            sender, recipient = "news@litware.example", "ann@bench.onmicrosoft.com"
        send_through(log, TENANT, sender=sender, recipients=[recipient], received=at, **extra)
    return dump_messages(log.messages(TENANT))


def timed(latency_ms: float, folder: Path, now: datetime) -> tuple[float, TenantTraffic]:
    """(wall seconds, report) of one run against a fresh emulator process adding ``latency_ms``."""
    seed_file, messages_file = folder / "seed.json", folder / "messages.json"
    args = ("--messages", str(messages_file))
    with emulator_process(latency_ms, seed_file, args=args) as (base, ca):
        os.environ[SECRET_ENV] = OPEN_SECRET
        config = ExoformConfig.model_validate({"tenants": {"bench": tenant_settings(base, ca)}})
        config = config.model_copy(update={"base_dir": folder})
        provider = open_exchange("bench", config.tenants["bench"], config)
        try:
            started = time.perf_counter()
            report = tenant_traffic(provider, start=now - timedelta(days=2), end=datetime.now(UTC))
            return time.perf_counter() - started, report
        finally:
            provider.close()


def measure() -> dict[str, Any]:
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "seed.json").write_text(json.dumps(SEED))
        (folder / "messages.json").write_text(messages(now))
        wall, report = timed(LATENCY_MS, folder, now)
        floor, _ = timed(0.0, folder, now)
    if report.status != "complete":
        raise RuntimeError(f"the traffic read was {report.status}: {report.error}")
    summary_queries = report.requests - report.sampled
    round_trips = 2 + summary_queries + math.ceil(report.sampled / DETAIL_CONCURRENCY)
    ideal = round_trips * LATENCY_MS / 1000
    figures = {c.name: c.messages for c in report.connectors}
    error = max(abs((figures[name] or 0) - truth) / truth for name, truth in TRUTH.items())
    return {
        "messages": MESSAGES,
        "summary_rows": report.rows,
        "requests": report.requests,
        "budget": DEFAULT_BUDGET,
        "detail_reads": report.sampled,
        "summary_queries": summary_queries,
        "round_trips": round_trips,
        "wall_s": round(wall, 2),
        "ideal_s": round(ideal, 2),
        "ratio": round(wall / ideal, 3),
        "no_latency_s": round(floor, 2),
        "floor_ratio": round((ideal + floor) / ideal, 3),
        "figures": figures,
        "methods": sorted({c.method for c in report.connectors}),
        "worst_relative_error": round(error, 3),
    }


def run() -> list[dict[str, Any]]:
    """The result in the shape ``python -m bench`` collects."""
    r = measure()
    return [
        {
            "name": (
                f"traffic, {r['messages']:,} messages in 48 h, 50 ms latency, default budget "
                "(wall / sequential round trips x latency)"
            ),
            "ratio": r["ratio"],
            "target": f"<= {TARGET}; requests <= {r['budget']} (service limit 100 per 5 min)",
            "detail": (
                f"wall {r['wall_s']} s (fresh provider: token + TLS), ideal {r['ideal_s']} s = "
                f"{r['round_trips']} round trips; {r['requests']} trace requests ({r['summary_queries']} "
                f"summary queries for {r['summary_rows']:,} rows, {r['detail_reads']} detail reads); "
                f"same run without latency {r['no_latency_s']} s (floor ratio {r['floor_ratio']}); figures "
                f"{r['figures']} ({', '.join(r['methods'])}), worst error vs truth "
                f"{r['worst_relative_error']:.1%}"
            ),
            "raw": r,
        }
    ]


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
