"""Ctrl-C during apply: the first stops starting new work, the second aborts at once.

A security tool must not be killed mid-write by an impatient key press, nor ignore it.
While a plan is applied, SIGINT no longer raises ``KeyboardInterrupt`` wherever the main
thread happens to be (possibly in the middle of saving the state); the first press only
sets :attr:`Graceful.stop`, which the applier and the aggregate kinds check between
changes and between ``$batch`` chunks, so what is in flight finishes and is saved. The
second press restores Python's default and raises :class:`AbortedAtOnce` (a
``KeyboardInterrupt``) at once; the state is still valid because it is only ever written
whole, after a change finished. A Ctrl-C anywhere else (reading, planning, waiting for a
lock) is a plain ``KeyboardInterrupt`` and is told as :data:`OUTSIDE_WRITES`: the user
learns which of the two happened, not an "Aborted." after a plan that wrote nothing.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

OUTSIDE_WRITES = (
    "Interrupted (Ctrl-C): nothing more is sent. Changes already applied are in the state; "
    "run plan to see where things stand."
)
SECOND_PRESS = (
    "Aborted. Every change that finished is saved in the state; run the command again to finish the rest."
)
FIRST_PRESS = (
    "Stopping: the requests in flight will finish and be saved, nothing new starts. "
    "Press Ctrl-C again to abort at once."
)


class AbortedAtOnce(KeyboardInterrupt):
    """The second Ctrl-C while a plan is applied: leave now, with every finished change saved."""


@contextmanager
def graceful(stop: threading.Event, say: Callable[[str], None]) -> Iterator[None]:
    """Route SIGINT to ``stop`` for the duration (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise AbortedAtOnce
        stop.set()
        say(FIRST_PRESS)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
