"""Peak memory for 10,000 connectors: reading them into models and planning, against holding the same
Get-shaped objects as plain parsed JSON (the least any tool that reads the tenant must hold).

Both are measured with tracemalloc in this process; the ratio is exoform's peak over the baseline's.
"""

from __future__ import annotations

import gc
import json
import tracemalloc
import uuid
from collections.abc import Callable
from typing import Any

N = 10_000


def get_objects(n: int) -> list[dict[str, Any]]:
    """Get-InboundConnector-shaped objects, as the service returns them."""
    objs = []
    for i in range(n):
        guid = str(uuid.UUID(int=i))
        objs.append(
            {
                "Name": f"in-{i}",
                "Identity": f"in-{i}",
                "Guid": guid,
                "ExchangeObjectId": guid,
                "DistinguishedName": f"CN=in-{i},CN=Transport Settings,CN=Configuration",
                "ConnectorType": "Partner",
                "ConnectorSource": "Default",
                "Comment": "",
                "Enabled": True,
                "SenderDomains": [f"smtp:d{i}.example.com;1"],
                "SenderIPAddresses": [f"198.51.{i % 250}.0/24"],
                "RestrictDomainsToIPAddresses": True,
                "RequireTls": True,
                "EFSkipIPs": [],
                "EFUsers": [],
                "WhenChangedUTC": "2026-11-01T10:00:00.0000000Z",
            }
        )
    return objs


def peak(fn: Callable[[], object]) -> int:
    gc.collect()
    tracemalloc.start()
    keep = fn()
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del keep
    return top


def run() -> list[dict[str, Any]]:
    from reconciler.desired.config import TenantConfig
    from reconciler.live import LiveConnector, LiveState
    from reconciler.model import from_live
    from reconciler.reconcile.planner import plan_tenant

    text = json.dumps({"value": get_objects(N)})
    settings = TenantConfig(connectors="c", max_change_fraction=1.0)

    def baseline() -> object:
        return json.loads(text)["value"]

    def exoform() -> object:
        objs = json.loads(text)["value"]
        live = LiveState(
            "bench",
            [
                LiveConnector(
                    "InboundConnector", o["Name"], o["Guid"], from_live("InboundConnector", o), raw=o
                )
                for o in objs
            ],
        )
        desired = [lc.connector for lc in live.connectors]
        return live, plan_tenant("bench", settings, desired, live)

    base, ours = peak(baseline), peak(exoform)
    return [
        {
            "name": "peak memory, 10,000 connectors read and planned vs the same objects as parsed JSON",
            "ratio": round(ours / base, 2),
            "target": "reported (no target set)",
            "detail": f"exoform {ours / 2**20:.1f} MiB, parsed JSON {base / 2**20:.1f} MiB",
        }
    ]
