"""exoform's own GitHub workflows (CI and release), its pre-commit hook and its licence.

The workflows are checked against GitHub's workflow JSON Schema (check-jsonschema's vendored copy, no
network) and by zizmor (offline), and every action is pinned to a commit.  The GitOps workflows for a
connectors repository are written by ``exoform init`` and tested in tests/cli/test_init.py.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from reconciler.cli import cli
from reconciler.cli.init import ACTIONS

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
NAMES = ("ci", "release")
BIN = Path(sys.executable).parent


def _load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def _workflow(name: str) -> dict[str, Any]:
    data: dict[str, Any] = _load(WORKFLOWS / f"{name}.yml")
    return data


def _check_jsonschema(*args: str) -> subprocess.CompletedProcess[str]:
    exe = BIN / "check-jsonschema"
    env = dict(os.environ, HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def test_exoform_keeps_only_its_ci_and_release_workflows() -> None:
    assert sorted(p.name for p in WORKFLOWS.iterdir()) == ["ci.yml", "release.yml"]


@pytest.mark.e2e  # check-jsonschema and zizmor as subprocesses
def test_workflows_are_valid_against_the_github_workflow_schema_offline() -> None:
    files = [str(WORKFLOWS / f"{n}.yml") for n in NAMES]
    result = _check_jsonschema("--builtin-schema", "vendor.github-workflows", *files)
    assert result.returncode == 0, result.stdout + result.stderr
    timeouts = _check_jsonschema("--builtin-schema", "custom.github-workflows-require-timeout", *files)
    assert timeouts.returncode == 0, timeouts.stdout + timeouts.stderr


@pytest.mark.e2e  # check-jsonschema and zizmor as subprocesses
def test_the_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text((WORKFLOWS / "ci.yml").read_text().replace("runs-on:", "runs_on:"))
    result = _check_jsonschema("--builtin-schema", "vendor.github-workflows", str(broken))
    assert result.returncode == 1


@pytest.mark.e2e  # check-jsonschema and zizmor as subprocesses
def test_zizmor_offline_finds_nothing_in_exoforms_workflows() -> None:
    result = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--no-progress", "--format", "json", str(WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert json.loads(result.stdout) == [], result.stdout[:3000]
    assert result.returncode == 0
    # make lint (and so CI's make test) runs the same check
    assert "$(BIN)/zizmor --offline --no-progress .github/workflows" in (ROOT / "Makefile").read_text()


def test_every_action_is_pinned_to_a_commit_with_the_same_pins_as_exoform_init() -> None:
    pins = {pin.split("@", 1)[0]: pin for pin in ACTIONS.values()}
    for name in NAMES:
        for line in (WORKFLOWS / f"{name}.yml").read_text().splitlines():
            if not re.match(r"\s*-?\s*uses:", line):
                continue
            use = line.split("uses:", 1)[1].strip()
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", use), f"{name}: {use}"
            action = use.split("@", 1)[0]
            assert pins.get(action, use) == use, f"{name}: {use} differs from exoform init's {pins[action]}"


def test_release_builds_attaches_and_publishes_by_trusted_publishing() -> None:
    workflow = _workflow("release")
    assert workflow["on"] == {"push": {"tags": ["v*"]}}
    assert workflow["permissions"] == {}
    jobs = workflow["jobs"]
    build = "\n".join(str(s.get("run", "")) for s in jobs["build"]["steps"])
    assert "python -m build" in build and 'test "$TAG" = "v$version"' in build
    release = "\n".join(str(s.get("run", "")) for s in jobs["github-release"]["steps"])
    assert 'gh release create "$TAG" dist/*' in release
    assert jobs["github-release"]["permissions"] == {"contents": "write"}
    pypi = jobs["pypi"]
    assert pypi["permissions"] == {"id-token": "write"}
    assert pypi["environment"] == "pypi"
    assert any(str(s.get("uses", "")).startswith("pypa/gh-action-pypi-publish@") for s in pypi["steps"])
    assert all("id-token" not in (job.get("permissions") or {}) for n, job in jobs.items() if n != "pypi")


def test_license_is_the_mit_licence_the_metadata_declares() -> None:
    metadata = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert metadata["license"] == "MIT"
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n\nCopyright (c) 2026 The exoform authors\n")
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text


def test_matrix_output_is_what_the_workflows_expect(tmp_path: Path) -> None:
    (tmp_path / "exoform.yaml").write_text(
        "tenants:\n  contoso:\n    connectors: c\n  fabrikam:\n    connectors: f\n"
    )
    result = CliRunner().invoke(cli, ["tenants", "--json", "--config", str(tmp_path / "exoform.yaml")])
    assert result.exit_code == 0, result.output
    # one line, so `echo "matrix=$(exoform tenants --json)" >> "$GITHUB_OUTPUT"` is a valid output
    assert result.stdout == '{"tenant":["contoso","fabrikam"]}\n'


def test_ci_runs_make_test_without_persisted_credentials() -> None:
    job = _workflow("ci")["jobs"]["test"]
    assert any("make test" in str(s.get("run", "")) for s in job["steps"])
    checkout = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False


def test_pre_commit_hook_runs_exoform_validate(tmp_path: Path) -> None:
    hooks = _load(ROOT / ".pre-commit-hooks.yaml")
    (hook,) = hooks
    assert hook["id"] == "exoform-validate"
    assert hook["entry"] == "exoform validate"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False
    assert re.search(hook["files"], "connectors/contoso/relay.yaml")
    assert re.search(hook["files"], "exoform.yaml")
    assert not re.search(hook["files"], "README.md")
    known = {
        "id", "name", "entry", "language", "files", "exclude", "types", "types_or", "exclude_types",
        "always_run", "fail_fast", "verbose", "pass_filenames", "require_serial", "description",
        "language_version", "minimum_pre_commit_version", "args", "stages", "additional_dependencies",
    }  # fmt: skip
    assert set(hook) <= known
    # the entry, run in a repo: 0 on valid files, 1 with the located problem on a broken one
    (tmp_path / "exoform.yaml").write_text("tenants:\n  t:\n    connectors: connectors\n")
    (tmp_path / "connectors").mkdir()
    relay = tmp_path / "connectors" / "relay.yaml"
    relay.write_text(
        "kind: InboundConnector\nname: Relay\nconnector_type: Partner\nsender_domains: [contoso.com]\n"
    )
    argv = [*shlex.split(hook["entry"])[1:], "--config", str(tmp_path / "exoform.yaml")]
    assert CliRunner().invoke(cli, argv).exit_code == 0
    relay.write_text(
        "kind: InboundConnector\nname: Relay\nconnector_type: Partnr\nsender_domains: [contoso.com]\n"
    )
    broken = CliRunner().invoke(cli, argv)
    assert broken.exit_code == 1
    assert "relay.yaml:3:" in broken.output
