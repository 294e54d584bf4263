"""Fixtures of the reliability suite, and the ``reliability:`` summary line of what it tried and what held.

The helpers live in ``reliability_support.py`` next to this file; this folder is put on ``sys.path`` so
the test modules can import them (pytest runs in importlib mode, where test folders are not packages).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from reliability_support import TALLY, RecordingEmulator, Repo

from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.server import EmulatorServer


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TALLY:
        return
    parts = [f"{key} {value}" for key, value in sorted(TALLY.items())]
    terminalreporter.write_line("reliability: " + "; ".join(parts))


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """A user's repo in ``tmp_path`` with one ``provider: local`` tenant ``t`` (state in state.json)."""
    return Repo(tmp_path)


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    """The emulator's configuration; tests override this fixture to register apps."""
    return EmulatorConfig()


@pytest.fixture
def server(emulator_config: EmulatorConfig) -> Iterator[EmulatorServer]:
    """An emulator HTTPS server on 127.0.0.1 (a :class:`RecordingEmulator`), stopped after the test."""
    with EmulatorServer(RecordingEmulator(config=emulator_config)) as running:
        yield running
