"""A clock that moves only when told: by its own ``sleep`` or by the test."""

from __future__ import annotations


class FakeClock:
    """``clock()`` (also ``monotonic()``, to stand in for the ``time`` module) and ``sleep``,
    which records each wait and moves the clock on by it."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    monotonic = clock

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
