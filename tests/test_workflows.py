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
import shutil
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
from tests.cli.ci_support import check_jsonschema, failed_files

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
NAMES = ("ci", "release")
BIN = Path(sys.executable).parent


def _load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def _workflow(name: str) -> dict[str, Any]:
    data: dict[str, Any] = _load(WORKFLOWS / f"{name}.yml")
    return data


def test_exoform_keeps_only_its_ci_and_release_workflows() -> None:
    assert sorted(p.name for p in WORKFLOWS.iterdir()) == ["ci.yml", "release.yml"]


@pytest.fixture(scope="module")
def schema_check(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, set[str]]:
    """One check-jsonschema run over exoform's workflows and a broken copy of ci.yml: the broken file's
    path and the files the run found invalid (both tests below read this one verdict)."""
    broken = tmp_path_factory.mktemp("broken") / "broken.yml"
    broken.write_text((WORKFLOWS / "ci.yml").read_text().replace("runs-on:", "runs_on:"))
    files = [str(WORKFLOWS / f"{n}.yml") for n in NAMES]
    result = check_jsonschema(
        "-o", "json", "--builtin-schema", "vendor.github-workflows", *files, str(broken)
    )
    return str(broken), failed_files(result)


@pytest.mark.e2e  # check-jsonschema and zizmor as subprocesses
def test_workflows_are_valid_against_the_github_workflow_schema_offline(
    schema_check: tuple[str, set[str]],
) -> None:
    broken, failed = schema_check
    assert failed - {broken} == set()
    files = [str(WORKFLOWS / f"{n}.yml") for n in NAMES]
    timeouts = check_jsonschema("--builtin-schema", "custom.github-workflows-require-timeout", *files)
    assert timeouts.returncode == 0, timeouts.stdout + timeouts.stderr


@pytest.mark.e2e  # check-jsonschema and zizmor as subprocesses
def test_the_schema_check_catches_a_broken_workflow(schema_check: tuple[str, set[str]]) -> None:
    broken, failed = schema_check
    assert broken in failed


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


def test_no_placeholder_owner_or_release_remains_in_the_repository() -> None:
    """Every URL exoform points users at comes from the release (the package index): no invented
    GitHub owner, no tag that was never made, no pre-commit revision to keep in step."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    owner = "github.com/" + "exoform"
    placeholders = (owner, "exoform/" + "exoform", "v0.1" + ".0", "rev" + ":")
    found = []
    for name in files:
        path = ROOT / name
        if path.suffix in {".py", ".md", ".yml", ".yaml", ".toml", ".sh", ".json", ".txt"} and path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            found += [f"{name}: {p}" for p in placeholders if p in text]
    assert found == []


def test_the_version_has_one_home() -> None:
    metadata = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in metadata["project"] and metadata["project"]["dynamic"] == ["version"]
    assert metadata["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "reconciler.__version__"}
    from reconciler import __version__

    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)
    assert CliRunner().invoke(cli, ["--version"]).output == f"exoform, version {__version__}\n"
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert changelog.startswith("# Changelog\n") and "## [Unreleased]" in changelog


def _release_steps() -> str:
    return "\n".join(str(s.get("run", "")) for s in _workflow("release")["jobs"]["build"]["steps"])


@pytest.mark.long
def test_the_release_build_installs_into_a_fresh_venv_and_init_names_its_version(tmp_path: Path) -> None:
    """What release.yml does (``python -m build``), from a copy of the tree: the sdist and the wheel
    build, and the wheel, installed alone in a new venv, runs ``exoform init`` whose files install
    exactly its own version from the package index."""
    from reconciler import __version__

    assert "python -m build" in _release_steps()
    tree = tmp_path / "tree"
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in files:
        if (ROOT / name).is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tree / name)
    dist = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(dist), str(tree)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    names = sorted(p.name for p in dist.iterdir())
    assert names == [f"exoform-{__version__}-py3-none-any.whl", f"exoform-{__version__}.tar.gz"]

    # a fresh venv holding only the wheel; its dependencies come from this venv's site-packages (read
    # after its own, so the wheel's reconciler is the one imported), so nothing is downloaded
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = subprocess.run(
        [sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    wheel = str(dist / names[0])
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", wheel],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    Path(site, "zz-dependencies.pth").write_text(ours + "\n")

    work = tmp_path / "work"
    work.mkdir()
    env = {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path)}
    where = subprocess.run(
        [str(python), "-c", "import reconciler; print(reconciler.__file__)"],
        cwd=work, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert where.stdout.startswith(site), where.stdout
    version = subprocess.run([str(venv / "bin" / "exoform"), "--version"], cwd=work, env=env,
                             capture_output=True, text=True, check=True)  # fmt: skip
    assert version.stdout == f"exoform, version {__version__}\n"
    init = subprocess.run(
        [str(venv / "bin" / "exoform"), "init", "repo", "--fleet", "--tenant", "contoso"],
        cwd=work, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    for workflow in ("plan", "apply", "drift"):
        data = _load(work / "repo" / ".github" / "workflows" / f"{workflow}.yml")
        assert data["env"]["EXOFORM_PIP"] == f"exoform=={__version__}"
    hooks = _load(work / "repo" / ".pre-commit-config.yaml")
    assert hooks["repos"][0]["hooks"][0]["additional_dependencies"] == [f"exoform=={__version__}"]

    # every CI system's files, written by the installed wheel: valid under the published schema, pinned to
    # this version, and naming no URL but the identity providers' own issuers (the README's set-up tables)

    issuers = {"https://token.actions.githubusercontent.com", "https://gitlab.com"}
    schemas = {
        "github": ("vendor.github-workflows", ".github/workflows/*.yml"),
        "azure-devops": ("vendor.azure-pipelines", ".azure-pipelines/*.yml"),
        "gitlab": ("vendor.gitlab-ci", ".gitlab-ci.yml"),
    }
    for ci, (schema, pattern) in schemas.items():
        repo = work / f"repo-{ci}"
        made = subprocess.run(
            [str(venv / "bin" / "exoform"), "init", str(repo), "--fleet", "--tenant", "contoso", "--ci", ci],
            cwd=work, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        files = sorted(str(p) for p in repo.glob(pattern))
        assert files, ci
        checked = check_jsonschema("--builtin-schema", schema, *files)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        text = "\n".join(p.read_text() for p in repo.rglob("*") if p.is_file())
        assert f"exoform=={__version__}" in text, ci
        urls = set(re.findall(r"https?://[^\s\"'`)<>|]+", text))
        assert {u for u in urls if not u.startswith("https://vstoken.dev.azure.com/")} <= issuers, urls
