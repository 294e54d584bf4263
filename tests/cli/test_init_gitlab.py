"""``exoform init --ci gitlab``: ``.gitlab-ci.yml`` (GitLab CI's schema, the gates, the version pin) and
its scripts, run against ``exoform emulator serve`` signing in with a GitLab ID token, with GitLab's REST
API (merge request notes, issues) played by a loopback stand-in."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from ruamel.yaml import YAML

from reconciler import __version__
from reconciler.cli.init import Tenant, render_files
from tests.cli.ci_support import (
    BAD_APP,
    RELAY,
    SHA,
    CiRepo,
    Host,
    check_jsonschema,
    ci_emulator,
    commit_all,
    failed_files,
    host,
    init,
    load_yaml,
)
from tests.cli.test_init import inproc

__all__ = ["ci_emulator", "host", "inproc"]  # the fixtures this module uses

FOLDER = ".gitlab/exoform"
JOBS = ("exoform-plan-mr", "exoform-plan", "exoform-apply", "exoform-drift")
API = "/api/v4/projects/42"
MATCHES = "the tenant matches the files"
REMOVED = "no longer in exoform.yaml"


def _ci(root: Path) -> dict[str, Any]:
    return load_yaml(root / ".gitlab-ci.yml")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("generated-gitlab")
    result = init(root, "--ci", "gitlab", "--tenant", "contoso", "--tenant", "fabrikam")
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="module")
def id_token(ci_emulator: dict[str, str]) -> str:
    """The ID token GitLab puts in ``EXOFORM_ID_TOKEN`` (``id_tokens:``, aud api://AzureADTokenExchange)."""
    with httpx.Client(verify=ssl.create_default_context(cafile=ci_emulator["ca"])) as http:
        response = http.get(
            f"{ci_emulator['base']}/_gitlab/id_token", params={"aud": "api://AzureADTokenExchange"}
        )
    token: str = response.json()["value"]
    return token


def _repo(
    root: Path, emulator: dict[str, str], tenants: list[str], inproc: Path, host: Host, token: str
) -> CiRepo:
    """A repository of the jobs as GitLab runs them: the ID token, the project's API at ``host`` and the
    project access token."""
    return CiRepo(
        root,
        "gitlab",
        FOLDER,
        emulator,
        tenants,
        inproc,
        {
            "EXOFORM_ID_TOKEN": token,
            "CI_API_V4_URL": f"{host.base}/api/v4",
            "CI_PROJECT_ID": "42",
            "CI_MERGE_REQUEST_IID": "5",
            "EXOFORM_GITLAB_TOKEN": "glpat-exoform",
            "RUN_URL": "https://gitlab.example.com/acme/mail-flow/-/pipelines/42",
        },
    )


# ------------------------------------------------------------------------------------------------ files


def test_init_writes_the_pipeline_and_its_scripts(generated: Path) -> None:
    for relative in (".gitlab-ci.yml", f"{FOLDER}/pr-plan.sh", f"{FOLDER}/hosting.py", "README.md"):
        assert (generated / relative).is_file(), relative
    assert not (generated / ".github").exists() and not (generated / ".azure-pipelines").exists()
    config = YAML(typ="safe").load((generated / "exoform.yaml").read_text())
    for tenant in config["tenants"].values():
        assert tenant["auth"]["federated"] == "gitlab" and tenant["apply_auth"]["federated"] == "gitlab"
    readme = (generated / "README.md").read_text()
    assert "**only** `project_path:GROUP/PROJECT:ref_type:branch:ref:main`" in readme
    assert "`EXOFORM_GITLAB_TOKEN`" in readme and "Protected environments" in readme
    assert "@@" not in "".join(p.read_text() for p in generated.rglob("*") if p.is_file())


def test_the_pipeline_is_valid_against_the_gitlab_ci_schema(generated: Path, tmp_path: Path) -> None:
    broken = tmp_path / ".gitlab-ci.yml"  # checked in the same run: the schema does catch it
    broken.write_text((generated / ".gitlab-ci.yml").read_text().replace("when: manual", "when: sometimes"))
    files = [str(generated / ".gitlab-ci.yml"), str(broken)]
    result = check_jsonschema("-o", "json", "--builtin-schema", "vendor.gitlab-ci", *files)
    assert failed_files(result) == {str(broken)}, result.stdout


@pytest.mark.parametrize(
    ("install_from", "spec"),
    [("pypi", f"exoform=={__version__}"), (f"git+https://git.example.com/x/exoform@v{__version__}", None)],
)
def test_the_pipeline_installs_the_version_that_wrote_it(install_from: str, spec: str | None) -> None:
    files = render_files(
        [Tenant("contoso", "contoso.onmicrosoft.com")], install_from=install_from, ci="gitlab"
    )
    ci = YAML(typ="safe").load(files[".gitlab-ci.yml"])
    assert ci["variables"]["EXOFORM_PIP"] == (spec or f"exoform @ {install_from}")
    assert ci["default"]["before_script"] == ['python -m pip install "$EXOFORM_PIP"']
    assert f"# Written by `exoform init` (exoform {__version__})" in files[".gitlab-ci.yml"]


def test_apply_is_manual_in_the_protected_environment_after_the_plan(generated: Path) -> None:
    ci = _ci(generated)
    for name in JOBS:
        assert ci[name]["id_tokens"] == {"EXOFORM_ID_TOKEN": {"aud": "api://AzureADTokenExchange"}}, name
    apply = ci["exoform-apply"]
    assert apply["environment"]["name"] == "exoform-apply"
    assert apply["needs"] == ["exoform-plan"] and apply["resource_group"] == "exoform-apply"
    (rule,) = apply["rules"]
    assert rule["when"] == "manual" and "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH" in rule["if"]
    assert ci["exoform-plan"]["allow_failure"] == {"exit_codes": [3]}  # a failed tenant never blocks others
    assert ci["exoform-plan"]["artifacts"]["paths"] == ["exoform-plans/"]
    assert ci["exoform-drift"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    assert ci["exoform-plan-mr"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]


STUB = """#!{python} -IS
import os, sys
with open(os.environ["STUB_LOG"], "a") as log:
    seen = [k + "=" + os.environ.get(k, "") for k in ("FORK", "BASE")]
    log.write(" ".join([os.path.basename(sys.argv[0]), *sys.argv[1:], *seen]) + "\\n")
sys.exit(int(os.environ.get("STUB_EXIT", "0")) if sys.argv[0].endswith(".sh") else 0)
"""


@pytest.mark.parametrize(("source", "fork", "plan_exit"), [("42", "", 0), ("77", "true", 0), ("42", "", 1)])
def test_the_merge_request_job_posts_the_note_even_after_a_failed_plan(
    generated: Path, tmp_path: Path, source: str, fork: str, plan_exit: int
) -> None:
    root = tmp_path / "repo"
    (root / FOLDER).mkdir(parents=True)
    for script in ("pr-plan.sh", "hosting.py"):
        (root / FOLDER / script).write_text(STUB.format(python=sys.executable))
        (root / FOLDER / script).chmod(0o755)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(root / FOLDER / "hosting.py")  # `python3 hosting.py ...` logs
    script = "\n".join(_ci(generated)["exoform-plan-mr"]["script"])
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "STUB_LOG": str(tmp_path / "log"),
        "STUB_EXIT": str(plan_exit),
        "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": source,
        "CI_MERGE_REQUEST_PROJECT_ID": "42",
        "CI_COMMIT_SHA": SHA,
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": "base-sha",  # the merge request's base: what it is compared with
    }
    done = subprocess.run(["bash", "-e", "-c", script], cwd=root, env=env, capture_output=True, text=True)
    assert done.returncode == plan_exit, done.stderr
    assert (tmp_path / "log").read_text().splitlines() == [
        f"pr-plan.sh comment.md FORK={fork} BASE=base-sha",
        f"python3 .gitlab/exoform/hosting.py gitlab-note comment.md FORK={fork} BASE=base-sha",
    ]


# ------------------------------------------------------------------- the scripts against the emulator


def test_mr_plan_note_shows_the_failing_tenant_and_is_kept_as_one_note(
    tmp_path: Path, ci_emulator: dict[str, str], inproc: Path, host: Host, id_token: str
) -> None:
    repo = _repo(tmp_path, ci_emulator, ["contoso", "fabrikam"], inproc, host, id_token)
    commit_all(tmp_path, "init")
    (tmp_path / "connectors" / "contoso" / "relay.yaml").write_text(RELAY)
    repo.client_id("fabrikam", BAD_APP)
    commit_all(tmp_path, "a connector")
    result = repo.run("pr-plan.sh", "comment.md")
    assert result.returncode == 1
    body = (tmp_path / "comment.md").read_text()
    assert "| <code>contoso</code> | planned | 1 | 0 | 0 |" in body and "Printer relay" in body
    assert ":x: **The plan failed** (exit 1)" in body and "fabrikam" in body.split("The plan failed", 1)[1]
    assert f"exoform {__version__} · commit {SHA}" in body

    posted = repo.run("hosting.py", "gitlab-note", "comment.md")
    assert posted.returncode == 0, posted.stderr
    assert host.writes() == [("POST", f"{API}/merge_requests/5/notes", {"body": body})]
    assert host.calls[0].headers["private-token"] == "glpat-exoform"

    # the next run finds its note on the second page and edits it
    notes = f"GET {API}/merge_requests/5/notes"
    host.answers[f"{notes}?page=1"] = [{"id": 3, "body": "looks good"}]
    host.next_page[f"{notes}?page=1"] = "2"
    host.answers[f"{notes}?page=2"] = [{"id": 11, "body": "<!-- exoform-plan -->\nold"}]
    again = repo.run("hosting.py", "gitlab-note", "comment.md")
    assert again.returncode == 0, again.stderr
    assert host.writes()[1] == ("PUT", f"{API}/merge_requests/5/notes/11", {"body": body})


def test_fork_mr_is_validated_only_and_the_note_is_skipped_without_a_token(
    tmp_path: Path, ci_emulator: dict[str, str], inproc: Path, host: Host, id_token: str
) -> None:
    repo = _repo(tmp_path, ci_emulator, ["contoso"], inproc, host, id_token)
    commit_all(tmp_path, "init")
    (tmp_path / "connectors" / "contoso" / "relay.yaml").write_text(RELAY)
    commit_all(tmp_path, "a connector")
    result = repo.run("pr-plan.sh", "comment.md", FORK="true", EXOFORM_ID_TOKEN="")
    assert result.returncode == 0, result.stderr
    assert "No plan was made: this merge request comes from a fork" in (tmp_path / "comment.md").read_text()
    assert not (tmp_path / "plan.json").exists()
    skipped = repo.run("hosting.py", "gitlab-note", "comment.md", EXOFORM_GITLAB_TOKEN="")
    assert skipped.returncode == 0 and "the plan note is skipped" in skipped.stdout
    assert host.calls == []


def test_an_empty_plan_is_a_clean_note(
    tmp_path: Path, ci_emulator: dict[str, str], inproc: Path, host: Host, id_token: str
) -> None:
    repo = _repo(tmp_path, ci_emulator, ["contoso"], inproc, host, id_token)
    commit_all(tmp_path, "init")
    shutil.copy(tmp_path / "exoform.yaml", tmp_path / "copy.yaml")
    (tmp_path / "exoform.yaml").write_text((tmp_path / "copy.yaml").read_text() + "# touched\n")
    commit_all(tmp_path, "touch exoform.yaml")
    result = repo.run("pr-plan.sh", "comment.md")
    assert result.returncode == 0, result.stderr
    body = (tmp_path / "comment.md").read_text()
    assert "| <code>contoso</code> | planned | 0 | 0 | 0 |" in body and "failed" not in body


def test_plan_then_manual_apply_of_the_saved_plans(
    tmp_path: Path, ci_emulator: dict[str, str], inproc: Path, host: Host, id_token: str
) -> None:
    repo = _repo(tmp_path, ci_emulator, ["a.b", "broken"], inproc, host, id_token)
    (tmp_path / "connectors" / "a.b" / "relay.yaml").write_text(RELAY)
    repo.client_id("broken", BAD_APP)
    planned = repo.run("plan-tenants.sh", "exoform-plans")
    assert planned.returncode == 1
    assert (tmp_path / "exoform-plans" / "results" / "a.b").read_text() == "changes\n"
    assert (tmp_path / "exoform-plans" / "results" / "broken").read_text() == "failed\n"
    applied = repo.run("apply-tenants.sh", "exoform-plans")
    assert applied.returncode == 0, applied.stderr
    assert 'created InboundConnector "Printer relay"' in applied.stdout
    # applying the same saved plan again is refused: the tenant moved past it
    again = repo.run("apply-tenants.sh", "exoform-plans")
    assert again.returncode == 1


def test_drift_opens_updates_and_closes_one_issue_per_tenant(
    tmp_path: Path, ci_emulator: dict[str, str], inproc: Path, host: Host, id_token: str
) -> None:
    repo = _repo(
        tmp_path, ci_emulator, ["contoso", "fabrikam", "northwind", "woodgrove"], inproc, host, id_token
    )
    for tenant in ("contoso", "woodgrove"):
        (tmp_path / "connectors" / tenant / "relay.yaml").write_text(RELAY)
    repo.client_id("fabrikam", BAD_APP)
    checked = repo.run("drift-tenants.sh", "drift")
    assert checked.returncode == 1
    woodgrove = (tmp_path / "drift" / "woodgrove.md").read_text()
    host.answers[f"GET {API}/issues"] = [
        {"iid": 7, "title": "exoform drift: northwind", "description": "old"},
        {"iid": 8, "title": "exoform drift: fabrikam", "description": "old"},
        {"iid": 9, "title": "exoform drift: retired", "description": "old"},
        {"iid": 10, "title": "exoform drift: woodgrove", "description": woodgrove},  # unchanged: no edit
    ]
    posted = repo.run("hosting.py", "gitlab-issues", "drift", RUN_URL="RUN")
    assert posted.returncode == 0, posted.stderr
    assert host.calls[0].query == {
        "state": ["opened"],
        "labels": ["exoform-drift"],
        "per_page": ["100"],
        "page": ["1"],
    }
    contoso = (tmp_path / "drift" / "contoso.md").read_text()
    assert host.writes() == [
        (
            "POST",
            f"{API}/issues",
            {"title": "exoform drift: contoso", "description": contoso, "labels": "exoform-drift"},
        ),
        (
            "POST",
            f"{API}/issues/7/notes",
            {"body": f"No drift any more in <code>northwind</code>: {MATCHES} (checked by RUN).\n"},
        ),
        ("PUT", f"{API}/issues/7", {"state_event": "close"}),
        (
            "POST",
            f"{API}/issues/9/notes",
            {"body": f"Tenant <code>retired</code> is {REMOVED}: closing its drift item (RUN).\n"},
        ),
        ("PUT", f"{API}/issues/9", {"state_event": "close"}),
    ]  # fabrikam could not be checked: its issue stays as it is
    assert "Tenant fabrikam could not be checked (1)" in posted.stdout


def test_an_unreachable_api_fails_the_step_naming_the_request_never_the_token(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    assert init(root, "--ci", "gitlab").exit_code == 0
    (root / "comment.md").write_text("<!-- exoform-plan -->\nplan\n")
    env = {
        "PATH": os.environ["PATH"],
        "CI_API_V4_URL": "http://127.0.0.1:9/api/v4",  # nothing listens there
        "CI_PROJECT_ID": "42",
        "CI_MERGE_REQUEST_IID": "5",
        "EXOFORM_GITLAB_TOKEN": "glpat-secret-value",
    }
    done = subprocess.run(
        [sys.executable, str(root / FOLDER / "hosting.py"), "gitlab-note", "comment.md"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: GET http://127.0.0.1:9/api/v4/projects/42/merge_requests/5/notes: ")
    assert "glpat-secret-value" not in done.stdout + done.stderr
