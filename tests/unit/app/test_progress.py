"""Progress for a terminal (one live line) and for CI logs (plain lines, heartbeat, results as they land)."""

from __future__ import annotations

import io

from sssctl.app.progress import RunProgress, duration
from sssctl.engine.plan import Action, Change


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _pipe(clock: Clock) -> tuple[RunProgress, io.StringIO]:
    stream = io.StringIO()
    return RunProgress(stream, live=False, clock=clock, heartbeat=False), stream


def test_durations_read_like_terraforms() -> None:
    assert [duration(s) for s in (0, 9.9, 65, 3725)] == ["0s", "9s", "1m05s", "1h02m"]


def test_without_a_terminal_each_step_is_a_plain_line() -> None:
    clock = Clock()
    progress, stream = _pipe(clock)
    progress.kind_step("read mailboxes", 5000, None)
    clock.now += 3
    progress.kind_step("revert mailboxes", 1000, 2000)
    clock.now += 2
    progress.kind_step("revert mailboxes", 2000, 2000)
    lines = stream.getvalue().splitlines()
    assert lines == ["read mailboxes: 5000 so far [0s elapsed]", "revert mailboxes: 1000/2000 [0s elapsed]",
                     "revert mailboxes: 2000/2000, complete after 2s"]
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()


def test_a_still_line_comes_when_the_interval_passes_without_output() -> None:
    clock = Clock()
    progress, stream = _pipe(clock)
    clock.now += 10
    progress.tick()
    assert stream.getvalue() == "Still working... [10s elapsed]\n"
    progress.kind_step("read mailboxes", 5000, None)
    clock.now += 4
    progress.tick()                                    # not due yet: a line was written 4 s ago
    clock.now += 6
    progress.tick()
    assert stream.getvalue().splitlines()[-1] == "Still read mailboxes: 5000 so far [10s elapsed]"


def test_no_heartbeat_once_results_are_printed() -> None:
    clock = Clock()
    progress, stream = _pipe(clock)
    progress.kind_step("read mailboxes", 5000, None)
    progress.clear()
    clock.now += 60
    progress.tick()
    assert "Still" not in stream.getvalue()


def test_each_change_result_is_written_as_it_lands() -> None:
    clock = Clock()
    progress, stream = _pipe(clock)
    clock.now += 7
    progress.change_done(1, 2, Change("approval", Action.UPDATE, None, None, ""))
    progress.change_done(2, 2, Change("mailboxes", Action.NOOP, None, None, "", detail={"forget": True}))
    assert stream.getvalue().splitlines() == ["~ approval: applied [1/2, 7s elapsed]",
                                              ". mailboxes: forgotten [2/2, 7s elapsed]"]


def test_on_a_terminal_one_line_shows_count_elapsed_and_rate() -> None:
    clock = Clock()
    stream = io.StringIO()
    progress = RunProgress(stream, live=True, clock=clock, heartbeat=False)
    progress.kind_step("revert mailboxes", 0, 20000)
    clock.now += 4
    progress.kind_step("revert mailboxes", 8000, 20000)
    last = stream.getvalue().split("\r\x1b[K")[-1]
    assert last == "revert mailboxes 8000/20000 (40%) · 4s · 2,000/s ..."
    assert "\n" not in stream.getvalue()
    progress.clear()
    assert stream.getvalue().endswith("\r\x1b[K")


def test_the_heartbeat_thread_stops_on_close() -> None:
    progress = RunProgress(io.StringIO(), live=False, interval=0.05)
    progress.close()
    assert progress._thread is not None and not progress._thread.is_alive()
