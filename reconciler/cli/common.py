"""What every command shares: exit codes, options, error exits, colour, loading and reading tenants.

Contracts: every message printed from here is escaped (:func:`reconciler.escape.safe_lines`), so
no connector name, file name or service message reaches a terminal or a CI log raw; exit codes are
:data:`EXIT_OK`, :data:`EXIT_ERROR` (also usage errors, see ``reconciler.cli``) and :data:`EXIT_CHANGES`.
Commands reach tenants only through :mod:`reconciler.workflow`, with the run's :class:`Wiring`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from reconciler.verdicts import EXIT_CHANGES as EXIT_CHANGES
from reconciler.verdicts import EXIT_ERROR as EXIT_ERROR
from reconciler.verdicts import EXIT_OK as EXIT_OK

if TYPE_CHECKING:
    from reconciler.desired.config import ExoformConfig
    from reconciler.desired.connectors import TenantDesired
    from reconciler.plan import Base
    from reconciler.providers.session import Session
    from reconciler.reconcile.targeting import Target
    from reconciler.workflow import TenantOutcome


def _session() -> Session:
    from reconciler.providers.session import Session

    return Session()


@dataclass(frozen=True)
class Wiring:
    """What a command's run is built from, given as click's context object (``obj``); a command run
    without one gets the defaults.  In-process tests pass their own, e.g. sessions in fake time::

        CliRunner().invoke(cli, ["plan"], obj=Wiring(new_session=lambda: Session(clock=c, sleep=c.sleep)))
    """

    #: Makes the run's session (see :mod:`reconciler.workflow`, which opens and closes it).
    new_session: Callable[[], Session] = _session


def new_session() -> Callable[[], Session]:
    """The session factory of the command being run: its :class:`Wiring`'s, else a plain session."""
    ctx = click.get_current_context(silent=True)
    wiring = ctx.find_object(Wiring) if ctx is not None else None
    return (wiring or Wiring()).new_session


def use_color(no_color: bool, stream: Any = None) -> bool:
    """Whether to colour: never with --no-color or NO_COLOR set (they win); always with FORCE_COLOR set to
    anything but empty or ``0`` (GitHub Actions logs show colour but are not terminals); otherwise only on
    a terminal.  Print coloured text with ``click.echo(..., color=True)``: click strips colour from what
    is not a terminal."""
    if no_color or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR", "") not in ("", "0"):
        return True
    return bool(getattr(stream or sys.stdout, "isatty", lambda: False)())


def fail_on_option(f: Any) -> Any:
    """``--fail-on error|warning|info|never``, the same on every command that has it."""
    from reconciler.posture.severity import SEVERITIES

    return click.option(
        "--fail-on",
        type=click.Choice([*SEVERITIES, "never"]),
        default="error",
        show_default=True,
        help="Fail on a posture finding at or above this severity (never: findings never fail).",
    )(f)


def echo_error(message: str) -> None:
    """Print ``error: message`` to stderr, escaped line by line."""
    from reconciler.escape import safe_lines

    click.echo(f"error: {safe_lines(message)}", err=True)


def config_option(f: Any) -> Any:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=Path("exoform.yaml"),
        show_default=True,
        help="Path of exoform.yaml.",
    )(f)


def tenant_option(f: Any) -> Any:
    return click.option(
        "--tenant", "tenants", multiple=True, help="Tenant name or glob (repeatable); default: all tenants."
    )(f)


def target_option(f: Any) -> Any:
    return click.option(
        "--target",
        "targets",
        multiple=True,
        metavar="KIND/NAME",
        help="Only this connector (globs, case-insensitive; repeatable), e.g. 'InboundConnector/From *'.",
    )(f)


def parse_targets_or_exit(texts: tuple[str, ...]) -> tuple[Target, ...]:
    """The ``--target`` options parsed, or exit 1 saying what is wrong."""
    from reconciler.reconcile.targeting import parse_targets

    with user_errors():
        return parse_targets(texts)
    raise AssertionError("unreachable")  # user_errors exits


def parallelism_option(f: Any) -> Any:
    return click.option(
        "--parallelism", type=click.IntRange(1, 64), default=8, show_default=True, help="Tenants at once."
    )(f)


