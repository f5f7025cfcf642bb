"""``bootstrap``: an administrator makes the plan and apply identities once."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from sssctl.cli.options import auto_approve_option, config_option


@click.command("bootstrap")
@config_option
@click.option("--for", "pipelines", multiple=True, metavar="PIPELINE",
              help="github:OWNER/REPO[:environment:NAME|:pull_request] or "
                   "azure-devops:ORG/PROJECT/CONNECTION (repeatable): a federated credential, no secret.")
@click.option("--credential", type=click.Choice(["secret", "certificate"]), default=None,
              help="Also a client secret, or a certificate (PEM of key + certificate), per identity, "
                   "written to a 0600 file (never printed).")
@click.option("--secret-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Where secret files go (default: .sssctl/ beside the config).")
@click.option("--fleet", "fleet", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Every member of this fleet file instead of the one config (-c is then ignored).")
@click.option("--azure-devops-issuer", default="", metavar="URL",
              help="The Azure DevOps organization's issuer, https://vstoken.dev.azure.com/<organization id>.")
@auto_approve_option
@click.option("--json", "as_json", is_flag=True, help="Print the identities as JSON.")
def bootstrap_command(config_path: Path, *, pipelines: tuple[str, ...], credential: str | None,
                      secret_dir: Path | None, fleet: Path | None, azure_devops_issuer: str,
                      auto_approve: bool, as_json: bool) -> None:
    """Make the plan and apply identities, each holding exactly what the config needs (as an admin).

    Signs in with the config's [auth] as an administrator and makes, each step read first:
    two app registrations (plan: read only; apply: no tier-0 right) with their federated
    credentials or a client secret, their Graph and Exchange application permissions, an
    Exchange custom management role with exactly the cmdlets used, and in Dataverse an
    application user with a custom security role holding exactly the computed privileges.
    Shows the plan first; a second run writes nothing.

    \b
        sssctl bootstrap -c configs/hardened.toml --for github:contoso/sss:environment:production
        sssctl bootstrap -c configs/hardened.toml --credential secret --auto-approve --json
    """
    from sssctl.app import bootstrap as boot
    from sssctl.app.commands import stdin_is_terminal
    from sssctl.clients.errors import ClientError
    from sssctl.config.errors import ConfigError

    request = boot.Request(config_path, dict(os.environ), pipelines, credential, secret_dir,
                           azure_devops_issuer, fleet)

    def confirm(result: boot.Result) -> bool:
        steps = "".join(f"  + {step}\n" for step in result.steps)
        click.echo("sssctl bootstrap will:\n" + steps, err=as_json)
        if auto_approve:
            return True
        if not stdin_is_terminal():
            raise boot.BootstrapError("stdin is not a terminal, so sssctl cannot ask; use --auto-approve")
        return click.confirm(f"Make these {len(result.steps)} changes?", err=True)

    try:
        result, applied = boot.bootstrap(request, confirm=confirm)
    except ConfigError as exc:
        click.echo(exc.render(), err=True)
        raise SystemExit(1) from None
    except (boot.BootstrapError, ClientError, LookupError) as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(1) from None
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    click.echo("Nothing to change: both identities hold exactly what the config needs." if not result.steps
               else f"Bootstrap complete: {result.writes} writes." if applied else "Nothing was changed.")
    ci = "azure-devops" if any(p.startswith("azure-devops:") for p in pipelines) else "github"
    click.echo("\nPipeline variables to set:\n" + result.variables(ci))
