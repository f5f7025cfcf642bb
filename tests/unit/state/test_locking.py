"""--lock-timeout: wait with backoff, tell once whom for, give up with LockHeld (exit 4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from sssctl.state.errors import LockHeld, StateError
from sssctl.state.locking import acquire, parse_duration
from sssctl.state.model import Snapshot


class BusyBackend:
    """Held by ``holder`` for the first ``busy`` attempts."""

    name = "env"
    location = None  # no place a breadcrumb could name
    breadcrumb = None

    def __init__(self, busy: int) -> None:
        self.busy = busy
        self.attempts = 0

    def describe(self) -> str:
        return "memory"

    def read(self) -> Snapshot | None:
        return None

    def read_previous(self) -> Snapshot | None:
        return None

    def write(self, snapshot: Snapshot, *, replaces: Snapshot | None) -> None:
        raise AssertionError("not used")

    def lock(self, command: str) -> str:
        self.attempts += 1
        if self.attempts <= self.busy:
            raise LockHeld("the state is locked by ci@runner-7", holder={"id": "abc"})
        return "mine"

    def unlock(self, lock_id: str) -> None:
        return None

    def force_unlock(self, lock_id: str) -> Mapping[str, Any]:
        return {}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_waits_with_backoff_and_tells_once() -> None:
    clock, told = FakeClock(), []
    backend = BusyBackend(busy=6)
    assert acquire(backend, "apply", timeout=300, notify=told.append, sleep=clock.sleep,
                   clock=lambda: clock.now) == "mine"
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0]
    assert len(told) == 1 and "5m0s" in told[0] and "ci@runner-7" in told[0]


def test_gives_up_at_the_deadline_with_the_holder() -> None:
    clock = FakeClock()
    with pytest.raises(LockHeld, match="ci@runner-7"):
        acquire(BusyBackend(busy=1000), "apply", timeout=3, notify=lambda _: None, sleep=clock.sleep,
                clock=lambda: clock.now)
    assert sum(clock.sleeps) == pytest.approx(3)


def test_without_a_timeout_it_fails_at_once_and_says_nothing() -> None:
    told: list[str] = []
    with pytest.raises(LockHeld):
        acquire(BusyBackend(busy=1), "apply", timeout=0, notify=told.append, sleep=pytest.fail)
    assert told == []


@pytest.mark.parametrize(("text", "seconds"), [("0", 0), ("30s", 30), ("5m", 300), ("1h30m", 5400),
                                               ("90", 90), (" 2M ", 120)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5x", "-1s", "1.5m", "m"])
def test_bad_durations_say_what_to_write(text: str) -> None:
    with pytest.raises(StateError, match=r"e\.g\. 30s, 5m"):
        parse_duration(text)
