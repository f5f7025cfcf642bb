"""Taking the state lock, optionally waiting for it: ``--lock-timeout``.

Waiting is the same for every backend, so it lives here and backends only offer an
immediate attempt. The wait backs off (0.5 s doubling to 10 s, never past the deadline)
so a queue of pipeline jobs does not hammer the storage account, and the user is told
once, naming the holder, instead of every retry.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from sssctl.state.backend import Backend
from sssctl.state.errors import LockHeld, StateError

_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_FIRST_DELAY = 0.5
_MAX_DELAY = 10.0


def parse_duration(text: str) -> float:
    """``30s``, ``5m``, ``1h30m`` or a bare number of seconds; anything else is an error."""
    cleaned = text.strip().lower()
    if cleaned.isdigit():
        return float(cleaned)
    match = _DURATION.fullmatch(cleaned)
    if not cleaned or match is None or not any(match.groups()):
        raise StateError(f"lock timeout {text!r} is not a duration: write e.g. 30s, 5m, 1h30m or 0")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return float(hours * 3600 + minutes * 60 + seconds)


def acquire(backend: Backend, command: str, *, timeout: float,
            notify: Callable[[str], None],
            sleep: Callable[[float], None] = time.sleep,
            clock: Callable[[], float] = time.monotonic,
            config: Path | None = None) -> str:
    """The lock ID, after waiting up to ``timeout`` seconds; LockHeld (exit 4) when it runs out.

    ``config`` completes the unlock command the refusal suggests (``-c FILE``).
    """
    try:
        return _acquire(backend, command, timeout=timeout, notify=notify, sleep=sleep, clock=clock)
    except LockHeld as held:
        raise held.naming_config(config) if config is not None else held from None


def _acquire(backend: Backend, command: str, *, timeout: float, notify: Callable[[str], None],
             sleep: Callable[[float], None], clock: Callable[[], float]) -> str:
    deadline = clock() + max(0.0, timeout)
    delay = _FIRST_DELAY
    told = False
    while True:
        try:
            return backend.lock(command)
        except LockHeld as held:
            remaining = deadline - clock()
            if remaining <= 0:
                raise
            if not told:
                notify(f"Waiting up to {_shown(timeout)} for the state lock: {held}")
                told = True
            sleep(min(delay, remaining))
            delay = min(delay * 2, _MAX_DELAY)


def _shown(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"
