"""The command line: parse flags into typed requests, call :mod:`sssctl.app`, exit with its code.

No logic lives here. One module per command group (``config``, ``plan``, ``apply``,
``state``, ``fleet``, ``audit``, ``export``, ``demo``, ``auth``, ``bootstrap``, ``emulator``,
``watch``); options more than one command takes are declared once in ``options``. A new command is written
in the module of its group and added to the root group below.

This is the top floor: it may import anything in the package, and nothing imports it.
"""

from __future__ import annotations

import os
import sys

import click

from sssctl import __version__, exitcodes
from sssctl.cli import (
    apply,
    audit,
    auth,
    bootstrap,
    config,
    demo,
    emulator,
    export,
    fleet,
    plan,
    state,
    watch,
)
from sssctl.cli.options import GlobalOptions


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="sssctl")
@click.option("--log-format", type=click.Choice(["console", "json"]), default=None,
              help="Log format: console (default, also in CI) or json lines. Env: SSSCTL_LOG_FORMAT.")
@click.option("-v", "--verbose", count=True,
              help="More detail (-v info, -vv debug). Env: SSSCTL_LOG=debug|info|warning, "
                   "SSSCTL_LOG_PATH=FILE to append logs to a file.")
@click.option("--color", "color", type=click.Choice(["auto", "always", "never"]), default=None,
              help="ANSI colours. auto (default): on a terminal, unless NO_COLOR is set; "
                   "FORCE_COLOR forces them for CI logs that render ANSI.")
@click.option("--no-color", is_flag=True, help="Same as --color=never.")
@click.pass_context
def cli(ctx: click.Context, log_format: str | None, verbose: int, color: str | None, no_color: bool) -> None:
    """Lock down Dynamics 365 Server-Side Synchronization, declaratively.

    Describe the wanted state in a TOML file, then let sssctl read the live environment,
    show a plan and apply it:

    \b
        sssctl validate configs/hardened.toml
        sssctl plan  -c configs/hardened.toml --out hardened.plan
        sssctl apply hardened.plan

    Try it without touching Microsoft: `sssctl demo` runs the whole loop against the
    built-in emulator.
    """
    from sssctl.logging import LoggingSetupError, color_wanted, configure_logging

    mode = color or ("never" if no_color else "auto")
    try:
        resolved = configure_logging(log_format=log_format, verbose=verbose,
                                     color=None if mode == "auto" else color_wanted(mode, sys.stderr))
    except LoggingSetupError as exc:
        raise click.ClickException(str(exc)) from None
    ctx.obj = GlobalOptions(log_format=resolved, verbose=verbose, color=mode)


for command in (
    config.validate_command, config.schema_command, config.init_command, config.policy_group,
    emulator.emulator_group, auth.auth_group, bootstrap.bootstrap_command,
    plan.plan_command, plan.show_command, plan.refresh_command,
    apply.apply_command, apply.destroy_command,
    state.state_group, export.export_command, export.diff_command, audit.audit_command,
    demo.demo_command, fleet.fleet_group, watch.watch_command,
):
    cli.add_command(command)
fleet.fleet_group.add_command(watch.fleet_watch_command)


def interrupted() -> None:
    """Ctrl-C outside the write phase (which has its own handler and summary): 130, no traceback."""
    try:
        from sssctl.app.interrupts import OUTSIDE_WRITES

        sys.stderr.write(f"\n{OUTSIDE_WRITES}\n")
        sys.stderr.flush()
        sys.stdout.flush()
    finally:
        os._exit(exitcodes.INTERRUPTED)


def main() -> None:
    """Run the CLI, keeping click's usage errors off exit code 2.

    Exit code 2 means "changes present" (``plan --detailed-exitcode``); a pipeline must
    never read a mistyped flag as drift, so usage errors exit 1 like every other error.
    """
    try:
        code = cli.main(prog_name="sssctl", standalone_mode=False)
    except click.exceptions.Abort as exc:
        # click turns Ctrl-C into Abort; an Abort of its own (a prompt's end of input) stays 1.
        if isinstance(exc.__context__, KeyboardInterrupt):
            interrupted()
        click.echo("Aborted.", err=True)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        interrupted()
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(1) from None
    if code == exitcodes.INTERRUPTED:
        # Ctrl-C: leave without waiting for worker threads still holding a request; the
        # state was saved whole and the lock released on the way out.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise SystemExit(code if isinstance(code, int) else 0)
