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

A Python signal handler runs in the main thread between two bytecodes, possibly while
that thread holds a lock: the progress line's, a stream's buffer, an ``Event``'s
condition. A handler that takes the same lock waits for itself forever (an apply hung
that way when Ctrl-C landed while the main thread was printing a change's result). So
the handlers here take no lock: they write one byte to a pipe (``os.write`` takes none)
and :class:`SignalRelay`'s thread does the work.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
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

_RELAY_JOIN_SECONDS = 5.0


class AbortedAtOnce(KeyboardInterrupt):
    """The second Ctrl-C while a plan is applied: leave now, with every finished change saved."""


class SignalRelay:
    """Signals handed from their handler to a thread of their own, through a pipe.

    :meth:`handler` is what ``signal.signal`` installs; ``act(signum)`` runs on the relay's
    thread, where it may take locks, log and print like any other code.
    """

    def __init__(self, act: Callable[[int], None], *, name: str = "signals") -> None:
        self._act = act
        self._read, self._write = os.pipe()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def handler(self, signum: int, frame: FrameType | None) -> None:
        with suppress(OSError):     # closed: the relay's owner is on its way out, nothing left to do
            os.write(self._write, bytes([signum]))

    def close(self) -> None:
        """Stop the thread once it has acted on every signal already sent (uninstall first)."""
        os.close(self._write)
        self._thread.join(timeout=_RELAY_JOIN_SECONDS)
        if not self._thread.is_alive():
            os.close(self._read)

    def _run(self) -> None:
        while True:
            try:
                received = os.read(self._read, 64)
            except OSError:
                return
            if not received:
                return
            for signum in received:
                self._act(signum)

    def __enter__(self) -> SignalRelay:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


@contextmanager
def graceful(stop: threading.Event, say: Callable[[str], None]) -> Iterator[None]:
    """Route SIGINT to ``stop`` for the duration (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    presses = 0

    def first_press(_signum: int) -> None:
        stop.set()
        say(FIRST_PRESS)

    relay = SignalRelay(first_press, name="ctrl-c")

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        nonlocal presses
        presses += 1
        if presses > 1 or stop.is_set():   # is_set takes no lock
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise AbortedAtOnce
        relay.handler(signum, frame)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        relay.close()
