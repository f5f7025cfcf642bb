"""Options several commands take, declared once, and the steps every command shares.

A flag is parsed here once into a typed value (a duration into seconds, a format into
its name) and then travels only inside the request objects of :mod:`sssctl.app.requests`;
nothing is handed on through the environment.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

import click
from click.core import ParameterSource

from sssctl.app.requests import MAX_PARALLELISM, Limits

if TYPE_CHECKING:
    from sssctl.app.commands import Invocation, Output

F = TypeVar("F", bound=Callable[..., object])


@dataclass
class GlobalOptions:
    log_format: str
    verbose: int
    color: str = "auto"        # always | never | auto (NO_COLOR, FORCE_COLOR, then the terminal)


# --- the options ------------------------------------------------------------------------------

config_option = click.option(
    "-c", "--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
    envvar="SSSCTL_CONFIG", default="sssctl.toml", show_default=True,
    help="Desired-state file (default: $SSSCTL_CONFIG, else ./sssctl.toml).",
)
target_option = click.option(
    "--target", "targets", multiple=True, metavar="ADDR",
    help="Only this address, or every address below it (`org_setting`, `server_profile.default`). "
         "Repeatable.",
)
allow_lockout_option = click.option("--allow-lockout", is_flag=True,
                                    help="Allow removing your own last approve privilege.")
auto_approve_option = click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")


def _one_format(json_help: str, markdown_help: str) -> Callable[[F], F]:
    """``--json`` / ``--markdown``, handed to the command as ``fmt`` (None: text).

    Two flags of their own, not two values of one option: with one shared option the last
    flag would silently win, and ``--json --markdown`` must be refused instead.
    """
    def decorate(f: F) -> F:
        @functools.wraps(f)
        def command(*args: object, as_json: bool, as_markdown: bool, **kwargs: object) -> object:
            if as_json and as_markdown:
                raise click.UsageError("--json and --markdown cannot be combined: choose one output format")
            return f(*args, fmt="json" if as_json else "markdown" if as_markdown else None, **kwargs)

        with_markdown = click.option("--markdown", "as_markdown", is_flag=True, help=markdown_help)(command)
        return cast(F, click.option("--json", "as_json", is_flag=True, help=json_help)(with_markdown))

    return decorate


format_options = _one_format("Stable, versioned JSON (for OPA/Conftest).",
                             "Markdown for pull-request comments.")


def _duration(value: str) -> float:
    from sssctl.state.locking import parse_duration

    return parse_duration(value)


def _lock_timeout(ctx: click.Context, param: click.Parameter, value: str) -> float:
    from sssctl.state.errors import StateError

    try:
        return _duration(value)
    except StateError as exc:
        raise click.BadParameter(str(exc)) from None


def _run_timeout(ctx: click.Context, param: click.Parameter, value: str) -> float:
    from sssctl.state.errors import StateError

    try:
        return _duration(value)
    except StateError:
        raise click.BadParameter(f"{value!r} is not a duration: write e.g. 45m, 2h, 1h30m or 0") from None


parallelism_option = click.option(
    "--parallelism", type=click.IntRange(1, MAX_PARALLELISM), default=MAX_PARALLELISM, show_default=True,
    help="Most requests in flight at once: a cap. Below it sssctl follows the service (x-ms-dop-hint, "
         "the x-ms-ratelimit-* headers, 429s); 52 is Dataverse's concurrent-request limit.",
)
lock_timeout_option = click.option(
    "--lock-timeout", metavar="DURATION", default="0", envvar="SSSCTL_LOCK_TIMEOUT", callback=_lock_timeout,
    help="Wait this long (30s, 5m) for a state lock another run holds, then exit 4. Default 0: do not wait.",
)
timeout_option = click.option(
    "--timeout", "run_timeout", metavar="DURATION", default="0", envvar="SSSCTL_TIMEOUT",
    callback=_run_timeout,
    help="Give the whole run at most this long (30m, 2h); then send nothing more and exit 1, keeping what "
         "was applied. Default 0: no deadline (a run the service only slows down is never abandoned).",
)


def environment_limits(*, parallelism: int = MAX_PARALLELISM, locking: bool = False) -> Limits:
    """``SSSCTL_TIMEOUT`` (and, for a run that locks, ``SSSCTL_LOCK_TIMEOUT``) of a command without the flags.

    Read here, once, like the flags of ``apply``: a deadline holds for every command that
    talks to the service, a lock wait for every command that takes a lock.
    """
    from sssctl.state.errors import StateError

    values = {"SSSCTL_TIMEOUT": os.environ.get("SSSCTL_TIMEOUT", "").strip() or "0",
              "SSSCTL_LOCK_TIMEOUT": (os.environ.get("SSSCTL_LOCK_TIMEOUT") if locking else None) or "0"}
    try:
        seconds = {name: _duration(text) for name, text in values.items()}
    except StateError as exc:
        raise click.ClickException(str(exc)) from None
    return Limits(parallelism=parallelism, timeout=seconds["SSSCTL_TIMEOUT"],
                  lock_timeout=seconds["SSSCTL_LOCK_TIMEOUT"])


# --- fleets -------------------------------------------------------------------------------------

fleet_file_argument = click.argument("fleet_file", type=click.Path(path_type=Path, dir_okay=False))
members_option = click.option("--member", "members", multiple=True, metavar="NAME",
                              help="Only this member (repeat for several). Default: every member.")
parallel_option = click.option("--parallel-environments", "parallel", type=click.IntRange(1, 64), default=4,
                               show_default=True, help="Environments in flight at once.")


fleet_format = _one_format("JSON: every member's result and plan.", "One Markdown PR comment.")


# --- running a command ------------------------------------------------------------------------------

def output_of(ctx: click.Context) -> Output:
    """Results on stdout, progress and errors on stderr, both redacted, coloured as asked."""
    from sssctl.app.commands import Output
    from sssctl.logging import color_wanted, redacting

    opts: GlobalOptions = ctx.find_object(GlobalOptions) or GlobalOptions("console", 0)
    return Output(color=color_wanted(opts.color, sys.stdout), verbose=opts.verbose,
                  out=redacting(sys.stdout), err=redacting(sys.stderr))


def invocation(ctx: click.Context, config_path: Path, *, config_required: bool = True,
               limits: Limits | None = None) -> Invocation:
    """One command against one environment: its config, the environment, output and limits.

    Commands that talk to the service pass their ``limits``: from their flags, else
    :func:`environment_limits`.
    """
    from sssctl.app.commands import Invocation
    from sssctl.app.progress import RunProgress

    implicit = ctx.get_parameter_source("config_path") is ParameterSource.DEFAULT
    if config_required and implicit and not config_path.exists():
        raise click.ClickException(
            f"no {config_path} in this directory: name the desired-state file with -c FILE "
            "or set SSSCTL_CONFIG; `sssctl init` writes one to start from"
        )
    inv = Invocation(config_path, dict(os.environ), output_of(ctx), limits=limits or Limits())
    inv.progress = RunProgress(inv.output.err)   # plain lines and a heartbeat without a TTY
    return inv


def config_given(ctx: click.Context) -> bool:
    return ctx.get_parameter_source("config_path") is not ParameterSource.DEFAULT


def run(ctx: click.Context, inv: Invocation, body: Callable[[], int]) -> None:
    """Run a command body; its exit code, or the message and code of the error it raised."""
    from sssctl.app.commands import guarded

    try:
        code = guarded(inv.output, body)
    finally:
        inv.progress.close()
    ctx.exit(code)


def run_fleet(ctx: click.Context, body: Callable[[Output], int]) -> None:
    from sssctl.app.commands import guarded

    ctx.exit(guarded(output_of(ctx), lambda: body(output_of(ctx))))
