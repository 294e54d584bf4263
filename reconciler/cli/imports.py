"""``exoform import``: connector configurations exported by PowerShell or kept in Microsoft365DSC -> YAML.

The files are read by :mod:`reconciler.adopt.importer` and written by :mod:`reconciler.adopt.exporter` exactly
as ``exoform export`` writes them. Every file is read before anything is written: a file that cannot be read
(located problems, one a line) stops the import with nothing written. Every connector found is reported:
written (created / updated / unchanged) with what was left out of it, or skipped with why. The same connector
found twice is imported once, from where it is found first. Untrusted text (names, properties, paths,
messages) is escaped before it reaches the terminal.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from reconciler.cli.common import EXIT_ERROR, config_option, fail, load_config_or_exit

if TYPE_CHECKING:
    from reconciler.adopt.exporter import ExportReport
    from reconciler.adopt.importer import FileResult, Imported


def shown(text: str) -> str:
    """``text`` safe for a terminal or CI log: every non-printable character as a Python escape."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def _variables(pairs: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip().lstrip("$"):
            fail(f"--var {shown(pair)}: expected NAME=VALUE (like OrganizationName=contoso.onmicrosoft.com)")
        values[name.strip()] = value
    return values


@click.command("import")
@config_option
@click.argument(
    "files", nargs=-1, required=True, metavar="FILE...", type=click.Path(path_type=Path, dir_okay=False)
)
@click.option("--tenant", required=True, help="The tenant whose connectors folder receives the files.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to write into. Default: the tenant's connectors folder.",
)
@click.option(
    "--from",
    "source",
    type=click.Choice(["auto", "json", "clixml", "m365dsc"]),
    default="auto",
    show_default=True,
    help="The files' format; auto tells JSON, CLIXML and DSC scripts apart by their content.",
)
@click.option(
    "--var",
    "variables",
    multiple=True,
    metavar="NAME=VALUE",
    help="Value of a DSC reference like $OrganizationName or $ConfigurationData.NonNodeData.X (repeatable).",
)
def import_command(
    config_path: Path,
    files: tuple[Path, ...],
    tenant: str,
    out: Path | None,
    source: str,
    variables: tuple[str, ...],
) -> None:
    """Write connectors from PowerShell exports or Microsoft365DSC configurations as YAML files.

    FILE is ConvertTo-Json output of Get-InboundConnector / Get-OutboundConnector (Windows PowerShell 5.1
    or PowerShell 7, a report that embeds them), an Export-Clixml file, or a Microsoft365DSC configuration
    (.ps1) with EXOInboundConnector / EXOOutboundConnector blocks.  The files are written exactly as
    exoform export writes them; no tenant is contacted.

    \b
    Examples:
      exoform import connectors.json --tenant contoso
      exoform import inbound.xml outbound.xml --tenant contoso --out adopted/contoso
      exoform import M365TenantConfig.ps1 --tenant contoso --var OrganizationName=contoso.onmicrosoft.com
    """
    from reconciler.adopt.exporter import Adopted, export_connectors, schema_path
    from reconciler.adopt.importer import Source, read_file
    from reconciler.model import KINDS, did_you_mean
    from reconciler.yamlio import display_path

    values = _variables(variables)
    config = load_config_or_exit(config_path)
    settings = config.tenants.get(tenant)
    if settings is None:
        fail(f"unknown tenant '{shown(tenant)}'{did_you_mean(tenant, list(config.tenants))}")
    for path in files:
        kind, slash, _ = str(path).partition("/")
        if slash and not path.exists() and kind.casefold() in {k.casefold() for k in KINDS}:
            fail(
                f"{shown(str(path))} is not a file but a connector of a tenant: import reads files that "
                f"PowerShell or Microsoft365DSC wrote; to write a tenant's connector as a file, run "
                f"exoform export --tenant {shown(tenant)} --target {shlex.quote(shown(str(path)))}"
            )
    folder = out if out is not None else config.path(settings.folders()[-1])
    wanted = None if source == "auto" else cast("Source", source)
    results = [read_file(path, display_path(path), wanted, values) for path in files]
    problems = [p for r in results for p in r.problems]
    if problems:
        for problem in problems:
            click.echo(shown(str(problem)), err=True)
        failed = sum(1 for r in results if r.problems)
        fail(f"{failed} of {len(results)} file(s) could not be read; nothing was written")

    chosen, skipped = _select(results)
    adopted = [
        Adopted(c.connector, c.connector_source or "Default")
        for c in chosen.values()
        if c.connector is not None
    ]
    schema = schema_path(config.base_dir)
    try:
        report = export_connectors(
            adopted, folder, schema=schema, ignore=frozenset(settings.ignore_fields), whole_tenant=False
        )
    except OSError as exc:
        fail(f"cannot write into {shown(display_path(folder))}: {exc.strerror or exc}")

    incomplete, whole = _print_written(report, chosen)
    _print_skipped(skipped)
    for note in report.notes:
        click.echo(shown(f"note: {note}"), err=True)
    written = [c for c in report.connectors if c.action != "skipped"]
    counts = ", ".join(
        f"{report.count(a)} {a}" for a in ("created", "updated", "unchanged") if report.count(a)
    )
    not_written = report.count("skipped") + len(skipped)
    click.echo(
        shown(
            f"Imported {len(written)} connector(s) from {len(files)} file(s) into "
            f"{display_path(folder)}: {counts or 'nothing written'}; {not_written} skipped."
        )
    )
    if incomplete:
        click.echo(
            f"warning: {incomplete} connector(s) were not imported whole or break the service's rules (see "
            "above): exoform validate or plan shows them until the files say what the tenant holds.",
            err=True,
        )
    if not schema.is_file():
        click.echo(
            shown(f"hint: {display_path(schema)} does not exist yet; run exoform schema to write it."),
            err=True,
        )
    if not whole:
        click.echo(
            "error: no connector was imported whole and valid"
            + (" (the files above hold none)" if not written else "; fix the files above, or export again")
            + ": exoform import failed",
            err=True,
        )
        sys.exit(EXIT_ERROR)


