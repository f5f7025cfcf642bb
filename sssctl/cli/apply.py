"""``apply`` and ``destroy``: the commands that write, under the state lock."""

from __future__ import annotations

from pathlib import Path

import click

from sssctl.app.requests import ApplyRequest, DestroyRequest, Limits
from sssctl.cli.options import (
    allow_lockout_option,
    auto_approve_option,
    config_given,
    config_option,
    invocation,
    lock_timeout_option,
    parallelism_option,
    run,
    target_option,
    timeout_option,
)


@click.command("apply")
@click.argument("plan_file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@config_option
@auto_approve_option
@parallelism_option
@target_option
@allow_lockout_option
@click.option("--elevated", is_flag=True,
              help="Apply only the changes marked 'needs elevation' (run by an administrator).")
@lock_timeout_option
@timeout_option
@click.pass_context
def apply_command(ctx: click.Context, *, plan_file: Path | None, config_path: Path, auto_approve: bool,
                  parallelism: int, targets: tuple[str, ...], allow_lockout: bool, elevated: bool,
                  lock_timeout: float, run_timeout: float) -> None:
    """Apply a saved plan, or plan and apply after confirmation.

    \b
        sssctl apply hardened.plan             # exactly the saved changes, or refuse
        sssctl apply -c configs/hardened.toml  # plan, show, ask "Apply these N changes?"
        sssctl apply --auto-approve            # pipelines (stdin is not a terminal)

    A saved plan is refused when it was edited, when another sssctl release made it,
    when the state, the configuration or the environment moved since it was made, or
    when its changes differ from the ones derived again from fresh reads; the config is
    found beside the plan unless -c names it. The state is saved after every change, so
    an interrupted apply can simply be run again. Exit status 0 when everything applied,
    1 otherwise, 3 when the plan has unknowns, 4 when another run holds the lock.

    A change that needs a tier-0 right (granting tenant-wide consent, assigning an Exchange
    role) is skipped, with what depends on it, by an identity that does not hold that right;
    an administrator applies just those with --elevated, signed in as themselves (for
    example SSSCTL_AUTH_METHOD=device_code).
    """
    from sssctl.app import commands

    limits = Limits(parallelism=parallelism, lock_timeout=lock_timeout, timeout=run_timeout)
    inv = invocation(ctx, config_path, config_required=plan_file is None, limits=limits)
    request = ApplyRequest(plan_file=plan_file, config_given=config_given(ctx), auto_approve=auto_approve,
                           targets=targets, allow_lockout=allow_lockout, elevated=elevated)
    run(ctx, inv, lambda: commands.cmd_apply(inv, request))


@click.command("destroy")
@config_option
@auto_approve_option
@parallelism_option
@target_option
@lock_timeout_option
@timeout_option
@click.pass_context
def destroy_command(ctx: click.Context, *, config_path: Path, auto_approve: bool, parallelism: int,
                    targets: tuple[str, ...], lock_timeout: float, run_timeout: float) -> None:
    """Restore what sssctl changed to the values found before, and forget it.

    Objects sssctl created are deleted; settings it changed get their original values
    back (from the state); aggregate policies simply stop being managed.

    \b
        sssctl destroy -c configs/hardened.toml
        sssctl destroy --target org_setting --auto-approve
    """
    from sssctl.app import commands

    limits = Limits(parallelism=parallelism, lock_timeout=lock_timeout, timeout=run_timeout)
    inv = invocation(ctx, config_path, limits=limits)
    request = DestroyRequest(auto_approve=auto_approve, targets=targets)
    run(ctx, inv, lambda: commands.cmd_destroy(inv, request))
