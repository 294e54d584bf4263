"""The benchmarks stay runnable: every module `make bench` runs imports and has `run()`.

(The figures themselves are measured by `make bench`, never asserted in tests.)
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from bench.__main__ import MODULES


@pytest.mark.parametrize("name", MODULES)
def test_benchmark_module_imports_and_has_run(name: str) -> None:
    module = importlib.import_module(f"bench.{name}")
    assert callable(module.run)


def test_planning_benchmark_data_has_the_stated_share_of_changes() -> None:
    from bench.plan_cpu import make_data
    from reconciler.desired.config import TenantConfig
    from reconciler.reconcile.planner import plan_tenant

    desired, live = make_data(200)
    plan = plan_tenant("bench", TenantConfig(connectors="c", max_change_fraction=1.0), desired, live)
    assert len(plan.changes) == 2 and all(c.fields == ["comment"] for c in plan.changes)


def test_fleet_benchmark_tenants_share_one_folder_with_their_own_values(tmp_path: Path) -> None:
    from bench.fleet import _write_repo, _write_shared
    from reconciler.desired.connectors import load_all

    _write_shared(tmp_path / "shared")
    (tmp_path / "ca.pem").write_text("")
    config = _write_repo(tmp_path, "https://127.0.0.1:1", str(tmp_path / "ca.pem"), ["a", "b"])
    _, desired = load_all(config)
    ips = {
        d.tenant: sorted(ip for c in d.connectors for ip in getattr(c.connector, "sender_ip_addresses", []))
        for d in desired
    }
    assert ips == {"a": ["198.51.0.10", "198.51.0.11"], "b": ["198.51.1.10", "198.51.1.11"]}
    assert all(len(d.connectors) == 5 for d in desired)


@pytest.mark.long
@pytest.mark.parametrize("credential", ["secret", "certificate"])
def test_fleet_benchmark_runs_and_its_bare_floor_signs_in_the_same_way(credential: str) -> None:
    """A small fleet run end to end: exoform plans every tenant, and the bare-httpx floor signs in with
    the same credential and reads the same listings (it raises on an empty one)."""
    from bench.fleet import measure

    result = measure(tenants=4, latency_ms=0, parallelism=2, credential=credential)
    assert result["tenants"] == 4 and result["credential"] == credential
    assert result["bare_cpu_ms_per_tenant"] > 0 and result["cpu_vs_bare"] > 0
