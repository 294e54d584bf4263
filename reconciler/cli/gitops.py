"""``exoform export``, ``exoform drift``, ``exoform tenants`` and ``exoform status``: GitOps in practice.

- ``export`` adopts a tenant: its live connectors become YAML files (see :mod:`reconciler.exporter`).
- ``drift`` plans every selected tenant and reports what differs: exit 0 none, 2 drift, 1 error.
  Drift is a change in the plan (a connector whose fields differ, one declared but missing, one the
  ``unmanaged: delete`` policy would delete).  Unmanaged connectors under ``unmanaged: report`` are listed
  but are not drift: nobody claimed them.
- ``tenants`` lists the tenants; ``--json`` gives a GitHub Actions matrix (``{"tenant": [...]}``).
- ``status`` shows each live connector's health and runs Validate-OutboundConnector on request.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler.cli.common import (
    EXIT_CHANGES,
    EXIT_ERROR,
    config_option,
    fail,
    load_config_or_exit,
    parallelism_option,
    read_tenants,
    report_failures,
    tenant_option,
    use_color,
)
from reconciler.cli.plan import make_plan
from reconciler.render.values import cell, html, show

if TYPE_CHECKING:
    from reconciler.loader import TenantDesired
    from reconciler.plan import Change, Plan, TenantPlan
    from reconciler.providers.base import LiveConnector
    from reconciler.workflow import TenantOutcome

#: GitHub Actions runs at most this many jobs from one matrix.
MATRIX_LIMIT = 256
DRIFT_MARKER = "<!-- exoform-drift -->"


# --------------------------------------------------------------------------------------------------------
# export


@click.command()
@config_option
@click.option("--tenant", required=True, help="The tenant to export (its name in exoform.yaml).")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to write into. Default: the tenant's connectors folder.",
)
def export(config_path: Path, tenant: str, out: Path | None) -> None:
    """Write a tenant's live connectors as YAML files, so a plan right after shows no change.

    Files already in the folder that declare a live connector are updated in place (comments and key
    order kept); a file that declares another connector is never overwritten.  Connectors the service's
    rules reject are exported with a comment naming the problem.

    \b
    Examples:
      exoform export --tenant contoso
      exoform export --tenant contoso --out adopted/contoso
    """
    from reconciler.errors import ExoformError
    from reconciler.exporter import export_connectors
    from reconciler.loader import display_path
    from reconciler.model import did_you_mean
    from reconciler.providers.registry import open_provider
    from reconciler.providers.session import Session

    config = load_config_or_exit(config_path)
    settings = config.tenants.get(tenant)
    if settings is None:
        fail(f"unknown tenant '{tenant}'{did_you_mean(tenant, list(config.tenants))}")
    folder = out if out is not None else config.path(settings.connectors)
    try:
        with Session() as session:
            provider = open_provider(tenant, settings, config, session=session)
            try:
                live = provider.read()
            finally:
                provider.close()
    except ExoformError as exc:
        fail(str(exc))
    schema = config.base_dir / "schemas" / "connector.schema.json"
    try:
        report = export_connectors(
            live.connectors, folder, schema=schema, ignore=frozenset(settings.ignore_fields)
        )
    except OSError as exc:
        fail(f"cannot write into {display_path(folder)}: {exc.strerror or exc}")
    for item in report.connectors:
        where = display_path(item.path) if item.path else "-"
        click.echo(f'{item.action:<9} {where}  {item.kind} "{item.name}"')
        for note in item.notes:
            click.echo(f"          note: {note}")
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    counts = ", ".join(
        f"{report.count(a)} {a}" for a in ("created", "updated", "unchanged", "skipped") if report.count(a)
    )
    click.echo(
        f"Exported {len(report.connectors)} connector(s) of {tenant} to {display_path(folder)}: "
        f"{counts or 'nothing to export'}."
    )
    if not report.round_trip:
        click.echo(
            "warning: some connectors break the service's rules or were skipped (see the notes): "
            "exoform validate reports them until they are fixed.",
            err=True,
        )
    if not schema.is_file():
        click.echo(
            f"hint: {display_path(schema)} does not exist yet; run exoform schema to write it.", err=True
        )


# --------------------------------------------------------------------------------------------------------
# drift


def _drift_state(change: Change) -> str:
    return {"create": "missing", "update": "changed", "delete": "unexpected"}[change.action]


def _drift_fields(change: Change) -> list[tuple[str, Any, Any]]:
    """(field, desired, live) for each field that differs."""
    if change.action != "update":
        return []
    before, after = change.before or {}, change.after or {}
    return [(f, after.get(f), before.get(f)) for f in change.fields]


def _headline(change: Change) -> str:
    if change.action == "create":
        return "declared in the files, missing from the tenant"
    if change.action == "delete":
        return f"in the tenant, in no file ({change.reason or 'unmanaged: delete'})"
    text = f"{len(change.fields)} field(s) differ"
    if change.previous_name:
        text += f" (the files rename it from {change.previous_name!r})"
    return text


def drift_json(plan: Plan, outcomes: list[TenantOutcome]) -> dict[str, Any]:
    """The drift report as data: per tenant, its drifted connectors, unmanaged ones, or its error."""
    by_tenant = {t.tenant: t for t in plan.tenants}
    tenants: list[dict[str, Any]] = []
    for outcome in outcomes:
        tplan = by_tenant.get(outcome.tenant)
        if tplan is None:
            tenants.append(
                {
                    "tenant": outcome.tenant,
                    "error": outcome.error,
                    "drift": None,
                    "connectors": [],
                    "unmanaged": [],
                }
            )
            continue
        tenants.append(
            {
                "tenant": tplan.tenant,
                "target": tplan.target,
                "error": None,
                "drift": bool(tplan.changes),
                "connectors": [
                    {
                        "kind": c.kind,
                        "name": c.name,
                        "state": _drift_state(c),
                        "when_changed_utc": c.when_changed_utc,
                        "fields": [{"field": f, "desired": d, "live": v} for f, d, v in _drift_fields(c)],
                    }
                    for c in tplan.changes
                ],
                "unmanaged": [
                    {"kind": u.kind, "name": u.name, "connector_source": u.connector_source}
                    for u in tplan.unmanaged
                ],
            }
        )
    return {
        "drift": plan.has_changes,
        "errors": sum(1 for o in outcomes if o.error),
        "tenants": tenants,
    }


def drift_text(plan: Plan, *, color: bool = False) -> str:
    """The drift report for a terminal."""

    def st(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    out: list[str] = []
    for t in plan.tenants:
        out.append(st(f"Tenant {t.tenant}", "1") + st(f" ({t.target})", "2"))
        if not t.changes:
            out.append("  No drift: the tenant matches the files.")
        for c in t.changes:
            symbol = {"create": "-", "update": "~", "delete": "+"}[c.action]
            out.append(f'  {st(symbol, "33")} {c.kind} "{c.name}": {_headline(c)}')
            if c.when_changed_utc:
                out.append(st(f"      last changed in the tenant: {c.when_changed_utc}", "2"))
            rows = _drift_fields(c)
            width = max((len(f) for f, _, _ in rows), default=0)
            for f, desired, live in rows:
                out.append(f"      {f:<{width}}  files: {show(desired)}")
                out.append(f"      {'':<{width}}  live:  {show(live)}")
        if t.unmanaged:
            names = ", ".join(f'{u.kind} "{u.name}"' for u in t.unmanaged)
            out.append(f"  Unmanaged (not drift, no file declares them): {names}")
        out.append("")
    total = sum(len(t.changes) for t in plan.tenants)
    tenants = sum(1 for t in plan.tenants if t.changes)
    out.append(
        f"Drift: {total} connector(s) in {tenants} of {len(plan.tenants)} tenant(s)."
        if total
        else f"No drift in {len(plan.tenants)} tenant(s)."
    )
    return "\n".join(out) + "\n"


def _markdown_tenant(t: TenantPlan) -> list[str]:
    blocks = [f"### Tenant `{t.tenant}`\n\n{len(t.changes)} connector(s) drifted from the files."]
    for c in t.changes:
        lines = [f"#### {c.kind} <code>{html(c.name)}</code>: {_headline(c)}", ""]
        if c.when_changed_utc:
            lines += [f"Last changed in the tenant: **{c.when_changed_utc}**", ""]
        rows = _drift_fields(c)
        if rows:
            lines += ["| Field | Files (desired) | Tenant (live) |", "|---|---|---|"]
            lines += [f"| `{f}` | {cell(d)} | {cell(v)} |" for f, d, v in rows]
        blocks.append("\n".join(lines).rstrip())
    if t.unmanaged:
        names = ", ".join(f"{u.kind} <code>{html(u.name)}</code>" for u in t.unmanaged)
        blocks.append(f"Unmanaged (not drift; no file declares them): {names}")
    return blocks


def drift_markdown(plan: Plan, *, max_chars: int | None = None) -> str:
    """The drift report as an issue body: deterministic (the same drift gives the same text, so a
    nightly update of an unchanged issue is a no-op) and at most ``max_chars`` (GitHub's limit)."""
    from reconciler.render.markdown import MAX_CHARS, fit_blocks

    limit = max_chars or MAX_CHARS
    drifted = [t for t in plan.tenants if t.changes]
    names = ", ".join(f"`{t.tenant}`" for t in drifted)
    head = [DRIFT_MARKER, "## exoform drift", ""]
    if drifted:
        head += [
            f"{sum(len(t.changes) for t in drifted)} connector(s) in {names} differ from the files.",
            "",
            "Restore the files' state with `exoform plan` and `exoform apply`, or accept the tenant's "
            "state into the files with `exoform export --tenant NAME` and a pull request.",
        ]
    else:
        head.append(f"No drift: {len(plan.tenants)} tenant(s) match the files.")
    text = "\n".join(head) + "\n"
    blocks = [b for t in plan.tenants if t.changes or t.unmanaged for b in _markdown_tenant(t)]
    kept, cut = fit_blocks(text, blocks, limit)
    if kept:
        text += "\n" + "\n\n".join(kept) + "\n"
    if cut:
        text += (
            f"\n> [!NOTE]\n> {cut} more section(s) were cut to fit GitHub's size limit; run "
            "`exoform drift --format json` for the whole report.\n"
        )
    return text


@click.command()
@config_option
@tenant_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True
)
@parallelism_option
@click.option("--no-color", is_flag=True, help="No colour (also when NO_COLOR is set or not a terminal).")
def drift(config_path: Path, tenants: tuple[str, ...], fmt: str, parallelism: int, no_color: bool) -> None:
    """Report connectors that differ from the files: exit 0 no drift, 2 drift, 1 error.

    Each drifted connector shows the fields (files against tenant) and when it last changed in the
    tenant.  Connectors no file declares are listed under unmanaged: report but are not drift.  A tenant
    that cannot be read is reported at the end and makes the exit status 1; the others are still checked.

    \b
    Examples:
      exoform drift
      exoform drift --tenant 'customer-*' --parallelism 16
      exoform drift --tenant contoso --format markdown > issue.md
    """
    the_plan, outcomes = make_plan(config_path, tenants, parallelism)
    if fmt == "json":
        click.echo(json.dumps(drift_json(the_plan, outcomes), indent=2, sort_keys=True))
    elif fmt == "markdown":
        click.echo(drift_markdown(the_plan), nl=False)
    else:
        click.echo(drift_text(the_plan, color=use_color(no_color)), nl=False)
    if report_failures(outcomes):
        sys.exit(EXIT_ERROR)
    if the_plan.has_changes:
        sys.exit(EXIT_CHANGES)


