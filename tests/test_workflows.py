"""The GitHub workflows and the pre-commit hook that ship with exoform.

The workflows are checked against GitHub's workflow JSON Schema (check-jsonschema's vendored copy, no
network), and every ``exoform`` command line in them is parsed by the real CLI, so a renamed command or
option breaks this test instead of a user's pipeline.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from reconciler.cli import COMMANDS, cli

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
NAMES = ("ci", "plan", "apply", "drift")


def _load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def _workflow(name: str) -> dict[str, Any]:
    data: dict[str, Any] = _load(WORKFLOWS / f"{name}.yml")
    return data


def _check_jsonschema(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("check-jsonschema")
    env = dict(os.environ, HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def test_workflows_are_valid_against_the_github_workflow_schema_offline() -> None:
    files = [str(WORKFLOWS / f"{n}.yml") for n in NAMES]
    result = _check_jsonschema("--builtin-schema", "vendor.github-workflows", *files)
    assert result.returncode == 0, result.stdout + result.stderr
    timeouts = _check_jsonschema("--builtin-schema", "custom.github-workflows-require-timeout", *files)
    assert timeouts.returncode == 0, timeouts.stdout + timeouts.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text((WORKFLOWS / "plan.yml").read_text().replace("runs-on:", "runs_on:"))
    result = _check_jsonschema("--builtin-schema", "vendor.github-workflows", str(broken))
    assert result.returncode == 1


def _exoform_lines(workflow: dict[str, Any]) -> list[str]:
    lines = []
    for job in workflow["jobs"].values():
        for step in job.get("steps", []):
            for line in str(step.get("run", "")).splitlines():
                found = re.search(r"(?:^|\$\()\s*(exoform\s[^>)|;&]*)", line)
                if found:
                    lines.append(found.group(1).strip())
    return lines


@pytest.mark.parametrize("name", ["plan", "apply", "drift"])
def test_every_exoform_command_line_parses(name: str) -> None:
    lines = _exoform_lines(_workflow(name))
    assert lines, f"{name}.yml runs no exoform command"
    for line in lines:
        argv = shlex.split(line.replace('"$TENANT"', "contoso"))[1:]
        command_name, args = argv[0], argv[1:]
        assert command_name in COMMANDS, line
        command = cli.get_command(click.Context(cli), command_name)
        assert command is not None
        try:
            command.make_context(command_name, list(args))
        except click.UsageError as exc:  # pragma: no cover - the assertion names the line
            pytest.fail(f"{name}.yml: `{line}`: {exc}")


def test_auth_is_oidc_federation_without_stored_secrets() -> None:
    for name in ("plan", "apply", "drift"):
        text = (WORKFLOWS / f"{name}.yml").read_text()
        assert "secrets." not in text, name
        workflow = _workflow(name)
        tenant_jobs = [
            job
            for job in workflow["jobs"].values()
            if any(
                "exoform plan" in line or "exoform drift" in line or "exoform apply" in line
                for line in _exoform_lines({"jobs": {"j": job}})
            )
        ]
        assert tenant_jobs, name
        for job in tenant_jobs:
            permissions = job.get("permissions") or workflow.get("permissions")
            assert permissions["id-token"] == "write", name


def test_plan_workflow_comments_one_sticky_plan_and_uploads_the_json() -> None:
    workflow = _workflow("plan")
    paths = workflow["on"]["pull_request"]["paths"]
    assert "connectors/**" in paths and "exoform.yaml" in paths
    steps = workflow["jobs"]["plan"]["steps"]
    runs = [s.get("run", "") for s in steps]
    assert "exoform validate" in runs
    assert any("--format markdown" in r and "--out plan.json" in r for r in runs)
    comments = [
        s for s in steps if str(s.get("uses", "")).startswith("marocchino/sticky-pull-request-comment@")
    ]
    assert {c["with"]["header"] for c in comments} == {"exoform-plan"}
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "plan.json"
    assert workflow["permissions"]["pull-requests"] == "write"


def test_apply_workflow_fans_out_per_tenant_behind_an_environment() -> None:
    workflow = _workflow("apply")
    assert workflow["on"]["push"]["branches"] == ["main"]
    jobs = workflow["jobs"]
    assert any("exoform tenants --json" in s.get("run", "") for s in jobs["tenants"]["steps"])
    apply = jobs["apply"]
    assert apply["environment"]
    assert apply["strategy"]["matrix"] == "${{ fromJSON(needs.tenants.outputs.matrix) }}"
    assert apply["concurrency"] == {
        "group": "exoform-apply-${{ matrix.tenant }}",
        "cancel-in-progress": False,
    }
    assert any(s.get("run") == "exoform apply plan.json" for s in apply["steps"])


def test_drift_workflow_runs_on_a_schedule_and_keeps_one_issue_per_tenant() -> None:
    workflow = _workflow("drift")
    assert workflow["on"]["schedule"]
    job = workflow["jobs"]["drift"]
    assert job["permissions"]["issues"] == "write"
    assert job["strategy"]["matrix"] == "${{ fromJSON(needs.tenants.outputs.matrix) }}"
    assert job["env"]["TITLE"] == "exoform drift: ${{ matrix.tenant }}"
    text = "\n".join(str(s.get("run", "")) for s in job["steps"])
    assert 'exoform drift --tenant "$TENANT" --format markdown' in text
    assert "gh issue edit" in text and "gh issue create" in text and "gh issue close" in text


def test_matrix_output_is_what_the_workflows_expect(tmp_path: Path) -> None:
    (tmp_path / "exoform.yaml").write_text(
        "tenants:\n  contoso:\n    connectors: c\n  fabrikam:\n    connectors: f\n"
    )
    result = CliRunner().invoke(cli, ["tenants", "--json", "--config", str(tmp_path / "exoform.yaml")])
    assert result.exit_code == 0, result.output
    # one line, so `echo "matrix=$(exoform tenants --json)" >> "$GITHUB_OUTPUT"` is a valid output
    assert result.stdout == '{"tenant":["contoso","fabrikam"]}\n'


def test_ci_runs_make_test() -> None:
    job = _workflow("ci")["jobs"]["test"]
    assert any("make test" in str(s.get("run", "")) for s in job["steps"])


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
