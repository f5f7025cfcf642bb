"""``sssctl fleet watch FLEET``: every member watched in one process.

Each member is a :class:`~sssctl.app.watch.Watch` of its own, on its own thread: its own
config (with the member's ``url`` and ``name``), its own state and therefore its own
lock, so leadership is per member (two fleet watchers split nothing: for each member,
whichever holds that member's lock leads it). One failing member never stops the
others. One listener serves them all: ``/metrics`` labels every series with the
member's environment, and ``/healthz`` is healthy only while every member is.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any

import structlog

from sssctl.app.fleet.run import FleetRun
from sssctl.app.watch import Watch, WatchRequest
from sssctl.app.watch_http import Listener, WatchMetrics
from sssctl.fleet.file import Fleet

log = structlog.get_logger(__name__)


class FleetWatch:
    """The members' watchers, with the stop/reload interface of a single one."""

    def __init__(self, fleet: Fleet, environ: Mapping[str, str], *, listen: tuple[str, int] | None = None,
                 names: tuple[str, ...] = (), fleet_run: FleetRun | None = None) -> None:
        self.listen = listen
        self.metrics = WatchMetrics()
        run = fleet_run or FleetRun(environ)
        members = fleet.select(names) if names else fleet.members
        self.watches = [
            Watch(WatchRequest(member.config, environ), run.member_services(member), label=member.name,
                  metrics=self.metrics)
            for member in members
        ]
        self.listener: Listener | None = None
        self.request = WatchRequest(fleet.path, environ, listen=listen)

    def stop(self) -> None:
        for watch in self.watches:
            watch.stop()

    def reload(self) -> None:
        for watch in self.watches:
            watch.reload()

    def health(self) -> tuple[bool, dict[str, Any]]:
        members = {w.label: w.health.report() for w in self.watches}
        healthy = all(ok for ok, _ in members.values())
        return healthy, {"status": "ok" if healthy else "stale",
                         "members": {name: body for name, (_, body) in members.items()}}

    def run(self) -> int:
        with ExitStack() as stack:
            if self.listen is not None:
                self.listener = Listener(*self.listen, self.health, self.metrics)
                self.listener.start()
                stack.callback(self.listener.close)
                log.info("watch.listening", address="{}:{}".format(*self.listener.address),
                         members=len(self.watches))
            threads = [threading.Thread(target=w.run, name=f"watch-{w.label}", daemon=True)
                       for w in self.watches]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        return 0
