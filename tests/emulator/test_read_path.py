"""Reads: store snapshots without copies, seeds completed once and saved.

A read must never be answered from a state older than the last write, by this process or another one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from reconciler.emulator.app import Emulator
from reconciler.emulator.store import DirectoryStores, JsonFileStore, MemoryStore, SharedStore

IN = {"Name": "c", "SenderDomains": ["a.com"]}


def test_memory_snapshot_is_unchanged_by_later_writes() -> None:
    store = MemoryStore({"InboundConnector": [dict(IN)]})
    before = store.snapshot()
    assert store.snapshot().version == before.version  # nothing committed in between
    with store.transaction() as state:
        state["InboundConnector"][0]["Comment"] = "changed"
        state["InboundConnector"].append({"Name": "d"})
    after = store.snapshot()
    assert after.version != before.version
    assert before.state["InboundConnector"] == [IN]  # the old snapshot still shows the old state
    assert [o["Name"] for o in after.state["InboundConnector"]] == ["c", "d"]


def test_failed_transaction_keeps_the_snapshot() -> None:
    store = MemoryStore({"InboundConnector": [dict(IN)]})
    before = store.snapshot()
    try:
        with store.transaction() as state:
            state["InboundConnector"].clear()
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    assert store.snapshot() == before


def test_file_snapshot_sees_writes_of_another_store_instance(tmp_path: Path) -> None:
    """Two JsonFileStore objects on one file stand for two processes."""
    path = tmp_path / "state.json"
    mine, theirs = JsonFileStore(path), JsonFileStore(path)
    assert mine.snapshot() is None  # no file yet
    with theirs.transaction() as state:
        state["InboundConnector"].append(dict(IN))
    first = mine.snapshot()
    assert first is not None and first.state["InboundConnector"] == [IN]
    assert mine.snapshot() is first  # unchanged file: parsed once
    with theirs.transaction() as state:
        state["InboundConnector"][0]["Comment"] = "by the other process"
    second = mine.snapshot()
    assert second is not None and second.version != first.version
    assert second.state["InboundConnector"][0]["Comment"] == "by the other process"


def test_reads_after_a_write_never_see_the_old_listing(exo_for: Any) -> None:
    exo = exo_for(Emulator(stores=SharedStore(MemoryStore({"InboundConnector": [dict(IN)]}))))
    first = exo.post("Get-InboundConnector", {"ResultSize": "Unlimited"})
    again = exo.post("Get-InboundConnector", {"ResultSize": "Unlimited"})
    assert first.content == again.content  # same state: same bytes
    exo.ok("Set-InboundConnector", Identity="c", Comment="after")
    (obj,) = exo.get("InboundConnector", ResultSize="Unlimited")
    assert obj["Comment"] == "after"
    exo.ok("New-InboundConnector", Name="e", SenderDomains=["e.com"])
    assert [o["Name"] for o in exo.get("InboundConnector", ResultSize="Unlimited")] == ["c", "e"]
    exo.ok("Remove-InboundConnector", Identity="e")
    assert [o["Name"] for o in exo.get("InboundConnector", ResultSize="Unlimited")] == ["c"]


def test_listing_is_exactly_the_compact_json_of_the_payload(exo_for: Any) -> None:
    seed = {
        "InboundConnector": [{"Name": f"c{i}", "SenderDomains": ["a.com"]} for i in range(3)],
        "OutboundConnector": [{"Name": "t", "RecipientDomains": ["b.com"], "TestMode": True}],
    }
    exo = exo_for(Emulator(stores=SharedStore(MemoryStore(seed))))
    for _ in range(2):  # the first read completes the seed, the second reads the snapshot
        paged = exo.post(
            "Get-InboundConnector", {"ResultSize": "Unlimited"}, headers={"Prefer": "odata.maxpagesize=2"}
        )
        body = paged.json()
        assert paged.content == json.dumps(body, separators=(",", ":")).encode()  # compact, like the service
        assert [o["Name"] for o in body["value"]] == ["c0", "c1"] and "@odata.nextLink" in body
        warned = exo.post("Get-OutboundConnector", {"ResultSize": "Unlimited"})
        body = warned.json()
        assert warned.content == json.dumps(body, separators=(",", ":")).encode()
        assert body["value"] == [] and body["@adminapi.warnings"]  # the hidden test-mode connector
    # different parameters are different listings
    assert [o["Name"] for o in exo.get("OutboundConnector", IncludeTestModeConnectors=True)] == ["t"]


def test_an_incomplete_object_written_behind_the_emulator_is_completed_on_read(
    tmp_path: Path, exo_for: Any
) -> None:
    path = tmp_path / "state.json"
    exo = exo_for(Emulator(stores=SharedStore(JsonFileStore(path))))
    exo.ok("New-InboundConnector", **IN)
    assert len(exo.get("InboundConnector")) == 1
    state = json.loads(path.read_text())
    state["InboundConnector"].append({"Name": "hand written", "SenderDomains": ["h.com"]})
    path.write_text(json.dumps(state))
    objects = exo.get("InboundConnector")
    written = next(o for o in objects if o["Name"] == "hand written")
    assert written["Guid"] and written["SenderDomains"] == ["smtp:h.com;1"] and written["RequireTls"] is True
    saved = json.loads(path.read_text())["InboundConnector"][1]
    assert saved["Guid"] == written["Guid"]  # completed once and saved: the id is stable
    assert exo.get("InboundConnector")[1]["Guid"] == written["Guid"]


def test_directory_tenants_start_from_the_current_seed(tmp_path: Path, exo_for: Any) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"InboundConnector": [IN]}))
    emulator = Emulator(stores=DirectoryStores(tmp_path / "state", seed))
    assert [o["Name"] for o in exo_for(emulator, "one.onmicrosoft.com").get("InboundConnector")] == ["c"]
    assert [o["Name"] for o in exo_for(emulator, "two.onmicrosoft.com").get("InboundConnector")] == ["c"]
    seed.write_text(json.dumps({"InboundConnector": [{"Name": "new seed", "SenderDomains": ["n.com"]}]}))
    os.utime(seed, ns=(1, 1))  # another modification time, whatever the clock's resolution
    third = exo_for(emulator, "three.onmicrosoft.com").get("InboundConnector")
    assert [o["Name"] for o in third] == ["new seed"]
    # a tenant that already has its file keeps it
    assert [o["Name"] for o in exo_for(emulator, "one.onmicrosoft.com").get("InboundConnector")] == ["c"]
