"""``exoform validate`` and ``exoform schema``.

pydantic and ruamel are imported inside the command functions only, so ``exoform --help`` stays fast.

Extending validate: each entry of :data:`CHECKERS` is a function ``check(config, tenant) -> list[Problem]``
called for every tenant that loaded cleanly; its problems are printed with the loading problems, and
``--fail-on`` decides which severities fail the run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler.severity import at_or_above

if TYPE_CHECKING:
    from reconciler.config import ExoformConfig
    from reconciler.connectors import LoadedConnector, TenantDesired
    from reconciler.errors import Problem


def posture_problems(config: ExoformConfig, tenant: TenantDesired) -> list[Problem]:
    """The security posture findings of a tenant (issue 7), each located at the field it blames.

    Findings switched off in YAML (``skip_checks``) are left out here; plans show them with their reason.
    """
    from reconciler import posture
    from reconciler.errors import Problem
    from reconciler.loader import config_location

    by_name: dict[tuple[str | None, str | None], LoadedConnector] = {
        (lc.connector.kind, lc.connector.name): lc for lc in tenant.connectors
    }
    tenant_loc = config_location(config, "tenants", tenant.tenant)
    problems = []
    for finding in posture.check([lc.connector for lc in tenant.connectors], tenant.settings.skip_checks):
        if finding.skipped:
            continue
        loaded = by_name.get((finding.kind, finding.name))
        if loaded is None:
            loc = tenant_loc
        else:
            loc = loaded.location_of(finding.field) if finding.field else loaded.location
        problems.append(Problem(loc, f"{finding.message} [{finding.rule}]", severity=finding.severity))
    return problems


#: Extra checks run by validate on every tenant that loaded cleanly: ``check(config, tenant)`` returns
#: located problems (severity error, warning or info).  Add a checker here to extend validate.
CHECKERS: list[Callable[[ExoformConfig, TenantDesired], list[Problem]]] = [posture_problems]


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def emit_problems(problems: Sequence[Problem]) -> None:
    """Print each problem as ``path:line:col: severity: message``, sorted by place; under GitHub Actions
    also as a workflow annotation."""
    ordered = sorted(problems, key=lambda p: (p.location.path, p.location.line, p.location.column))
    annotate = os.environ.get("GITHUB_ACTIONS") == "true"
    for problem in ordered:
        click.echo(str(problem))
    if annotate:
        for problem in ordered:
            level = {"error": "error", "warning": "warning"}.get(problem.severity, "notice")
            loc = problem.location
            click.echo(
                f"::{level} file={_escape_property(loc.path)},line={loc.line},col={loc.column}::"
                f"{_escape_data(problem.message)}"
            )


@click.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default="exoform.yaml",
    show_default=True,
    help="The exoform.yaml to read; paths inside it are relative to its folder.",
)
@click.option(
    "--tenant",
    "tenants",
    multiple=True,
    metavar="NAME",
    help="Validate only this tenant (a name or a glob like 'prod-*'); repeatable. Default: all.",
)
@click.option(
    "--check-env",
    is_flag=True,
    help="Also check that every env: reference of the selected tenants is set (values are never shown).",
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning"]),
    default="error",
    show_default=True,
    help="Lowest severity of a finding that makes validate exit 1.",
)
def validate(config_path: Path, tenants: tuple[str, ...], check_env: bool, fail_on: str) -> None:
    """Check exoform.yaml and every connector file, and report every problem found.

    Each problem is printed as path:line:col: error: message.  Exit status 0 when everything is valid,
    1 otherwise.
    """
    from reconciler import connectors, loader
    from reconciler.errors import ConfigError, InputError
    from reconciler.variables import explained

    problems: list[Any] = []
    try:
        config = loader.load_config(config_path)
        names = loader.select_tenants(config, list(tenants))
    except InputError as exc:
        _finish(exc.problems, fail_on, 0, 0)
        return
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    desired, problems = connectors.load_tenants(config, names)
    if check_env:
        problems += loader.check_env(config, names)
    for check in CHECKERS:
        for tenant in desired:
            problems += explained(check(config, tenant), tenant.origins)
    count = sum(len(t.connectors) for t in desired)
    # A finding in a file shared by many tenants is the same problem for each: listed once.
    _finish(list(dict.fromkeys(problems)), fail_on, count, len(names))


def _finish(problems: Sequence[Problem], fail_on: str, connectors: int, tenants: int) -> None:
    emit_problems(problems)
    failing = [p for p in problems if at_or_above(p.severity, fail_on)]
    if failing:
        errors = sum(1 for p in problems if p.severity == "error")
        click.echo(f"{len(problems)} problem(s) found ({errors} error(s))")
        raise SystemExit(1)
    click.echo(f"{connectors} connector(s) in {tenants} tenant(s) valid")


@click.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default="schemas",
    show_default=True,
    help="Folder to write connector.schema.json and exoform.schema.json into.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when the files in --out are out of date.")
def schema(out: Path, check: bool) -> None:
    """Write the JSON Schemas of connector files and exoform.yaml (for editors and CI)."""
    from reconciler import schema as schemas

    if check:
        stale = schemas.stale_files(out)
        for path in stale:
            click.echo(f"{path}: out of date; run exoform schema")
        if stale:
            raise SystemExit(1)
        click.echo("schemas up to date")
        return
    for path in schemas.write_schemas(out):
        click.echo(f"wrote {path}")
