"""The emulator's notion of "now", for every behaviour that depends on the date.

Exchange Online's EWS gate changes with the calendar (unset tenants blocked from
2026-10-01, EWS shut down on 2027-04-01), RBAC role assignments take effect some time
after they are made, and client secrets expire. Tests and demos must be able to stand on
either side of those dates, so each of these behaviours asks this clock, never the system.

Set to a moment (``sssctl emulator serve --clock 2027-04-02T00:00:00Z`` or
``POST /_emulator/clock {"now": "..."}``), the clock starts there and keeps running at the
real pace, so a propagation delay of 2 s still passes in 2 s. Unset, it is the real date.

Access-token lifetimes stay on the real clock on purpose: MSAL on the client compares a
token's ``expires_in`` with the machine's own time, and a token minted "in 2027" would be
no more or less valid to it.
"""

from __future__ import annotations

import datetime as dt
import threading
import time


class ClockError(ValueError):
    """A moment the clock cannot be set to."""


def parse_moment(raw: str) -> dt.datetime:
    """An ISO 8601 moment; a bare date means its midnight UTC, a naive time means UTC."""
    text = raw.strip()
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise ClockError(f"{raw!r} is not an ISO 8601 date or time, e.g. 2027-04-02T00:00:00Z") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


class Clock:
    """Real time, or real time shifted so that it read ``start`` when it was set."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self.set(start)

    def set(self, moment: dt.datetime | None) -> None:
        with self._lock:
            self._offset = 0.0 if moment is None else moment.timestamp() - time.time()
            self.fixed = moment is not None

    def timestamp(self) -> float:
        with self._lock:
            return time.time() + self._offset

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.timestamp(), dt.timezone.utc)

    def to_dict(self) -> dict[str, object]:
        return {"now": self.now().strftime("%Y-%m-%dT%H:%M:%SZ"), "set": self.fixed}
