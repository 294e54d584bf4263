"""State stores: seeds, the JSON file store's atomicity and its safety across processes."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator.app import Emulator
from reconciler.emulator.store import (
    DirectoryStores,
    JsonFileStore,
    MemoryStore,
    MemoryStores,
    SharedStore,
    load_seed,
    open_store,
)
from reconciler.errors import InputError

IN = {"Name": "c", "SenderDomains": ["a.com"]}


def test_partial_seed_objects_are_completed_once_and_saved(tmp_path: Path, exo_for: Any) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        "InboundConnector:\n"
        "  - Name: From seed\n"
        "    SenderDomains: [contoso.com]\n"
        "    ConnectorSource: AdminUI\n"
        "OutboundConnector:\n"
        "  - {Name: Hybrid, ConnectorType: OnPremises, ConnectorSource: HybridWizard,\n"
        "     RecipientDomains: [a.com]}\n"
        "AcceptedDomain:\n"
        "  - DomainName: contoso.com\n"
    )
    state = tmp_path / "state.json"
    exo = exo_for(Emulator(stores=SharedStore(open_store(state, seed))))
    (inbound,) = exo.get("InboundConnector")
    assert inbound["SenderDomains"] == ["smtp:contoso.com;1"] and inbound["ConnectorSource"] == "AdminUI"
    assert inbound["RequireTls"] is True and inbound["Guid"] and inbound["Identity"] == "From seed"
    (outbound,) = exo.get("OutboundConnector")
    assert outbound["ConnectorSource"] == "HybridWizard" and outbound["UseMXRecord"] is True
    saved = json.loads(state.read_text())
    assert saved["InboundConnector"][0]["Guid"] == inbound["Guid"]  # generated ids are stable
    assert exo.get("InboundConnector")[0]["Guid"] == inbound["Guid"]
    assert "contoso.com" in [d["DomainName"] for d in exo.get("AcceptedDomain")]


def test_seed_is_used_only_when_the_state_file_does_not_exist(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"InboundConnector": [IN]}))
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"InboundConnector": []}))
    assert JsonFileStore(state, seed).read()["InboundConnector"] == []


def test_seed_errors_name_file_line_and_column(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text("InboundConnector:\n  - SenderDomains: [a.com]\nMailbox: []\n")
    with pytest.raises(InputError) as caught:
        load_seed(seed)
    problems = [str(p) for p in caught.value.problems]
    assert f"{seed}:2:5: error: InboundConnector #1 has no 'Name'" in problems
    assert any(p.startswith(f"{seed}:3:1: error: unknown object kind 'Mailbox'") for p in problems)
    broken = tmp_path / "broken.json"
    broken.write_text('{"InboundConnector": [\n  {"Name": "x",]\n}')
    with pytest.raises(InputError, match=r"broken.json:2:"):
        load_seed(broken)


def test_corrupt_state_file_is_reported_not_overwritten(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text('{"InboundConnector": [')
    with pytest.raises(InputError, match=r"state.json:1:"):
        JsonFileStore(state).read()
    assert state.read_text() == '{"InboundConnector": ['


def test_transaction_that_raises_leaves_state_unchanged(tmp_path: Path) -> None:
    for store in (MemoryStore(), JsonFileStore(tmp_path / "s.json")):
        with store.transaction() as state:
            state["InboundConnector"].append({"Name": "kept"})
        with pytest.raises(RuntimeError), store.transaction() as state:
            state["InboundConnector"].append({"Name": "lost"})
            raise RuntimeError("abort")
        assert [o["Name"] for o in store.read()["InboundConnector"]] == ["kept"]


def test_file_write_is_atomic_rename(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    store = JsonFileStore(state)
    with store.transaction() as data:
        data["InboundConnector"].append({"Name": "a"})
    inode = os.stat(state).st_ino
    with store.transaction() as data:
        data["InboundConnector"].append({"Name": "b"})
    assert os.stat(state).st_ino != inode  # replaced by rename, never rewritten in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.lock"]  # no temp left


def test_directory_stores_one_file_per_tenant(tmp_path: Path, exo_for: Any) -> None:
    emulator = Emulator(stores=DirectoryStores(tmp_path / "tenants"))
    exo_for(emulator, "Contoso.onmicrosoft.com").ok("New-InboundConnector", **IN)
    exo_for(emulator, "fabrikam.onmicrosoft.com").get("InboundConnector")
    files = sorted(p.name for p in (tmp_path / "tenants").glob("*.json"))
    assert files == ["contoso.onmicrosoft.com.json", "fabrikam.onmicrosoft.com.json"]
    saved = json.loads((tmp_path / "tenants" / "contoso.onmicrosoft.com.json").read_text())
    assert [c["Name"] for c in saved["InboundConnector"]] == ["c"]


def test_memory_stores_start_each_tenant_from_the_seed() -> None:
    stores = MemoryStores({"InboundConnector": [IN]})
    with stores.get("a").transaction() as state:
        state["InboundConnector"].clear()
    assert stores.get("A").read()["InboundConnector"] == []
    assert len(stores.get("b").read()["InboundConnector"]) == 1


def _hammer(path: str, worker: int, count: int) -> None:
    from reconciler.emulator.tenant import TenantInfo, invoke

    store = JsonFileStore(path)
    tenant = TenantInfo.for_name("contoso.onmicrosoft.com")
    for index in range(count):
        invoke(
            tenant, store, "New-InboundConnector", {"Name": f"w{worker}-{index}", "SenderDomains": ["a.com"]}
        )


@pytest.mark.reliability  # two processes racing on one file
def test_two_processes_hammering_one_file_lose_no_write(tmp_path: Path) -> None:
    path = str(tmp_path / "state.json")
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_hammer, args=(path, worker, 50)) for worker in range(2)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=60)
        assert process.exitcode == 0
    names = {c["Name"] for c in JsonFileStore(path).read()["InboundConnector"]}
    assert len(names) == 100


@pytest.mark.timeout(20)
def test_a_state_file_that_is_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "state.json")
    with pytest.raises(InputError, match="named pipe"):
        JsonFileStore(tmp_path / "state.json").read()


def test_a_state_file_nested_too_deeply_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError, match="nesting is deeper than 32 levels"):
        JsonFileStore(tmp_path / "state.json").read()
