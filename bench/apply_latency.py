"""How close an apply of 20 changes comes to the ideal, with 50 ms of added latency, per write limit.

The tenant (``provider: exchange``) is the emulator in its own process (``exoform emulator serve``), over
TLS on loopback, adding 50 ms to every InvokeCommand request.  It first gets 10 connectors (not timed);
then the files change the comment of those 10 and declare 10 more, a plan is made (not timed), and
``apply_plan`` -- what ``exoform apply PLAN`` runs -- is timed: 10 updates and 10 creates.  This runs for
``write_concurrency`` 1 and 4 (the tenant's write limit in exoform.yaml), each on a fresh emulator.

How the ideal is counted, in round trips of 50 ms:

- the re-read before any write: 1 (the three listings -- inbound, outbound, outbound with test mode -- run
  concurrently and each fits in one page of 1,000);
- the writes: ``ceil(N / write_concurrency)`` (N = 20; each create or update is one cmdlet call and the
  applier runs at most ``write_concurrency`` at once);
- token acquisition: 0 (the emulator adds no latency to its identity endpoints; apply opens a fresh
  provider, so msal's discovery and token requests and the TLS handshakes are in the measured time and
  count against the ratio, but not in the ideal).

So the ideal is ``(1 + ceil(20 / wc)) * 50 ms``: 1,050 ms at wc 1, 300 ms at wc 4.  The same apply without
added latency is measured too; ``latency paid`` is (with - without) / 50 ms, the sequential round trips the
apply really waited for.  ``ratio`` is wall time / ideal; target at most 1.3.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.emulator_process import SECRET_ENV, emulator_process, tenant_settings
from reconciler.desired.connectors import load_all
from reconciler.emulator.config import OPEN_SECRET
from reconciler.plan import Plan
from reconciler.workflow import apply_plan, plan_tenants

LATENCY_MS = 50.0
CHANGES = 20  # half updates, half creates
CONCURRENCY = (1, 4)
TARGET = 1.3


def inbound(i: int, comment: str) -> str:
    return (
        f"kind: InboundConnector\nname: Partner {i:02}\nconnector_type: Partner\n"
        f"sender_domains: [partner{i}.example.com]\nsender_ip_addresses: [198.51.100.{i}]\n"
        f"restrict_domains_to_ip_addresses: true\ncomment: {comment}\n"
    )


def outbound(i: int) -> str:
    return (
        f"kind: OutboundConnector\nname: Route {i:02}\nconnector_type: Partner\n"
        f"recipient_domains: [dest{i}.example.com]\nuse_mx_record: false\n"
        f"smart_hosts: [relay{i}.example.net]\ntls_settings: CertificateValidation\n"
    )


def write_repo(root: Path, base: str, ca: str, write_concurrency: int) -> Path:
    settings = tenant_settings(
        base, ca, write_concurrency=write_concurrency, max_change_fraction=1.0, max_changes=None
    )
    config = root / "exoform.yaml"
    config.write_text(json.dumps({"tenants": {"bench": settings}}))
    (root / "connectors").mkdir(exist_ok=True)
    return config


def make_plan(config: Path) -> Plan:
    loaded, desired = load_all(config)
    [outcome] = plan_tenants(loaded, desired)
    if outcome.plan is None:
        raise RuntimeError(outcome.error)
    return Plan([outcome.plan])


def timed_apply(latency_ms: float, write_concurrency: int) -> float:
    """Seconds ``apply_plan`` takes for the 20 changes (on a fresh emulator)."""
    os.environ[SECRET_ENV] = OPEN_SECRET
    half = CHANGES // 2
    with (
        tempfile.TemporaryDirectory() as folder,
        emulator_process(latency_ms) as (base, ca),
    ):
        root = Path(folder)
        config = write_repo(root, base, ca, write_concurrency)
        for i in range(half):
            (root / "connectors" / f"in-{i}.yaml").write_text(inbound(i, "v1"))
        [first] = apply_plan(load_all(config)[0], make_plan(config))
        if first.report is None or not first.report.ok:
            raise RuntimeError(f"setup apply failed: {first.error or first.report}")
        for i in range(half):
            (root / "connectors" / f"in-{i}.yaml").write_text(inbound(i, "v2"))
            (root / "connectors" / f"out-{i}.yaml").write_text(outbound(i))
        plan = make_plan(config)
        actions = sorted(c.action for c in plan.tenants[0].changes)
        if actions != ["create"] * half + ["update"] * half:
            raise RuntimeError(f"unexpected plan: {actions}")
        loaded = load_all(config)[0]
        started = time.perf_counter()
        [result] = apply_plan(loaded, plan)
        elapsed = time.perf_counter() - started
        if result.report is None or not result.report.ok or result.report.count("applied") != CHANGES:
            raise RuntimeError(f"apply failed: {result.error or result.report}")
        if make_plan(config).has_changes:
            raise RuntimeError("the apply did not converge")
    return elapsed


def ideal_round_trips(write_concurrency: int) -> int:
    return 1 + math.ceil(CHANGES / write_concurrency)


def measure(write_concurrency: int) -> dict[str, Any]:
    wall = timed_apply(LATENCY_MS, write_concurrency)
    baseline = timed_apply(0.0, write_concurrency)
    trips = ideal_round_trips(write_concurrency)
    ideal = trips * LATENCY_MS / 1000
    return {
        "write_concurrency": write_concurrency,
        "changes": CHANGES,
        "ideal_round_trips": trips,
        "ideal_ms": round(ideal * 1000, 1),
        "wall_ms": round(wall * 1000, 1),
        "ratio": round(wall / ideal, 3),
        "no_latency_ms": round(baseline * 1000, 1),
        "latency_round_trips_paid": round((wall - baseline) / (LATENCY_MS / 1000), 2),
    }


def run() -> list[dict[str, Any]]:
    """The results in the shape ``python -m bench`` collects."""
    results = []
    for wc in CONCURRENCY:
        r = measure(wc)
        results.append(
            {
                "name": (
                    f"apply {CHANGES} changes (10 creates, 10 updates), 50 ms latency, "
                    f"write_concurrency {wc}, vs ideal ({r['ideal_round_trips']} round trips)"
                ),
                "ratio": r["ratio"],
                "target": f"<= {TARGET}",
                "detail": (
                    f"wall {r['wall_ms']} ms (fresh provider: token + TLS included), "
                    f"ideal {r['ideal_ms']} ms; "
                    f"same apply without latency {r['no_latency_ms']} ms; "
                    f"latency paid {r['latency_round_trips_paid']} round trips"
                ),
                "raw": r,
            }
        )
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
