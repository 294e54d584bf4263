"""``exoform plan --base REF`` through the CLI: a real git repository in a temporary folder (base commit,
head commit) and a local tenant changed outside exoform between them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.providers.exchange import ExchangeProvider
from reconciler.render.markdown import REPAIRS
from tests.cli.test_plan_apply import FILTER_OUT, RELAY, Repo

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

CHANGED_LIVE = "2026-11-30T08:15:00Z"


def _git(root: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
        "PATH": "/usr/bin:/bin:/usr/local/bin",
    }
    done = subprocess.run(
        ["git", "-C", str(root), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _commit(repo: Repo, message: str) -> str:
    _git(repo.root, "add", "exoform.yaml", "connectors")
    _git(repo.root, "commit", "-q", "-m", message)
    return _git(repo.root, "rev-parse", "HEAD")


def _change_live(repo: Repo, kind: str, name: str, **values: Any) -> None:
    """Someone edits a connector in the admin center: the tenant's state, not the files."""
    data = json.loads(repo.state.read_text())
    obj = next(o for o in data[kind] if o["Name"] == name)
    obj.update(values, WhenChangedUTC=CHANGED_LIVE)
    repo.state.write_text(json.dumps(data))


@pytest.fixture
def pr(tmp_path: Path) -> tuple[Repo, str]:
    """A repository whose base commit is applied; then the relay is changed outside exoform and the PR
    (the head commit) gives the outbound connector a comment.  Returns the repo and the base sha."""
    repo = Repo(tmp_path / "repo")
    _git(repo.root, "init", "-q")
    repo.write("relay.yaml", RELAY)
    repo.write("out.yaml", FILTER_OUT)
    base = _commit(repo, "base")
    assert repo.plan_and_apply().exit_code == 0
    _change_live(
        repo, "InboundConnector", "Printer relay", SenderIPAddresses=["203.0.113.10", "198.51.100.7"]
    )
    repo.write("out.yaml", FILTER_OUT + "    comment: all mail through the filter\n")
    _commit(repo, "head")
    return repo, base


def test_plan_base_marks_the_files_change_and_the_repair_in_every_format(pr: tuple[Repo, str]) -> None:
    repo, base = pr
    text = repo.run("plan", "--base", base, "--no-color")
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert '  ~ OutboundConnector "To filter"' in lines  # the PR's change: no tag
    assert '  ~ InboundConnector "Printer relay" (repair: changed outside exoform)' in lines
    assert f"      (live connector last changed {CHANGED_LIVE})" in lines

    data = json.loads(repo.run("plan", "--base", base, "--format", "json").stdout)
    causes = {c["name"]: (c["cause"], c["when_changed_utc"]) for c in data["tenants"][0]["changes"]}
    assert causes["To filter"][0] == "files"
    assert causes["Printer relay"] == ("repair", CHANGED_LIVE)

    md = repo.run("plan", "--base", base, "--format", "markdown").stdout
    changes, repairs = md.split("### Changes", 1)[1].split(f"### {REPAIRS}", 1)
    assert "OutboundConnector <code>To filter</code>" in changes and "Printer relay" not in changes
    assert "InboundConnector <code>Printer relay</code>" in repairs and "To filter" not in repairs
    assert f"Live connector last changed {CHANGED_LIVE}." in repairs

    unmarked = json.loads(repo.run("plan", "--format", "json").stdout)  # no --base: no cause
    assert {c["cause"] for c in unmarked["tenants"][0]["changes"]} == {None}
    assert unmarked["base"] is None


def test_the_plan_names_the_revision_its_causes_are_against(pr: tuple[Repo, str], tmp_path: Path) -> None:
    """A reviewer (and a saved plan) can tell which files repairs were judged against: the revision as
    given and the commit it named, in every format and after ``show``."""
    repo, base = pr
    _git(repo.root, "tag", "v1", base)
    said = f"Changes and repairs told apart against the files at v1 (commit {base[:12]})."
    assert said in repo.run("plan", "--base", "v1", "--no-color").output.splitlines()
    md = repo.run("plan", "--base", "v1", "--format", "markdown").stdout
    assert f"at <code>v1</code> (commit <code>{base[:12]}</code>)." in md
    saved = tmp_path / "plan.json"
    assert repo.run("plan", "--base", "v1", "--out", str(saved)).exit_code == 0
    assert json.loads(saved.read_text())["base"] == {"ref": "v1", "commit": base}
    shown = CliRunner().invoke(cli, ["show", str(saved), "--no-color"])
    assert shown.exit_code == 0 and said in shown.output.splitlines()


def test_a_field_edited_by_the_pr_and_outside_exoform_is_both(pr: tuple[Repo, str]) -> None:
    repo, base = pr
    repo.write("relay.yaml", RELAY.replace("203.0.113.10]", "203.0.113.10, 203.0.113.11]"))
    result = repo.run("plan", "--base", base, "--no-color")
    assert result.exit_code == 0, result.output
    assert (
        '  ~ InboundConnector "Printer relay" (files + repair: also changed outside exoform)'
        in result.output.splitlines()
    )
    md = repo.run("plan", "--base", base, "--format", "markdown").stdout
    assert f"### {REPAIRS}" not in md
    assert "Printer relay</code> · ⚠️ also changed outside exoform" in md


