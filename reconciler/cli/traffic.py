"""``exoform traffic``: which connectors carry mail, from message trace (docs/monitoring.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from reconciler.cli.common import (
    EXIT_ERROR,
    config_option,
    echo_error,
    fail,
    load_config_or_exit,
    parallelism_option,
    parse_targets_or_exit,
    target_option,
    tenant_option,
    use_color,
)


@click.command()
@config_option
@tenant_option
@target_option
@click.option(
    "--since",
    default="2d",
    show_default=True,
    help="The window, ending now: 2d, 48h, 30m (at most 90d, what message trace keeps).",
)
@click.option(
    "--budget",
    type=click.IntRange(1, 99),
    default=None,
    help="Message trace requests per tenant (default 60; the service accepts 100 in 5 minutes).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True
)
@parallelism_option
@click.option("--no-color", is_flag=True, help="No colour (also when NO_COLOR is set or not a terminal).")
def traffic(
    config_path: Path,
    tenants: tuple[str, ...],
    targets: tuple[str, ...],
    since: str,
    budget: int | None,
    fmt: str,
    parallelism: int,
    no_color: bool,
) -> None:
    """Show per connector the mail message trace attributes to it: messages, first and last seen, top
    sender (inbound) or recipient (outbound) domains, and how each figure was obtained.

    Observed figures come from detail events naming the connector; where volume is high a sample is read
    and extrapolated (the report says what it sampled); without detail events, inbound figures are
    estimated from summary rows whose FromIP is in the connector's sender_ip_addresses.  A tenant whose
    trace cannot be read whole shows its figures as unknown, never as no traffic, and the exit status is 1.

    \b
    Examples:
      exoform traffic
      exoform traffic --tenant contoso --since 7d --format markdown > traffic.md
      exoform traffic --target 'InboundConnector/From Mimecast*' --format json
    """
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime

    from reconciler.desired.loader import select_tenants
    from reconciler.errors import ConfigError, ExoformError
    from reconciler.monitor.traffic import DEFAULT_BUDGET, TenantTraffic, parse_since, tenant_traffic
    from reconciler.providers.registry import open_provider
    from reconciler.providers.session import Session
    from reconciler.render.traffic import failed, traffic_json, traffic_markdown, traffic_text

    try:
        span = parse_since(since)
    except ValueError as exc:
        fail(f"--since: {exc}")
    chosen = parse_targets_or_exit(targets)
    config = load_config_or_exit(config_path)
    try:
        names = select_tenants(config, list(tenants))
    except ConfigError as exc:
        fail(str(exc))
    end = datetime.now(UTC)
    start = end - span

    def one(session: Session, tenant: str) -> TenantTraffic:
        try:
            provider = open_provider(tenant, config.tenants[tenant], config, session=session)
        except ExoformError as exc:
            return TenantTraffic(tenant=tenant, start=start, end=end, status="failed", error=str(exc))
        try:
            return tenant_traffic(
                provider, start=start, end=end, budget=budget or DEFAULT_BUDGET, targets=chosen
            )
        finally:
            provider.close()

    with Session() as session, ThreadPoolExecutor(max_workers=parallelism) as pool:
        reports = list(pool.map(lambda t: one(session, t), names))
    if fmt == "json":
        click.echo(json.dumps(traffic_json(reports), indent=2, sort_keys=True))
    elif fmt == "markdown":
        click.echo(traffic_markdown(reports), nl=False)
    else:
        color = use_color(no_color)
        click.echo(traffic_text(reports, color=color), nl=False, color=color)
    bad = [r for r in reports if r.status != "complete"]
    for report in bad:
        echo_error(f"{report.tenant}: message trace {report.status}: {report.error or ''}")
    if failed(reports):
        click.echo(f"{len(bad)} of {len(reports)} tenant(s) could not be measured whole.", err=True)
        sys.exit(EXIT_ERROR)
