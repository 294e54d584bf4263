"""``exoform plan`` and ``exoform apply``."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.common import (
    EXIT_CHANGES,
    EXIT_ERROR,
    config_option,
    fail,
    load_config_or_exit,
    read_tenants,
    report_failures,
    tenant_option,
    use_color,
    user_errors,
)
from reconciler.severity import SEVERITIES

if TYPE_CHECKING:
    from reconciler.applier import ChangeResult
    from reconciler.plan import Plan
    from reconciler.workflow import TenantOutcome

_print_lock = threading.Lock()


def make_plan(
    config_path: Path, tenants: tuple[str, ...], parallelism: int
) -> tuple[Plan, list[TenantOutcome]]:
    """Load, read and plan the selected tenants; exits on input errors."""
    from reconciler.plan import Plan

    _, _, outcomes = read_tenants(config_path, tenants, parallelism)
    return Plan([o.plan for o in outcomes if o.plan is not None]), outcomes


@click.command()
@config_option
@tenant_option
@click.option(
    "--out", "out", type=click.Path(path_type=Path, dir_okay=False), help="Save the plan (JSON) here."
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True
)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when the plan has changes (0 none, 1 error).")
@click.option("--no-color", is_flag=True, help="No colour (also when NO_COLOR is set or not a terminal).")
@click.option(
    "--parallelism", type=click.IntRange(1, 64), default=8, show_default=True, help="Tenants at once."
)
@click.option(
    "--fail-on",
    type=click.Choice([*SEVERITIES, "never"]),
    default="error",
    show_default=True,
    help="Exit 1 when a posture finding at or above this severity is present.",
)
def plan(
    config_path: Path,
    tenants: tuple[str, ...],
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
      exoform plan --detailed-exitcode   # 0 no changes, 1 error, 2 changes
    """
    from reconciler.plan import plan_key, write_plan
    from reconciler.render import render

    the_plan, outcomes = make_plan(config_path, tenants, parallelism)
    click.echo(render(the_plan, fmt, color=use_color(no_color)), nl=False)
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
    from reconciler.findings import failing

    if threshold == "never":
        return False
    hits = [f for t in the_plan.tenants for f in failing(t.findings, threshold)]
    if hits:
        click.echo(f"error: {len(hits)} posture finding(s) at or above {threshold} (--fail-on)", err=True)
    return bool(hits)


@click.command()
@click.argument("plan_file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@config_option
@tenant_option
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
    """
    from reconciler.plan import Plan, plan_key, read_plan
    from reconciler.render import render_text
    from reconciler.workflow import apply_plan

    color = use_color(no_color)
    if plan_file is not None:
        if tenants:
            fail("--tenant cannot be combined with a plan file: the plan names its tenants")
        with user_errors():
            the_plan = read_plan(plan_file, plan_key())
        config = load_config_or_exit(config_path)
    else:
        config, _, outcomes = read_tenants(config_path, tenants, parallelism)
        the_plan = Plan([o.plan for o in outcomes if o.plan is not None])
        click.echo(render_text(the_plan, color=color), nl=False)
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
                click.echo(f'{tenant}: {verb} {change.kind} "{change.name}"')
            elif result.status == "failed":
                click.echo(
                    f'{tenant}: FAILED {change.action} {change.kind} "{change.name}": {result.message}'
                )

    results = apply_plan(config, the_plan, force=force, parallelism=parallelism, on_result=on_result)
    ok = True
    for r in results:
        if r.error:
            ok = False
            click.echo(f"error: {r.error}", err=True)
            continue
        assert r.report is not None
        if r.report.refused:
            ok = False
            click.echo(f"error: tenant {r.tenant}: the plan was refused, nothing was changed:", err=True)
            for reason in r.report.refused:
                click.echo(f"  {reason}", err=True)
            continue
        rep = r.report
        line = f"Apply for {r.tenant}: {rep.count('applied')} applied"
        if rep.ok:
            click.echo(line + ".")
            continue
        ok = False
        click.echo(f"{line}, {rep.count('failed')} failed, {rep.count('not attempted')} not attempted.")
        for res in rep.results:
            if res.status == "not attempted":
                click.echo(f'  not attempted: {res.change.action} {res.change.kind} "{res.change.name}"')
        click.echo("Run exoform plan to see what remains.")
    if not ok:
        sys.exit(EXIT_ERROR)
