"""How close one tenant's read comes to the protocol's minimum, with 50 ms of added latency.

For 10, 100 and 1,000 connectors (half inbound, half outbound, a tenth of those in test mode) the exchange
provider reads the tenant from the emulator server over TLS on loopback, the emulator adding 50 ms to every
InvokeCommand request.  The ideal is the protocol's minimum number of *sequential* round trips times the
latency: the listings (inbound; outbound with test mode; on a service not yet seen to list every connector
with the test-mode flag, the plain outbound listing too) run concurrently, so the minimum is the longest
listing's page count (1 page per 1,000 objects), i.e. one round trip for up to 1,000 connectors of each
kind.

The emulator runs in its own process (``exoform emulator serve``), as a real service would.  The same read
is also timed with no added latency: the difference, in units of the latency, is how many sequential round
trips the read really paid (1.0 is the protocol's minimum); what remains is processing time, client and
emulator.

Token acquisition: the emulator adds no latency to its identity endpoints, so msal's two token round trips
(OpenID discovery, token POST) cost no added latency and count as zero.  ``warm`` reads reuse the cached
token and open connections (median of several reads); ``cold`` is the first read of a fresh provider
(token fetch and TLS handshakes included, and the plain outbound listing: it is the read that shows the
emulator lists every connector with the test-mode flag), reported against the same ideal.

Prints one JSON object; ``ratio`` is wall time / ideal, target at most 1.3.

The floor: the listings can only be processed once they arrive, after the latency, so a read takes at least
ideal + the same read's time without latency (``floor_ratio``).  That processing is mostly the client's own
CPU under one interpreter lock: decoding the listings' JSON (about 0.6 MB for 1,000 connectors, with the
properties exoform asks for) and normalizing each connector into a model; both are reported
(``client_json_decode_ms``, ``client_build_models_ms``).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.emulator_process import SECRET_ENV, emulator_process, tenant_settings
from reconciler.desired.config import ExoformConfig
from reconciler.emulator.config import OPEN_SECRET
from reconciler.providers.exchange import open_exchange

LATENCY_MS = 50.0
SIZES = (10, 100, 1000)
WARM_READS = 5
PAGE_SIZE = 1000
TARGET = 1.3


def seed(count: int) -> dict[str, list[dict[str, Any]]]:
    """``count`` connectors: half inbound, half outbound (a tenth of those in test mode)."""
    inbound = count // 2
    outbound = count - inbound
    return {
        "InboundConnector": [
            {
                "Name": f"Inbound {i:04}",
                "ConnectorType": "Partner",
                "SenderDomains": [f"partner{i}.example.com"],
                "SenderIPAddresses": [f"198.51.{i % 250}.0/24"],
                "RestrictDomainsToIPAddresses": True,
            }
            for i in range(inbound)
        ],
        "OutboundConnector": [
            {
                "Name": f"Outbound {i:04}",
                "ConnectorType": "Partner",
                "RecipientDomains": [f"dest{i}.example.com"],
                "UseMXRecord": False,
                "SmartHosts": [f"relay{i}.example.net"],
                "TestMode": i % 10 == 0,
            }
            for i in range(outbound)
        ],
    }


def timed_reads(
    base: str, ca: str, count: int, breakdown: dict[str, float] | None = None
) -> tuple[float, float]:
    """(cold read, median warm read) in seconds against the emulator at ``base``.

    With ``breakdown``, also fills in the client's share of the processing, measured in this process on the
    listings as the emulator sends them (see :func:`client_processing`).
    """
    os.environ[SECRET_ENV] = OPEN_SECRET
    settings = tenant_settings(base, ca)
    config = ExoformConfig.model_validate({"tenants": {"bench": settings}})
    config = config.model_copy(update={"base_dir": Path(tempfile.gettempdir())})
    provider = open_exchange("bench", config.tenants["bench"], config, page_size=PAGE_SIZE)
    try:
        started = time.perf_counter()
        state = provider.read()
        cold = time.perf_counter() - started
        if len(state.connectors) != count:
            raise RuntimeError(f"read {len(state.connectors)} of {count} connectors")
        warm: list[float] = []
        for _ in range(WARM_READS):
            started = time.perf_counter()
            provider.read()
            warm.append(time.perf_counter() - started)
        if breakdown is not None:
            breakdown.update(client_processing(provider))
    finally:
        provider.close()
    return cold, statistics.median(warm)


def client_processing(provider: Any) -> dict[str, float]:
    """The client CPU a read cannot avoid after the listings arrive, in ms (median of 5): decoding the
    JSON bodies of the listings a warm read makes (as the emulator encodes them) and building the models of
    the unique connectors (``from_live``), one after the other, as the interpreter lock runs them anyway."""
    from reconciler.model import from_live
    from reconciler.providers.exchange import _SELECT

    listings = [
        (kind, provider.client.call(f"Get-{kind}", dict(params), select=",".join(_SELECT[kind])))
        for kind, params in provider.listings()
    ]
    bodies = [json.dumps({"value": objects}).encode() for _, objects in listings]
    unique = {(kind, obj["Guid"]): (kind, obj) for kind, objects in listings for obj in objects}

    def median_ms(work: Any) -> float:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            work()
            times.append(time.perf_counter() - started)
        return round(statistics.median(times) * 1000, 1)

    return {
        "json_decode_ms": median_ms(lambda: [json.loads(body) for body in bodies]),
        "build_models_ms": median_ms(lambda: [from_live(kind, obj) for kind, obj in unique.values()]),
        "listing_bytes": float(sum(len(body) for body in bodies)),
    }


def measure(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        seed_file = Path(folder) / "seed.json"
        seed_file.write_text(json.dumps(seed(count)))
        with emulator_process(LATENCY_MS, seed_file) as (base, ca):
            cold, warm = timed_reads(base, ca, count)
        breakdown: dict[str, float] = {}
        with emulator_process(0.0, seed_file) as (base, ca):
            _, baseline = timed_reads(base, ca, count, breakdown)
    per_kind = max(count // 2, count - count // 2)
    sequential = max(1, math.ceil(per_kind / PAGE_SIZE))
    ideal = sequential * LATENCY_MS / 1000
    return {
        "connectors": count,
        "sequential_round_trips": sequential,
        "ideal_ms": round(ideal * 1000, 1),
        "warm_ms": round(warm * 1000, 1),
        "ratio": round(warm / ideal, 3),
        "cold_ms": round(cold * 1000, 1),
        "cold_ratio": round(cold / ideal, 3),
        "no_latency_ms": round(baseline * 1000, 1),
        "latency_round_trips_paid": round((warm - baseline) / (LATENCY_MS / 1000), 2),
        # The data arrives only after the latency, so the read cannot beat ideal + its processing time:
        "floor_ratio": round((ideal + baseline) / ideal, 3),
        "client_json_decode_ms": breakdown["json_decode_ms"],
        "client_build_models_ms": breakdown["build_models_ms"],
        "listing_bytes": int(breakdown["listing_bytes"]),
    }


def run() -> list[dict[str, Any]]:
    """The results in the shape ``python -m bench`` collects."""
    results = []
    for count in SIZES:
        r = measure(count)
        results.append(
            {
                "name": f"provider read, {count} connectors, 50 ms latency, vs ideal (1 round trip)",
                "ratio": r["ratio"],
                "target": f"<= {TARGET}",
                "detail": (
                    f"warm {r['warm_ms']} ms, cold {r['cold_ms']} ms (token + TLS), "
                    f"ideal {r['ideal_ms']} ms; "
                    f"same read without latency {r['no_latency_ms']} ms (floor ratio {r['floor_ratio']}: "
                    f"of it client JSON decode {r['client_json_decode_ms']} ms + models "
                    f"{r['client_build_models_ms']} ms for {r['listing_bytes'] // 1000} kB); latency paid "
                    f"{r['latency_round_trips_paid']}x"
                ),
                "raw": r,
            }
        )
    return results


def main() -> dict[str, Any]:
    results = [r["raw"] for r in run()]
    report = {
        "benchmark": "provider_latency",
        "latency_ms": LATENCY_MS,
        "target_ratio": TARGET,
        "token_round_trips_counted": 0,
        "results": results,
        "ok": all(r["ratio"] <= TARGET for r in results),
    }
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