def _select(results: list[FileResult]) -> tuple[dict[tuple[str, str], Imported], list[tuple[Imported, str]]]:
    """The connectors to write, by (kind, folded name), first found first; and the skipped ones with why
    (the reader's reason, or the earlier place the same connector is imported from)."""
    from reconciler.yamlio import display_path

    chosen: dict[tuple[str, str], Imported] = {}
    skipped: list[tuple[Imported, str]] = []
    for result in results:
        if not result.found:
            click.echo(f"warning: {shown(display_path(result.path))}: no connector found in it", err=True)
        for item in result.found:
            if item.connector is None:
                skipped.append((item, item.skipped or ""))
                continue
            key = (item.connector.KIND, item.connector.name.casefold())
            first = chosen.get(key)
            if first is not None:
                skipped.append((item, f"the same connector is imported from {first.where}"))
                continue
            chosen[key] = item
    return chosen, skipped


def _print_written(report: ExportReport, chosen: dict[tuple[str, str], Imported]) -> tuple[int, int]:
    """Print each written connector with what was left out of it; the number not imported whole or
    breaking the service's rules, and the number written whole and valid."""
    from reconciler.adopt.importer import refused_values
    from reconciler.model import rule_violations
    from reconciler.yamlio import display_path

    incomplete = whole = 0
    for written in report.connectors:
        item = chosen[(written.kind, written.name.casefold())]
        assert item.connector is not None
        where = display_path(written.path) if written.path else "-"
        click.echo(shown(f'{written.action:<9} {where}  {written.kind} "{written.name}"'))
        lines = [f"from: {item.where}"]
        if item.unknown:
            lines.append("ignored, not connector settings exoform knows: " + ", ".join(item.unknown))
        lines += [f"not imported: {d}" for d in item.dropped]
        lines += [f"default: {d}" for d in item.defaults]
        refused = refused_values(item.connector)
        lines += [f"exoform validate refuses: {r}" for r in refused]
        lines += [f"note: {n}" for n in written.notes]
        for line in lines:
            click.echo(shown(f"          {line}"))
        if item.dropped or refused or rule_violations(item.connector) or written.action == "skipped":
            incomplete += 1
        else:
            whole += 1
    return incomplete, whole


def _print_skipped(skipped: list[tuple[Imported, str]]) -> None:
    for item, why in skipped:
        name = f'"{item.name}"' if item.name else "(no name)"
        click.echo(shown(f"skipped   {item.kind or 'connector'} {name}"))
        click.echo(shown(f"          from: {item.where}"))
        click.echo(shown(f"          why: {why}"))
        for dropped in item.dropped:
            click.echo(shown(f"          not imported: {dropped}"))
