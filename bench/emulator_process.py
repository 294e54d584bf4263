"""``exoform emulator serve`` in its own process for the latency benchmarks (a real service does not share
our interpreter lock)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: The tenant the latency benchmarks read and write.
TENANT = "bench.onmicrosoft.com"
#: The environment variable holding the emulator's open client secret (not a real secret).
SECRET_ENV = "EXOFORM_BENCH_SECRET"


@contextmanager
def emulator_process(
    latency_ms: float, seed: Path | None = None, *, args: tuple[str, ...] = ()
) -> Iterator[tuple[str, str]]:
    """Start the emulator (from ``seed``, with ``latency_ms`` added to every InvokeCommand request and
    ``args`` given to ``exoform emulator serve``); yields (base URL, CA bundle path); stops it on exit."""
    command = [sys.executable, "-m", "reconciler", "emulator", "serve", "--latency-ms", str(latency_ms)]
    command += ["--seed", str(seed)] if seed is not None else []
    command += list(args)
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


def tenant_settings(base: str, ca: str, **extra: Any) -> dict[str, Any]:
    """The ``exoform.yaml`` entry of a ``provider: exchange`` tenant at the emulator at ``base`` (trusting
    ``ca``), signing in with the secret in :data:`SECRET_ENV`; ``extra`` adds or overrides settings."""
    return {
        "connectors": "connectors",
        "provider": "exchange",
        "organization": TENANT,
        "auth": {"client_id": "exoform-bench", "client_secret": f"env:{SECRET_ENV}"},
        "endpoint": base,
        "authority": f"{base}/{TENANT}",
        "ca_bundle": ca,
        **extra,
    }
