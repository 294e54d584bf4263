"""Shared fixtures, and the test tiers.

Every test has exactly one tier (``pytest -m fast`` and so on; see README "Contributing"):

- ``fast``: units, contracts, in-process backends (``make check`` runs lint and these);
- ``e2e``: the CLI in process, providers over TLS (any test using ``make_emulator_server``), a few real
  subprocesses;
- ``reliability``: the fault matrix, hostile servers, bad input, crashes;
- ``long``: long fuzzing and crash trials (``make test-long``); every other tier runs in ``make test``.

The tier comes from where the test lives and what it uses (:func:`tier_of`), unless the test (or its
class or module) is marked with one itself; two tier marks on one test stop the run.

Emulator fixtures (see docs/emulator.md):

- ``make_emulator_server(**kwargs)``: an :class:`~reconciler.emulator.server.EmulatorServer` (HTTPS on
  127.0.0.1) serving a fresh :class:`~reconciler.emulator.app.Emulator` of the given keyword arguments
  (``stores``, ``config``, ``faults``, or an ``emulator``).  The first one of a test is the test process's
  shared server (started once, as starting and stopping a TLS server per test adds up) with the test's own
  emulator behind it: nothing of another test's emulator is seen.  Any further one in the same test is a
  server of its own, stopped at the end of the test.  Count connections as a difference
  (``connections_accepted``): the shared server has served other tests.
- ``emulator_server``: a started server with fresh in-memory stores and the default (open) config.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator.app import Emulator
from reconciler.emulator.server import EmulatorServer
from reconciler.emulator.store import MemoryStores

TIERS = ("fast", "e2e", "reliability", "long")
_TESTS = Path(__file__).parent


def tier_of(item: pytest.Item) -> str:
    """The tier of a test that has no tier mark: from its folder and file, or from what it uses."""
    if not item.path.is_relative_to(_TESTS):
        return "fast"
    parts = item.path.relative_to(_TESTS).parts
    if parts[0] == "reliability":
        return "reliability"
    if parts[0] == "cli" or item.path.stem.endswith("_e2e"):
        return "e2e"
    if "make_emulator_server" in getattr(item, "fixturenames", ()):
        return "e2e"  # a real TLS server on loopback
    return "fast"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give each test without a tier mark the tier of :func:`tier_of`; refuse a test with two."""
    for item in items:
        marked = {m.name for m in item.iter_markers() if m.name in TIERS}
        if len(marked) > 1:
            raise pytest.UsageError(f"{item.nodeid}: marked with tiers {sorted(marked)}; a test has one")
        if not marked:
            item.add_marker(tier_of(item))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Move what collection built (every module, test and parameter) out of the garbage collector's
    reach: it lives for the whole run, and every full collection walked it again (3.4 s of CPU per run;
    1.1 s since)."""
    gc.collect()
    gc.freeze()


@pytest.fixture(scope="session")
def shared_emulator_server() -> Iterator[EmulatorServer]:
    """One TLS emulator server per test process (per xdist worker); see ``make_emulator_server``."""
    with EmulatorServer(Emulator()) as server:
        yield server


@pytest.fixture
def make_emulator_server(shared_emulator_server: EmulatorServer) -> Iterator[Callable[..., EmulatorServer]]:
    own: list[EmulatorServer] = []
    shared_used = False

    def make(**kwargs: Any) -> EmulatorServer:
        nonlocal shared_used
        if "emulator" not in kwargs:
            kwargs.setdefault("stores", MemoryStores())
        emulator = kwargs.pop("emulator", None) or Emulator(**kwargs)
        if shared_used:
            server = EmulatorServer(emulator).start()
            own.append(server)
            return server
        shared_used = True
        shared_emulator_server.emulator = emulator
        return shared_emulator_server

    yield make
    shared_emulator_server.emulator = Emulator()  # a late request of this test finds nothing of it
    for server in own:
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
