"""``exoform init --ci azure-devops``: the pipelines (Azure Pipelines' schema, the gates, the version pin)
and their scripts, run against ``exoform emulator serve`` signing in with a service connection's token,
with Azure DevOps' REST API (pull request threads, work items) played by a loopback stand-in."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from reconciler import __version__
from reconciler.cli.init import Tenant, render_files
from reconciler.desired.config import TENANT_NAME_RE
from reconciler.render.markdown import REPAIRS
from tests.cli.ci_support import (
    BAD_APP,
    READ_CONNECTION,
    RELAY,
    SHA,
    WORST,
    WRITE_CONNECTION,
    CiRepo,
    Host,
    check_jsonschema,
    ci_emulator,
    commit_all,
    failed_files,
    host,
    init,
    load_yaml,
    stub_calls,
    stub_env,
)
from tests.cli.test_init import inproc

__all__ = ["ci_emulator", "host", "inproc"]  # the fixtures this module uses

FOLDER = ".azure-pipelines/exoform"
PIPELINES = ("plan", "apply", "drift")
THREADS = "/acme/proj-id/_apis/git/repositories/repo-id/pullRequests/5/threads"


def _pipeline(root: Path, name: str) -> dict[str, Any]:
    return load_yaml(root / ".azure-pipelines" / f"{name}.yml")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("generated-ado")
    result = init(root, "--ci", "azure-devops", "--tenant", "contoso", "--tenant", "fabrikam")
    assert result.exit_code == 0, result.output
    return root


def _repo(root: Path, emulator: dict[str, str], tenants: list[str], inproc: Path, host: Host) -> CiRepo:
    """A repository of the pipelines' jobs as Azure Pipelines runs them: the OIDC request URI of the
    job, its System.AccessToken, the read service connection; the REST API of the organization at
    ``host``."""
    return CiRepo(
        root,
        "azure-devops",
        FOLDER,
        emulator,
        tenants,
        inproc,
        {
            "SYSTEM_OIDCREQUESTURI": f"{emulator['base']}/_azure_devops/oidctoken",
            "SYSTEM_ACCESSTOKEN": "pipeline-token",
            "EXOFORM_SERVICE_CONNECTION_ID": READ_CONNECTION,
            "SYSTEM_COLLECTIONURI": f"{host.base}/acme/",
            "SYSTEM_TEAMPROJECTID": "proj-id",
            "BUILD_REPOSITORY_ID": "repo-id",
            "SYSTEM_PULLREQUEST_PULLREQUESTID": "5",
            "RUN_URL": "https://dev.azure.com/acme/mail-flow/_build/results?buildId=42",
        },
    )


# ------------------------------------------------------------------------------------------------ files


def test_init_writes_the_three_pipelines_and_their_scripts(generated: Path) -> None:
    for relative in (
        ".azure-pipelines/plan.yml",
        ".azure-pipelines/apply.yml",
        ".azure-pipelines/drift.yml",
        f"{FOLDER}/pr-plan.sh",
        f"{FOLDER}/hosting.py",
        "README.md",
        "exoform.yaml",
    ):
        assert (generated / relative).is_file(), relative
    assert not (generated / ".github").exists()
    config = YAML(typ="safe").load((generated / "exoform.yaml").read_text())
    for tenant in config["tenants"].values():
        assert tenant["auth"]["federated"] == "azure-devops"
        assert tenant["apply_auth"]["federated"] == "azure-devops"
    readme = (generated / "README.md").read_text()
    assert (
        "`sc://ORG/PROJECT/exoform-read`" in readme and "**only** `sc://ORG/PROJECT/exoform-write`" in readme
    )
    assert "**Branch control**" in readme and "EXOFORM_WRITE_CONNECTION_ID" in readme
    assert "@@" not in "".join(p.read_text() for p in generated.rglob("*") if p.is_file())


def test_pipelines_are_valid_against_the_azure_pipelines_schema(generated: Path, tmp_path: Path) -> None:
    files = [str(generated / ".azure-pipelines" / f"{n}.yml") for n in PIPELINES]
    # the schema does catch a broken pipeline (a mistyped key of a deployment job): checked in the same run
    broken = tmp_path / "apply.yml"
    broken.write_text(
        (generated / ".azure-pipelines" / "apply.yml").read_text().replace("runOnce:", "runonce:")
    )
    result = check_jsonschema("-o", "json", "--builtin-schema", "vendor.azure-pipelines", *files, str(broken))
    assert failed_files(result) == {str(broken)}, result.stdout


@pytest.mark.parametrize(
    ("install_from", "spec"),
    [("pypi", f"exoform=={__version__}"), (f"git+https://git.example.com/x/exoform@v{__version__}", None)],
)
def test_every_pipeline_installs_the_version_that_wrote_it(install_from: str, spec: str | None) -> None:
    files = render_files(
        [Tenant("contoso", "contoso.onmicrosoft.com")], install_from=install_from, ci="azure-devops"
    )
    for name in PIPELINES:
        text = files[f".azure-pipelines/{name}.yml"]
        pipeline = YAML(typ="safe").load(text)
        assert pipeline["variables"]["EXOFORM_PIP"] == (spec or f"exoform @ {install_from}")
        assert text.count('python -m pip install "$EXOFORM_PIP"') >= 1
        assert f"# Written by `exoform init` (exoform {__version__})" in text


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    if "strategy" in job:
        steps: list[dict[str, Any]] = job["strategy"]["runOnce"]["deploy"]["steps"]
        return steps
    plain: list[dict[str, Any]] = job["steps"]
    return plain


def test_only_the_approved_deployment_job_signs_in_as_the_write_app(generated: Path) -> None:
    apply = _pipeline(generated, "apply")
    assert apply["trigger"] == {"branches": {"include": ["main"]}} and apply["pr"] == "none"
    plan_stage, apply_stage = apply["stages"]
    assert apply_stage["dependsOn"] == "plan"
    assert apply_stage["condition"] == (
        "and(not(canceled()), eq(dependencies.plan.outputs['plan.decide.any'], 'true'))"
    )
    (deployment,) = apply_stage["jobs"]
    assert deployment["environment"] == "exoform-apply"
    write_steps = [
        (name, job.get("deployment") or job.get("job"), step)
        for name in PIPELINES
        for stage in (
            _pipeline(generated, name).get("stages") or [{"jobs": _pipeline(generated, name)["jobs"]}]
        )
        for job in stage["jobs"]
        for step in _steps(job)
        if "EXOFORM_WRITE_CLIENT_ID" in json.dumps(step)
    ]
    assert [(n, j) for n, j, _ in write_steps] == [("apply", "apply")]
    assert write_steps[0][2]["env"]["EXOFORM_SERVICE_CONNECTION_ID"] == "$(EXOFORM_WRITE_CONNECTION_ID)"
    # every step that runs exoform may set no pipeline variable (the decide step: only `any`)
    for name in PIPELINES:
        pipeline = _pipeline(generated, name)
        for stage in pipeline.get("stages") or [{"jobs": pipeline["jobs"]}]:
            for job in stage["jobs"]:
                for step in _steps(job):
                    if "script" in step and "pip install" not in step["script"]:
                        assert step["target"]["settableVariables"] in ("none", ["any"]), (name, step)
    assert plan_stage["jobs"][0]["steps"][-1]["publish"] == "exoform-plans"


def test_drift_runs_nightly_on_main_and_pr_validation_only_by_policy(generated: Path) -> None:
    drift = _pipeline(generated, "drift")
    assert drift["schedules"][0]["branches"] == {"include": ["main"]} and drift["schedules"][0]["always"]
    assert drift["trigger"] == "none"
    assert _pipeline(generated, "plan")["trigger"] == "none"


def test_max_per_job_is_refused_outside_github(tmp_path: Path) -> None:
    result = init(tmp_path, "--ci", "azure-devops", "--max-per-job", "5")
    assert result.exit_code == 1
    assert "Invalid value for '--max-per-job': GitHub's matrix only" in result.output
    assert not (tmp_path / "exoform.yaml").exists()


# ------------------------------------------------------------------- the scripts against the emulator


def test_pr_plan_comment_shows_the_plan_and_the_failing_tenant_then_is_posted_once(
    tmp_path: Path, ci_emulator: dict[str, str], inproc: Path, host: Host
) -> None:
    repo = _repo(tmp_path, ci_emulator, ["contoso", "fabrikam"], inproc, host)
    commit_all(tmp_path, "init")
    (tmp_path / "connectors" / "contoso" / "relay.yaml").write_text(RELAY)
    repo.client_id("fabrikam", BAD_APP)
    commit_all(tmp_path, "a connector")

    result = repo.run("pr-plan.sh", "comment.md", FORK="False")
    assert result.returncode == 1  # the plan failed for fabrikam: the job fails, after the comment
    body = (tmp_path / "comment.md").read_text()
    assert (tmp_path / "comment.md.scope").read_text() == "plan\n"
    assert body.startswith("<!-- exoform-plan -->\n## exoform plan")
    assert "| <code>contoso</code> | planned | 1 | 0 | 0 |" in body and "Printer relay" in body
    assert ":x: **The plan failed** (exit 1)" in body and "fabrikam" in body.split("The plan failed", 1)[1]
    assert f"exoform {__version__} · commit {SHA}" in body

    posted = repo.run("hosting.py", "ado-comment", "comment.md")
    assert posted.returncode == 0, posted.stderr
    assert posted.stdout == "Posted the plan comment.\n"
    (write,) = host.writes()
    assert write[:2] == ("POST", THREADS)
    assert write[2] == {"comments": [{"parentCommentId": 0, "content": body, "commentType": 1}]}
    assert host.calls[0].headers["authorization"] == "Bearer pipeline-token"
    assert host.calls[0].query["api-version"] == ["7.1"]

    # the next run finds its thread and edits the comment in place
    host.answers[f"GET {THREADS}"] = {
        "value": [
            {"id": 3, "comments": [{"id": 1, "content": "a reviewer's remark"}]},
            {"id": 8, "comments": [{"id": 1, "content": "<!-- exoform-plan -->\nold"}]},
        ]
    }
    again = repo.run("hosting.py", "ado-comment", "comment.md")
    assert again.returncode == 0, again.stderr
    assert host.writes()[1] == ("PATCH", f"{THREADS}/8/comments/1", {"content": body})


def test_pr_plan_tells_repairs_apart_from_the_pull_requests_changes(
    tmp_path: Path, ci_emulator: dict[str, str], inproc: Path, host: Host
) -> None:
    """The plan is made with ``--base`` (the merge commit's first parent): a connector changed outside
    exoform since the base is listed as a repair, the connector the pull request adds as its change."""
    repo = _repo(tmp_path, ci_emulator, ["contoso"], inproc, host)
    relay = tmp_path / "connectors" / "contoso" / "relay.yaml"
    write = {"EXOFORM_SERVICE_CONNECTION_ID": WRITE_CONNECTION}
    for text in (RELAY, RELAY.replace("203.0.113.10", "203.0.113.99")):  # the second: outside exoform
        relay.write_text(text)
        assert repo.run("plan-tenants.sh", "plans").returncode == 0
        assert repo.run("apply-tenants.sh", "plans", **write).returncode == 0
        shutil.rmtree(tmp_path / "plans")
    relay.write_text(RELAY)
    commit_all(tmp_path, "init")
    scanner = RELAY.replace("Printer", "Scanner").replace("203.0.113.10", "203.0.113.11")
    (tmp_path / "connectors" / "contoso" / "scanner.yaml").write_text(scanner)
    commit_all(tmp_path, "a connector")

    result = repo.run("pr-plan.sh", "comment.md", FORK="False")
    assert result.returncode == 0, result.stderr
    changes, repairs = (tmp_path / "comment.md").read_text().split(f"### {REPAIRS}", 1)
    assert "Scanner relay" in changes and "Printer relay" not in changes
    assert "InboundConnector <code>Printer relay</code>" in repairs and "Scanner relay" not in repairs

    # a base the clone does not hold: planned all the same, without telling repairs apart
    unknown = repo.run("pr-plan.sh", "comment.md", FORK="False", BASE="0" * 40)
    assert unknown.returncode == 0, unknown.stderr
    assert "warning: the base commit is not in this clone" in unknown.stderr
    body = (tmp_path / "comment.md").read_text()
    assert REPAIRS not in body and "Printer relay" in body and "Scanner relay" in body

    # a base that reads like an option is a revision, never an option: git writes no file
    hostile = repo.run("pr-plan.sh", "comment.md", FORK="False", BASE="--output=pwned")
    assert hostile.returncode == 0, hostile.stderr
    assert "git diff failed" in hostile.stderr and not (tmp_path / "pwned").exists()
    assert "Scanner relay" in (tmp_path / "comment.md").read_text()


def test_fork_pr_is_validated_only_and_nothing_is_posted(
    tmp_path: Path, ci_emulator: dict[str, str], inproc: Path, host: Host
) -> None:
    repo = _repo(tmp_path, ci_emulator, ["contoso"], inproc, host)
    commit_all(tmp_path, "init")
    (tmp_path / "connectors" / "contoso" / "relay.yaml").write_text(RELAY)
    commit_all(tmp_path, "a connector")
    result = repo.run(
        "pr-plan.sh", "comment.md", FORK="True", SYSTEM_OIDCREQUESTURI="", SYSTEM_ACCESSTOKEN=""
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "comment.md.scope").read_text() == "fork\n"
    assert "No plan was made: this pull request comes from a fork" in (tmp_path / "comment.md").read_text()
    assert not (tmp_path / "plan.json").exists()  # nothing signed in
    posted = repo.run("hosting.py", "ado-comment", "comment.md", SYSTEM_ACCESSTOKEN="")
    assert posted.returncode == 0, posted.stderr
    assert "from a fork" in posted.stdout and host.calls == []


def test_a_pr_without_connector_changes_plans_nothing_and_only_refreshes_an_old_comment(
    tmp_path: Path, ci_emulator: dict[str, str], inproc: Path, host: Host
) -> None:
    repo = _repo(tmp_path, ci_emulator, ["contoso"], inproc, host)
    commit_all(tmp_path, "init")
    (tmp_path / "docs.md").write_text("notes\n")
    commit_all(tmp_path, "docs only")
    result = repo.run("pr-plan.sh", "comment.md", FORK="False")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "comment.md.scope").read_text() == "none\n"
    assert "No plan needed" in (tmp_path / "comment.md").read_text()
    quiet = repo.run("hosting.py", "ado-comment", "comment.md")
    assert quiet.stdout == "No plan comment to update: none posted.\n" and host.writes() == []


def test_an_empty_plan_is_a_clean_comment(
    tmp_path: Path, ci_emulator: dict[str, str], inproc: Path, host: Host
) -> None:
    repo = _repo(tmp_path, ci_emulator, ["contoso"], inproc, host)
    commit_all(tmp_path, "init")
    (tmp_path / "exoform.yaml").write_text((tmp_path / "exoform.yaml").read_text() + "# touched\n")
    commit_all(tmp_path, "touch exoform.yaml")
    result = repo.run("pr-plan.sh", "comment.md", FORK="False")
    assert result.returncode == 0, result.stderr
    body = (tmp_path / "comment.md").read_text()
    assert "| <code>contoso</code> | planned | 0 | 0 | 0 |" in body and "failed" not in body


def test_a_pr_whose_commits_cannot_be_compared_is_planned(
    tmp_path: Path, ci_emulator: dict[str, str], inproc: Path, host: Host
) -> None:
    repo = _repo(tmp_path, ci_emulator, ["contoso"], inproc, host)  # no git history at all
    (tmp_path / "connectors" / "contoso" / "relay.yaml").write_text(RELAY)
    result = repo.run("pr-plan.sh", "comment.md", FORK="False")
    assert result.returncode == 0, result.stderr
    assert "git diff failed: cannot tell whether a plan is needed, so planning" in result.stderr
    assert "| <code>contoso</code> | planned | 1 | 0 | 0 |" in (tmp_path / "comment.md").read_text()


FAKE_EXOFORM = """#!/usr/bin/env bash
if [ "$1" = --version ]; then echo "exoform, version 9.9.9"; exit 0; fi
if [ "$1" = validate ]; then exit 0; fi
printf '<!-- exoform-plan -->\\n## exoform plan\\n'
for i in $(seq 1 2000); do printf '| `connector-%04d` | \xe2\x9c\x85 changed |\\n' "$i"; done
echo "error: tenant fabrikam: token request failed" >&2
exit 1
"""


def test_a_plan_too_long_for_a_comment_is_cut_and_keeps_the_failure_and_the_footer(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    assert init(root, "--ci", "azure-devops").exit_code == 0
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "exoform").write_text(FAKE_EXOFORM)
    (bin_dir / "exoform").chmod(0o755)
    repo = CiRepo.__new__(CiRepo)
    repo.root, repo.folder = root, FOLDER
    repo.env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "COMMIT_SHA": SHA, "EXOFORM_PATHS": "/"}
    result = repo.run("pr-plan.sh", "comment.md")  # no git history: every tenant is planned
    assert result.returncode == 1
    body = (root / "comment.md").read_text(encoding="utf-8")  # still valid UTF-8 after the cut
    assert len(body) <= 65_536
    assert "| `connector-0001` |" in body and "| `connector-2000` |" not in body
    assert "*(The plan was cut to fit in a comment: `exoform plan` shows all of it.)*" in body
    assert "error: tenant fabrikam: token request failed" in body
    assert body.endswith(f"<sub>exoform 9.9.9 · commit {SHA}</sub>\n")


@pytest.mark.parametrize(("any_changes", "output"), [("true", True), ("false", False)])
def test_the_decide_step_sets_only_any_and_only_when_a_plan_has_changes(
    generated: Path, tmp_path: Path, any_changes: str, output: bool
) -> None:
    steps = _pipeline(generated, "apply")["stages"][0]["jobs"][0]["steps"]
    decide = next(s for s in steps if s.get("name") == "decide")
    (tmp_path / "exoform-plans").mkdir()
    (tmp_path / "exoform-plans" / "any").write_text(f"{any_changes}\n")
    done = subprocess.run(
        ["bash", "-e", "-c", decide["script"]], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ("##vso[task.setvariable variable=any;isOutput=true]true\n" if output else "")


def test_github_stays_the_default_and_its_output_is_unchanged() -> None:
    tenants = [Tenant("contoso", "contoso.onmicrosoft.com")]
    default = render_files(tenants)
    assert render_files(tenants, ci="github") == default
    assert ".github/workflows/plan.yml" in default and not any(".azure-pipelines" in p for p in default)
    assert "federated: github" in default["exoform.yaml"] and "azure-devops" not in default["exoform.yaml"]


def test_apply_plans_every_tenant_then_applies_only_saved_plans_with_changes(
    tmp_path: Path, ci_emulator: dict[str, str], inproc: Path, host: Host
) -> None:
    repo = _repo(tmp_path, ci_emulator, ["a_b-1", "clean", "broken"], inproc, host)
    (tmp_path / "connectors" / "a_b-1" / "relay.yaml").write_text(RELAY)
    repo.client_id("broken", BAD_APP)
    planned = repo.run("plan-tenants.sh", "exoform-plans")
    assert planned.returncode == 1  # broken's plan failed: the stage shows it
    out = tmp_path / "exoform-plans"
    assert {p.name: p.read_text() for p in (out / "results").iterdir()} == {
        "a_b-1": "changes\n",
        "clean": "none\n",
        "broken": "failed\n",
    }
    assert sorted(p.name for p in (out / "plans").iterdir()) == ["a_b-1.json"]
    assert (out / "any").read_text() == "true\n"
    assert "Plan of <code>a&#95;b-1</code>: changes." in (out / "summary.md").read_text()

    # the deployment job: the write service connection
    applied = repo.run("apply-tenants.sh", "exoform-plans", EXOFORM_SERVICE_CONNECTION_ID=WRITE_CONNECTION)
    assert applied.returncode == 0, applied.stderr
    assert 'created InboundConnector "Printer relay"' in applied.stdout
    assert "Tenant clean: none, nothing to apply." in applied.stdout
    assert "Tenant broken: failed, nothing to apply." in applied.stdout
    # the write app trusts only the write connection's token: with the read connection, apply is refused
    (tmp_path / "connectors" / "clean" / "relay.yaml").write_text(RELAY)
    assert repo.run("plan-tenants.sh", "again").returncode == 1
    refused = repo.run("apply-tenants.sh", "again")
    assert refused.returncode == 1
    assert "error: tenant clean: token request failed: invalid_request: AADSTS700213" in refused.stdout


def test_drift_opens_updates_and_closes_one_work_item_per_tenant(
    tmp_path: Path, ci_emulator: dict[str, str], inproc: Path, host: Host
) -> None:
    repo = _repo(tmp_path, ci_emulator, ["contoso", "fabrikam", "northwind"], inproc, host)
    (tmp_path / "connectors" / "contoso" / "relay.yaml").write_text(RELAY)  # declared, not in the tenant
    repo.client_id("fabrikam", BAD_APP)  # cannot be checked: its work item stays as it is
    checked = repo.run("drift-tenants.sh", "drift")
    assert checked.returncode == 1
    assert [(tmp_path / "drift" / f"{t}.code").read_text() for t in ("contoso", "fabrikam", "northwind")] == [
        "2\n",
        "1\n",
        "0\n",
    ]
    body = (tmp_path / "drift" / "contoso.md").read_text()
    assert "Printer relay" in body and f"commit {SHA}" in body

    wit = "/acme/proj-id/_apis/wit"
    host.answers[f"POST {wit}/wiql"] = {"workItems": [{"id": 7}, {"id": 8}, {"id": 9}]}
    host.answers[f"GET {wit}/workitems"] = {
        "value": [
            {"id": 7, "fields": {"System.Title": "exoform drift: northwind", "System.Description": "old"}},
            {"id": 8, "fields": {"System.Title": "exoform drift: fabrikam", "System.Description": "old"}},
            {"id": 9, "fields": {"System.Title": "exoform drift: `retired`<b>", "System.Description": "x"}},
        ]
    }
    posted = repo.run("hosting.py", "ado-work-items", "drift")
    assert posted.returncode == 0, posted.stderr
    query = host.calls[0].body["query"]
    assert "[System.Tags] CONTAINS 'exoform-drift'" in query and "<> 'Done'" in query
    assert host.calls[1].query["ids"] == ["7,8,9"]
    run = "https://dev.azure.com/acme/mail-flow/_build/results?buildId=42"
    writes = [w for w in host.writes() if not w[1].endswith("/wiql")]
    assert writes[1:] == [
        (
            "PATCH",
            f"{wit}/workitems/7",
            [
                {"op": "add", "path": "/fields/System.State", "value": "Done"},
                {
                    "op": "add",
                    "path": "/fields/System.History",
                    "value": f"No drift any more in <code>northwind</code>: the tenant matches the files "
                    f"(checked by {run}).\n",
                },
            ],
        ),
        (
            "PATCH",
            f"{wit}/workitems/9",
            [
                {"op": "add", "path": "/fields/System.State", "value": "Done"},
                {
                    "op": "add",
                    "path": "/fields/System.History",
                    "value": "Tenant <code>&#96;retired&#96;&#60;b&#62;</code> is no longer in exoform.yaml: "
                    f"closing its drift item ({run}).\n",
                },
            ],
        ),
    ]
    method, path, ops = writes[0]
    assert (method, path) == ("POST", f"{wit}/workitems/$Issue")
    assert ops[0] == {"op": "add", "path": "/fields/System.Title", "value": "exoform drift: contoso"}
    assert ops[1]["value"] == body and ops[3] == {
        "op": "add",
        "path": "/fields/System.Tags",
        "value": "exoform-drift",
    }
    assert host.calls[-1].headers["content-type"] == "application/json-patch+json"


# ------------------------------------------------------------- the worst tenant names the rule allows


def test_the_worst_names_pass_through_plan_apply_and_drift_intact(tmp_path: Path, generated: Path) -> None:
    root = tmp_path / "repo"
    assert init(root, "--ci", "azure-devops", *[a for n in WORST for a in ("--tenant", n)]).exit_code == 0
    assert all(TENANT_NAME_RE.fullmatch(n) for n in WORST)
    env = stub_env(tmp_path, WORST)
    repo = CiRepo.__new__(CiRepo)
    repo.root, repo.folder, repo.env = root, FOLDER, env
    planned = repo.run("plan-tenants.sh", "out")
    assert planned.returncode == 0, planned.stderr
    calls = stub_calls(tmp_path)
    assert [c[:2] for c in calls if c[0] == "plan"] == [["plan", f"--tenant={n}"] for n in WORST]
    assert sorted(p.name for p in (root / "out" / "plans").iterdir()) == sorted(f"{n}.json" for n in WORST)
    for name in WORST:
        assert json.loads((root / "out" / "plans" / f"{name}.json").read_text()) == {"tenant": name}
    # a logging command in exoform's messages never reaches the log as one
    assert "##vso[" not in planned.stdout + planned.stderr and "##[" not in planned.stderr
    assert "task.complete result=Succeeded" in planned.stderr
    applied = repo.run("apply-tenants.sh", "out")
    assert applied.returncode == 0, applied.stderr
    assert stub_calls(tmp_path) == [["apply", "--", f"out/plans/{n}.json"] for n in WORST]
    checked = repo.run("drift-tenants.sh", "drift")
    assert checked.returncode == 0, checked.stderr
    assert sorted(p.name for p in (root / "drift").iterdir()) == sorted(
        ["tenants", *(f"{n}.{ext}" for n in WORST for ext in ("code", "md"))]
    )
    assert [c[:2] for c in stub_calls(tmp_path) if c[0] == "drift"] == [
        ["drift", f"--tenant={n}"] for n in WORST
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repo", "stub-bin"]  # nothing written outside


@pytest.mark.parametrize("name", ["../escape", "-x", "a b", "*", ".hidden"])
def test_a_listed_name_outside_the_rule_is_never_planned_or_written(tmp_path: Path, name: str) -> None:
    root = tmp_path / "repo"
    assert init(root, "--ci", "azure-devops").exit_code == 0
    repo = CiRepo.__new__(CiRepo)
    repo.root, repo.folder, repo.env = root, FOLDER, stub_env(tmp_path, [name])
    for script, out in (("plan-tenants.sh", "out"), ("drift-tenants.sh", "drift")):
        result = repo.run(script, out)
        assert result.returncode == 1
        assert "a name that breaks the rule of tenant names" in result.stderr
    assert [c[0] for c in stub_calls(tmp_path)] == ["tenants", "tenants", "--version"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repo", "stub-bin"]


@pytest.mark.parametrize(
    ("option", "hint"), [(("--rings", "2"), "'--rings': GitHub only"), (("--sarif",), "'--sarif': GitHub")]
)
def test_rings_and_sarif_are_refused_outside_github(
    tmp_path: Path, option: tuple[str, ...], hint: str
) -> None:
    for ci in ("azure-devops", "gitlab"):
        result = init(tmp_path, "--ci", ci, *option)
        assert result.exit_code == 1
        assert f"Invalid value for {hint}" in result.output
        assert not (tmp_path / "exoform.yaml").exists()
