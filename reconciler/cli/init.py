"""``exoform init``: write a ready connectors repository (config, workflows, hooks, docs).

``--ci`` chooses the CI system: ``github`` (the default: ``.github/workflows``), ``azure-devops``
(``.azure-pipelines/``) or ``gitlab`` (``.gitlab-ci.yml``); each gets the same three jobs (plan of a
pull/merge request with its comment, gated apply of the saved plan, nightly drift with one item per tenant)
and signs in with its own workload identity federation (``federated: CI`` in ``exoform.yaml``).

The files come from the templates in ``reconciler/data/init/``; ``@@NAME@@`` placeholders are filled in
(GitHub's own ``${{ }}`` expressions pass through untouched).  The workflows and the pre-commit hook
install the exoform version that wrote them (:func:`pip_spec`: the package index by default, a git tag or
a wheel in the repository on request) and pin every action to a full commit SHA.

Writing (:func:`write_files`) never follows a symbolic link under the target folder: a link where a file
or folder would go is refused with its path, and ``--force`` replaces the link itself, never its target.
An existing file is never overwritten without ``--force``; the command lists what it wrote and skipped.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import click

from reconciler import __version__
from reconciler.desired.config import TENANT_NAME_RE, check_tenant_name
from reconciler.desired.sharding import MATRIX_LIMIT
from reconciler.errors import quote
from reconciler.escape import safe

#: Every action the templates use, pinned to the commit of its release tag (looked up in the action's
#: own repository).  exoform's own workflows use the same pins (tests/test_workflows.py checks it).
ACTIONS: dict[str, str] = {
    "CHECKOUT": "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1",
    "SETUP_PYTHON": "actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97 # v7.0.0",
    "UPLOAD_ARTIFACT": "actions/upload-artifact@bbbca2ddaa5d8feaa63e36b76fdaad77386f024f # v7.0.0",
    "DOWNLOAD_ARTIFACT": "actions/download-artifact@3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c # v8.0.1",
    "UPLOAD_SARIF": "github/codeql-action/upload-sarif@8aad20d150bbac5944a9f9d289da16a4b0d87c1e # v4.36.2",
}

#: How long the plan JSON artifacts are kept (stated in the generated README and docs/gitops.md).
RETENTION_DAYS = 14

READ_CLIENT_ID_VAR = "EXOFORM_READ_CLIENT_ID"
WRITE_CLIENT_ID_VAR = "EXOFORM_WRITE_CLIENT_ID"

#: How many rollout rings the apply workflow of ``init --fleet`` applies in order (``--rings`` changes it).
FLEET_RINGS = 3

#: The shared connector folder of ``init --fleet``.
COMMON_FOLDER = "connectors/common"

_SCRIPTS = (
    "scope.sh",
    "plan-comment.sh",
    "post-comment.sh",
    "apply-plan.sh",
    "apply-matrix.sh",
    "drift-check.sh",
    "drift-issues.sh",
    "post-issues.sh",
)
#: What a git URL or a wheel path may hold: it is written into YAML and shell lines, so no quote, space,
#: ``$`` or other shell or YAML character.
#: The scripts ``--ci azure-devops`` and ``--ci gitlab`` share (``reconciler/data/init/ci/``).
_CI_SCRIPTS = (
    "lib.sh",
    "pr-plan.sh",
    "plan-tenants.sh",
    "apply-tenants.sh",
    "drift-tenants.sh",
    "hosting.py",
)
#: CI system -> (folder of its scripts, its pipeline files: written path -> template, the paths a pull or
#: merge request must touch to need a plan, what it calls a pull request).
CI_SYSTEMS: dict[str, tuple[str, dict[str, str], str, str]] = {
    "azure-devops": (
        ".azure-pipelines/exoform",
        {f".azure-pipelines/{n}.yml": f"azure-devops/{n}.yml" for n in ("plan", "apply", "drift")},
        "exoform.yaml connectors/ .azure-pipelines/",
        "pull request",
    ),
    "gitlab": (
        ".gitlab/exoform",
        {".gitlab-ci.yml": "gitlab/gitlab-ci.yml"},
        "exoform.yaml connectors/ .gitlab-ci.yml .gitlab/exoform/",
        "merge request",
    ),
}
CI_CHOICES = ("github", *CI_SYSTEMS)
_SPEC_CHARS = re.compile(r"[A-Za-z0-9._~/:@+=-]+")
_ORGANIZATION = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*(\.[A-Za-z0-9][A-Za-z0-9-]*)+")
_ENVIRONMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
_PYTHON = re.compile(r"3\.\d+")


@dataclass(frozen=True)
class Tenant:
    """One tenant to declare: its name in exoform.yaml, its ``*.onmicrosoft.com`` organization and, when
    the user keeps one app registration pair per customer, its own read and write client ids."""

    name: str
    organization: str
    client_ids: tuple[str, str] | None = None


#: An application (client) id: written into exoform.yaml as it is.
_CLIENT_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def parse_client_ids(given: tuple[str, ...], names: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """``--client-ids TENANT=READ_ID,WRITE_ID`` values by tenant; :class:`click.BadParameter` for a value
    that is not of that form, names no ``--tenant``, or repeats one."""
    found: dict[str, tuple[str, str]] = {}
    for value in given:
        tenant, _, ids = value.partition("=")
        read_id, _, write_id = ids.partition(",")
        if not (_CLIENT_ID.fullmatch(read_id) and _CLIENT_ID.fullmatch(write_id)):
            raise click.BadParameter(
                f"{quote(value)}: expected TENANT=READ_CLIENT_ID,WRITE_CLIENT_ID (two GUIDs)",
                param_hint="'--client-ids'",
            )
        if tenant not in names:
            raise click.BadParameter(f"{quote(tenant)} is not a --tenant", param_hint="'--client-ids'")
        if tenant in found:
            raise click.BadParameter(f"{quote(tenant)} is given twice", param_hint="'--client-ids'")
        found[tenant] = (read_id.lower(), write_id.lower())
    return found


def pip_spec(install_from: str, version: str = __version__) -> str:
    """The pip requirement that installs exactly ``version`` of exoform from ``install_from``.

    - ``pypi``: ``exoform==VERSION`` from the package index (what release.yml publishes);
    - ``git+https://HOST/PATH@vVERSION``: that tag of a git repository (a fork, a mirror);
    - a wheel path inside the repository (relative, no ``..``), named ``exoform-VERSION-*.whl``.

    Raises :class:`click.BadParameter` saying what is wrong and what is accepted.
    """
    if install_from == "pypi":
        return f"exoform=={version}"
    if not _SPEC_CHARS.fullmatch(install_from):
        raise click.BadParameter(
            f"{quote(install_from)} holds a character a workflow cannot carry safely (a space, a quote, "
            "'$', '%', ...): give 'pypi', a git URL (git+https://HOST/PATH@vX.Y.Z) or a wheel path",
            param_hint="'--install-from'",
        )
    if install_from.startswith("git+"):
        parts = urlsplit(install_from.removeprefix("git+"))
        path, tagged, ref = parts.path.rpartition("@")
        if not tagged:
            path, ref = ref, ""
        if parts.scheme != "https" or not parts.hostname or "@" in parts.netloc or not path.strip("/"):
            raise click.BadParameter(
                f"{quote(install_from)}: a git URL is git+https://HOST/PATH@vX.Y.Z (https, no user or "
                "token in it)",
                param_hint="'--install-from'",
            )
        if ref != f"v{version}":
            raise click.BadParameter(
                f"{quote(install_from)}: end the URL with @v{version}, the tag of the exoform version that "
                f"writes these files (got {quote('@' + ref) if ref else 'no tag'})",
                param_hint="'--install-from'",
            )
        return f"exoform @ {install_from}"
    wheel = PurePosixPath(install_from)
    if wheel.is_absolute() or ".." in wheel.parts:
        raise click.BadParameter(
            f"{quote(install_from)}: a wheel path is relative to the repository and stays inside it "
            "(no leading '/', no '..')",
            param_hint="'--install-from'",
        )
    if not re.fullmatch(rf"exoform-{re.escape(version)}-[^/]+\.whl", wheel.name):
        raise click.BadParameter(
            f"{quote(install_from)}: give 'pypi', a git URL (git+https://HOST/PATH@v{version}) or the path "
            f"of the wheel of this version in the repository (exoform-{version}-py3-none-any.whl)",
            param_hint="'--install-from'",
        )
    return f"./{wheel.as_posix()}"


def render_config(tenants: list[Tenant], *, fleet: bool = False, ci: str = "github") -> str:
    """``exoform.yaml`` for ``tenants``: ``auth`` is the read app and ``apply_auth`` the write app, both
    ``client_id: env:NAME`` from the variables the workflows pass on, and ``federated: CI``.

    With ``fleet`` the settings every tenant shares are written once under ``defaults:`` (with the shared
    folder :data:`COMMON_FOLDER`), and each tenant holds only its organization."""
    shared = [
        "provider: exchange",
        "auth:                       # the read-only app: plan, drift, status, export",
        f"  client_id: env:{READ_CLIENT_ID_VAR}",
        f"  federated: {ci}",
        "apply_auth:                 # the write app: apply only",
        f"  client_id: env:{WRITE_CLIENT_ID_VAR}",
        f"  federated: {ci}",
        "unmanaged: report           # connectors no file declares are listed, never touched",
        "max_deletes: 1              # a plan deleting more is unsafe: apply refuses it",
    ]
    lines = [
        "# yaml-language-server: $schema=schemas/exoform.schema.json",
        f"# Written by `exoform init` (exoform {__version__}).  Reference: exoform's docs/yaml-reference.md",
    ]
    if fleet:
        lines += ["defaults:", f"  connectors: [{COMMON_FOLDER}]  # the set every tenant shares"]
        lines += [f"  {line}" for line in shared]
        lines += ["tenants:"]
        for tenant in tenants:
            lines += [f"  {tenant.name}:", f"    organization: {tenant.organization}"]
            lines += [f"    {line}" for line in _own_apps(tenant, ci)]
    else:
        lines += ["tenants:"]
        for tenant in tenants:
            lines += [f"  {tenant.name}:"]
            lines += [f"    {line}" for line in shared[:1]]
            lines += [f"    organization: {tenant.organization}", f"    connectors: connectors/{tenant.name}"]
            own = _own_apps(tenant, ci)
            lines += [f"    {line}" for line in (own + shared[7:] if own else shared[1:])]
    return "\n".join(lines) + "\n"


def _own_apps(tenant: Tenant, ci: str) -> list[str]:
    """The ``auth`` and ``apply_auth`` of a tenant with its own app registrations (``--client-ids``)."""
    if tenant.client_ids is None:
        return []
    read_id, write_id = tenant.client_ids
    return [
        "auth:                       # this customer's own read-only app",
        f"  client_id: {read_id}",
        f"  federated: {ci}",
        "apply_auth:                 # this customer's own write app",
        f"  client_id: {write_id}",
        f"  federated: {ci}",
    ]


def render_precommit(spec: str) -> str:
    """``.pre-commit-config.yaml``: a ``repo: local`` hook running ``exoform validate``.

    pre-commit installs a local python hook's ``additional_dependencies`` into its own environment, so
    the hook runs the same exoform version as the workflows, from the index or a git tag, with no
    revision to keep in step.  pre-commit installs them from its own folder, where a wheel path of this
    repository does not exist: with a wheel the hook runs the ``exoform`` installed beside pre-commit."""
    lines = [
        f"# Written by `exoform init` (exoform {__version__}): `pre-commit install` runs `exoform validate`",
        "# before every commit that changes a YAML file (nothing talks to a tenant).",
    ]
    if spec.startswith("./"):
        lines.append(f'# The hook runs the exoform on PATH: install it first, `pip install "{spec}"`.')
    lines += [
        "repos:",
        "  - repo: local",
        "    hooks:",
        "      - id: exoform-validate",
        "        name: exoform validate",
        "        entry: exoform validate",
    ]
    if spec.startswith("./"):
        lines.append("        language: system")
    else:
        lines += ["        language: python", f'        additional_dependencies: ["{spec}"]']
    lines += ["        files: \\.ya?ml$", "        pass_filenames: false", "        require_serial: true"]
    return "\n".join(lines) + "\n"


def render_files(
    tenants: list[Tenant],
    *,
    install_from: str = "pypi",
    python: str = "3.12",
    environment: str = "exoform-apply",
    plan_environment: str = "exoform-plan",
    fleet: bool = False,
    max_per_job: int | None = None,
    rings: int | None = None,
    sarif: bool = False,
    ci: str = "github",
) -> dict[str, str]:
    """Every file ``exoform init`` writes: relative path -> text.  Pure: nothing is written.

    ``ci``: one of :data:`CI_CHOICES`; ``plan_environment`` and ``max_per_job`` are GitHub's only (the
    Azure DevOps and GitLab jobs take every tenant in turn).

    ``max_per_job``: the plan, apply and drift jobs of the apply and drift workflows each take at most
    that many tenants (the fewest jobs that hold them); None: one tenant per job up to GitHub's 256.
    ``rings``: how many rollout rings the apply workflow applies in order, one job each (None: 3 with
    ``fleet``, else 1).  ``sarif``: the plan workflow uploads the plan's findings to code scanning."""
    if rings is None:
        rings = FLEET_RINGS if fleet else 1
    spec = pip_spec(install_from)
    if max_per_job is None:
        jobs = "one per tenant; past 256 tenants, GitHub's matrix limit, balanced shards of tenants"
        sharding = f"--shards {MATRIX_LIMIT}"
    else:
        jobs = f"at most {max_per_job} tenant(s) per job, the fewest jobs that hold them"
        sharding = f"--max-per-job {max_per_job}"
    values = {
        "VERSION": __version__,
        "PIP_SPEC": spec,
        "PYTHON": python,
        "ENVIRONMENT": environment,
        "PLAN_ENVIRONMENT": plan_environment,
        "RETENTION_DAYS": str(RETENTION_DAYS),
        "TENANT_LIST": ", ".join(f"`{t.name}`" for t in tenants),
        "TENANT_NAME_RE": TENANT_NAME_RE.pattern,
        "JOBS": jobs,
        "SHARDING": sharding,
        "MAX_PER_JOB": str(max_per_job or 0),
        "RINGS": str(rings),
        "RING_JOBS": ring_jobs_text(rings),
        **ACTIONS,
    }
    values["DECIDE_OUTPUTS"] = "".join(
        f"      {name}_{r}: ${{{{ steps.decide.outputs.{name}_{r} }}}}\n"
        for r in range(rings)
        for name in ("matrix", "any")
    )
    values["APPLY_JOBS"] = "\n".join(
        _template("workflows/apply-ring.yml", ring_values(values, r)) for r in range(rings)
    )
    values["SARIF_JOB"] = _template("workflows/plan-sarif.yml", values) if sarif else ""
    values["SARIF_STEP"] = _template("workflows/plan-sarif-step.yml", values) if sarif else ""
    # the plan writes the findings too, from its one read of each tenant
    values["SARIF_ENV"] = "          SARIF: exoform.sarif\n" if sarif else ""
    values["SARIF_OUTPUT"] = "      sarif: ${{ steps.sarif.outputs.artifact-id }}\n" if sarif else ""
    files = {
        "exoform.yaml": render_config(tenants, fleet=fleet, ci=ci),
        ".gitignore": _template("gitignore", values),
        ".pre-commit-config.yaml": render_precommit(spec),
    }
    if ci == "github":
        files["README.md"] = _template("README.md", values)
        for name in ("plan", "apply", "drift"):
            files[f".github/workflows/{name}.yml"] = _template(f"workflows/{name}.yml", values)
        for script in _SCRIPTS:
            files[f".github/exoform/{script}"] = _template(f"scripts/{script}", values)
        files[".github/exoform/comment.sh"] = _template("shared/comment.sh", values)
    else:
        folder, pipelines, paths, request = CI_SYSTEMS[ci]
        values |= {"CI_PATHS": paths, "REQUEST": request}
        files["README.md"] = _template(f"{ci}/README.md", values)
        for written, template in pipelines.items():
            files[written] = _template(template, values)
        for script in _CI_SCRIPTS:
            files[f"{folder}/{script}"] = _template(f"ci/{script}", values)
        files[f"{folder}/comment.sh"] = _template("shared/comment.sh", values)
    if fleet:
        files[f"{COMMON_FOLDER}/README.md"] = _template("common-README.md", values)
    else:
        for tenant in tenants:
            per_tenant = dict(values, TENANT=tenant.name, ORGANIZATION=tenant.organization)
            files[f"connectors/{tenant.name}/README.md"] = _template("connectors-README.md", per_tenant)
    return files


