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

from reconciler.cli.common import fail_on_option
from reconciler.escape import safe

if TYPE_CHECKING:
    from reconciler.desired.config import ExoformConfig
    from reconciler.desired.connectors import LoadedConnector, TenantDesired
    from reconciler.errors import Problem
    from reconciler.posture.findings import Finding
    from reconciler.render.sarif import Located


def locate_findings(
    config: ExoformConfig, tenant: TenantDesired, findings: Sequence[Finding]
) -> list[Located]:
    """Each finding as a problem located at the field it blames in the connector file that declares the
    connector (live findings too, by name), or at the tenant in exoform.yaml; skipped ones carry their
    reason as the suppression."""
    from reconciler.desired.loader import config_location
    from reconciler.errors import Problem
    from reconciler.render.sarif import Located

    by_name: dict[tuple[str | None, str], LoadedConnector] = {}
    for lc in tenant.connectors:
        for name in (lc.connector.name, *lc.connector.renamed_from):
            by_name[(lc.connector.kind, name.casefold())] = lc
    tenant_loc = config_location(config, "tenants", tenant.tenant)
    located = []
    for finding in findings:
        loaded = by_name.get((finding.kind, (finding.name or "").casefold()))
        if loaded is None:
            loc = tenant_loc
        else:
            loc = loaded.location_of(finding.field) if finding.field else loaded.location
        message = f"{finding.message} [{finding.rule}]"
        if finding.source == "live":
            message = (
                f"live {finding.kind} '{finding.name}': {message}" if finding.name else f"live: {message}"
            )
        problem = Problem(loc, message, severity=finding.severity, rule=finding.rule)
        located.append(
            Located(
                problem, finding.skipped_reason, tenant.tenant, finding.kind, finding.name, finding.source
            )
        )
    return located


def posture_problems(config: ExoformConfig, tenant: TenantDesired) -> list[Problem]:
    """The security posture findings of a tenant (issue 7), each located at the field it blames.

    Findings switched off in YAML (``skip_checks``) are left out here; plans show them with their reason.
    """
    from reconciler import posture

    findings = posture.check([lc.connector for lc in tenant.connectors], tenant.settings.skip_checks)
    return [item.problem for item in locate_findings(config, tenant, findings) if item.suppressed is None]


#: Extra checks run by validate on every tenant that loaded cleanly: ``check(config, tenant)`` returns
#: located problems (severity error, warning or info).  Add a checker here to extend validate.
CHECKERS: list[Callable[[ExoformConfig, TenantDesired], list[Problem]]] = [posture_problems]


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
@fail_on_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif"]),
    default="text",
    show_default=True,
    help="text: one problem a line; json: the problems as data; sarif: SARIF 2.1.0 for code scanning.",
)
def validate(config_path: Path, tenants: tuple[str, ...], check_env: bool, fail_on: str, fmt: str) -> None:
    """Check exoform.yaml and every connector file, and report every problem found.

    Each problem is printed as path:line:col: severity: message (--format json or sarif: one document
    on stdout).  Exit status 0 when nothing at or above --fail-on (default error) was found, 1 otherwise.

    \b
    Examples:
      exoform validate
      exoform validate --fail-on warning
      exoform validate --format sarif > exoform.sarif
    """
    from reconciler.desired import connectors, loader
    from reconciler.desired.variables import explained
    from reconciler.errors import ConfigError, InputError

    problems: list[Any] = []
    try:
        config = loader.load_config(config_path)
        names = loader.select_tenants(config, list(tenants))
    except InputError as exc:
        _finish(exc.problems, fail_on, 0, 0, fmt)
        return
    except ConfigError as exc:
        click.echo(f"error: {safe(str(exc))}", err=True)
        raise SystemExit(1) from None
    desired, problems = connectors.load_tenants(config, names)
    if check_env:
        problems += loader.check_env(config, names)
    for check in CHECKERS:
        for tenant in desired:
            problems += explained(check(config, tenant), tenant.origins)
    count = sum(len(t.connectors) for t in desired)
    # A finding in a file shared by many tenants is the same problem for each: listed once.
    _finish(list(dict.fromkeys(problems)), fail_on, count, len(names), fmt)


def _finish(problems: Sequence[Problem], fail_on: str, connectors: int, tenants: int, fmt: str) -> None:
    from reconciler import __version__
    from reconciler.render import Options, render
    from reconciler.render.sarif import posture_rules
    from reconciler.render.validate import ValidateReport
    from reconciler.verdicts import validate_exit

    report = ValidateReport(problems, connectors, tenants, fail_on, posture_rules(), __version__)
    options = Options(annotate=os.environ.get("GITHUB_ACTIONS") == "true")
    click.echo(render("validate", fmt, report, options), nl=False)
    raise SystemExit(validate_exit(problems, fail_on))


@click.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default="schemas",
    show_default=True,
    help="Folder to write the schemas into (connector, exoform.yaml, plan, drift and status JSON).",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when the files in --out are out of date.")
def schema(out: Path, check: bool) -> None:
    """Write the JSON Schemas of connector files and exoform.yaml (for editors and CI), and of the plan,
    drift and status JSON (for tools that read them)."""
    from reconciler import schema as schemas

    if check:
        stale = schemas.stale_files(out)
        for path in stale:
            click.echo(f"{safe(str(path))}: out of date; run exoform schema")
        if stale:
            raise SystemExit(1)
        click.echo("schemas up to date")
        return
    for path in schemas.write_schemas(out):
        click.echo(f"wrote {safe(str(path))}")
