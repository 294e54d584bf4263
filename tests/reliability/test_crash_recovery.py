"""Crash recovery: ``exoform apply`` killed (SIGKILL) at random points of a multi-change apply.

The tenant is ``provider: local`` with its state in a JSON file.  The apply creates 4 connectors, updates
3, renames 2 (``renamed_from``) and deletes 2 (``unmanaged: delete``), and leaves 2 declared connectors
alone.  Each trial starts the real ``python -m reconciler apply --auto-approve`` in a subprocess and
kills it, with a seeded random choice of when: during start-up and planning (after a random delay), or
right after the K-th write to the state file lands (the test watches the file; there is no hook in the
product).  Then it checks what a crash may leave behind, runs a fresh plan and apply, and checks that the
tenant converged.

After the kill: the state file parses (never torn), no name is doubled, no connector the plan does not
name was touched (every property equal, WhenChanged included), no connector is lost (each planned one is
there under its old or new name, or was a planned delete).  After recovery: a fresh plan shows no change
and every desired connector holds its desired values.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from reliability_support import Repo, child_env, inbound, outbound, tally

from reconciler.cli import cli

SEED = 20261127
KINDS = ("InboundConnector", "OutboundConnector")

INITIAL = {
    "keep-in.yaml": inbound("Keep in", ip="198.51.100.1", domain="keep.example.com"),
    "keep-out.yaml": outbound("Keep out", host="smtp.keep.example.net"),
    "upd-in-1.yaml": inbound("Update in 1", ip="198.51.100.2", domain="u1.example.com", comment="v1"),
    "upd-in-2.yaml": inbound("Update in 2", ip="198.51.100.3", domain="u2.example.com", comment="v1"),
    "upd-out.yaml": outbound("Update out", host="smtp.upd.example.net", comment="v1"),
    "ren-in.yaml": inbound("Old in", ip="198.51.100.4", domain="ren.example.com"),
    "ren-out.yaml": outbound("Old out", host="smtp.ren.example.net"),
    "del-in.yaml": inbound("Delete in", ip="198.51.100.5", domain="del.example.com"),
    "del-out.yaml": outbound("Delete out", host="smtp.del.example.net"),
}
DESIRED = {
    "keep-in.yaml": INITIAL["keep-in.yaml"],
    "keep-out.yaml": INITIAL["keep-out.yaml"],
    "upd-in-1.yaml": inbound("Update in 1", ip="198.51.100.2", domain="u1.example.com", comment="v2"),
    "upd-in-2.yaml": inbound("Update in 2", ip="198.51.100.33", domain="u2.example.com", comment="v2"),
    "upd-out.yaml": outbound("Update out", host="smtp2.upd.example.net", comment="v2"),
    "ren-in.yaml": inbound("New in", ip="198.51.100.4", domain="ren.example.com")
    + "renamed_from: [Old in]\n",
    "ren-out.yaml": outbound("New out", host="smtp.ren.example.net") + "renamed_from: [Old out]\n",
    **{
        f"add-in-{i}.yaml": inbound(f"Added in {i}", ip=f"192.0.2.{i}", domain=f"add{i}.example.com")
        for i in (1, 2)
    },
    **{f"add-out-{i}.yaml": outbound(f"Added out {i}", host=f"smtp.add{i}.example.net") for i in (1, 2)},
}
UNTOUCHED = {("InboundConnector", "keep in"), ("OutboundConnector", "keep out")}
WRITES = 11  # 4 creates + 3 updates + 2 renames + 2 deletes


class Tenant:
    """The tenant before the apply (made once) and a fresh copy of it per trial."""

    def __init__(self, root: Path) -> None:
        self.template = root / "template"
        repo = Repo(self.template, self.settings())
        for name, text in INITIAL.items():
            repo.write(name, text)
        result = CliRunner().invoke(cli, ["apply", "--auto-approve", "--config", str(repo.config)])
        assert result.exit_code == 0, result.output
        repo.clear()
        for name, text in DESIRED.items():
            repo.write(name, text)
        self.before = objects(repo)
        assert len(self.before) == 9

    @staticmethod
    def settings() -> dict[str, Any]:
        return {
            "provider": "local",
            "state": "state.json",
            "unmanaged": "delete",
            "max_deletes": 10,
            "max_change_fraction": 1.0,
            "max_changes": None,
        }

    def copy(self, root: Path) -> Repo:
        shutil.copytree(self.template, root)
        return Repo(root, self.settings())


def objects(repo: Repo) -> dict[str, dict[str, Any]]:
    """The tenant's connectors by Guid (the state file must parse: a torn file fails here)."""
    text = repo.state.read_text(encoding="utf-8")
    data = json.loads(text)
    return {obj["Guid"]: {**obj, "_kind": kind} for kind in KINDS for obj in data[kind]}


