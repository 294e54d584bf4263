"""``exoform export``, ``exoform drift``, ``exoform tenants`` and ``exoform status``: GitOps in practice.

- ``export`` adopts a tenant: its live connectors become YAML files (see :mod:`reconciler.adopt.exporter`);
  with ``--common DIR`` several tenants become one shared set plus per-tenant vars and folders
  (:mod:`reconciler.adopt.common`): a tenant that cannot be read stops it before anything is written.
- ``drift`` plans every selected tenant and reports what differs: exit 0 none, 2 drift, 1 error.
  Drift is a change in the plan (a connector whose fields differ, one declared but missing, one the
  ``unmanaged: delete`` policy would delete) or a posture finding on the live connectors at or above
  ``--fail-on``.  Unmanaged connectors under ``unmanaged: report`` are listed but are not drift: nobody
  claimed them.
- ``tenants`` lists the tenants; ``--json`` gives a GitHub Actions matrix (``{"tenant": [...]}``);
  ``--rings`` each tenant's rollout ring (``{"NAME": RING, ...}`` with ``--json``).
- ``status`` shows each live connector's health and runs Validate-OutboundConnector on request.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.common import (
    EXIT_ERROR,
    config_option,
    echo_error,
    fail,
    fail_on_option,
    load_config_or_exit,
    new_session,
    parallelism_option,
    parse_targets_or_exit,
    read_tenants,
    report_failures,
    target_option,
    tenant_option,
    use_color,
)
from reconciler.cli.plan import make_plan
from reconciler.desired.sharding import MATRIX_LIMIT
from reconciler.escape import safe

if TYPE_CHECKING:
    from reconciler.adopt.common import CommonExport, Written
    from reconciler.adopt.exporter import ExportReport
    from reconciler.desired.config import ExoformConfig


# --------------------------------------------------------------------------------------------------------
# export


@click.command()
@config_option
@click.option(
    "--tenant",
    "tenant_args",
    required=True,
    multiple=True,
    help="The tenant to export (its name in exoform.yaml); with --common, names or globs (repeatable).",
)
@target_option
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to write into. Default: the tenant's connectors folder (its last one, with several).",
)
@click.option(
    "--common",
    metavar="DIR",
    help="Export several tenants into one shared set in DIR (relative to exoform.yaml) plus per-tenant "
    "vars and folders.",
)
@parallelism_option
def export(
    config_path: Path,
    tenant_args: tuple[str, ...],
    targets: tuple[str, ...],
    out: Path | None,
    common: str | None,
    parallelism: int,
) -> None:
    """Write a tenant's live connectors as YAML files, so a plan right after shows no change.

    Files already in the folder that declare a live connector are updated in place (comments and key
    order kept); a file that declares another connector is never overwritten.  Connectors the service's
    rules reject are exported with a comment naming the problem.

    With --target only the matching connectors are exported (other files are left alone): adopting one
    connector a colleague made in the admin center.  A tenant with several folders exports into its last
    one (its own), leaving out the connectors its earlier (shared) folders declare.

    With --common DIR, every selected tenant is read (a tenant that cannot be read stops the export,
    nothing written): connectors most of them hold (by kind and case-insensitive name) become one file
    in DIR, with ${vars.NAME} in the fields whose values differ and each tenant's value in exoform.yaml;
    the rest is exported into each tenant's own folder (see docs/fleet.md).  With --target as well, only
    the matching connectors are (a new one added to a shared set its tenants list already); every other
    connector and file is left as it is.

    \b
    Examples:
      exoform export --tenant contoso
      exoform export --tenant contoso --out adopted/contoso
      exoform export --tenant contoso --target 'InboundConnector/From Contoso partner'
      exoform export --tenant 'customer-*' --common connectors/common --parallelism 16
      exoform export --tenant 'customer-*' --common connectors/common --target '*/From Mimecast'
    """
    if common is not None:
        if out is not None:
            fail("--common exports into DIR and each tenant's own folder: --out does not apply")
        _export_common(config_path, tenant_args, common, parallelism, targets)
        return
    if len(tenant_args) > 1:
        fail(
            "export writes one tenant: give one --tenant, or --common DIR to export several into a shared set"
        )
    tenant = tenant_args[0]
    from reconciler.adopt.exporter import export_connectors, schema_path
    from reconciler.errors import ExoformError
    from reconciler.model import did_you_mean
    from reconciler.reconcile.targeting import targeted, unmatched
    from reconciler.workflow import read_tenant
    from reconciler.yamlio import display_path

    chosen = parse_targets_or_exit(targets)
    config = load_config_or_exit(config_path)
    settings = config.tenants.get(tenant)
    if settings is None:
        fail(f"unknown tenant '{tenant}'{did_you_mean(tenant, list(config.tenants))}")
    folder = out if out is not None else config.path(settings.folders()[-1])
    if out is None:
        others = [
            name
            for name, other in config.tenants.items()
            if name != tenant and folder in {config.path(f) for f in other.folders()}
        ]
        if others:
            fail(
                f"{display_path(folder)} is also a connectors folder of {', '.join(others[:5])}"
                f"{' and others' if len(others) > 5 else ''}: exporting into it would change their "
                f"connectors too; give --out FOLDER, or give {tenant} a folder of its own as its last"
            )
    shared = _shared_connectors(config, tenant) if out is None else set()
    try:
        live = read_tenant(config, tenant, new_session=new_session())
    except ExoformError as exc:
        fail(str(exc))
    schema = schema_path(config.base_dir)
    exported = [
        c
        for c in live.connectors
        if targeted(chosen, c.kind, c.name) and (c.kind, c.name.casefold()) not in shared
    ]
    for c in live.connectors:
        if (c.kind, c.name.casefold()) in shared and targeted(chosen, c.kind, c.name):
            click.echo(
                f'note: {c.kind} "{safe(c.name)}" is declared in a shared folder of {tenant}: not exported'
            )
    for target in unmatched(chosen, ((c.kind, c.name) for c in live.connectors)):
        click.echo(f"warning: --target {json.dumps(target.text)} matches no connector of {tenant}", err=True)
    try:
        report = export_connectors(
            exported,
            folder,
            schema=schema,
            ignore=frozenset(settings.ignore_fields),
            whole_tenant=not chosen,  # a targeted export says nothing of the connectors it was not asked for
        )
    except OSError as exc:
        fail(f"cannot write into {display_path(folder)}: {exc.strerror or exc}")
    _echo_written(report)
    counts = ", ".join(
        f"{report.count(a)} {a}" for a in ("created", "updated", "unchanged", "skipped") if report.count(a)
    )
    click.echo(
        f"Exported {len(report.connectors)} connector(s) of {tenant} to {display_path(folder)}: "
        f"{counts or 'nothing to export'}."
    )
    if not report.round_trip:
        click.echo(_NOT_ROUND_TRIP, err=True)
    if not schema.is_file():
        click.echo(
            f"hint: {display_path(schema)} does not exist yet; run exoform schema to write it.", err=True
        )


def _export_common(
    config_path: Path, patterns: tuple[str, ...], common: str, parallelism: int, targets: tuple[str, ...]
) -> None:
    """``export --common``: read the selected tenants, derive the shared set (of the ``--target``
    connectors only, when given), write it, report it."""
    from reconciler.adopt.common import check_common, prepare, write_common
    from reconciler.adopt.exporter import schema_path
    from reconciler.desired.connectors import load_all
    from reconciler.desired.loader import select_tenants
    from reconciler.errors import ConfigError, ExoformError, InputError
    from reconciler.reconcile.targeting import targeted, unmatched

    chosen = parse_targets_or_exit(targets)
    config = load_config_or_exit(config_path)
    try:
        names = select_tenants(config, list(patterns))
        common_path = check_common(config, names, common)
    except ExoformError as exc:
        fail(str(exc))
    _, desired, outcomes, _ = read_tenants(config_path, tuple(names), parallelism, label="Reading tenants")
    if report_failures(outcomes):
        fail("nothing was written: export --common needs every selected tenant (leave a failing one out)")
    tenants = [(d, o.live) for d, o in zip(desired, outcomes, strict=True) if o.live is not None]
    for target in unmatched(chosen, ((c.kind, c.name) for _, live in tenants for c in live.connectors)):
        click.echo(
            f"warning: --target {json.dumps(target.text)} matches no connector of these tenants", err=True
        )
    schema = schema_path(config.base_dir)
    picked = (lambda kind, name: targeted(chosen, kind, name)) if chosen else None
    try:
        export = prepare(config, common, common_path, tenants, picked)
        written = write_common(config_path, export, schema)
    except OSError as exc:
        fail(f"cannot write the shared set: {exc.strerror or exc} ({exc.filename or ''})")
    except ExoformError as exc:
        fail(str(exc))
    _report_common(export, written)
    if all(r.round_trip for r in written.own.values()):
        try:  # a safety net: what was written must load for every tenant
            load_all(config_path, names)
        except (InputError, ConfigError) as exc:
            for problem in getattr(exc, "problems", []) or [exc]:
                echo_error(str(problem))
            fail("the files were written but do not validate (see above): please report this as a bug")


_NOT_ROUND_TRIP = (
    "warning: some connectors break the service's rules or were skipped (see the notes): "
    "exoform validate reports them until they are fixed."
)


def _echo_written(report: ExportReport, suffix: str = "") -> None:
    """Each connector file an export wrote (or skipped), with its notes; ``suffix`` ends each line."""
    from reconciler.yamlio import display_path

    for item in report.connectors:
        where = display_path(item.path) if item.path else "-"
        click.echo(f'{item.action:<9} {safe(where)}  {item.kind} "{safe(item.name)}"{suffix}')
        for note in item.notes:
            click.echo(f"          note: {safe(note)}")
    for note in report.notes:
        click.echo(f"note: {safe(note)}", err=True)


def _report_common(export: CommonExport, written: Written) -> None:
    """Print what was shared (with whom, which fields became variables, who got an absent override),
    what was left per tenant and why, and what changed in exoform.yaml."""
    from reconciler.yamlio import display_path

    derivation, names, common_path = export.derivation, list(export.ignore), export.common
    variables = {s.kind + s.name: s.variables for s in derivation.shared}
    absent: dict[tuple[str, str], list[str]] = {}
    for tenant, kind, name, path in written.absent:
        absent.setdefault((kind, name), []).append(f"{tenant} ({display_path(path)})")
    for kind, name, path, action in written.shared:
        shared = next(s for s in derivation.shared if s.kind == kind and s.name == name)
        click.echo(f'shared    {safe(display_path(path))}  {kind} "{safe(name)}"  ({action})')
        click.echo(f"          tenants: {', '.join(shared.tenants)}")
        for field_name, variable in variables[kind + name].items():
            click.echo(f"          {field_name}: ${{vars.{variable}}}")
        if (kind, name) in absent:
            click.echo(f"          absent (Override absent: true): {safe(', '.join(absent[(kind, name)]))}")
    for kind, name, why in derivation.unshared:
        click.echo(f'per tenant {kind} "{safe(name)}": not shared: {safe(why)}')
    for tenant in names:
        report = written.own.get(tenant)
        if report is not None:
            _echo_written(report, f"  ({tenant})")
    for line in written.config:
        click.echo(f"set       exoform.yaml {safe(line)}")
    for note in export.notes:
        click.echo(f"note: {safe(note)}", err=True)
    left = sum(len(r.connectors) for r in written.own.values())
    click.echo(
        f"Shared {len(written.shared)} connector(s) of {len(names)} tenant(s) in {display_path(common_path)} "
        f"({len(derivation.values)} variable(s)); {left} connector(s) left per tenant; "
        f"{len(written.config)} setting(s) of exoform.yaml written."
    )
    if any(not r.round_trip for r in written.own.values()):
        click.echo(_NOT_ROUND_TRIP, err=True)


def _shared_connectors(config: ExoformConfig, tenant: str) -> set[tuple[str, str]]:
    """``(kind, casefolded name)`` of the connectors a tenant's earlier (shared) folders declare; empty for a
    tenant with one folder or whose files do not load (export then writes every connector)."""
    from reconciler.desired.connectors import load_tenant
    from reconciler.errors import ExoformError

    settings = config.tenants[tenant]
    if len(settings.folders()) < 2:
        return set()
    own = config.path(settings.folders()[-1])
    try:
        desired = load_tenant(config, tenant)
    except ExoformError:
        return set()
    return {
        (lc.connector.kind, lc.connector.name.casefold())
        for lc in desired.connectors
        if not Path(lc.location.path).resolve().is_relative_to(own)
    }


# --------------------------------------------------------------------------------------------------------
# drift


@click.command()
@config_option
@tenant_option
@target_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True
)
@parallelism_option
@click.option("--no-color", is_flag=True, help="No colour (also when NO_COLOR is set or not a terminal).")
@fail_on_option
def drift(
    config_path: Path,
    tenants: tuple[str, ...],
    targets: tuple[str, ...],
    fmt: str,
    parallelism: int,
    no_color: bool,
    fail_on: str,
) -> None:
    """Report connectors that differ from the files: exit 0 no drift, 2 drift, 1 error.

    Each drifted connector shows the fields (files against tenant) and when it last changed in the
    tenant.  A posture finding on the live connectors at or above --fail-on (default error) is drift
    too.  Connectors no file declares are listed under unmanaged: report but are not drift; nor are the
    connectors without mail that a tenant with traffic: true lists (docs/monitoring.md).  A tenant
    that cannot be read is in every format with its error and makes the exit status 1; the others are
    still checked.

    \b
    Examples:
      exoform drift
      exoform drift --tenant 'customer-*' --parallelism 16
      exoform drift --tenant contoso --format markdown > issue.md
      exoform drift --target 'OutboundConnector/To Mimecast*'
    """
    from reconciler.render import Options, render
    from reconciler.verdicts import drift_exit

    the_plan, outcomes = make_plan(config_path, tenants, parallelism, targets, unused=True)
    opts = Options(color=use_color(no_color), fail_on=fail_on)
    click.echo(render("drift", fmt, the_plan, opts), nl=False, color=opts.color)
    report_failures(outcomes)
    sys.exit(drift_exit(the_plan, fail_on))


# --------------------------------------------------------------------------------------------------------
# tenants


@click.command()
@config_option
@tenant_option
@click.option("--json", "as_json", is_flag=True, help='Print {"tenant": [...]}: a GitHub Actions matrix.')
@click.option(
    "--shards",
    type=click.IntRange(1, MATRIX_LIMIT),
    help="Group the tenants into at most N balanced jobs (a matrix of {shard, tenants, args}).",
)
@click.option(
    "--max-per-job",
    type=click.IntRange(1),
    help="Group the tenants into jobs of at most K tenants (the fewest jobs that hold them).",
)
@click.option(
    "--rings",
    is_flag=True,
    help='Show each tenant\'s rollout ring (ring: in exoform.yaml); with --json {"NAME": RING, ...}.',
)
def tenants(
    config_path: Path,
    tenants: tuple[str, ...],
    as_json: bool,
    shards: int | None,
    max_per_job: int | None,
    rings: bool,
) -> None:
    """List the tenants of exoform.yaml, one per line; --json for a GitHub Actions matrix.

    With --shards N or --max-per-job K the tenants are grouped into balanced jobs (at most 256, GitHub's
    limit per matrix) whose --tenant arguments cover every tenant exactly once: a 2,000-tenant fleet runs
    in one workflow.

    \b
    In a workflow, one job per tenant:
      matrix: ${{ fromJSON(needs.tenants.outputs.matrix) }}   # from: exoform tenants --json
    Or one job per shard (matrix.args: the shard's --tenant options):
      exoform tenants --json --shards 64
    Each tenant's ring, for a workflow that applies ring 0 first (the generated apply.yml does):
      exoform tenants --json --rings        # {"lab":0,"contoso":1}
    """
    from reconciler.desired.loader import select_tenants
    from reconciler.desired.sharding import matrix, shard
    from reconciler.errors import ConfigError

    if rings and (shards or max_per_job):
        fail("--rings lists every tenant with its ring: it does not group them (--shards, --max-per-job)")
    config = load_config_or_exit(config_path)
    try:
        names = select_tenants(config, list(tenants))
        jobs = shard(names, shards=shards, max_per_job=max_per_job) if shards or max_per_job else None
    except ConfigError as exc:
        fail(str(exc))
    if rings:
        ring = {name: config.tenants[name].ring for name in names}
        if as_json:
            click.echo(json.dumps(ring, separators=(",", ":")))
        else:
            for name in names:
                click.echo(f"{safe(name)} ring {ring[name]}")
        return
    if jobs is not None:
        if as_json:
            click.echo(json.dumps(matrix(jobs), separators=(",", ":")))
        else:
            for entry in matrix(jobs)["include"]:
                click.echo(f"{entry['shard']}: {entry['args']}")
        return
    if as_json:
        click.echo(json.dumps({"tenant": names}, separators=(",", ":")))
        if len(names) > MATRIX_LIMIT:
            click.echo(
                f"warning: {len(names)} tenants; GitHub Actions runs at most {MATRIX_LIMIT} jobs per matrix: "
                "group them with --shards N or --max-per-job K",
                err=True,
            )
    else:
        for name in names:
            click.echo(safe(name))


# --------------------------------------------------------------------------------------------------------
# status


@click.command()
@config_option
@tenant_option
@target_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@parallelism_option
@click.option("--no-color", is_flag=True, help="No colour (also when NO_COLOR is set or not a terminal).")
@click.option(
    "--validate",
    "validate_name",
    metavar="CONNECTOR",
    help="Run Validate-OutboundConnector on this outbound connector (needs one --tenant and --recipient).",
)
@click.option(
    "--recipient",
    "recipients",
    multiple=True,
    metavar="ADDR",
    help="Recipient of the test mail (repeatable).",
)
def status(
    config_path: Path,
    tenants: tuple[str, ...],
    targets: tuple[str, ...],
    fmt: str,
    parallelism: int,
    no_color: bool,
    validate_name: str | None,
    recipients: tuple[str, ...],
) -> None:
    """Show each live connector: enabled, test mode, validated and when, last changed, managed or not.

    Managed means a file declares it.  Posture findings on the live connectors (those no file gives too)
    are listed under the table, marked live; for a tenant with traffic: true, so are the connectors that
    carried no mail in its traffic_window (marked traffic; docs/monitoring.md).  With --validate, run
    Validate-OutboundConnector (it sends test mail through each smart host) and show the result per smart
    host: exit 0 when every one succeeded.

    \b
    Examples:
      exoform status
      exoform status --tenant contoso --format json
      exoform status --target 'InboundConnector/From Mimecast*'
      exoform status --tenant contoso --validate "To Mimecast" --recipient postmaster@fabrikam.com
    """
    if validate_name is not None:
        if targets:
            fail("--validate names its connector: --target does not apply")
        _validate(config_path, tenants, validate_name, recipients, fmt)
        return
    if recipients:
        fail("--recipient needs --validate CONNECTOR")
    from reconciler.render import Options, render
    from reconciler.render.status import status_document
    from reconciler.verdicts import status_exit

    _, desired, outcomes, _ = read_tenants(
        config_path, tenants, parallelism, label="Reading tenants", targets=targets, unused=True
    )
    doc = status_document(outcomes, desired)
    opts = Options(color=use_color(no_color))
    click.echo(render("status", fmt, doc, opts), nl=False, color=opts.color)
    for failed in doc.errors:
        echo_error(failed.error or "")
    if doc.errors:
        click.echo(f"{len(doc.errors)} of {len(outcomes)} tenant(s) failed.", err=True)
    sys.exit(status_exit(len(doc.errors)))


def _validate(
    config_path: Path, tenants: tuple[str, ...], name: str, recipients: tuple[str, ...], fmt: str
) -> None:
    from reconciler.desired.loader import select_tenants
    from reconciler.errors import ConfigError, ExoformError
    from reconciler.normalize import canon_email
    from reconciler.render.status import validation_json, validation_text
    from reconciler.verdicts import validation_ok
    from reconciler.workflow import validate_outbound

    if not recipients:
        fail("--validate needs at least one --recipient ADDR (the test mail goes there)")
    try:
        addresses = [canon_email(r) for r in recipients]
    except ValueError as exc:
        fail(f"--recipient: {exc}")
    config = load_config_or_exit(config_path)
    try:
        names = select_tenants(config, list(tenants))
    except ConfigError as exc:
        fail(str(exc))
    if len(names) != 1:
        fail(
            f"--validate runs on one tenant: select exactly one with --tenant (selected: {', '.join(names)})"
        )
    tenant = names[0]
    try:
        live, results = validate_outbound(config, tenant, name, addresses, new_session=new_session())
    except ExoformError as exc:
        fail(str(exc))
    ok = validation_ok(results)
    if fmt == "json":
        click.echo(json.dumps(validation_json(tenant, live.name, results), indent=2, sort_keys=True))
    else:
        click.echo(validation_text(tenant, live.name, addresses, results), nl=False)
    if not ok:
        sys.exit(EXIT_ERROR)
