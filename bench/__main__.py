"""Run every benchmark, write ``bench/results.json`` and the table in ``bench/README.md``.

Each benchmark module has ``run() -> list[dict]``; a result has ``name``, ``ratio`` (measured against the
baseline named in ``name``, in this one run), ``target`` and ``detail``.  ``python -m bench NAME ...`` runs
only the named modules in this process, prints their results as JSON and leaves the files alone; the full
run starts one such process per module, so no benchmark measures the heap or threads another left behind.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
MODULES = [
    "plan_cpu",
    "startup",
    "memory",
    "provider_latency",
    "many_tenants",
    "apply_latency",
    "fleet",
    "traffic",
    "parsing",
    "pr_comment",
]
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
    }


def table(results: list[dict[str, Any]], info: dict[str, Any]) -> str:
    lines = [
        f"Measured {info['date']} on {info['platform']} ({info['cpus']} CPUs), Python {info['python']}.",
        "",
        "| Benchmark | Ratio | Target | Detail |",
        "|---|---:|---|---|",
    ]
    for r in results:
        lines.append(f"| {r['name']} | {r['ratio']} | {r['target']} | {r['detail']} |")
    return "\n".join(lines)


def run_here(names: list[str]) -> list[dict[str, Any]]:
    """The results of the named benchmark modules, run in this process (progress on stderr)."""
    results: list[dict[str, Any]] = []
    for name in names:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            print(f"skipping {name}: {exc}", file=sys.stderr)
            continue
        print(f"running {name} ...", file=sys.stderr)
        for result in module.run():
            results.append(result | {"benchmark": name})
            print(f"  {result['name']}: {result['ratio']} (target {result['target']})", file=sys.stderr)
    return results


def main(argv: list[str]) -> int:
    if argv:
        print(json.dumps(run_here(argv), indent=2))
        return 0
    results: list[dict[str, Any]] = []
    for name in MODULES:
        done = subprocess.run(
            [sys.executable, "-m", "bench", name], cwd=HERE.parent, stdout=subprocess.PIPE, check=True
        )
        results += json.loads(done.stdout)
    info = machine()
    (HERE / "results.json").write_text(json.dumps({"machine": info, "results": results}, indent=2) + "\n")
    readme = HERE / "README.md"
    text = readme.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    readme.write_text(f"{head}{BEGIN}\n{table(results, info)}\n{END}{tail}")
    print("wrote bench/results.json and bench/README.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
