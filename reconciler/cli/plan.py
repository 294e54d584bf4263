"""``exoform plan``, ``exoform apply`` and ``exoform show``.

Every selected tenant is in the plan each format prints, failed ones with their error
(:func:`reconciler.workflow.plan_of`); a plan with a failed tenant exits 1 and is never saved.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler.cli.common import (
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
    from reconciler.desired.revision import BaseDesired
    from reconciler.plan import Plan
    from reconciler.reconcile.applier import ChangeResult
    from reconciler.render import Options
    from reconciler.render.sarif import Located
    from reconciler.workflow import TenantOutcome

_print_lock = threading.Lock()


def make_plan(
    config_path: Path,
    tenants: tuple[str, ...],
    parallelism: int,
    targets: tuple[str, ...] = (),
    *,
    unused: bool = False,
) -> tuple[Plan, list[TenantOutcome]]:
    """Load, read and plan the selected tenants within ``targets`` (failed ones in the plan with their
    error); exits on input errors.  Only the plans are kept (not the live objects read), so memory grows
    with the report, not with the tenants read.  ``unused``: see :func:`read_tenants`."""
    plan, outcomes, _, _ = _make_plan(config_path, tenants, parallelism, targets, unused=unused)
    return plan, outcomes


def load_base(config_path: Path, ref: str, desired: list[TenantDesired]) -> BaseDesired:
    """The desired state of the run's tenants at the git revision ``ref`` (``plan --base``); exits 1 when
    ``ref`` is refused or git cannot give the files at it."""
    from reconciler.desired.revision import load_at

    with user_errors():
        base = load_at(config_path, ref, [d.tenant for d in desired])
    if base.note:
        click.echo(f"note: {safe(base.note)}", err=True)
    return base


def _make_plan(
    config_path: Path,
    tenants: tuple[str, ...],
    parallelism: int,
    targets: tuple[str, ...] = (),
    base: str | None = None,
    *,
    unused: bool = False,
) -> tuple[Plan, list[TenantOutcome], ExoformConfig, list[TenantDesired]]:
    from reconciler.workflow import plan_of

    config, desired, outcomes, marked = read_tenants(
        config_path,
        tenants,
        parallelism,
        targets=targets,
        keep_live=False,
        base=base,
        unused=unused,
    )
    for o in outcomes:
        if o.base_problem:
            click.echo(f"warning: {safe(o.base_problem)}", err=True)
    the_plan = plan_of(outcomes, config.max_tenants_changed, marked)
    return the_plan, outcomes, config, desired


def _plan_located(the_plan: Plan, config: ExoformConfig, desired: list[TenantDesired]) -> list[Located]:
    """The plan's findings located in the files (what its SARIF reports)."""
    from reconciler.cli.validate import locate_findings

    by_tenant = {d.tenant: d for d in desired}
    return [
        item
        for t in the_plan.tenants
        if t.tenant in by_tenant
        for item in locate_findings(config, by_tenant[t.tenant], t.findings)
    ]


def _options(no_color: bool, **extra: Any) -> Options:
    """Render options: colour as the terminal and ``--no-color`` say; Markdown names ``GITHUB_SHA``."""
    from reconciler.render import Options

    return Options(color=use_color(no_color), commit=os.environ.get("GITHUB_SHA") or None, **extra)


def _check_group(group: bool, fmt: str) -> None:
    """``--group`` is for text (Markdown is always grouped); JSON and SARIF stay per tenant."""
    if group and fmt in ("json", "sarif"):
        raise click.UsageError(
            f"--group applies to text (Markdown is always grouped); {fmt} stays per tenant"
        )


