"""The command line: parse flags, call the engine, pick a renderer. No logic lives here."""

from __future__ import annotations

from dataclasses import dataclass

import click

from sssctl import __version__


@dataclass
class GlobalOptions:
    log_format: str
    verbose: int
    color: bool


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="sssctl")
@click.option("--log-format", type=click.Choice(["console", "json"]), default=None,
              help="Log format on stderr. Default: console on a terminal, json otherwise.")
@click.option("-v", "--verbose", count=True, help="More detail on stderr (-v info, -vv debug).")
@click.option("--no-color", is_flag=True, help="Plain output without ANSI colours.")
@click.pass_context
def cli(ctx: click.Context, log_format: str | None, verbose: int, no_color: bool) -> None:
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
    from sssctl.logging import configure_logging

    resolved = configure_logging(log_format=log_format, verbose=verbose, color=not no_color)
    ctx.obj = GlobalOptions(log_format=resolved, verbose=verbose, color=not no_color)


# --- configuration: validate, schema -----------------------------------------------------
# --- emulator -----------------------------------------------------------------------------
# --- auth ---------------------------------------------------------------------------------
# --- engine: plan, apply, show, refresh, destroy, state, export, audit, demo -------------


def main() -> None:
    cli(prog_name="sssctl")
