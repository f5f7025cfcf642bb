"""Progress on stderr while a run reads or writes: a live line on a terminal, plain lines in CI.

A pipeline log shows nothing of a carriage-return line until the run ends, so without a
terminal each step is written as its own line, every change's result as soon as it is
known, and a "Still ..." line at least every ``interval`` seconds while work goes on, as
Terraform does ("Still modifying... [10s elapsed]"). A silent job looks hung and gets
killed by CI timeouts that count quiet minutes.

The object satisfies the engine's progress calls (``kind_step``, ``change_done``,
``clear``) and shows the waits a service asks for (``paused``, coalesced by
:mod:`sssctl.app.pauses`); :meth:`close` stops the heartbeat thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from sssctl.engine.plan import Action, Change

HEARTBEAT_SECONDS = 10.0
_LIVE_REDRAW_SECONDS = 1.0


def duration(seconds: float) -> str:
    """``7s``, ``1m05s``, ``1h02m``: Terraform's spelling of elapsed time."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def _count(done: int, total: int | None) -> str:
    return f"{done}/{total}" if total is not None else f"{done} so far"


@dataclass
class _Step:
    label: str
    done: int
    total: int | None
    started: float


class RunProgress:
    """Where a run is, for a person watching a terminal or reading a CI log later."""

    def __init__(self, stream: TextIO, *, live: bool | None = None, interval: float = HEARTBEAT_SECONDS,
                 clock: Callable[[], float] = time.monotonic, heartbeat: bool = True) -> None:
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._started = clock()
        self._last_line = self._started
        self._steps: dict[str, _Step] = {}
        self._current: str | None = None       # the label the live line shows
        self._idle = False                     # results were printed; nothing runs until the next event
        self._shown = False
        self._pause = ("", 0.0)                # what the live line says is waited for, and until when
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if heartbeat:
            self._thread = threading.Thread(target=self._beat, name="progress", daemon=True)
            self._thread.start()

    # --- the engine's calls ----------------------------------------------------------------

    def kind_step(self, label: str, done: int, total: int | None) -> None:
        with self._lock:
            now = self._clock()
            self._idle = False
            step = self._steps.get(label)
            if step is None:
                step = self._steps[label] = _Step(label, done, total, now)
                if not self.live:
                    self._line(f"{label}: {_count(done, total)} [{duration(now - step.started)} elapsed]")
            step.done, step.total = done, total
            self._current = label
            if total is not None and done >= total:
                del self._steps[label]
                if not self.live:
                    took = duration(now - step.started)
                    self._line(f"{label}: {_count(done, total)}, complete after {took}")
            if self.live:
                self._draw(self._live_text(step, now))

    def change_done(self, done: int, total: int, change: Change) -> None:
        label = "apply"
        with self._lock:
            now = self._clock()
            self._idle = False
            step = self._steps.setdefault(label, _Step(label, 0, total, self._started))
            step.done, step.total = done, total
            self._current = label
            if done >= total:
                del self._steps[label]
            if self.live:
                self._draw(f"{self._live_text(step, now)} {change.address}")
                return
            status = "forgotten" if change.action is Action.NOOP else "applied"
            self._line(f"{change.action.value} {change.address}: {status} "
                       f"[{done}/{total}, {duration(now - self._started)} elapsed]")

    def paused(self, text: str, seconds: float) -> None:
        """A wait a service asked for: its own line without a terminal; on the live line with one,
        for as long as it lasts."""
        with self._lock:
            now = self._clock()
            if not self.live:
                self._line(text)
                return
            self._pause = (text, now + seconds)
            step = self._steps.get(self._current or "")
            if not self._idle and seconds > 0:
                self._draw(self._live_text(step, now) if step is not None else f"{text} ...")

    def clear(self) -> None:
        """Results are about to be printed: wipe the live line and stop the heartbeat until more work."""
        with self._lock:
            self._idle = True
            self._steps.clear()
            self._current = None
            if self._shown:
                self._draw("")

    def close(self) -> None:
        self.clear()
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)

    # --- heartbeat -------------------------------------------------------------------------

    def tick(self) -> None:
        """Redraw the live line's clock, or write a "Still ..." line when one is due."""
        with self._lock:
            if self._idle:
                return
            now = self._clock()
            if self.live:
                step = self._steps.get(self._current or "")
                if step is not None and self._shown:
                    self._draw(self._live_text(step, now))
                return
            if now - self._last_line < self.interval:
                return
            if not self._steps:
                self._line(f"Still working... [{duration(now - self._started)} elapsed]")
            for step in list(self._steps.values()):
                self._line(f"Still {step.label}: {_count(step.done, step.total)} "
                           f"[{duration(now - step.started)} elapsed]")

    def _beat(self) -> None:
        while not self._stop.wait(self._next_wait()):
            try:
                self.tick()
            except (ValueError, OSError):   # the stream was closed under us: nothing left to tell
                return

    def _next_wait(self) -> float:
        if self.live:
            return _LIVE_REDRAW_SECONDS
        with self._lock:
            due = self._last_line + self.interval - self._clock()
        return max(0.05, due)

    # --- drawing ---------------------------------------------------------------------------

    def _live_text(self, step: _Step, now: float) -> str:
        elapsed = max(now - step.started, 1e-9)
        text = f"{step.label} {_count(step.done, step.total)}"
        if step.total:
            text += f" ({100 * step.done // step.total}%)"
        text += f" · {duration(elapsed)}"
        if elapsed >= 1 and step.done:
            text += f" · {step.done / elapsed:,.0f}/s"
        if now < self._pause[1]:
            text += f" · {self._pause[0]}"
        return text + " ..."

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()
        self._last_line = self._clock()

    def _draw(self, text: str) -> None:
        self.stream.write(f"\r\x1b[K{text}")
        self.stream.flush()
        self._shown = bool(text)
