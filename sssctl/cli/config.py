"""``validate``, ``schema``, ``init`` and ``policy``: desired-state files and policies, offline."""

from __future__ import annotations

import os
from pathlib import Path

import click


@click.command("validate")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True,
              help="Print findings as a JSON list of {file, key_path, line, message, suggestion}.")
def validate_command(files: tuple[Path, ...], as_json: bool) -> None:
    """Check desired-state files without contacting anything (default: $SSSCTL_CONFIG, else ./sssctl.toml).

    Every problem of every file is reported at once, with the file, the dotted key path,
    the line and a suggestion where one is close. SSSCTL_* variables are applied first,
    just as plan and apply would. Exit status: 0 when all files are valid, 1 otherwise.

    \b
        sssctl validate                 # ./sssctl.toml, like every other command
        sssctl validate configs/hardened.toml configs/lockdown.toml
        sssctl validate --json configs/*.toml | jq '.[].key_path'
    """
    from sssctl.config.loader import load_many
    from sssctl.config.report import render_json, render_text

    if not files:  # the file every other command takes by default
        default = Path(os.environ.get("SSSCTL_CONFIG") or "sssctl.toml")
        if not default.exists():  # exit 1, not click's usage code 2, which means "changes present" here
            click.echo(f"Error: no {default} here: name the files to check (sssctl validate FILE...), or "
                       "write one with `sssctl init`", err=True)
            raise SystemExit(1)
        files = (default,)
    results = load_many(files)
    click.echo(render_json(results) if as_json else render_text(results))
    from sssctl.config.hints import placeholder_warnings

    for result in results if not as_json else ():  # valid, but sign-in would fail: say so to people
        for warning in placeholder_warnings(result.desired) if result.desired else ():
            click.echo(f"Warning: {result.path}: {warning}", err=True)
    if not all(result.ok for result in results):
        raise SystemExit(1)


@click.command("schema")
@click.option("--fleet", is_flag=True, help="The schema of a fleet file instead.")
def schema_command(fleet: bool) -> None:
    """Print the JSON Schema of the desired-state format (or of a fleet file), for editors and CI.

    It is generated from the same tables `sssctl validate` checks against, and committed
    as configs/sssctl.schema.json (configs/fleet.schema.json). Save it next to your configs
    and name it on the first line of each file so that TOML editors (Taplo, Even Better
    TOML) complete and check keys:

    \b
        sssctl schema > sssctl.schema.json
        sssctl schema --fleet > fleet.schema.json
        #:schema ./sssctl.schema.json        <- first line of your config
    """
    if fleet:
        from sssctl.fleet.file import render_schema as render_fleet_schema

        click.echo(render_fleet_schema(), nl=False)
        return
    from sssctl.config.schema import render_schema

    click.echo(render_schema(), nl=False)


# the packaged examples (sssctl.app.demo.EXAMPLES, and the fleet); a test keeps them equal
EXAMPLE_NAMES = ("hardened", "hardened-rbac", "lockdown", "minimal", "fleet")


@click.command("init")
@click.argument("path", type=click.Path(path_type=Path), default=None, required=False)
@click.option("--example", type=click.Choice(EXAMPLE_NAMES), default="hardened",
              show_default=True, help="Which example to start from.")
@click.option("--force", is_flag=True, help="Overwrite PATH if it already exists.")
def init_command(path: Path | None, example: str, force: bool) -> None:
    """Write an example desired state to start from (default ./sssctl.toml).

    hardened: all five controls; hardened-rbac: the same with Exchange RBAC for
    Applications; lockdown: stop all synchronization; minimal: one setting; fleet: a fleet
    file, a baseline and one overlay per environment, written into the directory PATH
    (default ./fleet). An existing file is never overwritten without --force.

    \b
        sssctl init
        sssctl init --example lockdown configs/incident.toml
        sssctl init --example fleet fleet/     # then: sssctl fleet validate fleet/fleet.toml
    """
    from sssctl.app.demo import FLEET_EXAMPLE, InitError, write_example

    target = path or Path("fleet" if example == FLEET_EXAMPLE else "sssctl.toml")
    try:
        click.echo(write_example(example, target, force=force))
    except InitError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(1) from None


@click.group("policy")
def policy_group() -> None:
    """The Rego policies shipped with sssctl, for Conftest or OPA on `sssctl plan --json`."""


@policy_group.command("path")
def policy_path_command() -> None:
    """Print the directory of the shipped Rego policies.

    \b
        sssctl plan --json > plan.json
        conftest test plan.json --policy "$(sssctl policy path)"
        opa eval -d "$(sssctl policy path)" -i plan.json 'data.main.deny'
    """
    from sssctl.app.demo import InitError, policy_dir

    try:
        click.echo(str(policy_dir()))
    except InitError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(1) from None
