"""``validate``, ``schema`` and ``init``: desired-state files, without contacting anything."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("validate")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
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

    if not files:  # exit 1, not click's usage code 2, which means "changes present" here
        click.echo("Error: name at least one file, e.g. sssctl validate configs/hardened.toml", err=True)
        raise SystemExit(1)
    results = load_many(files)
    click.echo(render_json(results) if as_json else render_text(results))
    from sssctl.config.hints import placeholder_warnings

    for result in results:  # valid, but sign-in would go to a tenant/app that does not exist
        for warning in placeholder_warnings(result.desired) if result.desired else ():
            click.echo(f"Warning: {result.path}: {warning}", err=True)
    if not all(result.ok for result in results):
        raise SystemExit(1)


@click.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of the desired-state format, for editors and CI.

    It is generated from the same tables `sssctl validate` checks against, and committed
    as configs/sssctl.schema.json. Save it next to your configs and name it on the first
    line of each file so that TOML editors (Taplo, Even Better TOML) complete and check keys:

    \b
        sssctl schema > sssctl.schema.json
        #:schema ./sssctl.schema.json        <- first line of your config
    """
    from sssctl.config.schema import render_schema

    click.echo(render_schema(), nl=False)


@click.command("init")
@click.argument("path", type=click.Path(path_type=Path), default="sssctl.toml")
@click.option("--example", type=click.Choice(["hardened", "lockdown", "minimal"]), default="hardened",
              show_default=True, help="Which example to start from.")
@click.option("--force", is_flag=True, help="Overwrite PATH if it already exists.")
def init_command(path: Path, example: str, force: bool) -> None:
    """Write an example desired state to start from (default ./sssctl.toml).

    hardened: all five controls; lockdown: stop all synchronization; minimal: one setting.
    An existing file is never overwritten without --force.

    \b
        sssctl init
        sssctl init --example lockdown configs/incident.toml
    """
    from sssctl.app.demo import InitError, write_example

    try:
        click.echo(write_example(example, path, force=force))
    except InitError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(1) from None
