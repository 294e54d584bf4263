"""Shared fixtures.

Emulator fixtures (see docs/emulator.md):

- ``make_emulator_server(**kwargs)``: start an :class:`~reconciler.emulator.server.EmulatorServer` (HTTPS on
  127.0.0.1, free port) with the given keyword arguments (``stores``, ``config``, ``faults`` or ``emulator``);
  every server started is stopped at the end of the test.
- ``emulator_server``: a started server with fresh in-memory stores and the default (open) config.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
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


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project in the current folder: tenants lab (an empty folder) and prod (three connectors in two
    files, a hidden file and a non-YAML file that are not read)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exoform.yaml").write_text(
        "tenants:\n  lab:\n    connectors: conn/lab\n  prod:\n    connectors: conn/prod\n    max_deletes: 3\n"
    )
    (tmp_path / "conn" / "lab").mkdir(parents=True)
    (tmp_path / "conn" / "prod" / "sub").mkdir(parents=True)
    (tmp_path / "conn" / "prod" / "b.yaml").write_text(
        "# yaml-language-server: $schema=x\n"
        "kind: InboundConnector\n"
        "name: In\n"
        "connector_type: Partner\n"
        "sender_domains: ['Fabrikam.com', smtp:fabrikam.com;1]\n"
        "---\n"
        "kind: OutboundConnector\n"
        "name: Out\n"
        "connector_type: Partner\n"
        "recipient_domains: ['*']\n"
    )
    (tmp_path / "conn" / "prod" / "sub" / "a.yml").write_text(
        "kind: InboundConnector\nname: Sub\nconnector_type: Partner\nsender_domains: [woodgrove.example]\n"
    )
    (tmp_path / "conn" / "prod" / ".hidden.yaml").write_text("not: a connector\n")
    (tmp_path / "conn" / "prod" / "notes.txt").write_text("kind: nothing\n")
    return tmp_path
