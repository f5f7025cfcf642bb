"""``auth``: how sssctl signs in and what the identity may do."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from sssctl.cli.options import config_option


@click.group("auth")
def auth_group() -> None:
    """Check how sssctl signs in and what the identity may do.

    \b
        sssctl auth check -c configs/hardened.toml
        sssctl auth check -c configs/hardened.toml --json | jq '.checks[] | select(.result != "ok")'
    """


@auth_group.command("check")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
def auth_check_command(config_path: Path, as_json: bool) -> None:
    """Sign in and probe every access the config needs, changing nothing.

    Calls WhoAmI, reads the organization and roles, compares the identity's Dataverse
    privileges with what the config manages, and, only when the config needs them, the
    Microsoft Graph application permissions and Exchange admin access.

    \b
        sssctl auth check -c configs/hardened.toml

    Exit status: 0 when everything the config needs is available, 1 otherwise.
    """
    from sssctl.app.runner import check_access
    from sssctl.config.errors import ConfigError

    try:
        report = check_access(config_path, dict(os.environ))
    except ConfigError as exc:
        click.echo(exc.render(), err=True)
        raise SystemExit(1) from None
    click.echo(json.dumps(report.to_json(), indent=2) if as_json else report.render())
    raise SystemExit(0 if report.ok else 1)
