"""``auth``: how sssctl signs in, what the config needs of it, and what it holds beyond that."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from sssctl.app.requests import AuthRequest
from sssctl.cli.options import config_option


@click.group("auth")
def auth_group() -> None:
    """Check how sssctl signs in and what the identity may do.

    \b
        sssctl auth needs -c configs/hardened.toml
        sssctl auth check -c configs/hardened.toml --identity plan --strict
        sssctl auth check -c configs/hardened.toml --json | jq '.checks[] | select(.result != "ok")'
    """


@auth_group.command("check")
@config_option
@click.option("--identity", type=click.Choice(["plan", "apply"]), default="apply", show_default=True,
              help="Whose needs to check against: the read-only plan identity or the apply identity.")
@click.option("--strict", is_flag=True, help="Also fail when the identity holds more than it needs.")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
def auth_check_command(config_path: Path, identity: str, strict: bool, as_json: bool) -> None:
    """Sign in and probe every access the config needs, changing nothing.

    Calls WhoAmI, compares the identity's Dataverse privileges (with depth) and its
    Microsoft Graph and Exchange application permissions with what the config needs
    (``sssctl auth needs``), and names what it holds beyond that: privileges, System
    Administrator, Graph and Exchange permissions, administrator directory roles.

    \b
        sssctl auth check -c configs/hardened.toml
        sssctl auth check -c configs/hardened.toml --identity plan --strict

    Exit status: 0 when everything needed is available (and, with --strict, nothing more
    is held), 1 otherwise.
    """
    from sssctl.app.auth_check import check
    from sssctl.config.errors import ConfigError

    request = AuthRequest(identity="plan" if identity == "plan" else "apply", strict=strict, as_json=as_json)
    try:
        report = check(config_path, dict(os.environ), request.identity)
    except ConfigError as exc:
        click.echo(exc.render(), err=True)
        raise SystemExit(1) from None
    click.echo(json.dumps(report.to_json(strict=request.strict), indent=2) if request.as_json
               else report.render(strict=request.strict))
    raise SystemExit(0 if report.ok(strict=request.strict) else 1)


@auth_group.command("needs")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the needs as JSON.")
def auth_needs_command(config_path: Path, as_json: bool) -> None:
    """Print the least privilege the config needs, from what each resource kind declares.

    Three sets: the plan identity (read only), the standing apply identity (never a tier-0
    right), and what only an administrator needs for the changes a plan marks "needs
    elevation". Offline: nothing is signed in to.

    \b
        sssctl auth needs -c configs/hardened.toml
        sssctl auth needs -c configs/hardened.toml --json | jq '.identities.plan'
    """
    from sssctl.app.needs import compute
    from sssctl.app.runner import default_services
    from sssctl.config.errors import ConfigError

    request = AuthRequest(as_json=as_json)
    services = default_services()
    try:
        needs = compute(services.load_kinds(), services.load_config(config_path, dict(os.environ)))
    except ConfigError as exc:
        click.echo(exc.render(), err=True)
        raise SystemExit(1) from None
    rendered = json.dumps(needs.to_json(), indent=2) if request.as_json else needs.render()
    click.echo(rendered, nl=request.as_json)