def ring_jobs_text(rings: int) -> str:
    """How the apply workflow's header names its ring jobs."""
    if rings == 1:
        return "apply-ring-0 only (exoform init --rings N writes N)"
    return f"apply-ring-0 to apply-ring-{rings - 1}"


def ring_values(values: dict[str, str], ring: int) -> dict[str, str]:
    """The placeholders of ring ``ring``'s apply job: it needs the decide job and every earlier ring's
    job, and runs when its ring has a tenant to apply and each earlier ring's job succeeded or had nothing
    to apply (a job skipped for another reason, such as a failed ring before it, stops it)."""
    earlier = [f"apply-ring-{k}" for k in range(ring)]
    conditions = ["!cancelled()", f"needs.decide.outputs.any_{ring} == 'true'"]
    conditions += [
        f"(needs.apply-ring-{k}.result == 'success' || needs.decide.outputs.any_{k} != 'true')"
        for k in range(ring)
    ]
    before = "ring 0" if ring == 1 else f"rings 0 to {ring - 1}"
    when = "ring 0 first" if ring == 0 else f"only after {before} succeeded or had nothing to apply"
    needs = "decide" if ring == 0 else "[" + ", ".join(["decide", *earlier]) + "]"
    return dict(values, RING=str(ring), RING_NEEDS=needs, RING_IF=" && ".join(conditions), RING_WHEN=when)


