"""``exoform emulator serve`` as a real process, for the tests that need one: started, and what its
start-up banner printed."""

from __future__ import annotations

import os
import subprocess
import sys


def start_serve(*args: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """``python -m reconciler emulator serve ARGS``, once it is listening, and its banner: ``base`` (the
    address it listens on) and each indented ``key: value`` line (``CA bundle``, ``authority``, ...).
    The caller stops it (SIGTERM); :class:`AssertionError` when it exits without listening."""
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "emulator", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    printed: dict[str, str] = {}
    for line in process.stdout:
        if line.startswith("Exchange Online emulator listening on "):
            printed["base"] = line.rsplit(" ", 1)[1].strip()
        elif ":" in line and line.startswith("  "):
            key, _, value = line.strip().partition(":")
            printed[key] = value.strip()
        if line.startswith("Press Ctrl-C"):
            return process, printed
    raise AssertionError(f"the emulator did not start: {printed}")
