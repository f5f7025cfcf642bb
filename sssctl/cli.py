"""The command line: parse flags, call the engine, pick a renderer. No logic lives here."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import click

from sssctl import __version__, exitcodes


@dataclass
class GlobalOptions:
    log_format: str
    verbose: int
    color: str = "auto"        # always | never | auto (NO_COLOR, FORCE_COLOR, then the terminal)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="sssctl")
@click.option("--log-format", type=click.Choice(["console", "json"]), default=None,
              help="Log format: console (default, also in CI) or json lines. Env: SSSCTL_LOG_FORMAT.")
@click.option("-v", "--verbose", count=True,
              help="More detail (-v info, -vv debug). Env: SSSCTL_LOG=debug|info|warning, "
                   "SSSCTL_LOG_PATH=FILE to append logs to a file.")
@click.option("--color", "color", type=click.Choice(["auto", "always", "never"]), default=None,
              help="ANSI colours. auto (default): on a terminal, unless NO_COLOR is set; "
                   "FORCE_COLOR forces them for CI logs that render ANSI.")
@click.option("--no-color", is_flag=True, help="Same as --color=never.")
@click.pass_context
def cli(ctx: click.Context, log_format: str | None, verbose: int, color: str | None, no_color: bool) -> None:
    """Lock down Dynamics 365 Server-Side Synchronization, declaratively.

    Describe the wanted state in a TOML file, then let sssctl read the live environment,
    show a plan and apply it:

    \b
        sssctl validate configs/hardened.toml
        sssctl plan  -c configs/hardened.toml --out hardened.plan
        sssctl apply hardened.plan

    Try it without touching Microsoft: `sssctl demo` runs the whole loop against the
    built-in emulator.
    """
    import sys

    from sssctl.logging import LoggingSetupError, color_wanted, configure_logging

    mode = color or ("never" if no_color else "auto")
    try:
        resolved = configure_logging(log_format=log_format, verbose=verbose,
                                     color=None if mode == "auto" else color_wanted(mode, sys.stderr))
    except LoggingSetupError as exc:
        raise click.ClickException(str(exc)) from None
    ctx.obj = GlobalOptions(log_format=resolved, verbose=verbose, color=mode)


# --- configuration: validate, schema -----------------------------------------------------


@cli.command("validate")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True,
              help="Print findings as a JSON list of {file, key_path, line, message, suggestion}.")
def validate_command(files: tuple[Path, ...], as_json: bool) -> None:
    """Check desired-state files without contacting anything.

    Every problem of every file is reported at once, with the file, the dotted key path,
    the line and a suggestion where one is close. SSSCTL_* variables are applied first,
    just as plan and apply would. Exit status: 0 when all files are valid, 1 otherwise.

    \b
        sssctl validate configs/hardened.toml configs/lockdown.toml
        sssctl validate --json configs/*.toml | jq '.[].key_path'
    """
    from sssctl.config.loader import load_many
    from sssctl.config.report import render_json, render_text

    if not files:  # exit 1, not click's usage code 2, which means "changes present" here
        click.echo("Error: name at least one file, e.g. sssctl validate configs/hardened.toml", err=True)
        raise SystemExit(1)
    results = load_many(files)
    click.echo(render_json(results) if as_json else render_text(results))
    from sssctl.config.hints import placeholder_warnings

    for result in results:  # valid, but sign-in would go to a tenant/app that does not exist
        for warning in placeholder_warnings(result.desired) if result.desired else ():
            click.echo(f"Warning: {result.path}: {warning}", err=True)
    if not all(result.ok for result in results):
        raise SystemExit(1)


@cli.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of the desired-state format, for editors and CI.

    It is generated from the same tables `sssctl validate` checks against, and committed
    as configs/sssctl.schema.json. Save it next to your configs and name it on the first
    line of each file so that TOML editors (Taplo, Even Better TOML) complete and check keys:

    \b
        sssctl schema > sssctl.schema.json
        #:schema ./sssctl.schema.json        <- first line of your config
    """
    from sssctl.config.schema import render_schema

    click.echo(render_schema(), nl=False)


# --- emulator -----------------------------------------------------------------------------


@cli.group("emulator")
def emulator_group() -> None:
    """Local HTTPS emulator of Entra ID login, Dataverse, Microsoft Graph and Exchange admin.

    Point sssctl at it through the environment file it writes:

    \b
        sssctl emulator serve --env-file emulator.env &
        set -a; . ./emulator.env; set +a
        sssctl plan -c configs/hardened.toml
    """


_PROBABILITY = click.FloatRange(0.0, 1.0)


def _require_emulator(command: str) -> None:
    """Exit 1 with one sentence naming the extra to install when the emulator is absent."""
    from sssctl.emulator.extra import missing_message

    message = missing_message(command)
    if message is not None:
        raise click.ClickException(message)


@emulator_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="0 picks a free port.")
@click.option("--dataset", type=click.Choice(["small", "large"]), default="small", show_default=True)
@click.option("--mailboxes", type=click.IntRange(min=1),
              help="Mailboxes to seed (large default: 50000).")
@click.option("--business-units", type=click.IntRange(min=1), help="Business units to seed.")
@click.option("--roles", type=click.IntRange(min=1), help="Security roles to seed.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the generated data.")
@click.option("--organizations", type=click.IntRange(1, 200), default=1, show_default=True,
              help="Dataverse organizations to serve in the one tenant (org1 at /dataverse, "
                   "orgN at /dataverse-orgN), each with its own data.")
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where the CA, certificates and keys live (default: the per-user cache).")
@click.option("--env-file", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write SSSCTL_* variables here (load with: set -a; . FILE; set +a).")
@click.option("--auto-approve-device-codes", is_flag=True, help="Approve device-code sign-ins at once.")
@click.option("--token-lifetime", type=click.IntRange(min=1), default=3600, show_default=True,
              help="Seconds an issued access token stays valid.")
@click.option("--latency-ms", type=click.FloatRange(min=0), default=0.0, help="Added to every request.")
@click.option("--batch-operation-ms", type=click.FloatRange(min=0), default=0.0,
              help="Server time of each operation inside a Dataverse $batch (charged to the time limit).")
@click.option("--request-operation-ms", type=click.FloatRange(min=0), default=0.0,
              help="Server time of each Dataverse request sent alone (charged to the time limit).")
@click.option("--dop-hint", type=click.IntRange(min=1), default=4, show_default=True,
              help="The x-ms-dop-hint Dataverse answers with (recommended parallelism).")
@click.option("--throttle-probability", type=_PROBABILITY, default=0.0, help="Chance of a 429.")
@click.option("--error-probability", type=_PROBABILITY, default=0.0, help="Chance of a 503.")
@click.option("--drop-probability", type=_PROBABILITY, default=0.0, help="Chance of a dropped connection.")
@click.option("--lost-response-probability", type=_PROBABILITY, default=0.0,
              help="Chance that a request is carried out but its response is lost (connection dropped).")
@click.option("--malformed-probability", type=_PROBABILITY, default=0.0,
              help="Chance of a 200 answer with an HTML page instead of JSON (a broken proxy).")
@click.option("--fault-seed", type=click.IntRange(min=0), default=None, help="Seed faults, to replay a run.")
@click.option("--fault-service", type=click.Choice(["login", "dataverse", "graph", "exchange"]),
              help="Inject faults into this service only.")
@click.option("--fault-route", default="", help="Inject faults only into paths starting with this prefix.")
@click.option("--max-faults", type=click.IntRange(min=0), default=0, help="Stop after this many faults.")
@click.option("--replication-delay", type=click.IntRange(min=0), default=0,
              help="Requests for which new Graph objects stay invisible.")
@click.option("--clock", metavar="ISO8601",
              help="The emulator's 'now' for every date-gated behaviour (EWS blocking from 2026-10-01, "
                   "EWS shutdown on 2027-04-01, RBAC propagation, secret expiry); it keeps running "
                   "from there. Default: the real date.")
@click.option("--ews-propagation-seconds", type=click.FloatRange(0, 86400), default=0.0,
              help="Delay before an EWSAllowedAppIDs change is enforced (Exchange: up to 24 h).")
def emulator_serve_command(**options: Any) -> None:
    """Serve the emulator over HTTPS until Ctrl-C; prints one JSON line with its endpoints.

    The line (url, dataverse_url, authority, graph_url, exchange_url, tenant_id, ca_file,
    client_id, client_secret, client_certificate_file, admin_token, …) is the only thing
    on stdout, so scripts can read it; logs go to stderr. The CA is created once under
    the data dir and reused, so trust it once.

    \b
        sssctl emulator serve --env-file emulator.env &       # small dataset
        sssctl emulator serve --dataset large --mailboxes 20000 --latency-ms 20
        sssctl emulator serve --throttle-probability 0.05 --replication-delay 3
        sssctl emulator serve --organizations 20            # a fleet of 20 environments
        sssctl emulator serve --clock 2027-04-02T00:00:00Z  # after the EWS shutdown
        curl --cacert ~/.cache/sssctl/emulator/ca.pem -H "Authorization: Bearer $ADMIN" \\
             https://127.0.0.1:PORT/_emulator/counters
    """
    import sys

    _require_emulator("emulator serve")
    from sssctl.emulator.serve import serve
    from sssctl.emulator.server import EmulatorError

    fault_names = ("latency_ms", "throttle_probability", "error_probability", "drop_probability",
                   "batch_operation_ms", "request_operation_ms", "dop_hint", "replication_delay",
                   "lost_response_probability", "fault_service", "fault_route",
                   "max_faults", "malformed_probability", "ews_propagation_seconds")
    faults = {name: options.pop(name) for name in fault_names}
    seed, faults["fault_service"] = options.pop("fault_seed"), faults["fault_service"] or ""
    faults["fault_seed"] = -1 if seed is None else seed
    try:
        serve(out=sys.stdout, err=sys.stderr, faults=faults, **options)
    except EmulatorError as exc:
        raise click.ClickException(str(exc)) from exc
# --- auth ---------------------------------------------------------------------------------


@cli.group("auth")
def auth_group() -> None:
    """Check how sssctl signs in and what the identity may do.

    \b
        sssctl auth check -c configs/hardened.toml
        sssctl auth check -c configs/hardened.toml --json | jq '.checks[] | select(.result != "ok")'
    """


@auth_group.command("check")
@click.option("-c", "--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              envvar="SSSCTL_CONFIG", default="sssctl.toml", show_default=True,
              help="Desired-state file (default: $SSSCTL_CONFIG, else ./sssctl.toml).")
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
    import json
    import os

    from sssctl.app.runner import check_access
    from sssctl.config.errors import ConfigError

    try:
        report = check_access(config_path, dict(os.environ))
    except ConfigError as exc:
        click.echo(exc.render(), err=True)
        raise SystemExit(1) from None
    click.echo(json.dumps(report.to_json(), indent=2) if as_json else report.render())
    raise SystemExit(0 if report.ok else 1)

# --- engine: plan, apply, show, refresh, destroy, state, export, audit, demo -------------

_config_option = click.option(
    "-c", "--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
    envvar="SSSCTL_CONFIG", default="sssctl.toml", show_default=True,
    help="Desired-state file (default: $SSSCTL_CONFIG, else ./sssctl.toml).",
)
_target_option = click.option(
    "--target", "targets", multiple=True, metavar="ADDR",
    help="Only this address, or every address below it (`org_setting`, `server_profile.default`). "
         "Repeatable.",
)
_format_options = (
    click.option("--json", "fmt", flag_value="json", help="Stable, versioned JSON (for OPA/Conftest)."),
    click.option("--markdown", "fmt", flag_value="markdown", help="Markdown for pull-request comments."),
)


def _lock_timeout(ctx: click.Context, param: click.Parameter, value: str) -> float:
    from sssctl.state.errors import StateError
    from sssctl.state.locking import parse_duration

    try:
        return parse_duration(value)
    except StateError as exc:
        raise click.BadParameter(str(exc)) from None


_parallelism_option = click.option(
    "--parallelism", type=click.IntRange(1, 52), default=52, show_default=True,
    help="Most requests in flight at once: a cap. Below it sssctl follows the service (x-ms-dop-hint, "
         "the x-ms-ratelimit-* headers, 429s); 52 is Dataverse's concurrent-request limit.",
)
_lock_timeout_option = click.option(
    "--lock-timeout", metavar="DURATION", default="0", envvar="SSSCTL_LOCK_TIMEOUT", callback=_lock_timeout,
    help="Wait this long (30s, 5m) for a state lock another run holds, then exit 4. Default 0: do not wait.",
)


def _run_timeout(ctx: click.Context, param: click.Parameter, value: str) -> float:
    from sssctl.state.errors import StateError
    from sssctl.state.locking import parse_duration

    try:
        return parse_duration(value)
    except StateError:
        raise click.BadParameter(f"{value!r} is not a duration: write e.g. 45m, 2h, 1h30m or 0") from None


_timeout_option = click.option(
    "--timeout", "run_timeout", metavar="DURATION", default="0", envvar="SSSCTL_TIMEOUT",
    callback=_run_timeout,
    help="Give the whole run at most this long (30m, 2h); then send nothing more and exit 1, keeping what "
         "was applied. Default 0: no deadline (a run the service only slows down is never abandoned).",
)


def _deadline(inv: Any, seconds: float) -> Any:
    """Hand --timeout to the run in its environment, like --lock-timeout."""
    inv.environ = {**inv.environ, "SSSCTL_TIMEOUT": str(int(seconds))}
    return inv


def _locking(inv: Any, seconds: float) -> Any:
    """Hand --lock-timeout to the run the way every setting travels: in its environment."""
    from sssctl.state.locking import LOCK_TIMEOUT_ENV

    inv.environ = {**inv.environ, LOCK_TIMEOUT_ENV: str(int(seconds))}
    return inv


def _with_format(f: Any) -> Any:
    for option in reversed(_format_options):
        f = option(f)
    return f


def _engine(ctx: click.Context, config_path: Path, *, config_required: bool = True) -> Any:
    import os
    import sys

    from click.core import ParameterSource

    from sssctl.app.commands import Invocation, Output

    implicit = ctx.get_parameter_source("config_path") is ParameterSource.DEFAULT
    if config_required and implicit and not config_path.exists():
        raise click.ClickException(
            f"no {config_path} in this directory: name the desired-state file with -c FILE "
            "or set SSSCTL_CONFIG (examples in configs/)"
        )
    from sssctl.app.progress import RunProgress
    from sssctl.logging import color_wanted, redacting

    opts: GlobalOptions = ctx.find_object(GlobalOptions) or GlobalOptions("console", 0)
    color = color_wanted(opts.color, sys.stdout)
    output = Output(color=color, verbose=opts.verbose, out=redacting(sys.stdout), err=redacting(sys.stderr))
    inv = Invocation(config_path, dict(os.environ), output)
    inv.progress = cast(Any, RunProgress(inv.output.err))   # plain lines and a heartbeat without a TTY
    return inv


def _run(ctx: click.Context, inv: Any, body: Any) -> None:
    from sssctl.app.commands import guarded

    try:
        code = guarded(inv.output, body)
    finally:
        inv.progress.close()
    ctx.exit(code)


@cli.command("plan")
@_config_option
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False),
              help="Save the plan (JSON, mode 0600).")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes (0 none, 3 unknowns).")
@_with_format
@click.option("--refresh-only", is_flag=True, help="Report drift from the state instead of planning changes.")
@_target_option
@click.option("--allow-lockout", is_flag=True, help="Allow removing your own last approve privilege.")
@click.pass_context
def plan_command(ctx: click.Context, *, config_path: Path, out: Path | None, detailed_exitcode: bool,
                 fmt: str | None, refresh_only: bool, targets: tuple[str, ...], allow_lockout: bool) -> None:
    """Read the live environment and show what apply would change.

    \b
        sssctl plan -c configs/hardened.toml
        sssctl plan --out hardened.plan        # then: sssctl apply hardened.plan
        sssctl plan --json | conftest test -  # policy checks on the plan

    Exit status: 0 success, 1 error, 3 when some objects could not be read (the plan is
    incomplete; unknown is never treated as drift); with --detailed-exitcode also 2 when
    there are changes.
    """
    from sssctl.app.commands import cmd_plan

    inv = _engine(ctx, config_path)
    _run(ctx, inv, _explaining_refusal(inv, fmt, lambda: cmd_plan(
        inv, out=out, detailed=detailed_exitcode, fmt=fmt or "text", refresh_only=refresh_only,
        targets=targets, allow_lockout=allow_lockout)))


def _explaining_refusal(inv: Any, fmt: str | None, body: Any) -> Any:
    """A refused plan still prints valid JSON / Markdown saying why; the error and exit 1 follow."""
    from sssctl.engine.errors import PlanRefused
    from sssctl.engine.render import jsonplan, markdown

    def run() -> int:
        try:
            return int(body())
        except PlanRefused as exc:
            if fmt == "json":
                inv.show(jsonplan.dumps(jsonplan.refused_document(exc.refusals)))
            elif fmt == "markdown":
                inv.show(markdown.render_refused(exc.refusals))
            raise

    return run


@cli.command("apply")
@click.argument("plan_file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@_config_option
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@_parallelism_option
@_target_option
@click.option("--allow-lockout", is_flag=True, help="Allow removing your own last approve privilege.")
@_lock_timeout_option
@_timeout_option
@click.pass_context
def apply_command(ctx: click.Context, *, plan_file: Path | None, config_path: Path, auto_approve: bool,
                  parallelism: int, targets: tuple[str, ...], allow_lockout: bool,
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
    """
    from click.core import ParameterSource

    from sssctl.app.commands import cmd_apply

    inv = _deadline(_locking(_engine(ctx, config_path, config_required=plan_file is None), lock_timeout),
                    run_timeout)
    config_given = ctx.get_parameter_source("config_path") is not ParameterSource.DEFAULT
    _run(ctx, inv, lambda: cmd_apply(inv, plan_file=plan_file, config_given=config_given,
                                     auto_approve=auto_approve, parallelism=parallelism, targets=targets,
                                     allow_lockout=allow_lockout))


@cli.command("show")
@click.argument("plan_file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@_config_option
@_with_format
@click.pass_context
def show_command(ctx: click.Context, plan_file: Path | None, config_path: Path, fmt: str | None) -> None:
    """Render a saved plan, or the current state when no file is given.

    \b
        sssctl show hardened.plan --markdown   # for a pull-request comment
        sssctl show -c configs/hardened.toml   # what sssctl manages now
    """
    from sssctl.app.commands import cmd_show

    inv = _engine(ctx, config_path, config_required=plan_file is None)
    _run(ctx, inv, lambda: cmd_show(inv, plan_file=plan_file, fmt=fmt or "text"))


@cli.command("refresh")
@_config_option
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when drift is found.")
@_with_format
@_target_option
@click.pass_context
def refresh_command(ctx: click.Context, *, config_path: Path, detailed_exitcode: bool, fmt: str | None,
                    targets: tuple[str, ...]) -> None:
    """Report drift: managed objects whose live value is not what sssctl last applied.

    Read-only by design: it neither proposes changes nor rewrites the state (the state
    keeps what sssctl applied, which is what drift is measured against). Same as
    `sssctl plan --refresh-only`. Exit 0 (or 2 with --detailed-exitcode when drift is
    found), 3 when some objects could not be read.

    \b
        sssctl refresh -c configs/hardened.toml --detailed-exitcode
    """
    from sssctl.app.commands import cmd_plan

    inv = _engine(ctx, config_path)
    _run(ctx, inv, lambda: cmd_plan(inv, out=None, detailed=detailed_exitcode, fmt=fmt or "text",
                                    refresh_only=True, targets=targets, allow_lockout=False))


@cli.command("destroy")
@_config_option
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@_parallelism_option
@_target_option
@_lock_timeout_option
@_timeout_option
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
    from sssctl.app.commands import cmd_destroy

    inv = _deadline(_locking(_engine(ctx, config_path), lock_timeout), run_timeout)
    _run(ctx, inv, lambda: cmd_destroy(inv, auto_approve=auto_approve, parallelism=parallelism,
                                       targets=targets))


@cli.group("state")
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
@_config_option
@click.pass_context
def state_list_command(ctx: click.Context, config_path: Path) -> None:
    """List managed addresses with their kind and last update (tab separated).

    \b
        sssctl state list -c configs/hardened.toml
        sssctl state list -c configs/hardened.toml | cut -f1 | grep ^org_setting
    """
    from sssctl.app.commands import cmd_state_list

    inv = _engine(ctx, config_path)
    _run(ctx, inv, lambda: cmd_state_list(inv))


@state_group.command("show")
@click.argument("address")
@_config_option
@click.pass_context
def state_show_command(ctx: click.Context, address: str, config_path: Path) -> None:
    """Print one address's state entry as JSON (secrets appear only as fingerprints).

    The entry holds the managed values as last applied, the value found before sssctl
    first managed the address (what ``destroy`` restores) and secret fingerprints.

    \b
        sssctl state show -c configs/hardened.toml 'server_profile.custom["Contoso EXO (own app)"]'
    """
    from sssctl.app.commands import cmd_state_show

    inv = _engine(ctx, config_path)
    _run(ctx, inv, lambda: cmd_state_show(inv, address))


@state_group.command("unlock")
@click.argument("lock_id")
@_config_option
@click.pass_context
def state_unlock_command(ctx: click.Context, lock_id: str, config_path: Path) -> None:
    """Remove a lock left by a run that died; only when LOCK_ID matches the lock's ID.

    A run that finds the lock held exits 4 and prints the holder (user, host, pid, time)
    and its ID. Make sure that run is really gone before unlocking; a lock of a dead
    process on the same host is taken over automatically.

    \b
        sssctl state unlock -c configs/hardened.toml 3f2a9c1e-…
    """
    from sssctl.app.commands import cmd_state_unlock

    inv = _engine(ctx, config_path)
    _run(ctx, inv, lambda: cmd_state_unlock(inv, lock_id))


def _state_run(ctx: click.Context, config_path: Path, body: Any, lock_timeout: float = 0.0) -> None:
    """Run a ``sssctl.app.state`` function with the loaded config, its environment and output."""
    inv = _locking(_engine(ctx, config_path), lock_timeout)

    def call() -> int:
        from sssctl.config.loader import load

        return int(body(load(inv.config_path, inv.environ), inv.environ, inv.output))

    _run(ctx, inv, call)


@state_group.command("pull")
@_config_option
@click.option("--previous", is_flag=True, help="The snapshot kept before the last write (recovery).")
@click.pass_context
def state_pull_command(ctx: click.Context, config_path: Path, previous: bool) -> None:
    """Print the state snapshot as stored (JSON with its checksum), from any backend.

    \b
        sssctl state pull -c prod.toml > prod-state.json
        sssctl state pull -c prod.toml --previous > before-last-write.json
    """
    from sssctl.app import state as commands

    _state_run(ctx, config_path, lambda d, env, out: commands.pull(d, env, out, previous=previous))


@state_group.command("push")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@_config_option
@click.option("--force", is_flag=True, help="Allow an older serial of the same lineage (never another).")
@_lock_timeout_option
@click.pass_context
def state_push_command(ctx: click.Context, file: Path, config_path: Path, force: bool,
                       lock_timeout: float) -> None:
    """Write a snapshot FILE (from `state pull`) to the configured backend.

    Refused unless FILE passes its checksum, has the stored snapshot's lineage and a newer
    serial (--force allows an older one, e.g. the previous snapshot after a bad write).

    \b
        sssctl state push -c prod.toml prod-state.json
    """
    from sssctl.app import state as commands

    _state_run(ctx, config_path, lambda d, env, out: commands.push(d, env, out, file, force=force),
               lock_timeout)


@state_group.command("rm")
@click.argument("addresses", nargs=-1, required=True, metavar="ADDRESS...")
@_config_option
@_lock_timeout_option
@click.pass_context
def state_rm_command(ctx: click.Context, addresses: tuple[str, ...], config_path: Path,
                     lock_timeout: float) -> None:
    """Stop managing ADDRESS: forget it in the state, change nothing in the environment.

    \b
        sssctl state rm -c prod.toml org_setting.SSSForceFilteringMethodForUserMailboxes
    """
    from sssctl.app import state as commands

    _state_run(ctx, config_path, lambda d, env, out: commands.remove(d, env, out, addresses), lock_timeout)


@state_group.command("migrate")
@click.option("--from", "source", required=True, metavar="BACKEND",
              help="Where the state lived before: local, local:DIR (relative to the config), azurerm, "
                   "or azurerm:CONTAINER/KEY.")
@_config_option
@_lock_timeout_option
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
    from sssctl.app import state as commands

    _state_run(ctx, config_path, lambda d, env, out: commands.migrate(d, env, out, source), lock_timeout)


@cli.command("export")
@_config_option
@click.pass_context
def export_command(ctx: click.Context, config_path: Path) -> None:
    """Print the live environment as a desired-state TOML to start a config from.

    Only [environment] and [auth] of the config are needed. Everything format v1 can say
    is written with its live value: approval, org settings, privileges, mailbox defaults,
    the default profile, user settings (the most common method), mailboxes (report only),
    custom profiles with the app registrations sssctl created (when Graph is configured)
    and their mailbox scope. Comments say what the format cannot express. Exit 3 when
    something could not be read.

    \b
        sssctl export -c bootstrap.toml > configs/contoso.toml
    """
    from sssctl.app.commands import cmd_export

    inv = _engine(ctx, config_path)
    _run(ctx, inv, lambda: cmd_export(inv))


@cli.command("audit")
@_config_option
@click.option("--fail-on", type=click.Choice(["high", "medium", "low"]), default=None,
              help="Exit 5 when a finding is at least this severe (unreadable objects count as high).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown", "sarif"]), default="table",
              show_default=True,
              help="table for people, json for scripts, markdown for a job summary, "
                   "sarif (2.1.0) for GitHub code scanning.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.pass_context
def audit_command(ctx: click.Context, config_path: Path, fail_on: str | None, fmt: str,
                  as_json: bool) -> None:
    """Read-only posture checks against the hardened baseline, as a table with severities.

    Checks: default profile active and mailboxes still on it, an active custom profile
    whose app Exchange does not restrict to a group (an own app scoped by an application
    access policy is the hardened posture), approval not required, self-approval allowed,
    roles other than System Administrator holding the approve privilege, users tracking
    all email, new mailboxes not on server-side sync.
    Exit status: 0 success, 1 error, 5 a finding at or above --fail-on.

    \b
        sssctl audit -c configs/hardened.toml --fail-on high
        sssctl audit --format sarif > sssctl.sarif          # github/codeql-action/upload-sarif
        sssctl audit --format markdown >> "$GITHUB_STEP_SUMMARY"
    """
    from sssctl.app.commands import cmd_audit

    inv = _engine(ctx, config_path)
    as_json = as_json or fmt == "json"
    _run(ctx, inv, lambda: cmd_audit(inv, fail_on=fail_on, as_json=as_json, fmt=fmt))


@cli.command("demo")
@click.option("-c", "--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="Desired-state file to demonstrate (default: the packaged hardened "
                                 "example).")
@click.pass_context
def demo_command(ctx: click.Context, config_path: Path | None) -> None:
    """Run plan -> apply -> plan against the built-in emulator; nothing leaves this machine.

    Starts the emulator on 127.0.0.1, points the config at it, keeps state in a
    temporary directory, and shows that the second plan is empty. Exit 0 only then.

    \b
        sssctl demo
        sssctl demo -c configs/lockdown.toml

    Needs the emulator extra: pip install '.[emulator]' from a clone of sssctl.
    """
    _require_emulator("demo")
    from sssctl.app.demo import example_path, run_demo

    config = config_path or example_path("hardened")
    inv = _engine(ctx, config)
    _run(ctx, inv, lambda: run_demo(config, inv.output))


@cli.command("init")
@click.argument("path", type=click.Path(path_type=Path), default="sssctl.toml")
@click.option("--example", type=click.Choice(["hardened", "lockdown", "minimal"]), default="hardened",
              show_default=True, help="Which example to start from.")
@click.option("--force", is_flag=True, help="Overwrite PATH if it already exists.")
def init_command(path: Path, example: str, force: bool) -> None:
    """Write an example desired state to start from (default ./sssctl.toml).

    hardened: all five controls; lockdown: stop all synchronization; minimal: one setting.
    An existing file is never overwritten without --force.

    \b
        sssctl init
        sssctl init --example lockdown configs/incident.toml
    """
    from sssctl.app.demo import InitError, write_example

    try:
        click.echo(write_example(example, path, force=force))
    except InitError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(1) from None


# --- fleets and environment diff ----------------------------------------------------------


def _fleet_output(ctx: click.Context) -> Any:
    from sssctl.app.commands import Output
    from sssctl.logging import color_wanted, redacting

    opts: GlobalOptions = ctx.find_object(GlobalOptions) or GlobalOptions("console", 0)
    return Output(color=color_wanted(opts.color, sys.stdout), verbose=opts.verbose,
                  out=redacting(sys.stdout), err=redacting(sys.stderr))


def _fleet_run(ctx: click.Context, body: Any) -> None:
    from sssctl.app.commands import guarded

    ctx.exit(guarded(_fleet_output(ctx), lambda: body(_fleet_output(ctx))))


_FLEET_FILE = click.argument("fleet_file", type=click.Path(path_type=Path, dir_okay=False))
_MEMBERS = click.option("--member", "members", multiple=True, metavar="NAME",
                        help="Only this member (repeat for several). Default: every member.")
_PARALLEL = click.option("--parallel-environments", "parallel", type=click.IntRange(1, 64), default=4,
                         show_default=True, help="Environments in flight at once.")


def _fleet_format(f: Any) -> Any:
    f = click.option("--markdown", "fmt", flag_value="markdown", help="One Markdown PR comment.")(f)
    return click.option("--json", "fmt", flag_value="json", help="JSON: every member's result and plan.")(f)


@cli.group("fleet")
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
@_FLEET_FILE
@_MEMBERS
@_fleet_format
@click.pass_context
def fleet_validate_command(ctx: click.Context, *, fleet_file: Path, members: tuple[str, ...],
                           fmt: str | None) -> None:
    """Check the fleet file and every member's config offline (with the member's overrides)."""
    from sssctl.app.fleet import commands

    _fleet_run(ctx, lambda out: commands.cmd_validate(out, fleet_file, members, environ=dict(os.environ),
                                                      fmt=fmt or "text"))


@fleet_group.command("plan")
@_FLEET_FILE
@_MEMBERS
@_PARALLEL
@_fleet_format
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Save one plan per member in this directory (then: sssctl fleet apply DIR).")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when any member has changes.")
@click.option("--allow-lockout", is_flag=True, help="Allow removing your own last approve privilege.")
@click.pass_context
def fleet_plan_command(ctx: click.Context, *, fleet_file: Path, members: tuple[str, ...], parallel: int,
                       fmt: str | None, out_dir: Path | None, detailed_exitcode: bool,
                       allow_lockout: bool) -> None:
    """Plan every member; no state is written and no lock taken.

    \b
        sssctl fleet plan fleet.toml --detailed-exitcode --parallel-environments 8
        sssctl fleet plan fleet.toml --member prod --member uat --json
    """
    from sssctl.app.fleet import commands

    _fleet_run(ctx, lambda out: commands.cmd_plan(
        out, fleet_file, members, environ=dict(os.environ), parallel=parallel, fmt=fmt or "text",
        detailed=detailed_exitcode, out_dir=out_dir, allow_lockout=allow_lockout))


@fleet_group.command("refresh")
@_FLEET_FILE
@_MEMBERS
@_PARALLEL
@_fleet_format
@click.pass_context
def fleet_refresh_command(ctx: click.Context, *, fleet_file: Path, members: tuple[str, ...], parallel: int,
                          fmt: str | None) -> None:
    """Report each member's drift from its state (exit 2 when any drifted)."""
    from sssctl.app.fleet import commands

    _fleet_run(ctx, lambda out: commands.cmd_plan(
        out, fleet_file, members, environ=dict(os.environ), parallel=parallel, fmt=fmt or "text",
        detailed=True, refresh_only=True))


@fleet_group.command("apply")
@click.argument("target", type=click.Path(path_type=Path))
@_MEMBERS
@_PARALLEL
@_fleet_format
@click.option("--auto-approve", is_flag=True, help="Apply a FLEETFILE's fresh plans without review.")
@click.option("--parallelism", type=click.IntRange(1, 32), default=4, show_default=True,
              help="Concurrent writes within one member.")
@click.option("--allow-lockout", is_flag=True, help="Allow removing your own last approve privilege.")
@click.pass_context
def fleet_apply_command(ctx: click.Context, *, target: Path, members: tuple[str, ...], parallel: int,
                        fmt: str | None, auto_approve: bool, parallelism: int, allow_lockout: bool) -> None:
    """Apply the saved plans of DIR (from `fleet plan --out DIR`), or a FLEETFILE with --auto-approve.

    Each member locks its own state; one member's failure never stops the others.
    """
    from sssctl.app.fleet import commands

    _fleet_run(ctx, lambda out: commands.cmd_apply(
        out, target, members, environ=dict(os.environ), parallel=parallel, parallelism=parallelism,
        fmt=fmt or "text", auto_approve=auto_approve, allow_lockout=allow_lockout))


@fleet_group.command("audit")
@_FLEET_FILE
@_MEMBERS
@_PARALLEL
@_fleet_format
@click.option("--fail-on", type=click.Choice(["high", "medium", "low"]),
              help="Exit 5 when a member has a finding at or above this severity.")
@click.pass_context
def fleet_audit_command(ctx: click.Context, *, fleet_file: Path, members: tuple[str, ...], parallel: int,
                        fmt: str | None, fail_on: str | None) -> None:
    """Read-only posture findings for every member."""
    from sssctl.app.fleet import commands

    _fleet_run(ctx, lambda out: commands.cmd_audit(
        out, fleet_file, members, environ=dict(os.environ), parallel=parallel, fmt=fmt or "text",
        fail_on=fail_on))


@fleet_group.command("matrix")
@_FLEET_FILE
@_MEMBERS
@click.option("--format", "fmt", type=click.Choice(["github", "azure-devops"]), required=True)
@click.pass_context
def fleet_matrix_command(ctx: click.Context, *, fleet_file: Path, members: tuple[str, ...], fmt: str) -> None:
    """Print the job matrix (one member per job) for GitHub Actions or Azure Pipelines.

    \b
        echo "matrix=$(sssctl fleet matrix fleet.toml --format github)" >> "$GITHUB_OUTPUT"
        #   strategy: { matrix: "${{ fromJSON(needs.fleet.outputs.matrix) }}" }
    """
    from sssctl.app.fleet import commands

    _fleet_run(ctx, lambda out: commands.cmd_matrix(out, fleet_file, members, fmt=fmt))


@cli.command("diff")
@click.argument("left", required=False)
@click.argument("right", required=False)
@click.option("--fleet", "fleet_file", type=click.Path(path_type=Path, dir_okay=False),
              help="LEFT and RIGHT are members of this fleet; alone: every member against its baseline.")
@_PARALLEL
@_fleet_format
@click.pass_context
def diff_command(ctx: click.Context, *, left: str | None, right: str | None, fleet_file: Path | None,
                 parallel: int, fmt: str | None) -> None:
    """Compare the live posture of two environments (not their URLs, ids or names).

    Both are read as `sssctl export` reads them. Exit status: 0 equal, 2 different,
    3 something could not be read, 1 error.

    \b
        sssctl diff configs/fleet/test.toml configs/fleet/prod.toml
        sssctl diff --fleet configs/fleet/fleet.toml test prod --markdown
        sssctl diff --fleet configs/fleet/fleet.toml           # every member against the baseline
    """
    from sssctl.app.fleet.diffing import cmd_diff

    _fleet_run(ctx, lambda out: cmd_diff(out, left, right, fleet_path=fleet_file, environ=dict(os.environ),
                                         parallel=parallel, fmt=fmt or "text"))


def main() -> None:
    """Run the CLI, keeping click's usage errors off exit code 2.

    Exit code 2 means "changes present" (``plan --detailed-exitcode``); a pipeline must
    never read a mistyped flag as drift, so usage errors exit 1 like every other error.
    """
    try:
        code = cli.main(prog_name="sssctl", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        raise SystemExit(1) from None
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(1) from None
    if code == exitcodes.INTERRUPTED:
        # Ctrl-C: leave without waiting for worker threads still holding a request; the
        # state was saved whole and the lock released on the way out.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise SystemExit(code if isinstance(code, int) else 0)