def test_plan_base_reads_each_tenant_once(pr: tuple[Repo, str], monkeypatch: pytest.MonkeyPatch) -> None:
    repo, base = pr
    reads: list[str] = []
    read = ExchangeProvider.read

    def counted(self: ExchangeProvider) -> Any:
        reads.append(self.tenant)
        return read(self)

    monkeypatch.setattr(ExchangeProvider, "read", counted)
    result = repo.run("plan", "--base", base)
    assert result.exit_code == 0, result.output
    assert "(repair: changed outside exoform)" in result.output
    assert reads == ["t"]


def test_a_tenant_or_config_missing_at_the_base_is_all_from_the_files(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    _git(repo.root, "init", "-q")
    (repo.root / "README.md").write_text("before exoform\n")
    _git(repo.root, "add", "README.md")
    _git(repo.root, "commit", "-q", "-m", "before")
    base = _git(repo.root, "rev-parse", "HEAD")
    repo.write("relay.yaml", RELAY)
    result = repo.run("plan", "--base", base, "--format", "json")
    assert result.exit_code == 0, result.output
    assert [c["cause"] for c in json.loads(result.stdout)["tenants"][0]["changes"]] == ["files"]
    assert "no exoform.yaml at" in result.stderr


def test_a_tenant_whose_files_do_not_load_at_the_base_is_a_warning_and_unmarked(pr: tuple[Repo, str]) -> None:
    repo, _ = pr
    repo.write("relay.yaml", RELAY + "    bogus_field: 1\n")
    broken = _commit(repo, "broken")
    repo.write("relay.yaml", RELAY)
    result = repo.run("plan", "--base", broken, "--format", "json")
    assert result.exit_code == 0, result.output
    assert {c["cause"] for c in json.loads(result.stdout)["tenants"][0]["changes"]} == {None}
    assert "warning: tenant t: its files at" in result.stderr
    assert "not marked as files or repair" in result.stderr
    assert f"{broken}:connectors/relay.yaml:" in result.stderr  # named in git, not the temporary folder


@pytest.mark.parametrize("ref", ["--upload-pack=touch pwned", "-h", "--output=x", "no-such-branch", ""])
def test_a_hostile_or_unknown_base_is_refused_with_a_clear_error(pr: tuple[Repo, str], ref: str) -> None:
    repo, _ = pr
    result = repo.run("plan", f"--base={ref}")
    assert result.exit_code == 1
    assert f"--base {ref!r}" in result.stderr
    assert "Traceback" not in result.output
    assert not (repo.root / "pwned").exists() and not (repo.root / "x").exists()


RECORDING_EXOFORM = """#!/usr/bin/env bash
if [ "$1" = --version ]; then echo "exoform, version 9.9.9"; exit 0; fi
printf '%s\\n' "$@" > "$ARGS_LOG"
printf '<!-- exoform-plan -->\\n## exoform plan\\n'
"""


@pytest.mark.parametrize(("base", "passed"), [("a" * 40, ["--base", "a" * 40]), ("", [])])
def test_the_generated_pr_workflow_plans_against_the_pull_requests_base(
    tmp_path: Path, base: str, passed: list[str]
) -> None:
    from tests.cli.ci_support import init
    from tests.cli.test_init import _fake_gh, _script, _workflow

    assert init(tmp_path).exit_code == 0
    job = _workflow(tmp_path, "plan")["jobs"]["plan"]
    assert job["env"]["BASE_SHA"] == "${{ github.event.pull_request.base.sha }}"
    assert job["steps"][0]["with"]["fetch-depth"] == 0  # the base commit is in the checkout
    env = _fake_gh(tmp_path)
    fake = Path(env["PATH"].split(os.pathsep)[0]) / "exoform"
    fake.write_text(RECORDING_EXOFORM)
    fake.chmod(0o755)
    env.update(ARGS_LOG=str(tmp_path / "args"), PLAN="true", FORK="false", BASE_SHA=base)
    result = _script(tmp_path, "plan-comment.sh", "comment.md", env=env)
    assert result.returncode == 0, result.stderr
    args = (tmp_path / "args").read_text().splitlines()
    assert args[:5] == ["plan", "--no-color", "--format", "markdown", "--out"]
    assert args[6:] == passed


def test_the_base_is_read_from_git_as_stored_without_touching_the_checkout(tmp_path: Path) -> None:
    """Export rules in .gitattributes do not hide the base's files, and the working tree, the index and
    the repository's worktrees stay as they were."""
    repo = Repo(tmp_path / "repo")
    _git(repo.root, "init", "-q")
    (repo.root / ".gitattributes").write_text("connectors/** export-ignore\n*.yaml export-subst\n")
    _git(repo.root, "add", ".gitattributes")
    repo.write("relay.yaml", RELAY + "    comment: $Format:%H$\n")
    base = _commit(repo, "base")
    assert repo.plan_and_apply().exit_code == 0
    _change_live(repo, "InboundConnector", "Printer relay", Enabled=False)
    repo.write("relay.yaml", RELAY + "    comment: $Format:%H$ (unsaved edit)\n")
    status = _git(repo.root, "status", "--porcelain")
    result = repo.run("plan", "--base", base, "--format", "json")
    assert result.exit_code == 0, result.output
    (change,) = json.loads(result.stdout)["tenants"][0]["changes"]
    assert (change["cause"], change["fields"]) == ("both", ["comment", "enabled"])
    assert _git(repo.root, "status", "--porcelain") == status
    assert len(_git(repo.root, "worktree", "list").splitlines()) == 1
