"""``exoform accept``: a tenant's drift written back into the files (see :mod:`reconciler.adopt.accept`)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from reconciler.cli.common import (
    config_option,
    fail,
    load_config_or_exit,
    new_session,
    parse_targets_or_exit,
    target_option,
    user_errors,
)
from reconciler.escape import safe


@click.command()
@config_option
@click.option("--tenant", required=True, help="The tenant whose drift to accept (its name in exoform.yaml).")
@target_option
@click.option("--dry-run", is_flag=True, help="Show what would be written where; write nothing.")
def accept(config_path: Path, tenant: str, targets: tuple[str, ...], dry_run: bool) -> None:
    """Write a tenant's live values back where its desired values come from, so it plans no change.

    For every field that drifted (of the --target connectors only, when given): a value that is exactly
    ${vars.NAME} sets NAME in the tenant's vars in exoform.yaml (on the tenant, never in defaults:); a
    literal in a file only this tenant reads is edited in place (comments and key order kept); in a
    shared folder, a literal, an expression (prefix-${vars.x}) or a variable that also fills unchanged
    fields becomes a kind: Override in the tenant's own (last) folder.  Such an expression or variable in
    the tenant's own files is refused, located, and nothing is written.  A connector missing live, declared
    absent, or live but in no file is not accepted: it is listed with what to do instead.

    \b
    Examples:
      exoform accept --tenant contoso --dry-run
      exoform accept --tenant contoso --target 'InboundConnector/From mail filter'
    """
    from reconciler.adopt.accept import accept as accept_drift
    from reconciler.desired.connectors import load_tenant
    from reconciler.errors import ExoformError
    from reconciler.model import did_you_mean
    from reconciler.reconcile.planner import plan_tenant
    from reconciler.reconcile.targeting import unmatched
    from reconciler.workflow import read_tenant

    chosen = parse_targets_or_exit(targets)
    config = load_config_or_exit(config_path)
    if tenant not in config.tenants:
        fail(f"unknown tenant '{tenant}'{did_you_mean(tenant, list(config.tenants))}")
    with user_errors():
        desired = load_tenant(config, tenant)
    try:
        live = read_tenant(config, tenant, new_session=new_session())
        plan = plan_tenant(
            tenant,
            desired.settings,
            [c.connector for c in desired.connectors],
            live,
            chosen,
            absent=desired.absent,
            sources=desired.sources(),
        )
    except ExoformError as exc:
        fail(str(exc))
    seen = [(c.kind, c.name) for c in live.connectors]
    seen += [(c.connector.kind, c.connector.name) for c in desired.connectors]
    for target in unmatched(chosen, seen):
        click.echo(f"warning: --target {json.dumps(target.text)} matches no connector of {tenant}", err=True)
    with user_errors():
        report = accept_drift(config, config_path, desired, plan, live, chosen, dry_run=dry_run)
    verb = "would write" if dry_run else "wrote"
    for w in report.written:
        click.echo(f'{verb} {safe(w.where())}  {w.kind} "{safe(w.name)}" {w.field}: {safe(w.how)}')
    for note in report.notes:
        click.echo(f"note: {safe(note)}")
    fields = len(report.written)
    connectors = len({(w.kind, w.name) for w in report.written})
    if not fields:
        click.echo(f"Nothing to accept for tenant {safe(tenant)}: no field of a declared connector drifted.")
    elif dry_run:
        click.echo(
            f"Dry run: {fields} field(s) of {connectors} connector(s) of {safe(tenant)}; nothing written."
        )
    else:
        click.echo(
            f"Accepted {fields} field(s) of {connectors} connector(s) of {safe(tenant)}: the files now hold "
            "the tenant's live values (it plans no change for them). Review and commit them."
        )
