"""The benchmarks stay runnable: every module `make bench` runs imports and has `run()`.

(The figures themselves are measured by `make bench`, never asserted in tests.)
"""

from __future__ import annotations

import importlib

import pytest

from bench.__main__ import MODULES


@pytest.mark.parametrize("name", MODULES)
def test_benchmark_module_imports_and_has_run(name: str) -> None:
    module = importlib.import_module(f"bench.{name}")
    assert callable(module.run)


def test_planning_benchmark_data_has_the_stated_share_of_changes() -> None:
    from bench.plan_cpu import make_data
    from reconciler.config import TenantConfig
    from reconciler.planner import plan_tenant

    desired, live = make_data(200)
    plan = plan_tenant("bench", TenantConfig(connectors="c", max_change_fraction=1.0), desired, live)
    assert len(plan.changes) == 2 and all(c.fields == ["comment"] for c in plan.changes)
