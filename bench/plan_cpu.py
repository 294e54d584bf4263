"""Planning CPU: plan_tenant over N connectors with 1% changed, as a ratio to a plain dict-equality pass.

The baseline is the least any planner must do: index live connectors by name and compare each desired
connector's normalized fields with its live twin's (one dict equality each).  Targets: planning within
5x of the baseline at 10,000 connectors; growth from 1,000 to 10,000 linear.  Growth is reported against
the baseline's own growth over the same sizes, which is linear by construction, so that CPU-cache effects
(1,000 connectors fit in cache, 10,000 do not) are not mistaken for the planner's.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from reconciler.desired.config import TenantConfig
from reconciler.live import LiveConnector, LiveState
from reconciler.model import InboundConnector, OutboundConnector
from reconciler.reconcile.planner import plan_tenant


def make_data(n: int, changed_share: float = 0.01) -> tuple[list[Any], LiveState]:
    """``n`` desired connectors (half each kind) and a live state where ``changed_share`` of them differ."""
    desired: list[Any] = []
    live: list[LiveConnector] = []
    step = int(1 / changed_share)
    for i in range(n):
        if i % 2:
            data: dict[str, Any] = {
                "name": f"in-{i}",
                "connector_type": "Partner",
                "sender_domains": [f"d{i}.example.com", "*.example.org"],
                "sender_ip_addresses": [f"198.51.{i % 250}.0/24"],
                "restrict_domains_to_ip_addresses": True,
            }
            model: type[Any] = InboundConnector
        else:
            data = {
                "name": f"out-{i}",
                "connector_type": "Partner",
                "recipient_domains": [f"r{i}.example.net"],
                "smart_hosts": [f"smtp{i}.example.net"],
                "use_mx_record": False,
                "tls_settings": "CertificateValidation",
            }
            model = OutboundConnector
        want = model.model_validate(data)
        have = model.model_validate(data | ({"comment": "changed out of band"} if i % step == 0 else {}))
        desired.append(want)
        guid = str(uuid.UUID(int=i))
        live.append(LiveConnector(kind=want.KIND, name=want.name, guid=guid, connector=have))
    return desired, LiveState("bench", live)


def best_of(fn: Callable[[], object], repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure(n: int, settings: TenantConfig) -> tuple[float, float]:
    """Best-of-5 seconds for (planning, baseline) over ``n`` connectors."""
    desired, live = make_data(n)
    desired_dicts = [c.managed_fields() for c in desired]
    live_dicts = [(lc.kind, lc.name, lc.connector.managed_fields()) for lc in live.connectors]

    def baseline() -> int:
        index = {(k, name.casefold()): d for k, name, d in live_dicts}
        return sum(
            1 for c, d in zip(desired, desired_dicts, strict=True) if index[(c.KIND, c.name.casefold())] != d
        )

    plan = plan_tenant("bench", settings, desired, live)
    assert len(plan.changes) == baseline() == n // 100
    return best_of(lambda: plan_tenant("bench", settings, desired, live)), best_of(baseline)


def run() -> list[dict[str, Any]]:
    settings = TenantConfig(connectors="c", unmanaged="report", max_change_fraction=1.0)
    timings: dict[int, float] = {}
    base_timings: dict[int, float] = {}
    for n in (1_000, 10_000):
        timings[n], base_timings[n] = measure(n, settings)
    ratio_10k = timings[10_000] / base_timings[10_000]
    growth = timings[10_000] / timings[1_000]
    base_growth = base_timings[10_000] / base_timings[1_000]
    return [
        {
            "name": "planning CPU, 10,000 connectors (1% changed) vs plain dict equality",
            "ratio": round(ratio_10k, 2),
            "target": "<= 5",
            "detail": f"plan {timings[10_000] * 1000:.1f} ms",
        },
        {
            "name": "planning growth 1,000 -> 10,000 connectors, relative to the baseline's growth",
            "ratio": round(growth / base_growth, 2),
            "target": "~1 (linear, like the baseline)",
            "detail": f"plan x{growth:.1f} ({timings[1_000] * 1000:.1f} -> {timings[10_000] * 1000:.1f} ms), "
            f"baseline x{base_growth:.1f}",
        },
    ]


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
