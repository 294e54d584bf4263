"""CLI start-up: ``exoform --help`` as a ratio to a bare ``python -c pass`` (both best of 10).

Target: ``exoform --help`` under 0.3 s; the ratio shows what exoform adds to the interpreter's own
start-up (heavy libraries are imported lazily, only by the command that needs them).
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any


def best_of(cmd: list[str], repeat: int = 10) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - start)
    return best


def run() -> list[dict[str, Any]]:
    bare = best_of([sys.executable, "-c", "pass"])
    cli = best_of([sys.executable, "-m", "reconciler", "--help"])
    return [
        {
            "name": "CLI start-up: exoform --help vs bare python",
            "ratio": round(cli / bare, 2),
            "target": "exoform --help < 0.3 s",
            "detail": f"exoform --help {cli * 1000:.0f} ms, python -c pass {bare * 1000:.0f} ms",
        }
    ]
