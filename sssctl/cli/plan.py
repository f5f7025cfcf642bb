"""``plan``, ``refresh`` and ``show``: what apply would change, what drifted, what a plan says."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sssctl.app.requests import PlanFormat, PlanRequest, ShowRequest
from sssctl.cli.options import (
    allow_lockout_option,
    config_option,
    environment_limits,
    format_options,
    invocation,
    run,
    target_option,
)

if TYPE_CHECKING:
    from sssctl.app.commands import Invocation


@click.command("plan")
@config_option
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False),
              help="Save the plan (JSON, mode 0600).")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes (0 none, 3 unknowns).")
@format_options
@click.option("--refresh-only", is_flag=True, help="Report drift from the state instead of planning changes.")
@click.option("--destroy", is_flag=True,
              help="Plan what `sssctl destroy` would do (restore every managed value), to review and "
                   "save it; `sssctl apply FILE` applies a saved destroy plan.")
@target_option
@allow_lockout_option
@click.pass_context
def plan_command(ctx: click.Context, *, config_path: Path, out: Path | None, detailed_exitcode: bool,
                 fmt: PlanFormat | None, refresh_only: bool, destroy: bool, targets: tuple[str, ...],
                 allow_lockout: bool) -> None:
    """Read the live environment and show what apply would change.

    \b
        sssctl plan -c configs/hardened.toml
        sssctl plan --out hardened.plan        # then: sssctl apply hardened.plan
        sssctl plan --json | conftest test -  # policy checks on the plan
        sssctl plan --destroy --out destroy.plan --markdown   # a reviewed destroy

    Exit status: 0 success, 1 error, 3 when some objects could not be read (the plan is
    incomplete; unknown is never treated as drift); with --detailed-exitcode also 2 when
    there are changes.
    """
    from sssctl.app import commands

    request = PlanRequest(out=out, detailed=detailed_exitcode, fmt=fmt or "text", refresh_only=refresh_only,
                          targets=targets, allow_lockout=allow_lockout, destroy=destroy)
    inv = invocation(ctx, config_path, limits=environment_limits())
    run(ctx, inv, _explaining_refusal(inv, request.fmt, lambda: commands.cmd_plan(inv, request)))


def _explaining_refusal(inv: Invocation, fmt: PlanFormat, body: Callable[[], int]) -> Callable[[], int]:
    """A refused plan, or one that could not be made at all (sign-in refused, say), still prints
    a valid JSON / Markdown document saying why; the error and its exit code follow on stderr."""
    from sssctl.app.commands import describe_error
    from sssctl.engine.errors import PlanRefused
    from sssctl.engine.render import jsonplan, markdown

    def explained() -> int:
        try:
            return int(body())
        except PlanRefused as exc:
            name = exc.environment_name
            if fmt == "json":
                inv.show(jsonplan.dumps(jsonplan.refused_document(exc.refusals, environment_name=name)))
            elif fmt == "markdown":
                inv.show(markdown.render_refused(exc.refusals, environment_name=name))
            raise
        except Exception as exc:
            error = describe_error(exc)[0].removeprefix("Error: ")
            if fmt == "json":
                inv.show(jsonplan.dumps(jsonplan.errored_document(error)))
            elif fmt == "markdown":
                inv.show(markdown.render_errored(error))
            raise

    return explained


@click.command("show")
@click.argument("plan_file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@config_option
@format_options
@click.pass_context
def show_command(ctx: click.Context, plan_file: Path | None, config_path: Path,
                 fmt: PlanFormat | None) -> None:
    """Render a saved plan, or the current state when no file is given.

    \b
        sssctl show hardened.plan --markdown   # for a pull-request comment
        sssctl show -c configs/hardened.toml   # what sssctl manages now
    """
    from sssctl.app import commands

    inv = invocation(ctx, config_path, config_required=plan_file is None)
    run(ctx, inv, lambda: commands.cmd_show(inv, ShowRequest(plan_file=plan_file, fmt=fmt or "text")))


@click.command("refresh")
@config_option
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when drift is found.")
@format_options
@target_option
@click.pass_context
def refresh_command(ctx: click.Context, *, config_path: Path, detailed_exitcode: bool, fmt: PlanFormat | None,
                    targets: tuple[str, ...]) -> None:
    """Report drift: managed objects whose live value is not what sssctl last applied.

    Read-only by design: it neither proposes changes nor rewrites the state (the state
    keeps what sssctl applied, which is what drift is measured against). Same as
    `sssctl plan --refresh-only`. Exit 0 (or 2 with --detailed-exitcode when drift is
    found), 3 when some objects could not be read.

    \b
        sssctl refresh -c configs/hardened.toml --detailed-exitcode
    """
    from sssctl.app import commands

    request = PlanRequest(detailed=detailed_exitcode, fmt=fmt or "text", refresh_only=True, targets=targets)
    inv = invocation(ctx, config_path, limits=environment_limits())
    run(ctx, inv, lambda: commands.cmd_plan(inv, request))
