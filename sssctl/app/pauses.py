"""What the person waiting is told when a service asks the run to slow down.

A 429's ``Retry-After`` of a second or two, met now and then, is the service working as
documented, but nothing on the screen moves meanwhile; under sustained throttling a run
can sit in such pauses for most of its time, and a CI log that says nothing of it looks
hung. So every pause of a second or more (:data:`~sssctl.clients.http.SHOWN_WAIT`) is
told: on a terminal, on the live line for as long as it lasts; without one, as a line
such as ``Waiting 1s: Dataverse asked to slow down (429, number of requests)``.

Plain lines are coalesced so a throttled run does not flood its log: the HTTP layer
already tells a wave of refusals sharing one pause once, and here a pause that comes
less than :data:`QUIET_SECONDS` after the last line is only counted; the next line says
how many more there were and how long they took in all, and :meth:`PauseNotices.flush`
says it before the results are printed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from sssctl.clients.http import LIMIT_NAMES, Pause

QUIET_SECONDS = 10.0  # at most one plain pause line this often (the heartbeat's interval)

SERVICE_NAMES = {"dataverse": "Dataverse", "graph": "Microsoft Graph", "exchange": "Exchange Online",
                 "login": "Microsoft Entra ID"}


class PauseShown(Protocol):
    """The reporter's side: show one pause (a line of its own, or on the live line)."""

    def paused(self, text: str, seconds: float) -> None: ...


def describe(pause: Pause) -> str:
    """``Waiting 2s: Dataverse asked to slow down (429, number of requests)``."""
    service = SERVICE_NAMES.get(pause.service, pause.service)
    why = f"429, {LIMIT_NAMES[pause.limit]}" if pause.limit in LIMIT_NAMES else "429"
    return f"Waiting {_seconds(pause.seconds)}: {service} asked to slow down ({why})"


def _seconds(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds >= 9.5 or seconds == int(seconds) else f"{seconds:.1f}s"


class PauseNotices:
    """Hands the services' pauses to the reporter: every one when ``live``, else coalesced."""

    def __init__(self, reporter: PauseShown, *, live: bool, quiet: float = QUIET_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._reporter = reporter
        self._live = live
        self._quiet = quiet
        self._clock = clock
        self._lock = threading.Lock()
        self._last_line = -float("inf")
        self._held = 0              # pauses counted, not shown, since the last line
        self._held_seconds = 0.0

    def __call__(self, pause: Pause) -> None:
        text = describe(pause)
        if not self._live:
            with self._lock:
                now = self._clock()
                if now - self._last_line < self._quiet:
                    self._held += 1
                    self._held_seconds += pause.seconds
                    return
                text += self._since_last()
                self._last_line = now
        self._reporter.paused(text, pause.seconds)

    def flush(self) -> None:
        """Tell the pauses only counted so far (before results are printed)."""
        with self._lock:
            if not self._held:
                return
            text = (f"Waited {self._held} more time{'s' if self._held > 1 else ''} "
                    f"({_seconds(self._held_seconds)} in all) when services asked to slow down")
            self._held, self._held_seconds = 0, 0.0
        self._reporter.paused(text, 0.0)

    def _since_last(self) -> str:
        """The lock is held: what the last line left unsaid, and forget it."""
        if not self._held:
            return ""
        said = (f"; {self._held} more wait{'s' if self._held > 1 else ''} "
                f"({_seconds(self._held_seconds)} in all) since the last such line")
        self._held, self._held_seconds = 0, 0.0
        return said