def _template(name: str, values: dict[str, str]) -> str:
    text = resources.files("reconciler").joinpath("data", "init", *name.split("/")).read_text("utf-8")
    return re.sub(r"@@([A-Z_]+)@@", lambda m: values[m.group(1)], text)


def _first_link(root: Path, relative: str) -> Path | None:
    """The first symbolic link (dangling or not) on the way from ``root`` to ``root/relative``: what lies
    beyond it is outside the target folder.  ``root`` itself is the user's choice and is not checked."""
    path = root
    for part in PurePosixPath(relative).parts:
        path = path / part
        if path.is_symlink():
            return path
    return None


def write_files(root: Path, files: dict[str, str], force: bool) -> tuple[list[str], list[str]]:
    """Write ``files`` under ``root``; returns (written, skipped).  An existing file is skipped unless
    ``force``; scripts (``*.sh`` but the sourced ``lib.sh``, ``*.py``) are made executable.

    A symbolic link on the way to a file (the file itself or a folder above it) is refused before
    anything is written (:class:`click.ClickException` naming every link); with ``force`` the link is
    removed and a real file or folder written in its place, so nothing outside ``root`` is touched.
    """
    links = sorted({link for relative in files if (link := _first_link(root, relative)) is not None})
    if links and not force:
        shown = ", ".join(safe(str(link)) for link in links)
        raise click.ClickException(
            f"{shown}: a symbolic link where exoform init writes; nothing was written (init never writes "
            "through a link: remove it, or --force replaces the link itself, never what it points to)"
        )
    for link in links:
        link.unlink()
    written: list[str] = []
    skipped: list[str] = []
    for relative, text in files.items():
        path = root / relative
        if path.exists() and not force:
            skipped.append(relative)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        executable = relative.endswith((".sh", ".py")) and not relative.endswith(("/lib.sh", "/comment.sh"))
        mode = 0o755 if executable else 0o644
        # O_NOFOLLOW: a link that appeared since the check above is refused, never followed.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
        if executable:
            path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        written.append(relative)
    return written, skipped


