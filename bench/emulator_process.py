"""``exoform emulator serve`` in its own process for the latency benchmarks (a real service does not share
our interpreter lock)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def emulator_process(latency_ms: float, seed: Path | None = None) -> Iterator[tuple[str, str]]:
    """Start the emulator (from ``seed``, with ``latency_ms`` added to every InvokeCommand request); yields
    (base URL, CA bundle path); stops it on exit."""
    command = [sys.executable, "-m", "reconciler", "emulator", "serve", "--latency-ms", str(latency_ms)]
    command += ["--seed", str(seed)] if seed is not None else []
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        base = ca = ""
        for line in process.stdout:
            if match := re.search(r"listening on (\S+)", line):
                base = match.group(1)
            if "CA bundle:" in line:
                ca = line.split(":", 1)[1].strip()
                break
        if not base or not ca:
            raise RuntimeError("the emulator did not start")
        yield base, ca
    finally:
        process.terminate()
        process.wait(timeout=10)
