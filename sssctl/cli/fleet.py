"""``fleet``: a command over every environment of a fleet file, a few at a time."""

from __future__ import annotations

import os
from pathlib import Path

import click

from sssctl.app.requests import FleetFormat, FleetRequest, Limits, MatrixFormat, PlanFormat, Severity
from sssctl.cli.options import (
    allow_lockout_option,
    fleet_file_argument,
    fleet_format,
    lock_timeout_option,
    members_option,
    parallel_option,
    parallelism_option,
    run_fleet,
    timeout_option,
)

_FLEET_AUDIT_FORMATS: dict[str, FleetFormat] = {"table": "text", "json": "json", "markdown": "markdown",
                                                "sarif": "sarif"}


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
    """Check the fleet file and every member's config offline (with the member's overrides).

    \b
        sssctl fleet validate fleet.toml
        sssctl fleet validate fleet.toml --member prod --json
    """
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
@timeout_option
@click.pass_context
def fleet_plan_command(ctx: click.Context, *, fleet_file: Path, members: tuple[str, ...], parallel: int,
                       fmt: PlanFormat | None, out_dir: Path | None, detailed_exitcode: bool,
                       allow_lockout: bool, run_timeout: float) -> None:
    """Plan every member; no state is written and no lock taken.

    \b
        sssctl fleet plan fleet.toml --detailed-exitcode --parallel-environments 8
        sssctl fleet plan fleet.toml --member prod --member uat --json
    """
    from sssctl.app.fleet import commands

    request = FleetRequest(fleet_file, members, parallel, fmt or "text", Limits(timeout=run_timeout))
    run_fleet(ctx, lambda out: commands.cmd_plan(out, request, environ=dict(os.environ),
                                                 detailed=detailed_exitcode, out_dir=out_dir,
                                                 allow_lockout=allow_lockout))


@fleet_group.command("refresh")
@fleet_file_argument
@members_option
@parallel_option
@fleet_format
@timeout_option
@click.pass_context
def fleet_refresh_command(ctx: click.Context, *, fleet_file: Path, members: tuple[str, ...], parallel: int,
                          fmt: PlanFormat | None, run_timeout: float) -> None:
    """Report each member's drift from its state (exit 2 when any drifted).

    --timeout (or SSSCTL_TIMEOUT) holds for each member, as for `sssctl fleet plan`.

    \b
        sssctl fleet refresh fleet.toml --markdown
        sssctl fleet refresh fleet.toml --timeout 20m
    """
    from sssctl.app.fleet import commands

    request = FleetRequest(fleet_file, members, parallel, fmt or "text", Limits(timeout=run_timeout))
    run_fleet(ctx, lambda out: commands.cmd_plan(out, request, environ=dict(os.environ), detailed=True,
                                                 refresh_only=True))


@fleet_group.command("apply")
@click.argument("target", type=click.Path(path_type=Path))
@members_option
@parallel_option
@fleet_format
@click.option("--auto-approve", is_flag=True, help="Apply a FLEETFILE's fresh plans without review.")
@parallelism_option
@allow_lockout_option
@lock_timeout_option
@timeout_option
@click.pass_context
def fleet_apply_command(ctx: click.Context, *, target: Path, members: tuple[str, ...], parallel: int,
                        fmt: PlanFormat | None, auto_approve: bool, parallelism: int,
                        allow_lockout: bool, lock_timeout: float, run_timeout: float) -> None:
    """Apply the saved plans of DIR (from `fleet plan --out DIR`), or a FLEETFILE with --auto-approve.

    Each member locks its own state; one member's failure never stops the others.
    --parallelism, --lock-timeout and --timeout hold for each member, as for `sssctl apply`.

    \b
        sssctl fleet plan fleet.toml --out plans/   # review, then:
        sssctl fleet apply plans/ --lock-timeout 5m
        sssctl fleet apply fleet.toml --auto-approve --member dev
    """
    from sssctl.app.fleet import commands

    limits = Limits(parallelism=parallelism, lock_timeout=lock_timeout, timeout=run_timeout)
    request = FleetRequest(target, members, parallel, fmt or "text", limits)
    run_fleet(ctx, lambda out: commands.cmd_apply(out, request, environ=dict(os.environ),
                                                  auto_approve=auto_approve, allow_lockout=allow_lockout))


@fleet_group.command("audit")
@fleet_file_argument
@members_option
@parallel_option
@fleet_format
@click.option("--format", "format_", type=click.Choice(["table", "json", "markdown", "sarif"]), default=None,
              help="table (default) for people, json for scripts, markdown for a job summary, sarif (2.1.0, "
                   "one run, each member's findings in its own config) for GitHub code scanning.")
@click.option("--fail-on", type=click.Choice(["high", "medium", "low"]),
              help="Exit 5 when a member has a finding at or above this severity.")
@timeout_option
@click.pass_context
def fleet_audit_command(ctx: click.Context, *, fleet_file: Path, members: tuple[str, ...], parallel: int,
                        fmt: PlanFormat | None, format_: str | None, fail_on: Severity | None,
                        run_timeout: float) -> None:
    """Read-only posture findings for every member; the summary counts them by severity.

    \b
        sssctl fleet audit fleet.toml --fail-on high
        sssctl fleet audit fleet.toml --format sarif > fleet.sarif   # upload to code scanning
    """
    from sssctl.app.fleet import commands

    chosen: FleetFormat = fmt or _FLEET_AUDIT_FORMATS.get(format_ or "table", "text")
    request = FleetRequest(fleet_file, members, parallel, chosen, Limits(timeout=run_timeout))
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