@click.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), default=".")
@click.option(
    "--tenant",
    "names",
    multiple=True,
    help="Tenant name in exoform.yaml (repeatable; pairs with --organization).  [default: contoso]",
)
@click.option(
    "--organization",
    "organizations",
    multiple=True,
    help="The tenant's *.onmicrosoft.com name, one per --tenant.",
)
@click.option(
    "--client-ids",
    "client_ids",
    multiple=True,
    metavar="TENANT=READ_ID,WRITE_ID",
    help="A tenant's own read and write app (client) ids, for one app pair per customer (repeatable); "
    "other tenants use the shared apps of EXOFORM_READ_CLIENT_ID and EXOFORM_WRITE_CLIENT_ID.",
)
@click.option(
    "--fleet",
    is_flag=True,
    help=f"Write the shared settings once under defaults: and one shared folder, {COMMON_FOLDER}/.",
)
@click.option(
    "--install-from",
    default="pypi",
    show_default=True,
    metavar="pypi|git+https://HOST/PATH@vX.Y.Z|WHEEL",
    help="Where the workflows and the hook install this exoform version from: the package index, a git "
    "tag, or a wheel path in the repository.",
)
@click.option(
    "--max-per-job",
    type=click.IntRange(1),
    help="Tenants per job of the apply and drift workflows (plan, apply, drift): fewer, larger jobs.  "
    "[default: one tenant per job up to 256]",
)
@click.option(
    "--rings",
    type=click.IntRange(1, 20),
    help="Rollout rings the apply workflow applies in order, one job each: ring N only after rings 0 to "
    f"N-1 succeeded (ring: in exoform.yaml).  [default: {FLEET_RINGS} with --fleet, else 1]",
)
@click.option(
    "--sarif",
    is_flag=True,
    help="The plan workflow uploads the plan's posture findings to GitHub code scanning (SARIF).",
)
@click.option(
    "--ci",
    type=click.Choice(CI_CHOICES),
    default="github",
    show_default=True,
    help="The CI system whose pipelines to write: GitHub Actions (.github/workflows), Azure Pipelines "
    "(.azure-pipelines/) or GitLab CI (.gitlab-ci.yml).",
)
@click.option("--python", default="3.12", show_default=True, help="Python version of the workflows.")
@click.option(
    "--environment",
    default="exoform-apply",
    show_default=True,
    help="Environment that guards apply (GitHub: required reviewers; Azure DevOps: approvals; GitLab: a "
    "protected environment).",
)
@click.option(
    "--plan-environment",
    default="exoform-plan",
    show_default=True,
    help="GitHub Environment of the plans made before apply (holds the plan key; no reviewers).",
)
@click.option("--force", is_flag=True, help="Overwrite files that exist (and replace symbolic links).")
def init(
    directory: Path,
    names: tuple[str, ...],
    organizations: tuple[str, ...],
    client_ids: tuple[str, ...],
    fleet: bool,
    install_from: str,
    python: str,
    environment: str,
    plan_environment: str,
    max_per_job: int | None,
    rings: int | None,
    sarif: bool,
    ci: str,
    force: bool,
) -> None:
    """Write a ready connectors repository into DIRECTORY (default: here).

    Writes exoform.yaml, connectors/NAME/ (with --fleet: defaults and connectors/common/),
    .github/workflows/{plan,apply,drift}.yml with their scripts in .github/exoform/
    (--ci azure-devops: .azure-pipelines/{plan,apply,drift}.yml and .azure-pipelines/exoform/;
    --ci gitlab: .gitlab-ci.yml and .gitlab/exoform/), .pre-commit-config.yaml, .gitignore and a
    README.md with the two app registrations.
    Existing files are kept unless --force; a symbolic link is never written through.

    \b
    Examples:
      exoform init mail-flow --tenant contoso --organization contoso.onmicrosoft.com
      exoform init --fleet --tenant contoso --tenant fabrikam --max-per-job 10
      exoform init --fleet --tenant lab --tenant contoso --rings 2 --sarif
      exoform init --ci azure-devops --tenant contoso
      exoform init --fleet --tenant contoso --client-ids contoso=READ_GUID,WRITE_GUID
      exoform init --ci gitlab --fleet --tenant contoso --tenant fabrikam
      exoform init --install-from git+https://git.example.com/mirror/exoform@vX.Y.Z --force
    """
    if not names:
        names = ("contoso",)
    if not organizations:
        # a guess to edit: the name without what a domain label cannot hold
        organizations = tuple(
            f"{re.sub(r'[^A-Za-z0-9-]', '', name).strip('-') or 'tenant'}.onmicrosoft.com" for name in names
        )
    if len(organizations) != len(names):
        raise click.UsageError("give one --organization per --tenant")
    for name in names:
        try:
            check_tenant_name(name)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--tenant'") from None
    # Each is written into YAML or a shell line as it is: only characters that need no quoting.
    for hint, given, pattern, expected in [
        *(
            ("'--organization'", org, _ORGANIZATION, "a domain name (contoso.onmicrosoft.com)")
            for org in organizations
        ),
        ("'--environment'", environment, _ENVIRONMENT, "letters, digits, '.', '_' and '-'"),
        ("'--plan-environment'", plan_environment, _ENVIRONMENT, "letters, digits, '.', '_' and '-'"),
        ("'--python'", python, _PYTHON, "a Python version (3.12)"),
    ]:
        if not pattern.fullmatch(given):
            raise click.BadParameter(f"{quote(given)}: expected {expected}", param_hint=hint)
    if max_per_job is not None and ci != "github":
        raise click.BadParameter(
            f"GitHub's matrix only: the {ci} jobs take every tenant in turn", param_hint="'--max-per-job'"
        )
    if rings is not None and rings > 1 and ci != "github":
        raise click.BadParameter(
            f"GitHub only: the {ci} apply job applies every tenant of the plan", param_hint="'--rings'"
        )
    if sarif and ci != "github":
        raise click.BadParameter("GitHub code scanning only", param_hint="'--sarif'")
    own = parse_client_ids(client_ids, names)
    tenants = [Tenant(n, o, own.get(n)) for n, o in zip(names, organizations, strict=True)]
    files = render_files(
        tenants,
        install_from=install_from,
        python=python,
        environment=environment,
        plan_environment=plan_environment,
        fleet=fleet,
        max_per_job=max_per_job,
        rings=rings,
        sarif=sarif,
        ci=ci,
    )
    written, skipped = write_files(directory, files, force)
    for relative in written:
        click.echo(f"wrote {relative}")
    for relative in skipped:
        click.echo(f"skipped {relative} (exists; --force overwrites it)")
    click.echo(
        f"{len(written)} file(s) written, {len(skipped)} skipped in {directory}. "
        "Next: README.md (app registrations), then `exoform export --tenant NAME`."
    )
