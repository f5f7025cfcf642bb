"""``emulator serve``: the local HTTPS emulator, for tests, demos and trying sssctl out.

The emulator's own knobs pass through as they are: it is a tool beside sssctl, not a use
case of it, so no request object stands between these flags and :func:`serve`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click


@click.group("emulator")
def emulator_group() -> None:
    """Local HTTPS emulator of Entra ID login, Dataverse, Microsoft Graph and Exchange admin.

    Point sssctl at it through the environment file it writes:

    \b
        sssctl emulator serve --env-file emulator.env &
        set -a; . ./emulator.env; set +a
        sssctl plan -c configs/hardened.toml
    """


_PROBABILITY = click.FloatRange(0.0, 1.0)
_SHARE = click.FloatRange(0.0, 1.0, max_open=True)


def _throttle_mix(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """The mix as the emulator will read it, or a usage error naming what is wrong."""
    require_emulator("emulator serve")
    from sssctl.emulator.faults import parse_mix

    try:
        parse_mix(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


def require_emulator(command: str) -> None:
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
@click.option("--throttle-mix", default="requests", show_default=True, callback=_throttle_mix,
              metavar="LIMIT[:WEIGHT],...",
              help="Which Dataverse service protection limit each random 429 of "
                   "--throttle-probability stands for, drawn by weight: 'requests' (number of requests "
                   "in 5 minutes: a client pauses all its Dataverse requests for Retry-After), "
                   "'execution' (combined execution time: it pauses them and lowers its concurrency), "
                   "'concurrent' (concurrent requests: only the refused request waits; concurrency is "
                   "lowered). E.g. 'requests:2,execution:1,concurrent:1'. The answer carries the "
                   "limit's code and message, as Dataverse's do.")
@click.option("--error-probability", type=_PROBABILITY, default=0.0, help="Chance of a 503.")
@click.option("--drop-probability", type=_PROBABILITY, default=0.0, help="Chance of a dropped connection.")
@click.option("--lost-response-probability", type=_PROBABILITY, default=0.0,
              help="Chance that a request is carried out but its response is lost (connection dropped).")
@click.option("--malformed-probability", type=_PROBABILITY, default=0.0,
              help="Chance of a 200 answer with an HTML page instead of JSON (a broken proxy).")
@click.option("--fault-seed", type=click.IntRange(min=0), default=None, help="Seed faults, to replay a run.")
@click.option("--competing-share", type=_SHARE, default=0.0, show_default=True, metavar="SHARE",
              help="Another integration signed in as the same user: the share (0 up to, not including, "
                   "1) of each Dataverse service protection budget it uses first (requests and "
                   "execution time per 5-minute window, concurrent requests), as such limits are per "
                   "user. 0.5 leaves half to sssctl; the x-ms-ratelimit-* headers show what is left.")
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
        sssctl emulator serve --throttle-probability 0.2 --throttle-mix requests:1,concurrent:1
        sssctl emulator serve --competing-share 0.5         # another integration takes half the limits
        sssctl emulator serve --organizations 20            # a fleet of 20 environments
        sssctl emulator serve --clock 2027-04-02T00:00:00Z  # after the EWS shutdown
        curl --cacert ~/.cache/sssctl/emulator/ca.pem -H "Authorization: Bearer $ADMIN" \\
             https://127.0.0.1:PORT/_emulator/counters
    """
    require_emulator("emulator serve")
    from sssctl.emulator.serve import serve
    from sssctl.emulator.server import EmulatorError

    fault_names = ("latency_ms", "throttle_probability", "error_probability", "drop_probability",
                   "batch_operation_ms", "request_operation_ms", "dop_hint", "replication_delay",
                   "lost_response_probability", "fault_service", "fault_route",
                   "max_faults", "malformed_probability", "ews_propagation_seconds", "throttle_mix",
                   "competing_share")
    faults = {name: options.pop(name) for name in fault_names}
    seed, faults["fault_service"] = options.pop("fault_seed"), faults["fault_service"] or ""
    faults["fault_seed"] = -1 if seed is None else seed
    try:
        serve(out=sys.stdout, err=sys.stderr, faults=faults, **options)
    except EmulatorError as exc:
        raise click.ClickException(str(exc)) from exc
