"""``export`` and ``diff``: the live posture written down, and two of them compared."""

from __future__ import annotations

import os
from pathlib import Path

import click

from sssctl.app.requests import PlanFormat
from sssctl.cli.options import (
    config_given,
    config_option,
    environment_limits,
    fleet_format,
    invocation,
    parallel_option,
    run,
    run_fleet,
)


@click.command("export")
@config_option
@click.pass_context
def export_command(ctx: click.Context, config_path: Path) -> None:
    """Print the live environment as a desired-state TOML to start a config from.

    Only [environment] and [auth] of the config are needed, and without a config file
    (no -c, no ./sssctl.toml) the SSSCTL_* variables alone will do. Everything format v1 can say
    is written with its live value: approval, org settings, privileges, mailbox defaults,
    the default profile, user settings (when every user has the same method; a comment gives
    the spread otherwise), mailboxes (report only),
    custom profiles with the app registrations sssctl created (when Graph is configured)
    and their mailbox scope. Comments say what the format cannot express. Exit 3 when
    something could not be read.

    \b
        sssctl export -c bootstrap.toml > configs/contoso.toml
        SSSCTL_URL=https://contoso.crm.dynamics.com SSSCTL_TENANT_ID=... SSSCTL_CLIENT_ID=... \\
            SSSCTL_CLIENT_SECRET=... sssctl export > contoso.toml
    """
    from sssctl.app import commands
    from sssctl.config.loader import ENVIRONMENT_ONLY

    if not config_given(ctx) and not config_path.exists():
        config_path = ENVIRONMENT_ONLY   # no file: the SSSCTL_* variables say where and how to sign in
    inv = invocation(ctx, config_path, limits=environment_limits(), config_required=False)
    run(ctx, inv, lambda: commands.cmd_export(inv))


@click.command("diff")
@click.argument("left", required=False)
@click.argument("right", required=False)
@click.option("--fleet", "fleet_file", type=click.Path(path_type=Path, dir_okay=False),
              help="LEFT and RIGHT are members of this fleet; alone: every member against its baseline.")
@parallel_option
@fleet_format
@click.pass_context
def diff_command(ctx: click.Context, *, left: str | None, right: str | None, fleet_file: Path | None,
                 parallel: int, fmt: PlanFormat | None) -> None:
    """Compare the live posture of two environments (not their URLs, ids or names).

    Both are read as `sssctl export` reads them. Exit status: 0 equal, 2 different,
    3 something could not be read, 1 error.

    \b
        sssctl diff configs/fleet/test.toml configs/fleet/prod.toml
        sssctl diff --fleet configs/fleet/fleet.toml test prod --markdown
        sssctl diff --fleet configs/fleet/fleet.toml           # every member against the baseline
    """
    from sssctl.app.fleet.diffing import cmd_diff

    limits = environment_limits()
    run_fleet(ctx, lambda out: cmd_diff(out, left, right, fleet_path=fleet_file, environ=dict(os.environ),
                                        parallel=parallel, fmt=fmt or "text", limits=limits))
