"""``exoform init`` and the repository it writes: its files, its workflows (GitHub's schema, zizmor, pins,
permissions) and the workflows' shell steps, run as scripts against ``exoform emulator serve``.

The scripts write what the workflow would post (the pull request comment, the drift issues) to files;
the tests assert those bodies.  ``gh`` is replaced by a stand-in that records its arguments.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import tomllib
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from reconciler import __version__
from reconciler.cli import COMMANDS, cli
from reconciler.cli.init import ACTIONS, RETENTION_DAYS, Tenant, render_files
from reconciler.desired.config import TENANT_NAME_RE
from reconciler.escape import markdown
from tests.cli.ci_support import (
    WORST,
    check_jsonschema,
    init,
    init_at_emulator,
    load_yaml,
    stub_calls,
    stub_env,
)

BIN = Path(sys.executable).parent
READ_APP = "11111111-2222-3333-4444-555555555555"
WRITE_APP = "22222222-2222-3333-4444-555555555555"
SHA = "0123456789abcdef0123456789abcdef01234567"
RELAY = """\
kind: InboundConnector
name: Printer relay
connector_type: OnPremises
sender_domains: [contoso.com]
sender_ip_addresses: [203.0.113.10]
"""
WORKFLOWS = ("plan", "apply", "drift")


def _workflow(root: Path, name: str) -> dict[str, Any]:
    return load_yaml(root / ".github" / "workflows" / f"{name}.yml")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository written by ``exoform init`` with two tenants (read-only in the tests that share it)."""
    root = tmp_path_factory.mktemp("generated")
    result = init(root, "--tenant", "contoso", "--tenant", "fabrikam", "--rings", "3", "--sarif")
    assert result.exit_code == 0, result.output
    return root


# ------------------------------------------------------------------------------------------------ files


def test_init_writes_a_ready_repository_and_never_overwrites_without_force(tmp_path: Path) -> None:
    result = init(tmp_path, "--tenant", "contoso", "--organization", "contoso.onmicrosoft.com")
    assert result.exit_code == 0, result.output
    for relative in (
        "exoform.yaml",
        "connectors/contoso/README.md",
        ".github/workflows/plan.yml",
        ".github/workflows/apply.yml",
        ".github/workflows/drift.yml",
        ".pre-commit-config.yaml",
        ".gitignore",
        "README.md",
    ):
        assert f"wrote {relative}\n" in result.output
        assert (tmp_path / relative).is_file()
    assert os.access(tmp_path / ".github" / "exoform" / "plan-comment.sh", os.X_OK)
    # the config is valid as written: exoform validate passes in the new repository
    validate = CliRunner().invoke(cli, ["validate", "--config", str(tmp_path / "exoform.yaml")])
    assert validate.exit_code == 0, validate.output

    (tmp_path / "README.md").write_text("# mine\n")
    again = init(tmp_path, "--tenant", "contoso")
    assert again.exit_code == 0
    assert "skipped README.md (exists; --force overwrites it)" in again.output
    assert "0 file(s) written" in again.output
    assert (tmp_path / "README.md").read_text() == "# mine\n"
    forced = init(tmp_path, "--tenant", "contoso", "--force")
    assert "wrote README.md" in forced.output
    assert "App registrations (two identities)" in (tmp_path / "README.md").read_text()


def test_init_refuses_mismatched_tenants_and_organizations(tmp_path: Path) -> None:
    result = init(tmp_path, "--tenant", "a", "--tenant", "b", "--organization", "a.onmicrosoft.com")
    assert result.exit_code == 1  # a usage error: 2 means changes or drift
    assert "one --organization per --tenant" in result.output
    assert not (tmp_path / "exoform.yaml").exists()


def test_init_refuses_a_tenant_name_the_workflows_could_not_carry(tmp_path: Path) -> None:
    result = init(tmp_path, "--tenant", "a b")
    assert result.exit_code == 1
    assert "Invalid value for '--tenant': tenant name 'a b': use letters, digits" in result.output
    assert not (tmp_path / "exoform.yaml").exists()


@pytest.mark.parametrize(
    ("option", "value"),
    [("--organization", "x.onmicrosoft.com\nauth: {}"), ("--environment", "a: b"), ("--python", "3.12'")],
)
def test_init_refuses_values_it_would_write_unquoted(tmp_path: Path, option: str, value: str) -> None:
    result = init(tmp_path, option, value)
    assert result.exit_code == 1
    assert f"Invalid value for '{option}'" in result.output
    assert not (tmp_path / "exoform.yaml").exists()


def test_init_never_writes_through_a_dangling_link(tmp_path: Path) -> None:
    root, outside = tmp_path / "repo", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "README.md").symlink_to(outside / "stolen.md")  # dangling: its target does not exist
    result = init(root)
    assert result.exit_code == 1
    assert f"{root / 'README.md'}: a symbolic link where exoform init writes; nothing was written" in (
        result.output
    )
    assert not (root / "exoform.yaml").exists() and list(outside.iterdir()) == []
    forced = init(root, "--force")
    assert forced.exit_code == 0, forced.output
    assert not (root / "README.md").is_symlink() and (root / "README.md").read_text().startswith("# Mail")
    assert list(outside.iterdir()) == []  # the link was replaced, its target never written


def test_init_never_writes_into_a_linked_workflows_folder(tmp_path: Path) -> None:
    root, outside = tmp_path / "repo", tmp_path / "outside"
    (root / ".github").mkdir(parents=True)
    outside.mkdir()
    (outside / "plan.yml").write_text("theirs\n")
    (root / ".github" / "workflows").symlink_to(outside, target_is_directory=True)
    result = init(root)
    assert result.exit_code == 1
    assert f"{root / '.github' / 'workflows'}: a symbolic link" in result.output
    assert not (root / "exoform.yaml").exists()
    assert init(root, "--force").exit_code == 0
    assert not (root / ".github" / "workflows").is_symlink()
    assert (root / ".github" / "workflows" / "plan.yml").read_text().startswith("# Written by `exoform init`")
    assert [p.name for p in outside.iterdir()] == ["plan.yml"]
    assert (outside / "plan.yml").read_text() == "theirs\n"


def test_fleet_init_writes_the_shared_settings_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.desired.loader import load_config

    result = init(tmp_path, "--fleet", "--tenant", "contoso", "--tenant", "fabrikam", "--tenant", "a_b-1")
    assert result.exit_code == 0, result.output
    assert "wrote connectors/common/README.md" in result.output
    assert not (tmp_path / "connectors" / "contoso").exists()
    text = (tmp_path / "exoform.yaml").read_text()
    # one copy of each shared setting, however many tenants
    assert text.count("client_id: env:EXOFORM_READ_CLIENT_ID") == 1 and text.count("max_deletes") == 1
    raw = YAML(typ="safe").load(text)
    assert raw["defaults"]["connectors"] == ["connectors/common"]
    assert raw["tenants"]["fabrikam"] == {"organization": "fabrikam.onmicrosoft.com"}
    config = load_config(tmp_path / "exoform.yaml")
    for name, tenant in config.tenants.items():
        assert tenant.folders() == ["connectors/common"], name
        assert tenant.provider == "exchange" and tenant.max_deletes == 1 and tenant.apply_auth is not None
    monkeypatch.setenv("EXOFORM_READ_CLIENT_ID", READ_APP)
    monkeypatch.setenv("EXOFORM_WRITE_CLIENT_ID", WRITE_APP)
    validate = CliRunner().invoke(cli, ["validate", "--config", str(tmp_path / "exoform.yaml")])
    assert validate.exit_code == 0, validate.output


@pytest.mark.parametrize("fleet", [True, False])
def test_client_ids_give_one_customer_its_own_apps(tmp_path: Path, fleet: bool) -> None:
    """An MSP with one app pair per customer: that tenant signs in with its own ids, the others with the
    shared apps of the workflow variables."""
    from reconciler.desired.loader import load_config

    own_read, own_write = "11111111-2222-3333-4444-555555555555", "66666666-7777-8888-9999-AAAAAAAAAAAA"
    args = ["--tenant", "contoso", "--tenant", "fabrikam", "--client-ids", f"fabrikam={own_read},{own_write}"]
    result = init(tmp_path, *(["--fleet"] if fleet else []), *args)
    assert result.exit_code == 0, result.output
    config = load_config(tmp_path / "exoform.yaml")
    fabrikam, contoso = config.tenants["fabrikam"], config.tenants["contoso"]
    assert fabrikam.auth is not None and fabrikam.apply_auth is not None
    assert (fabrikam.auth.client_id, fabrikam.apply_auth.client_id) == (own_read, own_write.lower())
    assert fabrikam.auth.federated == "github" and fabrikam.max_deletes == 1
    assert contoso.auth is not None and contoso.auth.client_id == "env:EXOFORM_READ_CLIENT_ID"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("fabrikam=not-a-guid,x", "expected TENANT=READ_CLIENT_ID,WRITE_CLIENT_ID"),
        (
            "nobody=11111111-2222-3333-4444-555555555555,11111111-2222-3333-4444-555555555555",
            "not a --tenant",
        ),
    ],
)
def test_client_ids_are_refused_unless_two_guids_of_a_tenant(
    tmp_path: Path, value: str, message: str
) -> None:
    result = init(tmp_path, "--tenant", "fabrikam", "--client-ids", value)
    assert result.exit_code == 1, result.output
    assert "Invalid value for '--client-ids'" in result.output and message in result.output
    assert not (tmp_path / "exoform.yaml").exists()


def test_readme_explains_the_two_app_registrations_and_their_federated_credentials(generated: Path) -> None:
    readme = (generated / "README.md").read_text()
    assert "`repo:OWNER/REPO:pull_request`, `repo:OWNER/REPO:environment:exoform-plan`" in readme
    assert "`repo:OWNER/REPO:ref:refs/heads/main` (drift)" in readme
    assert "**only** `repo:OWNER/REPO:environment:exoform-apply`" in readme
    assert "Global Reader" in readme and "Exchange Administrator" in readme
    assert "EXOFORM_READ_CLIENT_ID" in readme and "EXOFORM_WRITE_CLIENT_ID" in readme
    assert f"artifact for {RETENTION_DAYS} days" in readme


