"""``exoform plan``, ``exoform apply`` and ``exoform show``.

Every selected tenant is in the plan each format prints, failed ones with their error
(:func:`reconciler.workflow.plan_of`); a plan with a failed tenant exits 1 and is never saved.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler.cli.common import (
    EXIT_CHANGES,
    EXIT_ERROR,
    config_option,
    echo_error,
    fail,
    fail_on_option,
    load_config_or_exit,
    read_tenants,
    report_failures,
    target_option,
    tenant_option,
    use_color,
    user_errors,
)
from reconciler.escape import safe

if TYPE_CHECKING:
    from reconciler.desired.config import ExoformConfig
    from reconciler.desired.connectors import TenantDesired
    from reconciler.plan import Plan
    from reconciler.reconcile.applier import ChangeResult
    from reconciler.workflow import TenantOutcome

_print_lock = threading.Lock()


def make_plan(
    config_path: Path, tenants: tuple[str, ...], parallelism: int, targets: tuple[str, ...] = ()
) -> tuple[Plan, list[TenantOutcome]]:
    """Load, read and plan the selected tenants within ``targets`` (failed ones in the plan with their
    error); exits on input errors.  Only the plans are kept (not the live objects read), so memory grows
    with the report, not with the tenants read."""
    plan, outcomes, _, _ = _make_plan(config_path, tenants, parallelism, targets)
    return plan, outcomes


def _make_plan(
    config_path: Path, tenants: tuple[str, ...], parallelism: int, targets: tuple[str, ...] = ()
) -> tuple[Plan, list[TenantOutcome], ExoformConfig, list[TenantDesired]]:
    from reconciler.workflow import plan_of

    config, desired, outcomes = read_tenants(
        config_path, tenants, parallelism, targets=targets, keep_live=False
    )
    return plan_of(outcomes), outcomes, config, desired


def _render(the_plan: Plan, fmt: str, color: bool) -> str:
    """The plan in ``fmt`` (not sarif); the Markdown names the commit from ``GITHUB_SHA`` when set."""
    from reconciler.render import render
    from reconciler.render.markdown import render_markdown

    if fmt == "markdown":
        return render_markdown(the_plan, commit=os.environ.get("GITHUB_SHA") or None)
    return render(the_plan, fmt, color=color)


def _plan_sarif(the_plan: Plan, config: ExoformConfig, desired: list[TenantDesired]) -> dict[str, Any]:
    from reconciler.cli.validate import locate_findings, posture_rules
    from reconciler.render.sarif import sarif_log

    by_tenant = {d.tenant: d for d in desired}
    items = [
        item
        for t in the_plan.tenants
        if t.tenant in by_tenant
        for item in locate_findings(config, by_tenant[t.tenant], t.findings)
    ]
    return sarif_log(items, posture_rules(), version=the_plan.exoform_version)


@click.command()
@config_option
@tenant_option
@target_option
@click.option(
    "--out", "out", type=click.Path(path_type=Path, dir_okay=False), help="Save the plan (JSON) here."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown", "sarif"]),
    default="text",
    show_default=True,
    help="sarif: the posture findings as SARIF 2.1.0, located in the connector files.",
)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when the plan has changes (0 none, 1 error).")
@click.option("--no-color", is_flag=True, help="No colour (also when NO_COLOR is set or not a terminal).")
@click.option(
    "--parallelism", type=click.IntRange(1, 64), default=8, show_default=True, help="Tenants at once."
)
@fail_on_option
def plan(
    config_path: Path,
    tenants: tuple[str, ...],
    targets: tuple[str, ...],
    out: Path | None,
    fmt: str,
    detailed_exitcode: bool,
    no_color: bool,
    parallelism: int,
    fail_on: str,
) -> None:
    """Show what apply would change in each tenant.

    \b
    Examples:
      exoform plan
      exoform plan --tenant contoso --out plan.json
      exoform plan --format markdown > comment.md
      exoform plan --format sarif > exoform.sarif
      exoform plan --detailed-exitcode   # 0 no changes, 1 error, 2 changes
      exoform plan --tenant contoso --target 'InboundConnector/From Mimecast*'
    """
    from reconciler.plan import plan_key, write_plan

    the_plan, outcomes, config, desired = _make_plan(config_path, tenants, parallelism, targets)
    if fmt == "sarif":
        click.echo(json.dumps(_plan_sarif(the_plan, config, desired), indent=2))
    else:
        color = use_color(no_color)
        click.echo(_render(the_plan, fmt, color), nl=False, color=color)
    failed = report_failures(outcomes)
    if out is not None:
        if failed:
            click.echo(f"error: no plan file written to {out}: not every tenant could be planned", err=True)
        else:
            write_plan(the_plan, out, plan_key())
            click.echo(f"Plan saved to {out}. Apply it with: exoform apply {out}", err=True)
    if failed or _fails_posture(the_plan, fail_on):
        sys.exit(EXIT_ERROR)
    if detailed_exitcode and the_plan.has_changes:
        sys.exit(EXIT_CHANGES)


def _fails_posture(the_plan: Plan, threshold: str) -> bool:
    from reconciler.posture.findings import failing

    if threshold == "never":
        return False
    # The files' findings only: a risk already in the tenant is shown (marked live) and is drift, but it
    # is not the change under review (docs/posture.md).
    hits = [f for t in the_plan.tenants for f in failing(t.findings, threshold) if f.source == "files"]
    if hits:
        click.echo(f"error: {len(hits)} posture finding(s) at or above {threshold} (--fail-on)", err=True)
    return bool(hits)


@click.command()
@click.argument("plan_file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@config_option
@tenant_option
@target_option
@click.option("--force", is_flag=True, help="Apply a plan marked unsafe (too many deletes or changes).")
@click.option("--auto-approve", is_flag=True, help="Without PLAN_FILE: apply without asking.")
@click.option("--no-color", is_flag=True, help="No colour.")
@click.option(
    "--parallelism", type=click.IntRange(1, 64), default=8, show_default=True, help="Tenants at once."
)
def apply(
    plan_file: Path | None,
    config_path: Path,
    tenants: tuple[str, ...],
    targets: tuple[str, ...],
    force: bool,
    auto_approve: bool,
    no_color: bool,
    parallelism: int,
) -> None:
    """Apply a saved plan exactly, or refuse it when the tenant moved.

    Without PLAN_FILE: plan, show the plan and ask for "yes" (on a terminal), or apply with --auto-approve.

    \b
    Examples:
      exoform plan --out plan.json && exoform apply plan.json
      exoform apply --tenant contoso            # asks for yes
      exoform apply --auto-approve              # CI without a saved plan
      exoform apply --tenant contoso --target 'OutboundConnector/To Mimecast'
    """
    from reconciler.cli.common import new_session
    from reconciler.plan import plan_key, read_plan
    from reconciler.render import render_text
    from reconciler.workflow import apply_plan, plan_of

    color = use_color(no_color)
    if plan_file is not None:
        if tenants or targets:
            fail(
                "--tenant and --target cannot be combined with a plan file: the plan names its tenants "
                "and targets"
            )
        with user_errors():
            the_plan = read_plan(plan_file, plan_key())
        config = load_config_or_exit(config_path)
    else:
        config, _, outcomes = read_tenants(
            config_path, tenants, parallelism, targets=targets, keep_live=False
        )
        the_plan = plan_of(outcomes)
        click.echo(render_text(the_plan, color=color), nl=False, color=color)
        if report_failures(outcomes):
            sys.exit(EXIT_ERROR)
        if not the_plan.has_changes:
            return
        if not auto_approve:
            if not sys.stdin.isatty():
                fail(
                    "not a terminal: pass --auto-approve to apply without confirmation, or apply a saved plan"
                )
            answer = click.prompt(
                "Apply these changes? Only 'yes' is accepted", default="", show_default=False
            )
            if answer.strip() != "yes":
                click.echo("Apply cancelled.")
                sys.exit(EXIT_ERROR)

    def on_result(tenant: str, result: ChangeResult) -> None:
        change = result.change
        verb = {"create": "created", "update": "updated", "delete": "deleted"}[change.action]
        with _print_lock:
            if result.status == "applied":
                click.echo(f'{safe(tenant)}: {verb} {change.kind} "{safe(change.name)}"')
            elif result.status == "failed":
                click.echo(
                    f'{safe(tenant)}: FAILED {change.action} {change.kind} "{safe(change.name)}": '
                    f"{safe(result.message)}"
                )

    results = apply_plan(
        config,
        the_plan,
        force=force,
        parallelism=parallelism,
        new_session=new_session(),
        on_result=on_result,
    )
    ok = True
    for r in results:
        if r.error:
            ok = False
            echo_error(r.error)
            continue
        assert r.report is not None
        if r.report.refused:
            ok = False
            echo_error(f"tenant {r.tenant}: the plan was refused, nothing was changed:")
            for reason in r.report.refused:
                click.echo(f"  {safe(reason)}", err=True)
            continue
        rep = r.report
        line = f"Apply for {safe(r.tenant)}: {rep.count('applied')} applied"
        if rep.ok:
            click.echo(line + ".")
            continue
        ok = False
        click.echo(f"{line}, {rep.count('failed')} failed, {rep.count('not attempted')} not attempted.")
        for res in rep.results:
            if res.status == "not attempted":
                change = res.change
                click.echo(f'  not attempted: {change.action} {change.kind} "{safe(change.name)}"')
        click.echo("Run exoform plan to see what remains.")
    if not ok:
        sys.exit(EXIT_ERROR)


@click.command()
@click.argument("plan_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True
)
@click.option("--no-color", is_flag=True, help="No colour (also when NO_COLOR is set or not a terminal).")
def show(plan_file: Path, fmt: str, no_color: bool) -> None:
    """Render a saved plan file (the artifact a CI job uploaded) without reading any tenant.

    The file is verified as apply verifies it (digest, format version); an edited or foreign file is an
    error (exit 1).

    \b
    Examples:
      exoform show plan.json
      exoform show plan.json --format markdown > comment.md
    """
    from reconciler.plan import read_plan

    with user_errors():
        the_plan = read_plan(plan_file)
    color = use_color(no_color)
    click.echo(_render(the_plan, fmt, color), nl=False, color=color)
