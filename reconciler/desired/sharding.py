"""Tenants into jobs: a fleet larger than one runner's share split across a GitHub Actions matrix.

Contracts:
- :func:`shard` splits tenants, in the given order, into contiguous jobs whose sizes differ by at most
  one; every tenant is in exactly one job, and there are never more jobs than tenants nor more than
  :data:`MATRIX_LIMIT` (a :class:`ConfigError` says which option to change).
- :func:`matrix` is the ``strategy.matrix`` of those jobs: ``{"include": [{"shard", "tenants", "args"}]}``;
  ``args`` are ``--tenant`` options that select exactly the job's tenants (each name quoted for a POSIX
  shell and its glob characters escaped, so a name never selects another tenant).
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Sequence
from typing import Any

from reconciler.errors import ConfigError

#: GitHub Actions runs at most this many jobs from one matrix.
MATRIX_LIMIT = 256
_GLOB = re.compile(r"([*?\[])")


def job_count(tenants: int, shards: int | None, max_per_job: int | None) -> int:
    """How many jobs ``tenants`` tenants take: at most ``shards``, each at most ``max_per_job`` tenants
    (the fewest jobs that hold them when ``max_per_job`` is given)."""
    if tenants == 0:
        return 0
    limit = min(shards if shards is not None else MATRIX_LIMIT, MATRIX_LIMIT)
    if max_per_job is None:
        return min(limit, tenants)
    needed = math.ceil(tenants / max_per_job)
    if needed > limit:
        raise ConfigError(
            f"{tenants} tenants at most {max_per_job} per job need {needed} jobs, more than the "
            f"{limit} allowed{' (--shards)' if shards is not None and shards < MATRIX_LIMIT else ''}: "
            f"raise --max-per-job to at least {math.ceil(tenants / limit)}"
        )
    return needed


def shard(
    tenants: Sequence[str], *, shards: int | None = None, max_per_job: int | None = None
) -> list[list[str]]:
    """``tenants`` in balanced contiguous jobs (see the module's contracts)."""
    jobs = job_count(len(tenants), shards, max_per_job)
    if jobs == 0:
        return []
    size, extra = divmod(len(tenants), jobs)
    out: list[list[str]] = []
    start = 0
    for index in range(jobs):
        end = start + size + (1 if index < extra else 0)
        out.append(list(tenants[start:end]))
        start = end
    return out


def tenant_args(tenants: Sequence[str]) -> str:
    """``--tenant`` options selecting exactly ``tenants``, for a POSIX shell."""
    return " ".join("--tenant " + shlex.quote(_GLOB.sub(r"[\1]", name)) for name in tenants)


def matrix(jobs: Sequence[Sequence[str]]) -> dict[str, Any]:
    """The GitHub Actions matrix of ``jobs``: one entry per job."""
    return {
        "include": [
            {"shard": f"{i}-of-{len(jobs)}", "tenants": list(job), "args": tenant_args(job)}
            for i, job in enumerate(jobs, start=1)
        ]
    }