# --------------------------------------------------------------------------------------------------------
# tenants


@click.command()
@config_option
@tenant_option
@click.option("--json", "as_json", is_flag=True, help='Print {"tenant": [...]}: a GitHub Actions matrix.')
def tenants(config_path: Path, tenants: tuple[str, ...], as_json: bool) -> None:
    """List the tenants of exoform.yaml, one per line; --json for a GitHub Actions matrix.

    \b
    In a workflow, one job per tenant:
      matrix: ${{ fromJSON(needs.tenants.outputs.matrix) }}   # from: exoform tenants --json
    """
    from reconciler.errors import ConfigError
    from reconciler.loader import select_tenants

    config = load_config_or_exit(config_path)
    try:
        names = select_tenants(config, list(tenants))
    except ConfigError as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps({"tenant": names}, separators=(",", ":")))
        if len(names) > MATRIX_LIMIT:
            click.echo(
                f"warning: {len(names)} tenants; GitHub Actions runs at most {MATRIX_LIMIT} jobs per matrix: "
                "split them with --tenant globs across several matrix jobs",
                err=True,
            )
    else:
        for name in names:
            click.echo(name)


# --------------------------------------------------------------------------------------------------------
# status


def _yes(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.casefold() == "true")


def connector_status(live: LiveConnector, managed: bool) -> dict[str, Any]:
    """One live connector's health as ``status`` shows it (read-only properties of the Get object)."""
    raw = live.raw
    outbound = live.kind == "OutboundConnector"
    return {
        "kind": live.kind,
        "name": live.name,
        "enabled": bool(getattr(live.connector, "enabled", True)),
        "test_mode": bool(getattr(live.connector, "test_mode", False)) if outbound else None,
        "validated": _yes(raw.get("IsValidated")) if outbound else None,
        "last_validated": (
            str(raw["LastValidationTimestamp"]) if raw.get("LastValidationTimestamp") else None
        )
        if outbound
        else None,
        "last_changed": live.when_changed_utc,
        "managed": managed,
        "connector_source": live.connector_source,
    }