def check_invariants(tenant: Tenant, repo: Repo) -> None:
    """What must hold at any moment, crashed or not."""
    now = objects(repo)
    names = [(o["_kind"], o["Name"].casefold()) for o in now.values()]
    assert len(names) == len(set(names)), f"duplicate connector names: {sorted(names)}"
    for guid, old in tenant.before.items():
        key = (old["_kind"], old["Name"].casefold())
        if key in UNTOUCHED:
            assert now.get(guid) == old, f"{old['Name']} was touched though the plan does not name it"
        elif old["Name"].startswith(("Update", "Old")):
            assert guid in now, f"{old['Name']} was lost"
    renamed = {o["Name"] for o in now.values()} & {"Old in", "New in", "Old out", "New out"}
    assert len(renamed) == 2, f"a renamed connector is doubled or lost: {sorted(renamed)}"


def check_converged(repo: Repo) -> None:
    plan = CliRunner().invoke(
        cli, ["plan", "--detailed-exitcode", "--fail-on", "never", "--config", str(repo.config)]
    )
    assert plan.exit_code == 0, f"not converged:\n{plan.output}"
    names = {(o["_kind"], o["Name"]) for o in objects(repo).values()}
    assert len(names) == len(DESIRED)
    assert ("InboundConnector", "New in") in names and ("OutboundConnector", "Added out 2") in names
    comments = {o["Name"]: o.get("Comment") for o in objects(repo).values()}
    assert comments["Update in 1"] == comments["Update out"] == "v2"


def state_version(path: Path) -> tuple[int, int] | None:
    """Identifies one version of the state file (each write replaces the file: a new inode)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns)


def kill_apply(repo: Repo, rng: random.Random) -> tuple[str, int | None]:
    """Start ``exoform apply --auto-approve`` and SIGKILL it at a random point; (when, exit code or None)."""
    target = rng.randint(0, WRITES)
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", "--auto-approve", "--config", str(repo.config)],
        cwd=repo.root,
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        if target == 0:
            time.sleep(rng.uniform(0.05, 0.6))  # start-up, loading, the plan's read
            when = "before the first write"
        else:
            seen, last = 0, state_version(repo.state)
            deadline = time.monotonic() + 30
            while seen < target and proc.poll() is None and time.monotonic() < deadline:
                current = state_version(repo.state)
                if current != last:
                    seen, last = seen + 1, current
                time.sleep(0.0002)
            time.sleep(rng.uniform(0, 0.004))
            when = f"after write {seen}"
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert b"Traceback" not in err, err.decode()
    return when, proc.returncode if proc.returncode != -signal.SIGKILL else None


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Tenant:
    return Tenant(tmp_path_factory.mktemp("crash"))


def run_trials(tenant: Tenant, root: Path, trials: int, seed: int) -> None:
    rng = random.Random(seed)
    killed_mid_apply = 0
    for trial in range(trials):
        repo = tenant.copy(root / f"trial-{trial}")
        tally("crash trials run")
        when, code = kill_apply(repo, rng)
        if code is not None:  # finished before the kill landed
            assert code == 0, f"trial {trial}: apply failed on its own (exit {code})"
        elif when != "before the first write":
            killed_mid_apply += 1
            tally("crash trials killed between writes")
        check_invariants(tenant, repo)
        result = CliRunner().invoke(cli, ["apply", "--auto-approve", "--config", str(repo.config)])
        assert result.exit_code == 0, f"trial {trial} ({when}): recovery apply failed:\n{result.output}"
        check_invariants(tenant, repo)
        check_converged(repo)
        tally("crash trials converged")
        shutil.rmtree(repo.root)
    assert killed_mid_apply > 0 or trials < 5, "no trial was killed in the middle of the apply"


def test_killed_apply_converges(tenant: Tenant, tmp_path: Path) -> None:
    """5 trials: each killed apply is recovered by a fresh plan and apply."""
    run_trials(tenant, tmp_path, trials=5, seed=SEED)


@pytest.mark.long
@pytest.mark.timeout(1200)
def test_killed_apply_converges_long(tenant: Tenant, tmp_path: Path) -> None:
    run_trials(tenant, tmp_path, trials=100, seed=SEED + 1)


def test_state_file_is_replaced_atomically(tenant: Tenant, tmp_path: Path) -> None:
    """A killed apply never leaves a half-written state file: each version seen while it runs parses."""
    repo = tenant.copy(tmp_path / "repo")
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", "--auto-approve", "--config", str(repo.config)],
        cwd=repo.root,
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    versions = 0
    last = state_version(repo.state)
    try:
        while proc.poll() is None:
            current = state_version(repo.state)
            if current != last:
                last = current
                versions += 1
                json.loads(repo.state.read_text(encoding="utf-8"))
            time.sleep(0.0002)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0
    assert versions >= 1
    check_converged(repo)