GIT = f"git+https://git.example.com/mirror/exoform@v{__version__}"
WHEEL = f"wheels/exoform-{__version__}-py3-none-any.whl"


@pytest.mark.parametrize(
    ("install_from", "spec"),
    [
        ("pypi", f"exoform=={__version__}"),
        (GIT, f"exoform @ {GIT}"),
        (WHEEL, f"./{WHEEL}"),
        (f"./{WHEEL}", f"./{WHEEL}"),
    ],
)
def test_workflows_and_hook_install_the_version_that_wrote_them(install_from: str, spec: str) -> None:
    files = render_files([Tenant("contoso", "contoso.onmicrosoft.com")], install_from=install_from)
    for name in WORKFLOWS:
        workflow = YAML(typ="safe").load(files[f".github/workflows/{name}.yml"])
        assert workflow["env"]["EXOFORM_PIP"] == spec
        text = files[f".github/workflows/{name}.yml"]
        assert 'python -m pip install "$EXOFORM_PIP"' in text
        # a connectors repository has no requirements file and no Makefile
        assert "cache:" not in text and "make " not in text
    (repo,) = YAML(typ="safe").load(files[".pre-commit-config.yaml"])["repos"]
    (hook,) = repo["hooks"]
    assert repo["repo"] == "local" and hook["entry"] == "exoform validate"
    if spec.startswith("./"):  # pre-commit installs from its own folder, where the wheel is not
        assert hook["language"] == "system" and f'pip install "{spec}"' in files[".pre-commit-config.yaml"]
    else:
        assert hook["language"] == "python" and hook["additional_dependencies"] == [spec]


def test_default_install_is_the_package_index_at_this_version(tmp_path: Path) -> None:
    result = init(tmp_path)
    assert result.exit_code == 0, result.output
    for name in WORKFLOWS:
        assert _workflow(tmp_path, name)["env"]["EXOFORM_PIP"] == f"exoform=={__version__}"
        assert (
            f"# Written by `exoform init` (exoform {__version__})"
            in (tmp_path / ".github" / "workflows" / f"{name}.yml").read_text()
        )
    assert f"exoform=={__version__}" in (tmp_path / ".pre-commit-config.yaml").read_text()
    assert f"(exoform {__version__})" in (tmp_path / "exoform.yaml").read_text()
    assert CliRunner().invoke(cli, ["--version"]).output == f"exoform, version {__version__}\n"


@pytest.mark.parametrize(
    ("install_from", "says"),
    [
        ("git+https://git.example.com/exoform", "end the URL with @v"),
        ("git+https://git.example.com/exoform@v0.0.1", f"end the URL with @v{__version__}"),
        (f"git+http://git.example.com/exoform@v{__version__}", "https, no user or token"),
        (f"git+https://user:tok@git.example.com/x@v{__version__}", "https, no user or token"),
        (f"git+https://git.example.com/x@v{__version__};id", "a character a workflow cannot carry"),
        (f"/abs/exoform-{__version__}-py3-none-any.whl", "stays inside it"),
        (f"../exoform-{__version__}-py3-none-any.whl", "stays inside it"),
        ("wheels/exoform-0.0.1-py3-none-any.whl", "the wheel of this version"),
        ('pypi" x', "a character a workflow cannot carry"),
        ("https://github.com/acme/exoform", "give 'pypi', a git URL"),
    ],
)
def test_install_from_is_refused_with_what_is_wrong(tmp_path: Path, install_from: str, says: str) -> None:
    result = init(tmp_path, "--install-from", install_from)
    assert result.exit_code == 1, result.output
    assert "Invalid value for '--install-from'" in result.output and says in result.output
    assert not (tmp_path / "exoform.yaml").exists()


def test_no_placeholder_source_remains_in_what_init_writes(generated: Path) -> None:
    for path in generated.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "github.com/" + "exoform" not in text and "rev" + ":" not in text and "@@" not in text, (
                path
            )


# -------------------------------------------------------------------------------------------- workflows


def test_generated_workflows_are_valid_against_the_github_workflow_schema(generated: Path) -> None:
    files = [str(generated / ".github" / "workflows" / f"{n}.yml") for n in WORKFLOWS]
    result = check_jsonschema("--builtin-schema", "vendor.github-workflows", *files)
    assert result.returncode == 0, result.stdout + result.stderr
    timeouts = check_jsonschema("--builtin-schema", "custom.github-workflows-require-timeout", *files)
    assert timeouts.returncode == 0, timeouts.stdout + timeouts.stderr


def zizmor(path: Path) -> dict[str, Any]:
    """zizmor's findings (offline) on the workflows under ``path``, as its JSON output."""
    result = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--no-progress", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout, result.stderr
    findings: list[dict[str, Any]] = json.loads(result.stdout)
    return {"findings": findings, "code": result.returncode}


def test_zizmor_finds_nothing_in_the_generated_workflows(generated: Path, tmp_path: Path) -> None:
    report = zizmor(generated / ".github" / "workflows")
    assert report["findings"] == [], json.dumps(report["findings"], indent=1)[:3000]
    # the linter does catch the mistakes the issue names: an unpinned action and persisted credentials
    broken = tmp_path / ".github" / "workflows"
    broken.mkdir(parents=True)
    text = (generated / ".github" / "workflows" / "plan.yml").read_text()
    text = text.replace(ACTIONS["CHECKOUT"], "actions/checkout@v4").replace("persist-credentials: false", "")
    (broken / "plan.yml").write_text(text)
    rules = {f["ident"] for f in zizmor(broken)["findings"]}
    assert {"unpinned-uses", "artipacked"} <= rules


def uses_lines(text: str) -> list[str]:
    return [
        line.split("uses:", 1)[1].strip() for line in text.splitlines() if re.match(r"\s*-?\s*uses:", line)
    ]


def test_every_action_is_pinned_to_a_commit_with_its_version(generated: Path) -> None:
    for name in WORKFLOWS:
        uses = uses_lines((generated / ".github" / "workflows" / f"{name}.yml").read_text())
        assert uses, name
        for use in uses:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w.-]+)?@[0-9a-f]{40} # v\d+\.\d+\.\d+", use), (
                f"{name}: {use}"
            )


def _jobs(root: Path, name: str) -> dict[str, dict[str, Any]]:
    jobs: dict[str, dict[str, Any]] = _workflow(root, name)["jobs"]
    return jobs


RING_JOBS = {"apply-ring-0", "apply-ring-1", "apply-ring-2"}


def test_tokens_are_granted_only_to_the_jobs_that_need_them(generated: Path) -> None:
    signs_in = {"plan": {"plan"}, "apply": {"plan", *RING_JOBS}, "drift": {"drift"}}
    for name in WORKFLOWS:
        assert _workflow(generated, name)["permissions"] == {}, name
        for job_name, job in _jobs(generated, name).items():
            permissions = job["permissions"]
            assert (permissions.get("id-token") == "write") == (job_name in signs_in[name]), (name, job_name)
            writes = {k for k, v in permissions.items() if v == "write" and k != "id-token"}
            expected = {
                ("plan", "comment"): {"pull-requests"},
                ("plan", "sarif"): {"security-events"},
                ("drift", "issues"): {"issues"},
            }
            assert writes == expected.get((name, job_name), set()), (name, job_name)
            for step in job["steps"]:
                if str(step.get("uses", "")).startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, (name, job_name)


def test_only_the_apply_job_is_given_the_write_identity(generated: Path) -> None:
    for name in WORKFLOWS:
        for job_name, job in _jobs(generated, name).items():
            env = job.get("env", {})
            signs_in = job["permissions"].get("id-token") == "write"
            assert ("EXOFORM_READ_CLIENT_ID" in env) == signs_in, (name, job_name)
            assert ("EXOFORM_WRITE_CLIENT_ID" in env) == (name == "apply" and job_name in RING_JOBS), (
                name,
                job_name,
            )
    assert "WRITE" not in (generated / ".github" / "workflows" / "plan.yml").read_text()


