"""Shared fixtures.

Emulator fixtures (see docs/emulator.md):

- ``make_emulator_server(**kwargs)``: start an :class:`~reconciler.emulator.server.EmulatorServer` (HTTPS on
  127.0.0.1, free port) with the given keyword arguments (``stores``, ``config``, ``faults`` or ``emulator``);
  every server started is stopped at the end of the test.
- ``emulator_server``: a started server with fresh in-memory stores and the default (open) config.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from reconciler.emulator.server import EmulatorServer
from reconciler.emulator.store import MemoryStores


@pytest.fixture
def make_emulator_server() -> Iterator[Callable[..., EmulatorServer]]:
    servers: list[EmulatorServer] = []

    def make(**kwargs: Any) -> EmulatorServer:
        if "emulator" not in kwargs:
            kwargs.setdefault("stores", MemoryStores())
        server = EmulatorServer(**kwargs).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def emulator_server(make_emulator_server: Callable[..., EmulatorServer]) -> EmulatorServer:
    return make_emulator_server()