def fail(message: str) -> NoReturn:
    """Print an error to stderr (escaped) and exit 1."""
    echo_error(message)
    sys.exit(EXIT_ERROR)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn exoform's errors into their message on stderr and exit 1: every located problem, one a line."""
    from reconciler.errors import ExoformError, InputError
    from reconciler.escape import safe

    try:
        yield
    except InputError as exc:
        for problem in exc.problems:
            click.echo(safe(str(problem)), err=True)
        sys.exit(EXIT_ERROR)
    except ExoformError as exc:
        fail(str(exc))


def load_config_or_exit(config_path: Path) -> ExoformConfig:
    """exoform.yaml, or exit 1 printing every located problem."""
    from reconciler.desired.loader import load_config

    with user_errors():
        return load_config(config_path)


def read_tenants(
    config_path: Path,
    tenants: tuple[str, ...],
    parallelism: int,
    *,
    label: str = "Planning tenants",
    targets: tuple[str, ...] = (),
    keep_live: bool = True,
    base: str | None = None,
    unused: bool = False,
) -> tuple[ExoformConfig, list[TenantDesired], list[TenantOutcome], Base | None]:
    """Load the selected tenants' files, then read and plan each (a progress bar on a terminal), within
    ``targets`` (``--target``); outcomes keep their live state only with ``keep_live``; with ``base``
    (``plan --base REF``) each change is marked with its cause (:func:`reconciler.cli.plan.load_base`),
    and the revision it named is returned last (None without ``base``);
    ``unused`` lists the connectors without traffic of ``traffic: true`` tenants
    (:class:`~reconciler.workflow.RunScope`).

    Exits on bad input; a tenant that cannot be read or planned is an outcome with an error, not an exit.
    """
    from reconciler.cli.progress import tenant_progress
    from reconciler.desired.connectors import load_all
    from reconciler.plan import Base
    from reconciler.workflow import RunScope, plan_tenants

    scope = RunScope(parse_targets_or_exit(targets), keep_live, unused=unused)
    with user_errors():
        config, desired = load_all(config_path, list(tenants) or None)
    if base is not None:
        from reconciler.cli.plan import load_base

        scope = replace(scope, base=load_base(config_path, base, desired))
    with tenant_progress(len(desired), label=label) as on_done:
        outcomes = plan_tenants(
            config,
            desired,
            parallelism=parallelism,
            new_session=new_session(),
            on_done=on_done,
            scope=scope,
        )
    if scope.targets:
        _warn_unmatched(scope.targets, desired, outcomes)
    marked = Base(scope.base.ref, scope.base.commit) if scope.base is not None else None
    return config, desired, outcomes, marked


def _warn_unmatched(
    targets: tuple[Target, ...], desired: list[TenantDesired], outcomes: list[TenantOutcome]
) -> None:
    """A warning on stderr for each ``--target`` that matched no connector the run saw (a typo, most
    likely: the plan then says no changes)."""
    from reconciler.reconcile.targeting import unmatched

    def seen() -> Iterator[tuple[str, str]]:
        for d in desired:
            yield from ((c.connector.kind, c.connector.name) for c in d.connectors)
        for o in outcomes:
            if o.plan is not None:
                yield from ((c.kind, c.name) for c in o.plan.changes)
                yield from ((u.kind, u.name) for u in o.plan.unmanaged)
            if o.live is not None:
                yield from ((c.kind, c.name) for c in o.live.connectors)

    for target in unmatched(targets, seen()):
        click.echo(
            f"warning: --target {json.dumps(target.text)} matches no connector of the selected tenants",
            err=True,
        )


def report_failures(outcomes: list[TenantOutcome]) -> bool:
    """Print every failed tenant's error to stderr; True when any failed."""
    from reconciler.desired.loader import once_per_cause

    failed = [o for o in outcomes if o.error]
    for line in once_per_cause([(o.tenant, o.error or "") for o in failed]):
        echo_error(line)
    if failed:
        click.echo(f"{len(failed)} of {len(outcomes)} tenant(s) failed.", err=True)
    return bool(failed)
