"""``watch`` and ``fleet watch``: continuous enforcement as a long-running process."""

from __future__ import annotations

import os
from pathlib import Path

import click

from sssctl.cli.options import config_option, fleet_file_argument, members_option, output_of, run_fleet


def _listen(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, int] | None:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) into a typed pair."""
    if value is None:
        return None
    host, _, port = value.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise click.BadParameter(f"{value!r} is not HOST:PORT, e.g. 127.0.0.1:9464 "
                                 "(0.0.0.0:9464 in a container)")
    return host, int(port)


listen_option = click.option(
    "--listen", metavar="HOST:PORT", callback=_listen, default=None,
    help="Serve /healthz (503 once the last good cycle is older than three intervals) and /metrics "
         "(Prometheus) here, e.g. 127.0.0.1:9464.",
)


def _service_logging(ctx: click.Context) -> None:
    """A service says what it does: info level unless -v/-vv or SSSCTL_LOG chose otherwise."""
    from sssctl.cli.options import GlobalOptions
    from sssctl.logging import configure_logging

    opts = ctx.find_object(GlobalOptions) or GlobalOptions("console", 0)
    if opts.verbose == 0 and not os.environ.get("SSSCTL_LOG", "").strip():
        configure_logging(log_format=opts.log_format, verbose=1)


@click.command("watch")
@config_option
@listen_option
@click.pass_context
def watch_command(ctx: click.Context, config_path: Path, listen: tuple[str, int] | None) -> None:
    """Revert drift continuously, naming who made it (until SIGTERM).

    Each cycle (every [watch] interval, default 60s) plans the kinds [watch] revert names
    (default mailboxes and user_settings) with the plan's server-side filters and applies
    their updates through the normal apply path; everything else is reported. Every revert
    is logged with the row, old and new values, who changed it and when; [watch] notify
    adds a webhook and an email to that user. Replicas on one state elect one leader; the
    others stand by. SIGTERM finishes the writes in flight and exits 0; SIGHUP reloads
    the config (an invalid one is refused and the old one kept).

    \b
        sssctl watch -c configs/contoso.toml --listen 127.0.0.1:9464
    """
    from sssctl.app.commands import guarded
    from sssctl.app.watch import WatchRequest, install_signal_handlers, run_watch

    _service_logging(ctx)
    request = WatchRequest(config_path, dict(os.environ), listen=listen)
    ctx.exit(guarded(output_of(ctx), lambda: run_watch(request, install_signals=install_signal_handlers)))


@click.command("watch")
@fleet_file_argument
@members_option
@listen_option
@click.pass_context
def fleet_watch_command(ctx: click.Context, *, fleet_file: Path, members: tuple[str, ...],
                        listen: tuple[str, int] | None) -> None:
    """Watch every member of a fleet in one process, each with its own state and leader.

    /metrics labels every series with the member's environment; /healthz is healthy only
    while every member is.

    \b
        sssctl fleet watch configs/fleet/fleet.toml --listen 127.0.0.1:9464
    """
    from sssctl.app.fleet.watch import FleetWatch
    from sssctl.app.watch import install_signal_handlers
    from sssctl.fleet.file import load

    _service_logging(ctx)

    def body(_output: object) -> int:
        fleet = FleetWatch(load(fleet_file), dict(os.environ), listen=listen, names=members)
        install_signal_handlers(fleet)
        return fleet.run()

    run_fleet(ctx, body)
