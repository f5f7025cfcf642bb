"""``state``: inspect, move and edit the state snapshot and its lock."""

from __future__ import annotations

from pathlib import Path

import click

from sssctl.app.requests import Limits
from sssctl.cli.options import config_option, invocation, lock_timeout_option, run


@click.group("state")
def state_group() -> None:
    """Inspect, move and edit the state snapshot and its lock.

    \b
        sssctl state list
        sssctl state show org_setting.RequirePrivilegeToSelfApproveEmailAddress
        sssctl state unlock 3f2a…               # the ID printed by the run that holds it
        sssctl state pull > backup.json
        sssctl state migrate --from local       # after switching [state] to azurerm
    """


@state_group.command("list")
@config_option
@click.pass_context
def state_list_command(ctx: click.Context, config_path: Path) -> None:
    """List managed addresses with their kind and last update (tab separated).

    \b
        sssctl state list -c configs/hardened.toml
        sssctl state list -c configs/hardened.toml | cut -f1 | grep ^org_setting
    """
    from sssctl.app import commands

    inv = invocation(ctx, config_path)
    run(ctx, inv, lambda: commands.cmd_state_list(inv))


@state_group.command("show")
@click.argument("address")
@config_option
@click.pass_context
def state_show_command(ctx: click.Context, address: str, config_path: Path) -> None:
    """Print one address's state entry as JSON (secrets appear only as fingerprints).

    The entry holds the managed values as last applied, the value found before sssctl
    first managed the address (what ``destroy`` restores) and secret fingerprints.

    \b
        sssctl state show -c configs/hardened.toml 'server_profile.custom["Contoso EXO (own app)"]'
    """
    from sssctl.app import commands

    inv = invocation(ctx, config_path)
    run(ctx, inv, lambda: commands.cmd_state_show(inv, address))


@state_group.command("unlock")
@click.argument("lock_id")
@config_option
@click.pass_context
def state_unlock_command(ctx: click.Context, lock_id: str, config_path: Path) -> None:
    """Remove a lock left by a run that died; only when LOCK_ID matches the lock's ID.

    A run that finds the lock held exits 4 and prints the holder (user, host, pid, time)
    and its ID. Make sure that run is really gone before unlocking; a lock of a dead
    process on the same host is taken over automatically.

    \b
        sssctl state unlock -c configs/hardened.toml 3f2a9c1e-…
    """
    from sssctl.app import commands

    inv = invocation(ctx, config_path)
    run(ctx, inv, lambda: commands.cmd_state_unlock(inv, lock_id))


@state_group.command("pull")
@config_option
@click.option("--previous", is_flag=True, help="The snapshot kept before the last write (recovery).")
@click.pass_context
def state_pull_command(ctx: click.Context, config_path: Path, previous: bool) -> None:
    """Print the state snapshot as stored (JSON with its checksum), from any backend.

    \b
        sssctl state pull -c prod.toml > prod-state.json
        sssctl state pull -c prod.toml --previous > before-last-write.json
    """
    from sssctl.app import state

    inv = invocation(ctx, config_path)
    run(ctx, inv, lambda: state.pull(inv, previous=previous))


@state_group.command("push")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@config_option
@click.option("--force", is_flag=True, help="Allow an older serial of the same lineage (never another).")
@lock_timeout_option
@click.pass_context
def state_push_command(ctx: click.Context, file: Path, config_path: Path, force: bool,
                       lock_timeout: float) -> None:
    """Write a snapshot FILE (from `state pull`) to the configured backend.

    Refused unless FILE passes its checksum, has the stored snapshot's lineage and a newer
    serial (--force allows an older one, e.g. the previous snapshot after a bad write).

    \b
        sssctl state push -c prod.toml prod-state.json
    """
    from sssctl.app import state

    inv = invocation(ctx, config_path, limits=Limits(lock_timeout=lock_timeout))
    run(ctx, inv, lambda: state.push(inv, file, force=force))


@state_group.command("rm")
@click.argument("addresses", nargs=-1, required=True, metavar="ADDRESS...")
@config_option
@lock_timeout_option
@click.pass_context
def state_rm_command(ctx: click.Context, addresses: tuple[str, ...], config_path: Path,
                     lock_timeout: float) -> None:
    """Stop managing ADDRESS: forget it in the state, change nothing in the environment.

    \b
        sssctl state rm -c prod.toml org_setting.SSSForceFilteringMethodForUserMailboxes
    """
    from sssctl.app import state

    inv = invocation(ctx, config_path, limits=Limits(lock_timeout=lock_timeout))
    run(ctx, inv, lambda: state.remove(inv, addresses))


@state_group.command("migrate")
@click.option("--from", "source", required=True, metavar="BACKEND",
              help="Where the state lived before: local, local:DIR (relative to the config), azurerm, "
                   "or azurerm:CONTAINER/KEY.")
@config_option
@lock_timeout_option
@click.pass_context
def state_migrate_command(ctx: click.Context, source: str, config_path: Path, lock_timeout: float) -> None:
    """Copy the state from the backend used before to the one [state] configures now.

    An azurerm source uses the account and credentials of [state] / SSSCTL_STATE_* (keys of
    the backend not selected are ignored, so they can stay while moving back). Refused when
    the target already holds another lineage or a newer serial; the source is left as is.

    \b
        sssctl state migrate -c prod.toml --from local            # local -> the configured blob
        sssctl state migrate -c prod.toml --from local:old-state
        sssctl state migrate -c prod.toml --from azurerm          # blob -> the configured local dir
    """
    from sssctl.app import state

    inv = invocation(ctx, config_path, limits=Limits(lock_timeout=lock_timeout))
    run(ctx, inv, lambda: state.migrate(inv, source))
