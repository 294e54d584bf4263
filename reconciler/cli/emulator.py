"""``exoform emulator serve``: run the Exchange Online emulator as an HTTPS server on loopback."""

from __future__ import annotations

import importlib
import signal
import threading
from pathlib import Path
from types import FrameType

import click

from reconciler.errors import ExoformError


@click.group("emulator")
def emulator() -> None:
    """Run the Exchange Online emulator (connectors over InvokeCommand, plus a token endpoint)."""


_FILE = click.Path(dir_okay=False, path_type=Path)


@emulator.command("serve")
@click.option("--state", "state", type=_FILE, help="State file (JSON).")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory with one state file per tenant (<tenant>.json), created on demand.",
)
@click.option(
    "--seed", type=click.Path(dir_okay=False, path_type=Path), help="State to start from when none exists."
)
@click.option("--config", "config_path", type=_FILE, help="Emulator config.")
@click.option(
    "--messages", "messages_path", type=_FILE, help="Message seed for message trace (JSON, see the docs)."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to bind.")
@click.option(
    "--port", default=0, show_default=True, type=click.IntRange(0, 65535), help="Port (0: a free one)."
)
@click.option(
    "--latency-ms", type=click.FloatRange(min=0), help="Latency added to every InvokeCommand request."
)
@click.option("--jitter-ms", type=click.FloatRange(min=0), help="Random extra latency, up to this much.")
@click.option("--max-concurrent", type=click.IntRange(min=1), help="Concurrent requests allowed per tenant.")
@click.option("--fault", "fault_specs", multiple=True, help="A fault rule, e.g. '429:count=2,retry_after=1'.")
@click.option("--seed-random", type=int, help="Seed for fractional faults and jitter.")
@click.option(
    "--older-service",
    is_flag=True,
    help="Play an older or smaller service without MtaStsMode and SmtpDaneMode (refused on New/Set and "
    "in $select, absent from Get).",
)
def serve(
    state: Path | None,
    state_dir: Path | None,
    seed: Path | None,
    config_path: Path | None,
    messages_path: Path | None,
    host: str,
    port: int,
    latency_ms: float | None,
    jitter_ms: float | None,
    max_concurrent: int | None,
    fault_specs: tuple[str, ...],
    seed_random: int | None,
    older_service: bool,
) -> None:
    """Serve the emulator over HTTPS on loopback until SIGINT or SIGTERM.

    Prints the base URL, the authority URL template for msal and the path of the CA bundle to trust.
    Needs the ``emulator`` extra (its certificate authority); says how to install it when it is missing.
    """
    try:
        importlib.import_module("trustme")
    except ImportError:
        raise click.ClickException(
            "exoform emulator serve needs the emulator extra (a throw-away certificate authority for its "
            "HTTPS): pip install 'exoform[emulator]'"
        ) from None
    from reconciler.emulator.app import Emulator
    from reconciler.emulator.config import OPEN_SECRET, EmulatorConfig, load_config
    from reconciler.emulator.faults import Fault, Faults
    from reconciler.emulator.server import EmulatorServer, check_loopback
    from reconciler.emulator.store import (
        DirectoryStores,
        JsonFileStore,
        MemoryStores,
        SharedStore,
        TenantStores,
        load_seed,
    )

    try:
        check_loopback(host)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--host") from None
    if state is not None and state_dir is not None:
        raise click.UsageError("give --state or --state-dir, not both")
    try:
        config = load_config(config_path) if config_path is not None else EmulatorConfig()
        if older_service:
            config = config.model_copy(update={"service": "older"})
        if messages_path is not None:
            config = config.model_copy(update={"messages": str(messages_path)})
        stores: TenantStores
        if state is not None:
            file_store = JsonFileStore(state, seed)
            file_store.read()  # fail now, with file:line:column, if the state or the seed is invalid
            stores = SharedStore(file_store)
        elif state_dir is not None:
            if seed is not None:
                load_seed(seed)
            stores = DirectoryStores(state_dir, seed)
        else:
            stores = MemoryStores(load_seed(seed) if seed is not None else None)
        configured = config.faults
        try:
            faults = Faults(
                latency_ms=latency_ms if latency_ms is not None else configured.latency_ms,
                jitter_ms=jitter_ms if jitter_ms is not None else configured.jitter_ms,
                max_concurrent_per_tenant=(
                    max_concurrent if max_concurrent is not None else configured.max_concurrent_per_tenant
                ),
                seed=seed_random if seed_random is not None else configured.seed,
                rules=[Fault.parse(spec) for spec in (*configured.rules, *fault_specs)],
            )
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--fault") from None
        em = Emulator(stores=stores, config=config, faults=faults)
    except ExoformError as exc:
        raise click.ClickException(str(exc)) from None

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with EmulatorServer(em, host=host, port=port) as server:
        click.echo(f"Exchange Online emulator listening on {server.base_url}")
        click.echo(f"  InvokeCommand: {server.base_url}/adminapi/beta/<tenant>/InvokeCommand")
        click.echo(f"  authority:     {server.base_url}/<tenant>")
        click.echo(f"  CA bundle:     {server.ca_path}")
        if state is not None:
            click.echo(f"  state:         {state} (every tenant)")
        elif state_dir is not None:
            click.echo(f"  state:         {state_dir}/<tenant>.json")
        else:
            click.echo("  state:         in memory (lost at exit)")
        if config.open:
            click.echo(f"  auth:          open: any client id, client secret '{OPEN_SECRET}'")
        else:
            click.echo(f"  auth:          {len(config.apps)} registered app(s)")
        if not config.tenants:
            click.echo("  tenants:       any tenant name")
        if config.lacking:
            click.echo(f"  service:       older: no {', '.join(sorted(config.lacking))}")
        if (
            em.faults.rules
            or em.faults.latency_ms
            or em.faults.jitter_ms
            or em.faults.max_concurrent_per_tenant
        ):
            rules = ", ".join(rule.label for rule in em.faults.rules) or "none"
            click.echo(
                f"  faults:        latency {em.faults.latency_ms:g} ms (+ up to {em.faults.jitter_ms:g}), "
                f"concurrency cap {em.faults.max_concurrent_per_tenant or 'none'}, rules: {rules}"
            )
        click.echo("Press Ctrl-C to stop.", nl=True)
        while not stop.wait(0.5):
            pass
        stats = em.stats.snapshot()
    click.echo(f"Stopped after {stats['requests']} request(s).")


@emulator.command("mail")
@click.argument("messages_file", type=_FILE)
@click.option(
    "--through",
    required=True,
    metavar="KIND/NAME",
    help="The connector the mail goes through: InboundConnector/NAME or OutboundConnector/NAME.",
)
@click.option("--sender", required=True, help="Sender address.")
@click.option("--recipient", "recipients", multiple=True, required=True, help="Recipient (repeatable).")
@click.option("--from-ip", default="", help="FromIP of the summary rows (inbound: the sending server).")
@click.option("--count", type=click.IntRange(1, 1_000_000), default=1, show_default=True)
@click.option(
    "--minutes-ago",
    type=click.IntRange(0),
    default=60,
    show_default=True,
    help="When the newest message was received; the others one minute apart before it.",
)
def mail(
    messages_file: Path,
    through: str,
    sender: str,
    recipients: tuple[str, ...],
    from_ip: str,
    count: int,
    minutes_ago: int,
) -> None:
    """Append messages sent through a connector to a message seed file (for serve --messages).

    Each message gets the detail events the service writes for that connector (docs/emulator.md,
    "Message trace").
    """
    from datetime import UTC, datetime, timedelta

    from reconciler.emulator.trace import MessageLog, dump_messages, load_messages, send_through
    from reconciler.escape import safe
    from reconciler.yamlio import write_atomic

    kind, _, name = through.partition("/")
    if kind.casefold() not in ("inboundconnector", "outboundconnector") or not name:
        raise click.BadParameter(
            "expected InboundConnector/NAME or OutboundConnector/NAME", param_hint="--through"
        )
    inbound = name if kind.casefold() == "inboundconnector" else None
    try:
        existing = load_messages(messages_file) if messages_file.exists() else []
    except ExoformError as exc:
        raise click.ClickException(str(exc)) from None
    log = MessageLog(existing)
    newest = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    for i in range(count):
        send_through(
            log,
            "file",
            sender=sender,
            recipients=list(recipients),
            received=newest - timedelta(minutes=i),
            inbound=inbound,
            outbound=None if inbound else name,
            from_ip=from_ip,
        )
    write_atomic(messages_file, dump_messages(log.messages("file")))
    click.echo(f"{safe(str(messages_file))}: {count * len(recipients)} row(s) added through {safe(through)}.")
