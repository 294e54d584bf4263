"""The ``exoform`` command: the only layer that reads argv or prints.

Subcommands live in their own modules and are imported only when invoked, so ``exoform --help`` stays
fast (the heavy libraries -- pydantic, httpx, msal, rich -- are never imported for it).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from reconciler import __version__

#: command name -> (module, attribute, one-line help shown by ``exoform --help``)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "accept": (
        "reconciler.cli.accept",
        "accept",
        "Write a tenant's drifted live values back into the files.",
    ),
    "validate": ("reconciler.cli.validate", "validate", "Check exoform.yaml and every connector file."),
    "schema": (
        "reconciler.cli.validate",
        "schema",
        "Write the JSON Schemas of the YAML files into schemas/.",
    ),
    "plan": ("reconciler.cli.plan", "plan", "Show what apply would change in each tenant."),
    "apply": ("reconciler.cli.plan", "apply", "Apply a saved plan (or plan, confirm and apply)."),
    "init": ("reconciler.cli.init", "init", "Write a ready connectors repository (config, workflows)."),
    "emulator": ("reconciler.cli.emulator", "emulator", "Run the Exchange Online emulator."),
    "export": ("reconciler.cli.gitops", "export", "Write a tenant's live connectors as YAML files."),
    "import": (
        "reconciler.cli.imports",
        "import_command",
        "Write PowerShell / Microsoft365DSC connectors as YAML.",
    ),
    "drift": ("reconciler.cli.gitops", "drift", "Report connectors that drifted from the files (exit 2)."),
    "tenants": ("reconciler.cli.gitops", "tenants", "List the tenants (--json: a GitHub Actions matrix)."),
    "status": ("reconciler.cli.gitops", "status", "Show connector health; run Validate-OutboundConnector."),
    "show": ("reconciler.cli.plan", "show", "Render a saved plan file without reading any tenant."),
    "traffic": ("reconciler.cli.traffic", "traffic", "Show which connectors carry mail (message trace)."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use, and whose usage errors exit 1.

    click exits 2 on a usage error (a mistyped option or value), but 2 means "changes" for ``plan
    --detailed-exitcode`` and "drift" for ``drift``: every usage error of every command exits 1 here.
    """

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            exc.exit_code = 1  # type: ignore[misc]  # click reads it from the instance
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            exc.exit_code = 1  # type: ignore[misc]  # click reads it from the instance
            raise
        except OSError as exc:
            if exc.filename is None:
                raise  # not a file the user named: a bug, whose traceback says where
            from reconciler.cli.common import echo_error

            # A file or folder the user named that cannot be read or written: said, never a traceback.
            echo_error(f"{exc.filename}: {exc.strerror or exc}")
            ctx.exit(1)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[cmd_name]
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="exoform")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    envvar="EXOFORM_LOG_LEVEL",
    show_default=True,
    help="What exoform logs to stderr; debug shows every retry, redirect and token refresh.",
)
def cli(log_level: str) -> None:
    """exoform: Exchange Online mail-flow connectors as code.

    Declare inbound and outbound connectors in YAML, see a plan against the live tenant, apply exactly
    that plan, and detect drift.  Exit codes: 0 success, 1 error (a usage error too), 2 changes present
    (with --detailed-exitcode) or drift (exoform drift).
    """
    _configure_logging(log_level)


def _configure_logging(level: str) -> None:
    """exoform's log records go to stderr at ``level`` (they never hold a secret or a token); msal's only at
    ``debug``: below that it reports as errors the failures exoform retries or reports itself, with
    response bodies, and without a handler of its own Python would print them anyway."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("exoform: %(levelname)s: %(name)s: %(message)s"))
    for name, wanted in (("reconciler", level), ("msal", level if level == "debug" else "critical")):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(wanted.upper())


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    return cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="exoform")