def test_the_wheel_carries_every_template(generated: Path) -> None:
    """pyproject's package-data globs match every file under reconciler/data/init (a file in a new
    subfolder would be missing from the wheel and exoform init would fail after pip install)."""
    package = Path(__file__).resolve().parents[2] / "reconciler"
    pyproject = tomllib.loads((package.parent / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["reconciler"]
    for path in (package / "data" / "init").rglob("*"):
        if path.is_file():
            relative = path.relative_to(package).as_posix()
            assert any(fnmatch.fnmatch(relative, g) and relative.count("/") == g.count("/") for g in globs), (
                relative
            )


def test_plan_always_reports_and_apply_runs_never_overlap(generated: Path) -> None:
    plan = _workflow(generated, "plan")
    assert plan["on"] == {"pull_request": None}  # no paths filter: the check never waits forever
    assert "if" not in plan["jobs"]["plan"]
    apply = _workflow(generated, "apply")
    # one run at a time: a tenant's plan and apply never overlap another push's
    assert apply["concurrency"] == {"group": "exoform-apply", "cancel-in-progress": False}
    jobs = apply["jobs"]
    assert jobs["apply-ring-0"]["environment"] == "exoform-apply"
    assert jobs["apply-ring-0"]["strategy"]["matrix"] == "${{ fromJSON(needs.decide.outputs.matrix_0) }}"
    assert jobs["apply-ring-0"]["if"] == "${{ !cancelled() && needs.decide.outputs.any_0 == 'true' }}"


def test_the_plan_key_is_read_only_in_jobs_bound_to_an_environment(generated: Path) -> None:
    """A repository secret is readable by any branch's workflow; an environment's secret only by the
    jobs of its deployment branches (main)."""
    for name in WORKFLOWS:
        for job_name, job in _jobs(generated, name).items():
            if "secrets." in json.dumps(job):
                assert name == "apply" and job_name in {"plan", *RING_JOBS}, (name, job_name)
                assert job["environment"] in {"exoform-plan", "exoform-apply"}, (name, job_name)
    assert _jobs(generated, "apply")["plan"]["environment"] == "exoform-plan"
    assert _jobs(generated, "apply")["plan"]["env"]["EXOFORM_PLAN_KEY"] == "${{ secrets.EXOFORM_PLAN_KEY }}"
    readme = (generated / "README.md").read_text()
    assert "`repo:OWNER/REPO:environment:exoform-plan`" in readme
    assert "**environment secret** `EXOFORM_PLAN_KEY`" in readme


def test_zizmor_auditor_reports_nothing_above_informational(generated: Path) -> None:
    workflows = str(generated / ".github" / "workflows")
    result = subprocess.run(
        [
            str(BIN / "zizmor"),
            "--offline",
            "--no-progress",
            "--persona",
            "auditor",
            "--format",
            "json",
            workflows,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    findings = json.loads(result.stdout)
    assert findings, result.stderr  # the auditor persona does report (informational) findings
    above = [(f["ident"], f["determinations"]["severity"]) for f in findings]
    assert [a for a in above if a[1] != "Informational"] == []


def _exoform_lines(root: Path) -> list[str]:
    texts = [(root / ".github" / "workflows" / f"{n}.yml").read_text() for n in WORKFLOWS]
    texts += [p.read_text() for p in sorted((root / ".github" / "exoform").glob("*.sh"))]
    lines = []
    for text in texts:
        for line in text.splitlines():
            found = re.search(r"(?:^\s*(?:run:\s*)?|\$\()(exoform\s[^>)|;&]*)", line)
            if found:
                lines.append(found.group(1).strip())
    return lines


def test_every_exoform_command_line_in_workflows_and_scripts_parses(generated: Path) -> None:
    lines = _exoform_lines(generated)
    assert {line.split()[1] for line in lines} >= {"validate", "plan", "apply", "drift", "tenants"}
    for line in lines:
        argv = shlex.split(line.replace('"$tenant"', "contoso").replace('"$TENANT"', "contoso"))[1:]
        if argv == ["--version"]:
            continue
        command_name, args = argv[0], argv[1:]
        assert command_name in COMMANDS, line
        command = cli.get_command(click.Context(cli), command_name)
        assert command is not None
        try:
            command.make_context(command_name, list(args))
        except click.UsageError as exc:  # pragma: no cover - the assertion names the line
            pytest.fail(f"`{line}`: {exc}")


def test_split_identities_config_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = render_files([Tenant("contoso", "contoso.onmicrosoft.com")])
    assert "apply_auth:" in files["exoform.yaml"]
    (tmp_path / "exoform.yaml").write_text(files["exoform.yaml"])
    (tmp_path / "connectors" / "contoso").mkdir(parents=True)
    monkeypatch.setenv("EXOFORM_READ_CLIENT_ID", READ_APP)
    monkeypatch.setenv("EXOFORM_WRITE_CLIENT_ID", "22222222-2222-3333-4444-555555555555")
    result = CliRunner().invoke(cli, ["validate", "--config", str(tmp_path / "exoform.yaml")])
    assert result.exit_code == 0, result.output


# ------------------------------------------------------------------- the scripts against the emulator


@pytest.fixture(scope="module")
def emulator(shared_emulator: dict[str, str]) -> dict[str, str]:
    """``exoform emulator serve`` (tests/cli/conftest.py) with the read app (Global Reader: it cannot
    write) and the write app, both trusting the GitHub OIDC stand-in's subject."""
    return shared_emulator


INPROC_CLIENT = """#!{python} -IS
import json, os, socket, sys
with socket.socket(socket.AF_UNIX) as conn:
    conn.connect(os.environ["EXOFORM_INPROC"])
    conn.sendall(json.dumps({{"argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ)}}).encode())
    conn.shutdown(socket.SHUT_WR)
    reply = json.loads(b"".join(iter(lambda: conn.recv(65536), b"")))
sys.stdout.write(reply["stdout"])
sys.stderr.write(reply["stderr"])
sys.exit(reply["code"])
"""


def _read_all(conn: socket.socket) -> bytes:
    return b"".join(iter(lambda: conn.recv(65536), b""))


def _serve_cli(server: socket.socket) -> None:
    """Runs each command a client sends in this process (CliRunner, in the client's folder and
    environment) and sends back its output and exit code; the test thread waits on the client meanwhile."""
    while True:
        try:
            conn, _ = server.accept()
        except OSError:  # closed: the module's tests are done
            return
        with conn:
            request = json.loads(_read_all(conn))
            env = {name: None for name in os.environ if name not in request["env"]} | request["env"]
            here = os.getcwd()
            os.chdir(request["cwd"])
            try:
                result = CliRunner().invoke(cli, request["argv"], env=env, prog_name="exoform")
            finally:
                os.chdir(here)
            stderr = result.stderr
            if result.exc_info is not None and not isinstance(result.exception, SystemExit):
                stderr += "".join(traceback.format_exception(*result.exc_info))
            reply = {"stdout": result.stdout, "stderr": stderr, "code": result.exit_code}
            conn.sendall(json.dumps(reply).encode())


@pytest.fixture(scope="module")
def inproc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder holding an ``exoform`` that runs each command inside this test process (imports paid
    once): put it first on a script's PATH, so the script runs as a real bash process and each exoform
    command it starts costs milliseconds instead of a Python start-up."""
    folder = tmp_path_factory.mktemp("inproc")
    client = folder / "exoform"
    client.write_text(INPROC_CLIENT.format(python=sys.executable))
    client.chmod(0o755)
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "cli.sock"))
    server.listen()
    thread = threading.Thread(target=_serve_cli, args=(server,), daemon=True)
    thread.start()
    try:
        yield folder
    finally:
        server.shutdown(socket.SHUT_RDWR)
        server.close()
        thread.join(timeout=10)


class Repo:
    """A repository written by ``exoform init`` whose tenants point at the emulator, and the scripts'
    environment as GitHub Actions gives it (outputs, summary, OIDC request URL)."""

    def __init__(
        self,
        root: Path,
        emulator: dict[str, str],
        tenants: list[str],
        inproc: Path | None = None,
        *init_args: str,
    ) -> None:
        self.root = root
        init_at_emulator(root, emulator, tenants, *init_args)
        self.output = root / "github-output"
        self.summary = root / "github-summary"
        first = f"{inproc}{os.pathsep}" if inproc else ""  # the in-process exoform, else the real one
        self.env = {
            "EXOFORM_INPROC": str(inproc / "cli.sock") if inproc else "",
            "PATH": f"{first}{BIN}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(root),
            "NO_COLOR": "1",
            "ACTIONS_ID_TOKEN_REQUEST_URL": f"{emulator['base']}/_github/oidc/token",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "emulator",
            "GITHUB_OUTPUT": str(self.output),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "COMMIT_SHA": SHA,
            "RUN_URL": "https://github.com/acme/mail-flow/actions/runs/42",
            "EXOFORM_READ_CLIENT_ID": READ_APP,  # the repository variables, as the workflows pass them
            "EXOFORM_WRITE_CLIENT_ID": WRITE_APP,
        }

    def tenant_settings(self, tenant: str, **changes: str) -> None:
        yaml = YAML()
        path = self.root / "exoform.yaml"
        config = yaml.load(path.read_text())
        for key, value in changes.items():
            config["tenants"][tenant]["auth" if key == "client_id" else key][key] = value
        with path.open("w") as stream:
            yaml.dump(config, stream)

    def run(self, script: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        self.output.write_text("")
        return subprocess.run(
            [str(self.root / ".github" / "exoform" / script), *args],
            cwd=self.root,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def outputs(self) -> dict[str, str]:
        return dict(line.split("=", 1) for line in self.output.read_text().splitlines() if "=" in line)

    def exoform(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``exoform ARGS`` as the scripts would find it on PATH: the in-process one when given."""
        return subprocess.run(
            [shutil.which("exoform", path=self.env["PATH"]) or "exoform", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def _script(root: Path, name: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Runs the generated script ``.github/exoform/NAME`` in ``root`` with exactly ``env``."""
    return subprocess.run(
        [str(root / ".github" / "exoform" / name), *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _footer(body: str) -> None:
    assert f"exoform {__version__} · commit {SHA}" in body


def test_pr_plan_comment_shows_the_plan_and_the_failing_tenant(
    tmp_path: Path, emulator: dict[str, str]
) -> None:
    repo = Repo(tmp_path, emulator, ["contoso", "fabrikam"])
    (tmp_path / "connectors" / "contoso" / "relay.yaml").write_text(RELAY)
    repo.tenant_settings("fabrikam", client_id="99999999-0000-0000-0000-000000000000")  # not registered

    result = repo.run("plan-comment.sh", "comment.md", PLAN="true", FORK="false")
    assert result.returncode == 0, result.stderr
    assert repo.outputs()["code"] == "1"  # the workflow's last step fails the job
    body = (tmp_path / "comment.md").read_text()
    assert body.startswith("<!-- exoform-plan -->\n## exoform plan")
    assert "| <code>contoso</code> | planned | 1 | 0 | 0 |" in body
    assert "Printer relay" in body
    assert ":x: **The plan failed** (exit 1)" in body
    assert "fabrikam" in body.split("The plan failed", 1)[1]
    _footer(body)
    assert "[run log](https://github.com/acme/mail-flow/actions/runs/42)" in body


def test_pr_plan_comment_of_a_clean_plan(tmp_path: Path, emulator: dict[str, str], inproc: Path) -> None:
    repo = Repo(tmp_path, emulator, ["contoso"], inproc)
    result = repo.run("plan-comment.sh", "comment.md", PLAN="true", FORK="false")
    assert result.returncode == 0, result.stderr
    assert repo.outputs()["code"] == "0"
    body = (tmp_path / "comment.md").read_text()
    assert "| <code>contoso</code> | planned | 0 | 0 | 0 |" in body
    assert "failed" not in body
    _footer(body)


def test_fork_pr_is_validated_only_and_the_comment_says_why(
    tmp_path: Path, emulator: dict[str, str], inproc: Path
) -> None:
    repo = Repo(tmp_path, emulator, ["contoso"], inproc)
    scope = repo.run("scope.sh", FORK="true")
    assert scope.returncode == 0, scope.stderr
    assert repo.outputs() == {"plan": "false"}
    result = repo.run("plan-comment.sh", "comment.md", PLAN="false", FORK="true")
    assert result.returncode == 0, result.stderr
    assert repo.outputs()["code"] == "0"
    body = (tmp_path / "comment.md").read_text()
    assert "No plan was made: this pull request comes from a fork" in body
    assert "neither an OIDC token" in body
    _footer(body)
    assert not (tmp_path / "plan.json").exists()  # nothing signed in


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def test_scope_plans_only_pull_requests_that_touch_connector_files(
    tmp_path: Path, emulator: dict[str, str], inproc: Path
) -> None:
    repo = Repo(tmp_path, emulator, ["contoso"], inproc)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "init")
    (tmp_path / "docs.md").write_text("notes\n")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "docs only")
    assert repo.run("scope.sh", FORK="false").returncode == 0
    assert repo.outputs() == {"plan": "false"}
    result = repo.run("plan-comment.sh", "comment.md", PLAN="false", FORK="false")
    assert repo.outputs()["code"] == "0", result.stderr
    assert (
        "No plan needed: this pull request changes no connector file" in (tmp_path / "comment.md").read_text()
    )

    (tmp_path / "connectors" / "contoso" / "relay.yaml").write_text(RELAY)
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "a connector")
    assert repo.run("scope.sh", FORK="false").returncode == 0
    assert repo.outputs() == {"plan": "true"}

    # a base that reads like an option is a revision, never an option: git writes no file, the step fails
    hostile = repo.run("scope.sh", FORK="false", BASE="--output=pwned")
    assert hostile.returncode != 0 and not (tmp_path / "pwned").exists()


BAD_APP = "99999999-0000-0000-0000-000000000000"  # not registered: the tenant's sign-in fails


@pytest.mark.parametrize(
    ("connector", "client_id", "outcome", "code"),
    [(True, READ_APP, "changes", 0), (False, READ_APP, "none", 0), (True, BAD_APP, "failed", 1)],
)
def test_apply_plan_records_whether_the_tenant_has_changes(
    tmp_path: Path,
    emulator: dict[str, str],
    inproc: Path,
    connector: bool,
    client_id: str,
    outcome: str,
    code: int,
) -> None:
    repo = Repo(tmp_path, emulator, ["a_b-1"], inproc)
    if connector:
        (tmp_path / "connectors" / "a_b-1" / "relay.yaml").write_text(RELAY)
    repo.tenant_settings("a_b-1", client_id=client_id)
    result = repo.run("apply-plan.sh", "a_b-1", "results")
    assert result.returncode == code, result.stderr
    assert (tmp_path / "results" / "a_b-1").read_text() == f"{outcome}\n"
    assert f"Plan of <code>a&#95;b-1</code>: {outcome}." in repo.summary.read_text()
    # only a plan with changes is uploaded, so only it can ever be applied
    assert (tmp_path / "plan.json").exists() == (outcome == "changes")


def test_the_saved_plan_applies_with_exoform_apply(
    tmp_path: Path, emulator: dict[str, str], inproc: Path
) -> None:
    repo = Repo(tmp_path, emulator, ["contoso"], inproc)
    (tmp_path / "connectors" / "contoso" / "relay.yaml").write_text(RELAY)
    assert repo.run("apply-plan.sh", "contoso", "results").returncode == 0  # as the read app
    applied = repo.exoform("apply", "plan.json")  # as the write app: the read app may not write
    assert applied.returncode == 0, applied.stderr
    assert 'created InboundConnector "Printer relay"' in applied.stdout


def test_apply_as_the_read_app_is_refused_naming_the_identity_and_role(
    tmp_path: Path, emulator: dict[str, str], inproc: Path
) -> None:
    repo = Repo(tmp_path, emulator, ["contoso"], inproc)
    (tmp_path / "connectors" / "contoso" / "relay.yaml").write_text(RELAY)
    assert repo.run("apply-plan.sh", "contoso", "results").returncode == 0
    repo.env["EXOFORM_WRITE_CLIENT_ID"] = READ_APP  # the variable set to the wrong app
    applied = repo.exoform("apply", "plan.json")
    assert applied.returncode == 1
    assert f"apply_auth (client id {READ_APP})" in applied.stderr + applied.stdout
    assert "Exchange Administrator" in applied.stderr + applied.stdout


def test_apply_matrix_holds_only_tenants_whose_saved_plan_has_changes(tmp_path: Path) -> None:
    assert init(tmp_path).exit_code == 0
    results = tmp_path / "results"
    results.mkdir()
    for tenant, outcome in (("contoso", "changes"), ("fabrikam", "failed"), ("northwind", "none")):
        (results / tenant).write_text(f"{outcome}\n")
    output, summary = tmp_path / "output", tmp_path / "summary"
    env = {
        "PATH": os.environ["PATH"],
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "TENANTS": '{"tenant":["contoso","fabrikam","northwind","cancelled"]}',
    }
    result = _script(tmp_path, "apply-matrix.sh", "results", env=env)
    assert result.returncode == 0, result.stderr
    assert (
        output.read_text() == 'matrix_0={"include":[{"shard":"1-of-1","tenants":["contoso"]}]}\nany_0=true\n'
    )
    assert summary.read_text().splitlines() == [
        "- <code>contoso</code>: changes: apply in ring 0 after approval",
        "- <code>fabrikam</code>: plan failed: not applied",
        "- <code>northwind</code>: no changes: nothing to apply",
        "- <code>cancelled</code>: no plan (cancelled or not run): not applied",
    ]
    (results / "contoso").write_text("none\n")
    output.write_text("")
    assert _script(tmp_path, "apply-matrix.sh", "results", env=env).returncode == 0
    assert output.read_text() == 'matrix_0={"include":[]}\nany_0=false\n'


FAKE_GH = """#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$GH_LOG"
if [ "$1" = api ] && [ "$2" = --paginate ]; then printf '%s' "${FAKE_COMMENT_ID:-}"; fi
"""


def _fake_gh(root: Path) -> dict[str, str]:
    bin_dir = root / "fake-bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(FAKE_GH)
    (bin_dir / "gh").chmod(0o755)
    return {
        "PATH": f"{bin_dir}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}",
        "GH_LOG": str(root / "gh.log"),
    }


@pytest.mark.parametrize(
    ("connector", "client_id", "code"), [(True, READ_APP, 2), (False, READ_APP, 0), (False, BAD_APP, 1)]
)
def test_drift_check_writes_the_issue_body_and_the_outcome(
    tmp_path: Path, emulator: dict[str, str], inproc: Path, connector: bool, client_id: str, code: int
) -> None:
    repo = Repo(tmp_path, emulator, ["a.b"], inproc)
    if connector:
        (tmp_path / "connectors" / "a.b" / "relay.yaml").write_text(RELAY)  # declared, not in the tenant
    repo.tenant_settings("a.b", client_id=client_id)
    result = repo.run("drift-check.sh", "a.b", "drift")
    assert result.returncode == (1 if code == 1 else 0), result.stderr  # only an error fails the job
    assert (tmp_path / "drift" / "a.b.code").read_text() == f"{code}\n"
    body = (tmp_path / "drift" / "a.b.md").read_text()
    assert ("Printer relay" in body) == connector
    _footer(body)


def _drift_issues(root: Path, results: dict[str, int], open_issues: list[dict[str, Any]]) -> list[list[str]]:
    """Runs drift-issues.sh on ``results`` (tenant -> drift exit code; the tenants of exoform.yaml) and
    ``open_issues``; returns its actions with each body file's text in place of its name."""
    drift = root / "drift"
    drift.mkdir(exist_ok=True)
    for tenant, code in results.items():
        (drift / f"{tenant}.code").write_text(f"{code}\n")
        (drift / f"{tenant}.md").write_text(f"drift of {tenant}\n")
    (root / "open-issues.json").write_text(json.dumps(open_issues))
    env = {
        "PATH": os.environ["PATH"],
        "TENANTS": json.dumps({"tenant": list(results)}),
        "RUN_URL": "https://github.com/acme/mail-flow/actions/runs/42",
    }
    result = _script(root, "drift-issues.sh", "drift", "open-issues.json", "issues", env=env)
    assert result.returncode == 0, result.stderr
    lines = (root / "issues" / "actions.tsv").read_text().splitlines()
    return [[*line.split("\t")[:2], (root / "issues" / line.split("\t")[2]).read_text()] for line in lines]


UNCHECKED = (
    "exoform could not check <code>{}</code> for drift: the error is below. Its drift issue, if any, stays "
    "open: whether it drifted is unknown until it can be checked. This issue closes by itself once it "
    "can.\n\n"
)


def test_drift_issues_are_opened_updated_and_closed_including_removed_tenants(tmp_path: Path) -> None:
    assert init(tmp_path).exit_code == 0
    results = {"contoso": 2, "fabrikam": 1, "northwind": 0, "woodgrove": 2}
    open_issues = [
        {"number": 7, "title": "exoform drift: northwind", "body": "old drift"},
        {"number": 8, "title": "exoform drift: fabrikam", "body": "old drift"},
        {"number": 9, "title": "exoform drift: retired", "body": "old drift"},
        {"number": 10, "title": "exoform drift: woodgrove", "body": "older drift of woodgrove"},
        {"number": 11, "title": "Unrelated", "body": ""},
    ]
    assert _drift_issues(tmp_path, results, open_issues) == [
        ["create", "exoform drift: contoso", "drift of contoso\n"],
        [
            "create",
            "exoform: cannot check tenant fabrikam",
            UNCHECKED.format("fabrikam") + "drift of fabrikam\n",
        ],
        [
            "close",
            "7",
            "No drift any more in <code>northwind</code>: the tenant matches the files "
            "(checked by https://github.com/acme/mail-flow/actions/runs/42).\n",
        ],
        ["edit", "10", "drift of woodgrove\n"],
        [
            "close",
            "9",
            "Tenant <code>retired</code> is no longer in exoform.yaml: closing its drift issue "
            "(https://github.com/acme/mail-flow/actions/runs/42).\n",
        ],
    ]  # fabrikam could not be checked: its drift issue (8) stays as it is


def test_unchanged_drift_does_not_edit_the_issue(tmp_path: Path) -> None:
    assert init(tmp_path).exit_code == 0
    issue = {"number": 3, "title": "exoform drift: contoso", "body": "drift of contoso\n"}
    assert _drift_issues(tmp_path, {"contoso": 2}, [issue]) == []


def test_drift_issues_match_titles_exactly_and_a_nul_in_a_title_aliases_no_tenant(tmp_path: Path) -> None:
    assert init(tmp_path).exit_code == 0
    open_issues = [
        {"number": 3, "title": "exoform drift: contoso\u0000x", "body": "old"},  # not contoso's title
        {"number": 4, "title": "exoform drift: fabrikam", "body": "first"},
        {"number": 6, "title": "exoform drift: fabrikam", "body": "second"},  # the first of a title wins
        {"number": 7, "title": "exoform drift: Fabrikam", "body": "old"},  # titles match case and all
        {"number": "8", "title": "exoform drift: woodgrove", "body": "old"},  # not an issue number
    ]
    actions = _drift_issues(tmp_path, {"contoso": 2, "fabrikam": 2, "woodgrove": 2}, open_issues)
    assert [a[:2] for a in actions] == [
        ["create", "exoform drift: contoso"],
        ["edit", "4"],
        ["create", "exoform drift: woodgrove"],
        ["close", "3"],
        ["close", "7"],
    ]


def test_post_issues_carries_out_the_actions_with_gh(tmp_path: Path) -> None:
    assert init(tmp_path).exit_code == 0
    issues = tmp_path / "issues"
    issues.mkdir()
    (issues / "1.md").write_text("drift of contoso\n")
    (issues / "2.md").write_text("No drift any more.\n")
    (issues / "actions.tsv").write_text("create\texoform drift: contoso\t1.md\nclose\t7\t2.md\n")
    posted = _script(tmp_path, "post-issues.sh", "issues", env=_fake_gh(tmp_path))
    assert posted.returncode == 0, posted.stderr
    assert (tmp_path / "gh.log").read_text().splitlines() == [
        "label create exoform-drift --color D93F0B --description exoform found drift --force",
        "issue create --title exoform drift: contoso --label exoform-drift --body-file issues/1.md",
        "issue close 7 --comment No drift any more.",
    ]


def test_post_comment_updates_the_one_plan_comment(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    assert init(root).exit_code == 0
    (root / "comment.md").write_text("<!-- exoform-plan -->\nplan\n")
    env = {**_fake_gh(tmp_path), "GITHUB_REPOSITORY": "acme/mail-flow", "PR_NUMBER": "5"}
    first = _script(root, "post-comment.sh", "comment.md", env=env)
    assert first.returncode == 0, first.stderr
    again = _script(root, "post-comment.sh", "comment.md", env={**env, "FAKE_COMMENT_ID": "77"})
    assert again.returncode == 0, again.stderr
    calls = (tmp_path / "gh.log").read_text().splitlines()
    assert calls[1] == "api --method POST repos/acme/mail-flow/issues/5/comments -F body=@comment.md"
    assert calls[3] == "api --method PATCH repos/acme/mail-flow/issues/comments/77 -F body=@comment.md"
    # no plan was needed: an earlier plan comment is replaced, but no new comment is posted
    stale = _script(
        root, "post-comment.sh", "comment.md", env={**env, "UPDATE_ONLY": "true", "FAKE_COMMENT_ID": "77"}
    )
    assert stale.returncode == 0, stale.stderr
    quiet = _script(root, "post-comment.sh", "comment.md", env={**env, "UPDATE_ONLY": "true"})
    assert "No plan comment to update" in quiet.stdout
    calls = (tmp_path / "gh.log").read_text().splitlines()
    assert calls[5] == "api --method PATCH repos/acme/mail-flow/issues/comments/77 -F body=@comment.md"
    assert len(calls) == 7 and "POST" not in calls[6]


FAKE_EXOFORM = """#!/usr/bin/env bash
if [ "$1" = --version ]; then echo "exoform, version 9.9.9"; exit 0; fi
printf '<!-- exoform-plan -->\\n## exoform plan\\n'
for i in $(seq 1 2000); do printf '| `connector-%04d` | \xe2\x9c\x85 changed |\\n' "$i"; done
echo "error: tenant fabrikam: token request failed" >&2
exit 1
"""


def test_a_plan_too_long_for_a_comment_is_cut_and_keeps_the_failure_and_the_footer(tmp_path: Path) -> None:
    assert init(tmp_path).exit_code == 0
    env = _fake_gh(tmp_path)
    fake = Path(env["PATH"].split(os.pathsep)[0]) / "exoform"
    fake.write_text(FAKE_EXOFORM)
    fake.chmod(0o755)
    env.update(GITHUB_OUTPUT=str(tmp_path / "output"), COMMIT_SHA=SHA, PLAN="true", FORK="false")
    result = _script(tmp_path, "plan-comment.sh", "comment.md", env=env)
    assert result.returncode == 0, result.stderr
    body = (tmp_path / "comment.md").read_text(encoding="utf-8")  # still valid UTF-8 after the cut
    assert len(body) <= 65_536
    assert "| `connector-0001` |" in body and "| `connector-2000` |" not in body
    assert "*(The plan was cut to fit in a comment: `exoform plan` shows all of it.)*" in body
    assert "error: tenant fabrikam: token request failed" in body
    assert body.endswith(f"<sub>exoform 9.9.9 · commit {SHA}</sub>\n")


def test_drift_runs_one_job_per_shard_checking_each_of_its_tenants(generated: Path, tmp_path: Path) -> None:
    workflow = _workflow(generated, "drift")
    listing = next(s["run"] for s in workflow["jobs"]["tenants"]["steps"] if s.get("id") == "tenants")
    assert "exoform tenants --json --shards 256" in listing  # GitHub's matrix limit, never one job per tenant
    job = workflow["jobs"]["drift"]
    assert job["env"]["SHARD_TENANTS"] == "${{ toJSON(matrix.tenants) }}"
    assert workflow["jobs"]["issues"]["env"]["TENANTS"] == "${{ needs.tenants.outputs.tenants }}"
    check = next(s["run"] for s in job["steps"] if "drift-check.sh" in str(s.get("run", "")))
    stub = tmp_path / ".github" / "exoform" / "drift-check.sh"
    stub.parent.mkdir(parents=True)
    stub.write_text('#!/usr/bin/env bash\necho "$1" >> checked\n[ "$1" != "b c" ]\n')
    stub.chmod(0o755)
    env = os.environ | {"SHARD_TENANTS": json.dumps(["a", "b c", "d"])}
    done = subprocess.run(["bash", "-c", check], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert (tmp_path / "checked").read_text() == "a\nb c\nd\n"  # every tenant, even after one failed
    assert done.returncode == 1  # the failed tenant fails the shard's job


def test_apply_matrix_shards_past_githubs_limit_covering_every_tenant_once(tmp_path: Path) -> None:
    assert init(tmp_path).exit_code == 0
    results = tmp_path / "results"
    results.mkdir()
    names = [f"customer-{i:03d}" for i in range(300)]
    for name in names:
        (results / name).write_text("changes\n")
    output = tmp_path / "output"
    env = {"PATH": os.environ["PATH"], "GITHUB_OUTPUT": str(output), "TENANTS": json.dumps({"tenant": names})}
    assert _script(tmp_path, "apply-matrix.sh", "results", env=env).returncode == 0
    matrix = json.loads(output.read_text().splitlines()[0].removeprefix("matrix_0="))
    assert len(matrix["include"]) == 256
    assert [t for entry in matrix["include"] for t in entry["tenants"]] == names


def test_apply_plans_and_applies_each_tenant_of_its_shard(generated: Path, tmp_path: Path) -> None:
    jobs = _jobs(generated, "apply")
    plan_step = next(s["run"] for s in jobs["plan"]["steps"] if "apply-plan.sh" in str(s.get("run", "")))
    apply_step = next(
        s["run"] for s in jobs["apply-ring-0"]["steps"] if "exoform apply" in str(s.get("run", ""))
    )
    (tmp_path / ".github" / "exoform").mkdir(parents=True)
    stub = tmp_path / ".github" / "exoform" / "apply-plan.sh"
    stub.write_text('#!/usr/bin/env bash\necho "plan $1 $2 $3" >> log\n[ "$1" != "b c" ]\n')
    stub.chmod(0o755)
    fake = tmp_path / "bin" / "exoform"
    fake.parent.mkdir()
    fake.write_text('#!/usr/bin/env bash\necho "exoform $*" >> log\n')
    fake.chmod(0o755)
    env = os.environ | {
        "SHARD_TENANTS": json.dumps(["a", "b c"]),
        "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}",
    }
    planned = subprocess.run(["bash", "-c", plan_step], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert planned.returncode == 1  # one tenant's failed plan fails the shard, after every tenant is planned
    applied = subprocess.run(
        ["bash", "-c", apply_step], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert applied.returncode == 0, applied.stderr
    assert (tmp_path / "log").read_text().splitlines() == [
        "plan a results plans/a.json",
        "plan b c results plans/b c.json",
        "exoform apply --ring 0 -- plans/a.json",
        "exoform apply --ring 0 -- plans/b c.json",
    ]


# ------------------------------------------------------------- the worst tenant names the rule allows


def _stub_env(root: Path, **extra: str) -> dict[str, str]:
    """:func:`stub_env`'s recording ``exoform``, with the GitHub Actions outputs and ``extra``."""
    return stub_env(root, []) | {
        "GITHUB_OUTPUT": str(root / "output"),
        "GITHUB_STEP_SUMMARY": str(root / "summary"),
        **extra,
    }


def _step(
    cwd: Path, workflow: str, job: str, needle: str, env: dict[str, str], root: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs the ``run:`` block of the step of ``workflow``'s ``job`` (in the repository ``root``, default
    ``cwd``) that mentions ``needle``, in ``cwd`` as GitHub runs it (bash -e)."""
    steps = _jobs(root or cwd, workflow)[job]["steps"]
    script = next(s["run"] for s in steps if needle in str(s.get("run", "")))
    return subprocess.run(["bash", "-e", "-c", script], cwd=cwd, env=env, capture_output=True, text=True)


def test_the_worst_names_the_rule_allows_pass_through_every_step_intact(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    args = [a for name in WORST for a in ("--tenant", name)]
    assert init(root, *args).exit_code == 0
    assert all(TENANT_NAME_RE.fullmatch(name) for name in WORST)
    shown = {name: f"<code>{markdown(name)}</code>" for name in WORST}
    env = _stub_env(tmp_path, SHARD_TENANTS=json.dumps(WORST), TENANTS=json.dumps({"tenant": WORST}))

    # apply.yml, plan job: each name planned exactly (a literal --tenant=NAME), recorded in its own file
    planned = _step(root, "apply", "plan", "apply-plan.sh", env)
    assert planned.returncode == 0, planned.stderr
    assert [call[:2] for call in stub_calls(tmp_path)] == [["plan", f"--tenant={name}"] for name in WORST]
    for name in WORST:
        assert (root / "results" / name).read_text() == "changes\n"
        assert json.loads((root / "plans" / f"{name}.json").read_text()) == {"tenant": name}
    summary = (tmp_path / "summary").read_text()
    assert all(f"Plan of {shown[name]}: changes." in summary for name in WORST)

    # the decide job: every name in the matrix, as written, and escaped in the summary
    (tmp_path / "summary").write_text("")
    decided = _script(root, "apply-matrix.sh", "results", env=env)
    assert decided.returncode == 0, decided.stderr
    matrix = json.loads((tmp_path / "output").read_text().splitlines()[0].removeprefix("matrix_0="))
    assert [t for entry in matrix["include"] for t in entry["tenants"]] == WORST
    assert (tmp_path / "summary").read_text().splitlines() == [
        f"- {shown[name]}: changes: apply in ring 0 after approval" for name in WORST
    ]

    # the apply job: each saved plan applied, the path after --
    applied = _step(root, "apply", "apply-ring-0", "exoform apply", env)
    assert applied.returncode == 0, applied.stderr
    assert stub_calls(tmp_path) == [["apply", "--ring", "0", "--", f"plans/{name}.json"] for name in WORST]

    # drift.yml: each name checked exactly, its results in drift/
    checked = _step(root, "drift", "drift", "drift-check.sh", env)
    assert checked.returncode == 0, checked.stderr
    assert [c[:2] for c in stub_calls(tmp_path) if c[0] == "drift"] == [
        ["drift", f"--tenant={n}"] for n in WORST
    ]
    assert sorted(p.name for p in (root / "drift").iterdir()) == sorted(
        f"{name}.{ext}" for name in WORST for ext in ("code", "md")
    )
    # nothing was written outside the repository
    assert sorted(p.name for p in tmp_path.iterdir()) == ["output", "repo", "stub-bin", "summary"]


@pytest.mark.parametrize("name", ["../escape", "-x", "a b", "*", "a/b", "", ".hidden"])
@pytest.mark.parametrize("script", ["apply-plan.sh", "drift-check.sh"])
def test_scripts_refuse_a_name_outside_the_rule_without_running_exoform(
    generated: Path, tmp_path: Path, name: str, script: str
) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copytree(generated / ".github", root / ".github")
    result = _script(root, script, name, "out", env=_stub_env(tmp_path))
    assert result.returncode == 1
    assert result.stderr == f"::error::{script}: not a tenant name (letters, digits, '.', '_', '-')\n"
    assert stub_calls(tmp_path) == []
    assert sorted(p.name for p in root.iterdir()) == [".github"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repo", "stub-bin"]


def test_decide_skips_a_name_outside_the_rule_and_never_shows_it(tmp_path: Path) -> None:
    assert init(tmp_path).exit_code == 0
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "ok").write_text("changes\n")
    names = ["ok", "-x", "a b", "`@here`", "../results/ok"]
    env = _stub_env(tmp_path, TENANTS=json.dumps({"tenant": names}))
    result = _script(tmp_path, "apply-matrix.sh", "results", env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "output").read_text().splitlines()[
        0
    ] == 'matrix_0={"include":[{"shard":"1-of-1","tenants":["ok"]}]}'
    assert (tmp_path / "summary").read_text().splitlines() == [
        "- <code>ok</code>: changes: apply in ring 0 after approval",
        *["- a name that breaks the rule of tenant names: not applied"] * 4,
    ]


def test_drift_issue_comments_escape_names_even_from_hostile_titles(tmp_path: Path) -> None:
    assert init(tmp_path).exit_code == 0
    open_issues = [
        {"number": 4, "title": "exoform drift: a_b-1", "body": "old"},
        {"number": 5, "title": "exoform drift: `x` @here <img src=x>|*y*\n::error::z", "body": "old"},
    ]
    actions = _drift_issues(tmp_path, {"a_b-1": 0}, open_issues)
    assert actions == [
        [
            "close",
            "4",
            "No drift any more in <code>a&#95;b-1</code>: the tenant matches the files "
            "(checked by https://github.com/acme/mail-flow/actions/runs/42).\n",
        ],
        [
            "close",
            "5",
            "Tenant <code>&#96;x&#96; &#64;here &#60;img src=x&#62;&#124;&#42;y&#42;&#10;::error::z</code> "
            "is no longer in exoform.yaml: closing its drift issue "
            "(https://github.com/acme/mail-flow/actions/runs/42).\n",
        ],
    ]


def test_max_per_job_sets_how_many_tenants_share_a_plan_apply_and_drift_job(tmp_path: Path) -> None:
    names = [f"t{i}" for i in range(5)]
    assert init(tmp_path, *[a for n in names for a in ("--tenant", n)], "--max-per-job", "2").exit_code == 0
    for workflow, job in (("apply", "plan"), ("drift", "drift")):
        step = next(s for s in _jobs(tmp_path, workflow)["tenants"]["steps"] if s.get("id") == "tenants")
        assert "exoform tenants --json --max-per-job 2" in step["run"]
        assert (
            _jobs(tmp_path, workflow)[job]["strategy"]["matrix"]
            == "${{ fromJSON(needs.tenants.outputs.matrix) }}"
        )
    listed = CliRunner().invoke(
        cli, ["tenants", "--json", "--max-per-job", "2", "--config", str(tmp_path / "exoform.yaml")]
    )
    assert [e["tenants"] for e in json.loads(listed.stdout)["include"]] == [
        ["t0", "t1"],
        ["t2", "t3"],
        ["t4"],
    ]
    # the apply job: the tenants with changes, at most 2 a job
    (tmp_path / "results").mkdir()
    for name in names:
        (tmp_path / "results" / name).write_text("changes\n" if name != "t1" else "none\n")
    decide = next(s for s in _jobs(tmp_path, "apply")["decide"]["steps"] if s.get("id") == "decide")
    env = _stub_env(tmp_path, **decide["env"]) | {"TENANTS": json.dumps({"tenant": names}), "RINGS": "{}"}
    assert env["MAX_PER_JOB"] == "2"
    assert _script(tmp_path, "apply-matrix.sh", "results", env=env).returncode == 0
    matrix = json.loads((tmp_path / "output").read_text().splitlines()[0].removeprefix("matrix_0="))
    assert [e["tenants"] for e in matrix["include"]] == [["t0", "t2"], ["t3", "t4"]]
    # without the option: one tenant per job
    default = render_files([Tenant("a", "a.onmicrosoft.com")])
    assert "exoform tenants --json --shards 256" in default[".github/workflows/apply.yml"]
    assert 'MAX_PER_JOB: "0"' in default[".github/workflows/apply.yml"]


# ------------------------------------------------------------------------------------ ring-ordered apply

_EXPRESSION = re.compile(r"\s+|\(|\)|&&|\|\||==|!=|!|'[^']*'|[A-Za-z_][\w.-]*(?:\(\))?")


def evaluate(condition: str, context: dict[str, Any]) -> bool:
    """A job's ``if:`` as GitHub evaluates it, for the expressions the generated workflows use: ``&&``,
    ``||``, ``!``, ``==``, ``!=``, parentheses, 'strings', ``cancelled()`` (false: the run goes on) and
    ``needs.JOB.result`` / ``needs.JOB.outputs.NAME`` (an output a job did not set is '')."""
    text = condition.strip().removeprefix("${{").removesuffix("}}")
    python: list[str] = []
    for match in _EXPRESSION.finditer(text):
        token = match.group(0)
        if token.isspace():
            continue
        if token.startswith("'"):
            python.append(repr(token[1:-1]))
        elif token in ("&&", "||", "!"):
            python.append({"&&": " and ", "||": " or ", "!": " not "}[token])
        elif token in ("(", ")", "==", "!="):
            python.append(token)
        elif token == "cancelled()":
            python.append("False")
        else:
            value: Any = context
            for part in token.split("."):
                value = value.get(part, "") if isinstance(value, dict) else ""
            python.append(repr(value))
    assert "".join(m.group(0) for m in _EXPRESSION.finditer(text)) == text, f"unparsed: {text}"
    return bool(eval("".join(python), {"__builtins__": {}}))


def run_ring_jobs(root: Path, decided: dict[str, str], apply_job: Any) -> dict[str, str]:
    """Runs the apply workflow's ring jobs as GitHub would after the decide job wrote ``decided``: each in
    order, when its ``if:`` holds under its ``needs``, one ``apply_job(ring, tenants)`` call per shard of
    its matrix (True: the shard succeeded).  Returns each ring job's result."""
    jobs = _jobs(root, "apply")
    results: dict[str, str] = {"decide": "success"}
    for ring in range(len([j for j in jobs if j.startswith("apply-ring-")])):
        name = f"apply-ring-{ring}"
        job = jobs[name]
        needs = [job["needs"]] if isinstance(job["needs"], str) else job["needs"]
        context = {
            "needs": {n: {"result": results[n], "outputs": decided if n == "decide" else {}} for n in needs}
        }
        if not evaluate(job["if"], context):
            results[name] = "skipped"
            continue
        assert job["strategy"]["matrix"] == f"${{{{ fromJSON(needs.decide.outputs.matrix_{ring}) }}}}"
        shards = json.loads(decided[f"matrix_{ring}"])["include"]
        ok = [apply_job(ring, shard["tenants"]) for shard in shards]
        results[name] = "success" if all(ok) else "failure"
    return results


@pytest.mark.parametrize(
    ("any0", "result0", "any1", "runs1"),
    [
        ("true", "success", "true", True),
        ("true", "failure", "true", False),  # ring 0 failed: ring 1 waits for the next run
        ("false", "skipped", "true", True),  # ring 0 had nothing to apply
        ("true", "skipped", "true", False),  # ring 0 was to apply but did not run (a rejected review)
        ("true", "success", "false", False),  # nothing to apply in ring 1
    ],
)
def test_a_ring_job_runs_only_after_every_earlier_ring_succeeded_or_had_nothing(
    generated: Path, any0: str, result0: str, any1: str, runs1: bool
) -> None:
    jobs = _jobs(generated, "apply")
    assert jobs["apply-ring-2"]["needs"] == ["decide", "apply-ring-0", "apply-ring-1"]
    outputs = {"any_0": any0, "any_1": any1, "any_2": "true"}
    for result1 in ("success", "failure"):
        context = {
            "needs": {
                "decide": {"result": "success", "outputs": outputs},
                "apply-ring-0": {"result": result0},
                "apply-ring-1": {"result": result1 if runs1 else "skipped"},
            }
        }
        assert evaluate(jobs["apply-ring-1"]["if"], context) == runs1
        # ring 2 runs only when ring 1 succeeded, or had nothing to apply and ring 0 is fine
        fine0 = result0 == "success" or any0 != "true"
        expected2 = fine0 and ((runs1 and result1 == "success") or (any1 != "true"))
        assert evaluate(jobs["apply-ring-2"]["if"], context) == expected2, (result1, context)
    # the decide job failed: no output at all, no ring applied
    assert not evaluate(jobs["apply-ring-0"]["if"], {"needs": {"decide": {"result": "failure"}}})


def _set_rings(root: Path, rings: dict[str, int]) -> None:
    yaml = YAML()
    path = root / "exoform.yaml"
    config = yaml.load(path.read_text())
    for tenant, ring in rings.items():
        config["tenants"][tenant]["ring"] = ring
    with path.open("w") as stream:
        yaml.dump(config, stream)


def _listing(root: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["tenants", "--json", *args, "--config", str(root / "exoform.yaml")])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


@pytest.mark.parametrize("ring0_fails", [True, False])
def test_ring_1_is_applied_only_after_ring_0_succeeded_against_the_emulator(
    tmp_path: Path, emulator: dict[str, str], inproc: Path, ring0_fails: bool
) -> None:
    repo = Repo(tmp_path, emulator, ["lab", "cust-a", "cust-b"], inproc, "--rings", "2", "--max-per-job", "1")
    _set_rings(tmp_path, {"lab": 0, "cust-a": 1, "cust-b": 1})
    for tenant in ("lab", "cust-a", "cust-b"):
        (tmp_path / "connectors" / tenant / "relay.yaml").write_text(RELAY)
        assert repo.run("apply-plan.sh", tenant, "results", f"plans/{tenant}.json").returncode == 0
    if ring0_fails:  # someone applies lab's connector by hand meanwhile: the saved plan is stale
        assert repo.exoform("apply", "plans/lab.json").returncode == 0
    decide = next(s for s in _jobs(tmp_path, "apply")["decide"]["steps"] if s.get("id") == "decide")
    env = {
        **decide["env"],
        "TENANTS": _listing(tmp_path),
        "RINGS": _listing(tmp_path, "--rings"),
    }
    assert json.loads(env["RINGS"]) == {"lab": 0, "cust-a": 1, "cust-b": 1}
    assert repo.run("apply-matrix.sh", "results", **env).returncode == 0
    decided = repo.outputs()
    assert [e["tenants"] for e in json.loads(decided["matrix_1"])["include"]] == [["cust-a"], ["cust-b"]]

    applied: list[tuple[int, list[str]]] = []

    def apply_job(ring: int, tenants: list[str]) -> bool:
        applied.append((ring, tenants))
        job = _jobs(tmp_path, "apply")[f"apply-ring-{ring}"]
        script = next(s["run"] for s in job["steps"] if "exoform apply" in str(s.get("run", "")))
        done = subprocess.run(
            ["bash", "-e", "-c", script],
            cwd=tmp_path,
            env={**repo.env, "SHARD_TENANTS": json.dumps(tenants)},
            capture_output=True,
            text=True,
            check=False,
        )
        if ring0_fails:
            assert "now exists; the plan would create it" in done.stderr
        return done.returncode == 0

    results = run_ring_jobs(tmp_path, decided, apply_job)
    if ring0_fails:
        assert results == {"decide": "success", "apply-ring-0": "failure", "apply-ring-1": "skipped"}
        assert applied == [(0, ["lab"])]
    else:
        assert results == {"decide": "success", "apply-ring-0": "success", "apply-ring-1": "success"}
        assert applied == [(0, ["lab"]), (1, ["cust-a"]), (1, ["cust-b"])]
    for tenant in ("cust-a", "cust-b"):  # ring 1's tenants have their connector only when ring 0 succeeded
        code = repo.run("apply-plan.sh", tenant, "after").returncode
        assert code == 0
        assert (tmp_path / "after" / tenant).read_text() == ("changes\n" if ring0_fails else "none\n")


def test_decide_splits_the_tenants_by_ring_and_refuses_a_ring_without_a_job(tmp_path: Path) -> None:
    assert init(tmp_path, "--rings", "2").exit_code == 0
    results = tmp_path / "results"
    results.mkdir()
    for tenant, outcome in (("a", "changes"), ("b", "changes"), ("c", "none"), ("d", "changes")):
        (results / tenant).write_text(f"{outcome}\n")
    env = _stub_env(
        tmp_path,
        TENANTS=json.dumps({"tenant": ["a", "b", "c", "d"]}),
        RINGS=json.dumps({"a": 1, "b": 0, "c": 1, "d": 1}),
        STAGES="2",
    )
    assert _script(tmp_path, "apply-matrix.sh", "results", env=env).returncode == 0
    assert (tmp_path / "output").read_text().splitlines() == [
        'matrix_0={"include":[{"shard":"1-of-1","tenants":["b"]}]}',
        "any_0=true",
        'matrix_1={"include":[{"shard":"1-of-2","tenants":["a"]},{"shard":"2-of-2","tenants":["d"]}]}',
        "any_1=true",
    ]
    assert "- <code>a</code>: changes: apply in ring 1 after approval" in (tmp_path / "summary").read_text()
    # a tenant with changes in ring 2, which the workflow has no job for: nothing is applied
    (tmp_path / "output").write_text("")
    env["RINGS"] = json.dumps({"a": 2, "b": 0, "c": 5, "d": 1})
    refused = _script(tmp_path, "apply-matrix.sh", "results", env=env)
    assert refused.returncode == 1
    assert "a tenant with changes is in a ring this workflow has no job for: nothing is applied" in (
        refused.stderr
    )
    assert "matrix" not in (tmp_path / "output").read_text()
    assert (
        "- <code>a</code>: changes in ring 2, which this workflow has no job for (rings 0 to 1)"
        in (tmp_path / "summary").read_text()
    )


def test_tenants_rings_lists_each_tenants_ring(tmp_path: Path) -> None:
    assert init(tmp_path, "--fleet", "--tenant", "lab", "--tenant", "cust").exit_code == 0
    _set_rings(tmp_path, {"cust": 2})
    assert json.loads(_listing(tmp_path, "--rings")) == {"lab": 0, "cust": 2}
    config = ["--config", str(tmp_path / "exoform.yaml")]
    text = CliRunner().invoke(cli, ["tenants", "--rings", *config])
    assert text.stdout == "lab ring 0\ncust ring 2\n"
    # the matrix of every other listing is as before: no ring in it
    assert json.loads(_listing(tmp_path)) == {"tenant": ["lab", "cust"]}
    both = CliRunner().invoke(cli, ["tenants", "--rings", "--shards", "2", *config])
    assert both.exit_code == 1 and "--rings lists every tenant with its ring" in both.output


def test_fleet_init_applies_three_rings_and_a_single_tenant_one(tmp_path: Path) -> None:
    fleet = render_files([Tenant("a", "a.onmicrosoft.com")], fleet=True)
    single = render_files([Tenant("a", "a.onmicrosoft.com")])
    for files, rings in ((fleet, 3), (single, 1)):
        jobs = YAML(typ="safe").load(files[".github/workflows/apply.yml"])["jobs"]
        assert [j for j in jobs if j.startswith("apply-ring-")] == [f"apply-ring-{r}" for r in range(rings)]
        assert jobs["decide"]["steps"][-1]["env"]["STAGES"] == str(rings)
    refused = init(tmp_path, "--rings", "0")
    assert refused.exit_code == 1 and "Invalid value for '--rings'" in refused.output


# ------------------------------------------------------------------- tenants that cannot be checked


def _actions(root: Path) -> list[list[str]]:
    return [line.split("\t") for line in (root / "issues" / "actions.tsv").read_text().splitlines()]


def test_a_tenant_that_cannot_be_checked_gets_its_own_issue_and_keeps_its_drift_issue(tmp_path: Path) -> None:
    assert init(tmp_path).exit_code == 0
    open_issues = [{"number": 8, "title": "exoform drift: fabrikam", "body": "old drift"}]
    actions = _drift_issues(tmp_path, {"fabrikam": 1}, open_issues)
    body = UNCHECKED.format("fabrikam") + "drift of fabrikam\n"
    assert actions == [["create", "exoform: cannot check tenant fabrikam", body]]  # drift issue 8 not closed
    assert _actions(tmp_path)[0][3] == "exoform-cannot-check"  # its own label, apart from drift issues
    # the next night: still failing with the same report, nothing to do; another report, the issue is edited
    unchecked = {"number": 12, "title": "exoform: cannot check tenant fabrikam", "body": body}
    assert _drift_issues(tmp_path, {"fabrikam": 1}, [*open_issues, unchecked]) == []
    unchecked["body"] = "an older error"
    assert _drift_issues(tmp_path, {"fabrikam": 1}, [*open_issues, unchecked]) == [["edit", "12", body]]


@pytest.mark.parametrize("code", [0, 2])
def test_the_cannot_check_issue_closes_once_the_tenant_is_checked_again(tmp_path: Path, code: int) -> None:
    assert init(tmp_path).exit_code == 0
    open_issues = [
        {"number": 12, "title": "exoform: cannot check tenant fabrikam", "body": "error"},
        {"number": 13, "title": "exoform: cannot check tenant retired", "body": "error"},
    ]
    actions = _drift_issues(tmp_path, {"fabrikam": code}, open_issues)
    closing = [
        "close",
        "12",
        "<code>fabrikam</code> can be checked again (by https://github.com/acme/mail-flow/actions/runs/42): "
        "closing.\n",
    ]
    removed = [
        "close",
        "13",
        "Tenant <code>retired</code> is no longer in exoform.yaml: closing its cannot-check issue "
        "(https://github.com/acme/mail-flow/actions/runs/42).\n",
    ]
    drift = [["create", "exoform drift: fabrikam", "drift of fabrikam\n"]] if code == 2 else []
    assert actions == [*drift, closing, removed]


def test_post_issues_labels_a_cannot_check_issue_apart(tmp_path: Path) -> None:
    assert init(tmp_path).exit_code == 0
    issues = tmp_path / "issues"
    issues.mkdir()
    (issues / "1.md").write_text("cannot sign in\n")
    (issues / "actions.tsv").write_text(
        "create\texoform: cannot check tenant contoso\t1.md\texoform-cannot-check\n"
    )
    posted = _script(tmp_path, "post-issues.sh", "issues", env=_fake_gh(tmp_path))
    assert posted.returncode == 0, posted.stderr
    assert (tmp_path / "gh.log").read_text().splitlines() == [
        "label create exoform-drift --color D93F0B --description exoform found drift --force",
        "label create exoform-cannot-check --color FBCA04 --description exoform could not check a tenant "
        "--force",
        "issue create --title exoform: cannot check tenant contoso --label exoform-cannot-check "
        "--body-file issues/1.md",
    ]


FAKE_GH_ISSUES = """#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$GH_LOG"
case "$*" in
  *"--label exoform-drift "*) echo '[{"number":1,"title":"exoform drift: a","body":"x"}]' ;;
  *"--label exoform-cannot-check "*)
    echo '[{"number":2,"title":"exoform: cannot check tenant b","body":"y"}]' ;;
esac
"""


def test_the_issues_job_lists_open_drift_and_cannot_check_issues(generated: Path, tmp_path: Path) -> None:
    env = _fake_gh(tmp_path)
    (Path(env["PATH"].split(os.pathsep)[0]) / "gh").write_text(FAKE_GH_ISSUES)
    listed = _step(tmp_path, "drift", "issues", "gh issue list", {**os.environ, **env}, root=generated)
    assert listed.returncode == 0, listed.stderr
    assert [i["number"] for i in json.loads((tmp_path / "open-issues.json").read_text())] == [1, 2]


def test_an_unreachable_tenant_opens_its_issue_and_closes_it_when_reachable_again(
    tmp_path: Path, emulator: dict[str, str], inproc: Path
) -> None:
    repo = Repo(tmp_path, emulator, ["contoso"], inproc)
    repo.tenant_settings("contoso", client_id=BAD_APP)  # consent revoked: sign-in refused
    assert repo.run("drift-check.sh", "contoso", "drift").returncode == 1
    gh = _fake_gh(tmp_path)
    env = {**repo.env, **gh, "TENANTS": json.dumps({"tenant": ["contoso"]})}
    (tmp_path / "open-issues.json").write_text("[]")
    decided = _script(tmp_path, "drift-issues.sh", "drift", "open-issues.json", "issues", env=env)
    assert decided.returncode == 0, decided.stderr
    ((action, title, name, label),) = _actions(tmp_path)
    assert (action, title, label) == (
        "create",
        "exoform: cannot check tenant contoso",
        "exoform-cannot-check",
    )
    body = (tmp_path / "issues" / name).read_text()
    assert body.startswith(UNCHECKED.format("contoso")) and BAD_APP in body  # the error, for the reader
    assert _script(tmp_path, "post-issues.sh", "issues", env=env).returncode == 0
    assert "--label exoform-cannot-check" in (tmp_path / "gh.log").read_text()

    repo.tenant_settings("contoso", client_id=READ_APP)  # consent granted again
    assert repo.run("drift-check.sh", "contoso", "drift").returncode == 0
    open_issues = [{"number": 5, "title": title, "body": body}]
    (tmp_path / "open-issues.json").write_text(json.dumps(open_issues))
    shutil.rmtree(tmp_path / "issues")
    assert (
        _script(tmp_path, "drift-issues.sh", "drift", "open-issues.json", "issues", env=env).returncode == 0
    )
    assert [a[:2] for a in _actions(tmp_path)] == [["close", "5"]]


# ------------------------------------------------------------------------------------------------ SARIF


def test_sarif_uploads_the_plans_findings_from_a_job_holding_only_that_right(generated: Path) -> None:
    plan = _jobs(generated, "plan")
    sarif = plan["sarif"]
    assert sarif["permissions"] == {"contents": "read", "security-events": "write"}
    assert sarif["needs"] == "plan" and "env" not in sarif  # no Exchange identity, no token beyond that
    # only when every tenant was planned: the plan job uploaded a log (never for a fork)
    assert sarif["if"] == "${{ !cancelled() && needs.plan.outputs.sarif != '' }}"
    assert plan["plan"]["outputs"]["sarif"] == "${{ steps.sarif.outputs.artifact-id }}"
    upload = next(s for s in sarif["steps"] if str(s.get("uses", "")).startswith("github/codeql-action/"))
    assert upload["uses"] == ACTIONS["UPLOAD_SARIF"].split(" #")[0]
    assert upload["with"] == {"sarif_file": "exoform.sarif", "category": "exoform"}
    # the log comes from the plan step's one read of each tenant: no second plan
    planning = [s for s in plan["plan"]["steps"] if "exoform plan" in str(s.get("run", ""))]
    assert planning == []
    made = next(s for s in plan["plan"]["steps"] if s.get("id") == "plan")
    assert made["env"]["SARIF"] == "exoform.sarif"
    kept = next(s for s in plan["plan"]["steps"] if s.get("id") == "sarif")
    assert kept["with"]["path"] == "exoform.sarif"
    assert "security-events" not in json.dumps(plan["plan"]) + json.dumps(plan["comment"])
    # without --sarif: no such job, step or right
    default = render_files([Tenant("a", "a.onmicrosoft.com")])[".github/workflows/plan.yml"]
    assert "sarif" not in default and "security-events" not in default


def test_the_sarif_step_writes_a_sarif_log_against_the_emulator(
    tmp_path: Path, emulator: dict[str, str], inproc: Path
) -> None:
    repo = Repo(tmp_path, emulator, ["contoso"], inproc, "--sarif")
    (tmp_path / "connectors" / "contoso" / "relay.yaml").write_text(RELAY)
    env = {**repo.env, "PLAN": "true", "SARIF": "exoform.sarif", "GITHUB_OUTPUT": str(tmp_path / "out")}
    made = _step(tmp_path, "plan", "plan", "plan-comment.sh", env)
    assert made.returncode == 0, made.stderr
    assert "code=0" in (tmp_path / "out").read_text()
    assert "Printer relay" in (tmp_path / "comment.md").read_text()
    log = json.loads((tmp_path / "exoform.sarif").read_text())
    assert log["version"] == "2.1.0" and log["runs"][0]["tool"]["driver"]["name"] == "exoform"


def test_the_docs_show_actions_pinned_as_init_pins_them_and_no_v_flag() -> None:
    """README and docs/ agree with what init writes: a workflow example pins each action to the commit
    of ACTIONS, and no command is shown with a -v flag exoform does not have."""
    root = Path(__file__).resolve().parents[2]
    pins = {pin.split("@", 1)[0]: pin for pin in ACTIONS.values()}
    for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        text = path.read_text()
        for use in uses_lines(text):
            action = use.split("@", 1)[0]
            assert pins.get(action) == use, f"{path.name}: {use}"
        assert not re.search(r"\bexoform -v\b", text), path.name
