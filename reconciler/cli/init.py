"""``exoform init``: write a ready connectors repository (config, workflows, hooks, docs).

The files come from the templates in ``reconciler/data/init/``; ``@@NAME@@`` placeholders are filled in
(GitHub's own ``${{ }}`` expressions pass through untouched).  The workflows install the exoform version
that wrote them, from a source that exists (a git tag, a release wheel, or the package index), and pin
every action to a full commit SHA.  An existing file is never overwritten without ``--force``; the
command lists what it wrote and what it skipped.
"""

from __future__ import annotations

import re
import stat
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import click

from reconciler import __version__

#: Where the workflows install exoform from (``--source``): exoform's GitHub repository.
DEFAULT_SOURCE = "https://github.com/exoform/exoform"

#: Every action the templates use, pinned to the commit of its release tag (looked up in the action's
#: own repository).  exoform's own workflows use the same pins (tests/test_workflows.py checks it).
ACTIONS: dict[str, str] = {
    "CHECKOUT": "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1",
    "SETUP_PYTHON": "actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97 # v7.0.0",
    "UPLOAD_ARTIFACT": "actions/upload-artifact@bbbca2ddaa5d8feaa63e36b76fdaad77386f024f # v7.0.0",
    "DOWNLOAD_ARTIFACT": "actions/download-artifact@3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c # v8.0.1",
}

#: How long the plan JSON artifacts are kept (stated in the generated README and docs/gitops.md).
RETENTION_DAYS = 14

READ_CLIENT_ID_VAR = "EXOFORM_READ_CLIENT_ID"
WRITE_CLIENT_ID_VAR = "EXOFORM_WRITE_CLIENT_ID"

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
_TENANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Tenant:
    """One tenant to declare: its name in exoform.yaml and its ``*.onmicrosoft.com`` organization."""

    name: str
    organization: str


def pip_spec(install_from: str, source: str, version: str = __version__) -> str:
    """The pip requirement that installs exactly ``version`` of exoform.

    ``git``: the version's tag of the ``source`` repository; ``wheel``: the wheel attached to that
    tag's GitHub release (release.yml puts it there); ``pypi``: the package index.
    """
    source = source.rstrip("/")
    if install_from == "git":
        return f"exoform @ git+{source}@v{version}"
    if install_from == "wheel":
        return f"exoform @ {source}/releases/download/v{version}/exoform-{version}-py3-none-any.whl"
    if install_from == "pypi":
        return f"exoform=={version}"
    raise ValueError(f"unknown install source {install_from!r}")


def render_config(tenants: list[Tenant]) -> str:
    """``exoform.yaml`` for ``tenants``: ``auth`` is the read app and ``apply_auth`` the write app, both
    ``client_id: env:NAME`` from the repository variables the workflows pass on."""
    lines = [
        "# yaml-language-server: $schema=schemas/exoform.schema.json",
        f"# Written by `exoform init` (exoform {__version__}).  Reference: exoform's docs/yaml-reference.md",
        "tenants:",
    ]
    for tenant in tenants:
        lines += [
            f"  {tenant.name}:",
            "    provider: exchange",
            f"    organization: {tenant.organization}",
            f"    connectors: connectors/{tenant.name}",
            "    auth:                     # the read-only app: plan, drift, status, export",
            f"      client_id: env:{READ_CLIENT_ID_VAR}",
            "      federated: github",
            "    apply_auth:               # the write app: apply only",
            f"      client_id: env:{WRITE_CLIENT_ID_VAR}",
            "      federated: github",
            "    unmanaged: report         # connectors no file declares are listed, never touched",
            "    max_deletes: 1            # a plan deleting more is unsafe: apply refuses it",
        ]
    return "\n".join(lines) + "\n"


