"""The command line: parse flags, call the engine, pick a renderer. No logic lives here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


@cli.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True,
              help="Print findings as a JSON list of {file, key_path, line, message, suggestion}.")
def validate_command(files: tuple[Path, ...], as_json: bool) -> None:
    """Check desired-state files without contacting anything.

    Every problem of every file is reported at once, with the file, the dotted key path,
    the line and a suggestion where one is close. SSSCTL_* variables are applied first,
    just as plan and apply would. Exit status: 0 when all files are valid, 1 otherwise.

    \b
        sssctl validate configs/hardened.toml configs/lockdown.toml
        sssctl validate --json configs/*.toml | jq '.[].key_path'
    """
    from sssctl.config.loader import load_many
    from sssctl.config.report import render_json, render_text

    results = load_many(files)
    click.echo(render_json(results) if as_json else render_text(results))
    if not all(result.ok for result in results):
        raise SystemExit(1)


@cli.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of the desired-state format, for editors and CI.

    The same schema is committed as configs/sssctl.schema.json. Point your editor at it,
    e.g. with Taplo / Even Better TOML, put this first line in a config:

    \b
        #:schema ./sssctl.schema.json
        sssctl schema > configs/sssctl.schema.json
    """
    from sssctl.config.schema import render_schema

    click.echo(render_schema(), nl=False)


# --- emulator -----------------------------------------------------------------------------
# --- auth ---------------------------------------------------------------------------------
# --- engine: plan, apply, show, refresh, destroy, state, export, audit, demo -------------


def main() -> None:
    cli(prog_name="sssctl")