@click.command()
@config_option
@tenant_option
@target_option
@click.option(
    "--out", "out", type=click.Path(path_type=Path, dir_okay=False), help="Save the plan (JSON) here."
)
@click.option(
    "--sarif",
    "sarif_out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also save the posture findings as SARIF 2.1.0 here, from the same read of each tenant.",
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
@click.option(
    "--group",
    is_flag=True,
    help="text: show each change shared by several tenants once, with its tenants (Markdown always does).",
)
@click.option(
    "--base",
    "base",
    metavar="REF",
    help="A git revision (a PR's base): mark each change as from the files or a repair of a change "
    "made outside exoform.",
)
def plan(
    config_path: Path,
    tenants: tuple[str, ...],
    targets: tuple[str, ...],
    out: Path | None,
    sarif_out: Path | None,
    fmt: str,
    detailed_exitcode: bool,
    no_color: bool,
    parallelism: int,
    fail_on: str,
    group: bool,
    base: str | None,
) -> None:
    """Show what apply would change in each tenant.

    With --base REF the files at that git revision are planned too, against the same read of each
    tenant: a change is marked a repair when the live connector differs from what REF's files declared
    (someone changed it outside exoform), and both when the files change it as well.

    \b
    Examples:
      exoform plan
      exoform plan --tenant contoso --out plan.json
      exoform plan --group                 # a fleet: each shared change once, with its tenants
      exoform plan --format markdown > comment.md
      exoform plan --format sarif > exoform.sarif
      exoform plan --format markdown --sarif exoform.sarif   # both from one read of each tenant
      exoform plan --detailed-exitcode   # 0 no changes, 1 error, 2 changes
      exoform plan --tenant contoso --target 'InboundConnector/From Mimecast*'
      exoform plan --base origin/main --format markdown   # repairs apart from the PR's changes
    """
    from reconciler.plan import plan_key, write_plan
    from reconciler.render import render
    from reconciler.verdicts import plan_exit, posture_failures
    from reconciler.yamlio import write_atomic

    _check_group(group, fmt)
    the_plan, outcomes, config, desired = _make_plan(config_path, tenants, parallelism, targets, base)
    opts = _options(no_color, fail_on=fail_on, group=group)
    sarif = fmt == "sarif" or sarif_out is not None
    located = _plan_located(the_plan, config, desired) if sarif else []
    data = located if fmt == "sarif" else the_plan
    click.echo(render("plan", fmt, data, opts), nl=False, color=opts.color)
    failed = report_failures(outcomes)
    saved = True
    if out is not None:
        where = safe(str(out))
        done = f"Plan saved to {where}. Apply it with: exoform apply {where}"
        saved &= _save(out, "plan file", failed, lambda: write_plan(the_plan, out, plan_key()), done)
    if sarif_out is not None:
        # A log missing a failed tenant's findings would close their alerts in code scanning.
        done = f"SARIF log saved to {safe(str(sarif_out))}."
        log = lambda: write_atomic(sarif_out, render("plan", "sarif", located, opts))  # noqa: E731
        saved &= _save(sarif_out, "SARIF log", failed, log, done)
    hits = posture_failures(the_plan, fail_on)
    if hits:
        click.echo(f"error: {len(hits)} posture finding(s) at or above {fail_on} (--fail-on)", err=True)
    sys.exit(plan_exit(the_plan, fail_on, detailed=detailed_exitcode) if saved else EXIT_ERROR)


def _save(path: Path, what: str, failed: bool, write: Callable[[], object], done: str) -> bool:
    """Write ``what`` to ``path`` with ``write`` and say ``done``, but not when a tenant ``failed``; an
    error line, never a traceback, when it cannot be written.  True when it was written."""
    where = safe(str(path))
    if failed:
        click.echo(f"error: no {what} written to {where}: not every tenant could be planned", err=True)
        return False
    try:
        write()
    except OSError as exc:
        click.echo(f"error: cannot write the {what} to {where}: {exc.strerror or exc}", err=True)
        return False
    click.echo(done, err=True)
    return True


@click.command()
@click.argument("plan_file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@config_option
@tenant_option
@target_option
@click.option("--force", is_flag=True, help="Apply a plan marked unsafe (too many deletes or changes).")
@click.option("--auto-approve", is_flag=True, help="Without PLAN_FILE: apply without asking.")
@click.option(
    "--ring",
    type=click.IntRange(0),
    help="With PLAN_FILE: apply only the tenants of this ring, once earlier rings show their changes.",
)
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
    ring: int | None,
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
      exoform apply plan.json --ring 0 && exoform apply plan.json --ring 1
    """
    from reconciler.cli.common import new_session
    from reconciler.plan import plan_key, read_plan
    from reconciler.render import render
    from reconciler.verdicts import apply_exit
    from reconciler.workflow import apply_plan

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
        if ring is not None:
            fail(
                "--ring needs a plan file: it applies one ring of a reviewed plan "
                "(exoform apply plan.json --ring N)"
            )
        the_plan, outcomes, config, _ = _make_plan(config_path, tenants, parallelism, targets)
        click.echo(render("plan", "text", the_plan, _options(no_color)), nl=False, color=color)
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
        ring=ring,
    )
    if ring is not None and not results:
        click.echo(f"No tenant of the plan is in ring {ring}.")
    for r in results:
        if r.error:
            echo_error(r.error)
            continue
        assert r.report is not None
        if r.report.refused:
            echo_error(f"tenant {r.tenant}: the plan was refused, nothing was changed:")
            for reason in r.report.refused:
                click.echo(f"  {safe(reason)}", err=True)
            continue
        rep = r.report
        line = f"Apply for {safe(r.tenant)}: {rep.count('applied')} applied"
        if rep.ok:
            click.echo(line + ".")
            continue
        click.echo(f"{line}, {rep.count('failed')} failed, {rep.count('not attempted')} not attempted.")
        for res in rep.results:
            if res.status == "not attempted":
                change = res.change
                click.echo(f'  not attempted: {change.action} {change.kind} "{safe(change.name)}"')
        click.echo("Run exoform plan to see what remains.")
    sys.exit(apply_exit(results))


@click.command()
@click.argument("plan_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True
)
@click.option("--no-color", is_flag=True, help="No colour (also when NO_COLOR is set or not a terminal).")
@click.option(
    "--group", is_flag=True, help="text: show each change shared by several tenants once, with its tenants."
)
def show(plan_file: Path, fmt: str, no_color: bool, group: bool) -> None:
    """Render a saved plan file (the artifact a CI job uploaded) without reading any tenant.

    The file is verified as apply verifies it (digest, format version); an edited or foreign file is an
    error (exit 1).  A plan made with EXOFORM_PLAN_KEY is verified with the key when it is set; without
    it the plan is shown under an "integrity not verified" banner (on stderr for json).

    \b
    Examples:
      exoform show plan.json
      exoform show plan.json --group         # each shared change once, with its tenants
      exoform show plan.json --format markdown > comment.md
      EXOFORM_PLAN_KEY=... exoform show plan.json   # verifies a keyed plan
    """
    from reconciler.plan import UNVERIFIED, plan_key, read_plan_to_show
    from reconciler.render import render

    _check_group(group, fmt)
    with user_errors():
        the_plan, verified = read_plan_to_show(plan_file, plan_key())
    banner = None if verified else UNVERIFIED
    if banner and fmt == "json":
        click.echo(f"warning: {banner}", err=True)
    opts = _options(no_color, banner=banner, group=group)
    click.echo(render("plan", fmt, the_plan, opts), nl=False, color=opts.color)
