"""The PR comment of a fleet: Markdown size and render time for 1,000 and 40 tenants with 3 shared changes.

Each tenant's plan is made by the planner (:func:`reconciler.reconcile.planner.plan_tenant`) from the same
shared connector set against its own live state, as ``exoform plan`` makes it: a printer relay to create
(identical everywhere), the mail filter's outbound connector whose TLS setting changes (identical), and
the filter's inbound connector whose sender IP ranges gain the tenant's own range (a per-tenant value,
``${vars.filter_ips}``).  One tenant in twenty already matches the files (no changes).

Figures (ratios, per the README):
- size: the comment's characters / 65,536 (GitHub's limit); target below 1 (the renderer's budget is
  65,000), with everything shown whole for 40 tenants and what was left out named for 1,000;
- render time: :func:`~reconciler.render.markdown.render_markdown` / ``json.dumps`` of the same plan's JSON
  (the least any renderer of the whole plan does); best of 5.

Run: ``.venv/bin/python -m bench pr_comment`` (JSON on stdout).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from reconciler.desired.config import TenantConfig
from reconciler.live import LiveConnector, LiveState
from reconciler.model import InboundConnector, OutboundConnector
from reconciler.plan import Plan
from reconciler.reconcile.planner import plan_tenant
from reconciler.render.markdown import render_markdown

GITHUB_LIMIT = 65_536
SIZES = (1_000, 40)


def _connectors(i: int, *, desired: bool) -> list[Any]:
    """The shared set for tenant ``i``: as the files declare it, or as the tenant has it today."""
    ips = ["192.0.2.0/24", "198.51.100.0/24"] + ([f"10.{i // 250}.{i % 250}.0/24"] if desired else [])
    out = [
        InboundConnector.model_validate(
            {
                "name": "From mail filter",
                "connector_type": "Partner",
                "sender_domains": ["*"],
                "sender_ip_addresses": ips,
                "restrict_domains_to_ip_addresses": True,
                "require_tls": True,
            }
        ),
        OutboundConnector.model_validate(
            {
                "name": "To mail filter",
                "connector_type": "Partner",
                "recipient_domains": ["*"],
                "smart_hosts": ["smtp.filter.example.net"],
                "use_mx_record": False,
                "tls_settings": "CertificateValidation" if desired else "EncryptionOnly",
            }
        ),
    ]
    if desired:
        out.append(
            InboundConnector.model_validate(
                {
                    "name": "Printer relay",
                    "connector_type": "OnPremises",
                    "sender_domains": ["*"],
                    "sender_ip_addresses": ["203.0.113.10"],
                    "comment": "Printers and scanners of the branch offices",
                }
            )
        )
    return out


def make_plan(tenants: int) -> Plan:
    """The fleet's plan: ``tenants`` tenants, every twentieth one already matching the files."""
    settings = TenantConfig(connectors="shared", unmanaged="report", max_change_fraction=1.0)
    plans = []
    for i in range(tenants):
        unchanged = i % 20 == 19
        live = [
            LiveConnector(kind=c.KIND, name=c.name, guid=str(uuid.UUID(int=i * 8 + n)), connector=c)
            for n, c in enumerate(_connectors(i, desired=unchanged))
        ]
        name = f"customer-{i:04d}"
        plans.append(plan_tenant(name, settings, _connectors(i, desired=True), LiveState(name, live)))
    return Plan(plans)


def best_of(fn: Callable[[], object], repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def run() -> list[dict[str, Any]]:
    results = []
    for tenants in SIZES:
        plan = make_plan(tenants)
        data = plan.to_json()
        md = render_markdown(plan)
        render_s = best_of(lambda: render_markdown(plan))  # noqa: B023 (called at once)
        json_s = best_of(lambda: json.dumps(data))  # noqa: B023
        cut = "were cut to fit" in md
        changed = sum(1 for t in plan.tenants if t.changes)
        blocks = len(re.findall(r"<details><summary>[+~-] ", md))
        detail = (
            f"{len(md):,} characters, {blocks} change block(s) for {changed} changed "
            f"tenant(s); {'details cut and named' if cut else 'nothing cut'}"
        )
        results += [
            {
                "name": f"PR comment size, {tenants:,} tenants x 3 shared changes, vs GitHub's 65,536 limit",
                "ratio": round(len(md) / GITHUB_LIMIT, 3),
                "target": "< 1",
                "detail": detail,
            },
            {
                "name": f"PR comment render, {tenants:,} tenants x 3 shared changes, vs json.dumps of it",
                "ratio": round(render_s / json_s, 2),
                "target": "reported (no target set)",
                "detail": f"render {render_s * 1000:.1f} ms, json.dumps {json_s * 1000:.1f} ms "
                f"({len(json.dumps(data)):,} characters)",
            },
        ]
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