def _managed_keys(outcome_tenant: str, desired: dict[str, TenantDesired]) -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    td = desired.get(outcome_tenant)
    if td is None:
        return keys
    for loaded in td.connectors:
        c = loaded.connector
        keys.add((c.kind, c.name.casefold()))
        keys.update((c.kind, old.casefold()) for old in c.renamed_from)
    return keys


def _status_rows(outcomes: list[TenantOutcome], desired: dict[str, TenantDesired]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for outcome in outcomes:
        if outcome.live is None:
            continue
        managed = _managed_keys(outcome.tenant, desired)
        for live in sorted(outcome.live.connectors, key=lambda c: (c.kind, c.name.casefold())):
            row = connector_status(live, (live.kind, live.name.casefold()) in managed)
            rows.append({"tenant": outcome.tenant, **row})
    return rows


def _flag(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def status_text(rows: list[dict[str, Any]]) -> str:
    """The status table: one line per connector."""
    header = ["TENANT", "KIND", "NAME", "ENABLED", "TEST MODE", "VALIDATED", "LAST CHANGED", "MANAGED"]
    table = [header]
    for r in rows:
        validated = _flag(r["validated"])
        if r["last_validated"]:
            validated += f" ({r['last_validated']})"
        managed = "managed" if r["managed"] else "unmanaged"
        if r["connector_source"] not in ("Default", ""):
            managed += f" [{r['connector_source']}]"
        table.append(
            [
                r["tenant"],
                "inbound" if r["kind"] == "InboundConnector" else "outbound",
                r["name"],
                _flag(r["enabled"]),
                _flag(r["test_mode"]),
                validated,
                r["last_changed"] or "-",
                managed,
            ]
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table]
    if len(table) == 1:
        lines.append("(no connectors)")
    return "\n".join(lines) + "\n"


@click.command()
@config_option
@tenant_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@parallelism_option
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
    fmt: str,
    parallelism: int,
    validate_name: str | None,
    recipients: tuple[str, ...],
) -> None:
    """Show each live connector: enabled, test mode, validated and when, last changed, managed or not.

    Managed means a file declares it.  With --validate, run Validate-OutboundConnector (it sends test mail
    through each smart host) and show the result per smart host: exit 0 when every one succeeded.

    \b
    Examples:
      exoform status
      exoform status --tenant contoso --format json
      exoform status --tenant contoso --validate "To Mimecast" --recipient postmaster@fabrikam.com
    """
    if validate_name is not None:
        _validate(config_path, tenants, validate_name, recipients, fmt)
        return
    if recipients:
        fail("--recipient needs --validate CONNECTOR")
    _, loaded, outcomes = read_tenants(config_path, tenants, parallelism, label="Reading tenants")
    desired = {d.tenant: d for d in loaded}
    rows = _status_rows(outcomes, desired)
    if fmt == "json":
        errors = [{"tenant": o.tenant, "error": o.error} for o in outcomes if o.live is None]
        click.echo(json.dumps({"connectors": rows, "errors": errors}, indent=2, sort_keys=True))
    else:
        click.echo(status_text(rows), nl=False)
    failed = [o for o in outcomes if o.live is None]
    for outcome in failed:
        click.echo(f"error: {outcome.error}", err=True)
    if failed:
        click.echo(f"{len(failed)} of {len(outcomes)} tenant(s) failed.", err=True)
        sys.exit(EXIT_ERROR)


def _validate(
    config_path: Path, tenants: tuple[str, ...], name: str, recipients: tuple[str, ...], fmt: str
) -> None:
    from reconciler.errors import ConfigError, ExoformError
    from reconciler.loader import select_tenants
    from reconciler.model import did_you_mean
    from reconciler.normalize import canon_email
    from reconciler.providers.registry import open_provider
    from reconciler.providers.session import Session

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
        with Session() as session:
            provider = open_provider(tenant, config.tenants[tenant], config, session=session)
            try:
                if "validate_outbound" not in provider.capabilities:
                    fail(f"tenant {tenant}: its provider cannot run Validate-OutboundConnector")
                state = provider.read()
                live = state.find("OutboundConnector", name)
                if live is None:
                    outbound = [c.name for c in state.connectors if c.kind == "OutboundConnector"]
                    fail(f"tenant {tenant} has no outbound connector '{name}'{did_you_mean(name, outbound)}")
                results = provider.validate_outbound(live, addresses)
            finally:
                provider.close()
    except ExoformError as exc:
        fail(str(exc))
    ok = bool(results) and all(str(r.get("Status", "")).casefold() == "succeeded" for r in results)
    if fmt == "json":
        shown = [
            {
                "smart_host": r.get("SmartHost"),
                "status": r.get("Status"),
                "detail": r.get("Detail") or "",
                "timestamp": r.get("Timestamp"),
            }
            for r in results
        ]
        click.echo(
            json.dumps(
                {"tenant": tenant, "connector": live.name, "ok": ok, "results": shown},
                indent=2,
                sort_keys=True,
            )
        )
    else:
        click.echo(
            f'Validate-OutboundConnector "{live.name}" in {tenant} (test mail to {", ".join(addresses)}):'
        )
        width = max((len(str(r.get("SmartHost", ""))) for r in results), default=0)
        for r in results:
            detail = f"  {r['Detail']}" if r.get("Detail") else ""
            click.echo(f"  {r.get('SmartHost', '')!s:<{width}}  {r.get('Status')}{detail}")
        if not results:
            click.echo("  (the service returned no result)")
        click.echo("Validation succeeded." if ok else "Validation failed.")
    if not ok:
        sys.exit(EXIT_ERROR)