def render_files(
    tenants: list[Tenant],
    *,
    source: str = DEFAULT_SOURCE,
    install_from: str = "git",
    python: str = "3.12",
    environment: str = "exoform-apply",
) -> dict[str, str]:
    """Every file ``exoform init`` writes: relative path -> text.  Pure: nothing is written."""
    values = {
        "VERSION": __version__,
        "PIP_SPEC": pip_spec(install_from, source),
        "SOURCE": source.rstrip("/"),
        "PYTHON": python,
        "ENVIRONMENT": environment,
        "RETENTION_DAYS": str(RETENTION_DAYS),
        "TENANT_LIST": ", ".join(f"`{t.name}`" for t in tenants),
        **ACTIONS,
    }
    files = {
        "exoform.yaml": render_config(tenants),
        ".gitignore": _template("gitignore", values),
        ".pre-commit-config.yaml": _template("pre-commit-config.yaml", values),
        "README.md": _template("README.md", values),
    }
    for name in ("plan", "apply", "drift"):
        files[f".github/workflows/{name}.yml"] = _template(f"workflows/{name}.yml", values)
    for script in _SCRIPTS:
        files[f".github/exoform/{script}"] = _template(f"scripts/{script}", values)
    for tenant in tenants:
        per_tenant = dict(values, TENANT=tenant.name, ORGANIZATION=tenant.organization)
        files[f"connectors/{tenant.name}/README.md"] = _template("connectors-README.md", per_tenant)
    return files


def _template(name: str, values: dict[str, str]) -> str:
    text = resources.files("reconciler").joinpath("data", "init", *name.split("/")).read_text("utf-8")
    filled = re.sub(r"@@([A-Z_]+)@@", lambda m: values[m.group(1)], text)
    return filled


def write_files(root: Path, files: dict[str, str], force: bool) -> tuple[list[str], list[str]]:
    """Write ``files`` under ``root``; returns (written, skipped).  An existing file is skipped unless
    ``force``; scripts under ``.github/exoform/`` are made executable."""
    written: list[str] = []
    skipped: list[str] = []
    for relative, text in files.items():
        path = root / relative
        if path.exists() and not force:
            skipped.append(relative)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if relative.endswith(".sh"):
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
@click.option("--source", default=DEFAULT_SOURCE, show_default=True, help="exoform's repository URL.")
@click.option(
    "--install-from",
    type=click.Choice(["git", "wheel", "pypi"]),
    default="git",
    show_default=True,
    help="Install exoform from the version's git tag, its release wheel, or the package index.",
)
@click.option("--python", default="3.12", show_default=True, help="Python version of the workflows.")
@click.option(
    "--environment",
    default="exoform-apply",
    show_default=True,
    help="GitHub Environment that guards apply.",
)
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
def init(
    directory: Path,
    names: tuple[str, ...],
    organizations: tuple[str, ...],
    source: str,
    install_from: str,
    python: str,
    environment: str,
    force: bool,
) -> None:
    """Write a ready connectors repository into DIRECTORY (default: here).

    Writes exoform.yaml, connectors/NAME/, .github/workflows/{plan,apply,drift}.yml with their scripts in
    .github/exoform/, .pre-commit-config.yaml, .gitignore and a README.md with the two app registrations.
    Existing files are kept unless --force.

    \b
    Examples:
      exoform init mail-flow --tenant contoso --organization contoso.onmicrosoft.com
      exoform init --install-from wheel --force
    """
    if not names:
        names = ("contoso",)
    if not organizations:
        organizations = tuple(f"{name}.onmicrosoft.com" for name in names)
    if len(organizations) != len(names):
        raise click.UsageError("give one --organization per --tenant")
    for name in names:
        if not _TENANT_NAME.match(name):
            raise click.UsageError(f"tenant name {name!r}: use letters, digits, '.', '_' and '-'")
    tenants = [Tenant(n, o) for n, o in zip(names, organizations, strict=True)]
    files = render_files(
        tenants,
        source=source,
        install_from=install_from,
        python=python,
        environment=environment,
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
