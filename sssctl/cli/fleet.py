"""``fleet``: a command over every environment of a fleet file, a few at a time."""

from __future__ import annotations

import os
from pathlib import Path

import click

from sssctl.app.requests import FleetRequest, MatrixFormat, PlanFormat, Severity
from sssctl.cli.options import (
    allow_lockout_option,
    environment_limits,
    fleet_file_argument,
    fleet_format,
    members_option,
    parallel_option,
    run_fleet,
)


@click.group("fleet")
def fleet_group() -> None:
    """Run a command over every environment of a fleet file, a few at a time.

    A fleet file lists members, each with its own config (usually an overlay that
    `extends` a shared baseline), state and lock. Output: a summary table, then each
    member's plan. Exit status: the most severe of the members' (same codes as the
    single-environment commands).

    \b
        sssctl fleet validate configs/fleet/fleet.toml
        sssctl fleet plan configs/fleet/fleet.toml --out plans/ --markdown
        sssctl fleet apply plans/
        sssctl fleet matrix configs/fleet/fleet.toml --format github
    """


@fleet_group.command("validate")
@fleet_file_argument
@members_option
@fleet_format
@click.pass_context
def fleet_validate_command(ctx: click.Context, *, fleet_file: Path, members: tuple[str, ...],
                           fmt: PlanFormat | None) -> None:
    """Check the fleet file and every member's config offline (with the member's overrides)."""
    from sssctl.app.fleet import commands

    request = FleetRequest(fleet_file, members, fmt=fmt or "text")
    run_fleet(ctx, lambda out: commands.cmd_validate(out, request, environ=dict(os.environ)))


@fleet_group.command("plan")
@fleet_file_argument
@members_option
@parallel_option
@fleet_format
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Save one plan per member in this directory (then: sssctl fleet apply DIR).")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when any member has changes.")
@allow_lockout_option
@click.pass_context
def fleet_plan_command(ctx: click.Context, *, fleet_file: Path, members: tuple[str, ...], parallel: int,
                       fmt: PlanFormat | None, out_dir: Path | None, detailed_exitcode: bool,
                       allow_lockout: bool) -> None:
    """Plan every member; no state is written and no lock taken.

    \b
        sssctl fleet plan fleet.toml --detailed-exitcode --parallel-environments 8
        sssctl fleet plan fleet.toml --member prod --member uat --json
    """
    from sssctl.app.fleet import commands

    request = FleetRequest(fleet_file, members, parallel, fmt or "text", environment_limits())
    run_fleet(ctx, lambda out: commands.cmd_plan(out, request, environ=dict(os.environ),
                                                 detailed=detailed_exitcode, out_dir=out_dir,
                                                 allow_lockout=allow_lockout))


@fleet_group.command("refresh")
@fleet_file_argument
@members_option
@parallel_option
@fleet_format
@click.pass_context
def fleet_refresh_command(ctx: click.Context, *, fleet_file: Path, members: tuple[str, ...], parallel: int,
                          fmt: PlanFormat | None) -> None:
    """Report each member's drift from its state (exit 2 when any drifted)."""
    from sssctl.app.fleet import commands

    request = FleetRequest(fleet_file, members, parallel, fmt or "text", environment_limits())
    run_fleet(ctx, lambda out: commands.cmd_plan(out, request, environ=dict(os.environ), detailed=True,
                                                 refresh_only=True))


@fleet_group.command("apply")
@click.argument("target", type=click.Path(path_type=Path))
@members_option
@parallel_option
@fleet_format
@click.option("--auto-approve", is_flag=True, help="Apply a FLEETFILE's fresh plans without review.")
@click.option("--parallelism", type=click.IntRange(1, 32), default=4, show_default=True,
              help="Concurrent writes within one member.")
@allow_lockout_option
@click.pass_context
def fleet_apply_command(ctx: click.Context, *, target: Path, members: tuple[str, ...], parallel: int,
                        fmt: PlanFormat | None, auto_approve: bool, parallelism: int,
                        allow_lockout: bool) -> None:
    """Apply the saved plans of DIR (from `fleet plan --out DIR`), or a FLEETFILE with --auto-approve.

    Each member locks its own state; one member's failure never stops the others.
    """
    from sssctl.app.fleet import commands

    limits = environment_limits(parallelism=parallelism, locking=True)
    request = FleetRequest(target, members, parallel, fmt or "text", limits)
    run_fleet(ctx, lambda out: commands.cmd_apply(out, request, environ=dict(os.environ),
                                                  auto_approve=auto_approve, allow_lockout=allow_lockout))


@fleet_group.command("audit")
@fleet_file_argument
@members_option
@parallel_option
@fleet_format
@click.option("--fail-on", type=click.Choice(["high", "medium", "low"]),
              help="Exit 5 when a member has a finding at or above this severity.")
@click.pass_context
def fleet_audit_command(ctx: click.Context, *, fleet_file: Path, members: tuple[str, ...], parallel: int,
                        fmt: PlanFormat | None, fail_on: Severity | None) -> None:
    """Read-only posture findings for every member."""
    from sssctl.app.fleet import commands

    request = FleetRequest(fleet_file, members, parallel, fmt or "text", environment_limits())
    run_fleet(ctx, lambda out: commands.cmd_audit(out, request, environ=dict(os.environ), fail_on=fail_on))


@fleet_group.command("matrix")
@fleet_file_argument
@members_option
@click.option("--format", "fmt", type=click.Choice(["github", "azure-devops"]), required=True)
@click.pass_context
def fleet_matrix_command(ctx: click.Context, *, fleet_file: Path, members: tuple[str, ...],
                         fmt: MatrixFormat) -> None:
    """Print the job matrix (one member per job) for GitHub Actions or Azure Pipelines.

    \b
        echo "matrix=$(sssctl fleet matrix fleet.toml --format github)" >> "$GITHUB_OUTPUT"
        #   strategy: { matrix: "${{ fromJSON(needs.fleet.outputs.matrix) }}" }
    """
    from sssctl.app.fleet import commands

    run_fleet(ctx, lambda out: commands.cmd_matrix(out, fleet_file, members, fmt=fmt))
