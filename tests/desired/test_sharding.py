"""Tenants into balanced jobs for a GitHub Actions matrix: every tenant exactly once, at most 256 jobs."""

from __future__ import annotations

import fnmatch
import shlex

import pytest

from reconciler.desired.sharding import MATRIX_LIMIT, matrix, shard
from reconciler.errors import ConfigError


@pytest.mark.parametrize("count", [0, 1, 255, 256, 257, 2000])
@pytest.mark.parametrize("shards", [1, 7, 256])
def test_shards_cover_every_tenant_once_balanced_in_order(count: int, shards: int) -> None:
    tenants = [f"customer-{i:04d}" for i in range(count)]
    jobs = shard(tenants, shards=shards)
    assert [t for job in jobs for t in job] == tenants
    assert len(jobs) == min(shards, count)
    if jobs:
        sizes = [len(job) for job in jobs]
        assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1


@pytest.mark.parametrize(("count", "per_job", "expected"), [(0, 5, 0), (1, 5, 1), (10, 5, 2), (11, 5, 3)])
def test_max_per_job_uses_the_fewest_jobs(count: int, per_job: int, expected: int) -> None:
    jobs = shard([str(i) for i in range(count)], max_per_job=per_job)
    assert len(jobs) == expected and all(len(job) <= per_job for job in jobs)


def test_more_jobs_than_a_matrix_holds_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match="raise --max-per-job to at least 8"):
        shard([str(i) for i in range(2000)], max_per_job=5)
    assert len(shard([str(i) for i in range(2000)], max_per_job=8)) == 250 <= MATRIX_LIMIT
    with pytest.raises(ConfigError, match="more than the 10 allowed"):
        shard([str(i) for i in range(100)], shards=10, max_per_job=5)


def test_matrix_args_select_exactly_each_jobs_tenants_even_with_odd_names() -> None:
    tenants = ["a", "b c", "x*", "[y]", "it's", "x1"]
    entries = matrix(shard(tenants, shards=2))["include"]
    assert [e["shard"] for e in entries] == ["1-of-2", "2-of-2"]
    selected: list[str] = []
    for entry in entries:
        words = shlex.split(entry["args"])
        patterns = words[1::2]
        assert words[0::2] == ["--tenant"] * len(patterns)
        selected += [t for t in tenants if any(fnmatch.fnmatchcase(t, p) for p in patterns)]
        assert entry["tenants"] == [t for t in tenants if any(fnmatch.fnmatchcase(t, p) for p in patterns)]
    assert sorted(selected) == sorted(tenants)
