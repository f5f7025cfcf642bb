"""The waits a service asks for, as the person waiting sees them: every one, never a flood."""

from __future__ import annotations

import io

import pytest

from sssctl.app.pauses import PauseNotices, describe
from sssctl.app.progress import RunProgress
from sssctl.clients.http import LIMIT_CONCURRENT, LIMIT_EXECUTION, LIMIT_REQUESTS, Pause


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Shown:
    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []

    def paused(self, text: str, seconds: float) -> None:
        self.calls.append((text, seconds))


@pytest.mark.parametrize(("pause", "text"), [
    (Pause("dataverse", 1.0, LIMIT_REQUESTS, everyone=True),
     "Waiting 1s: Dataverse asked to slow down (429, number of requests)"),
    (Pause("dataverse", 2.5, LIMIT_EXECUTION, everyone=True),
     "Waiting 2.5s: Dataverse asked to slow down (429, combined execution time)"),
    (Pause("dataverse", 1.0, LIMIT_CONCURRENT),
     "Waiting 1s: Dataverse asked to slow down (429, concurrent requests)"),
    (Pause("graph", 12.4), "Waiting 12s: Microsoft Graph asked to slow down (429)"),
    (Pause("login", 3.0), "Waiting 3s: Microsoft Entra ID asked to slow down (429)"),
])
def test_a_pause_says_how_long_which_service_and_which_limit(pause: Pause, text: str) -> None:
    assert describe(pause) == text


def test_on_a_terminal_every_pause_goes_to_the_live_line() -> None:
    shown = Shown()
    notices = PauseNotices(shown, live=True, clock=Clock())
    for _ in range(3):
        notices(Pause("dataverse", 1.0, LIMIT_REQUESTS, everyone=True))
    assert len(shown.calls) == 3 and shown.calls[0][1] == 1.0


def test_without_a_terminal_pauses_close_together_make_one_line_and_a_count() -> None:
    clock = Clock()
    shown = Shown()
    notices = PauseNotices(shown, live=False, quiet=10.0, clock=clock)
    notices(Pause("dataverse", 1.0, LIMIT_REQUESTS, everyone=True))
    for _ in range(6):                      # one a second, as a throttled bulk write meets them
        clock.now += 1.1
        notices(Pause("dataverse", 1.0, LIMIT_EXECUTION, everyone=True))
    assert [text for text, _ in shown.calls] == [
        "Waiting 1s: Dataverse asked to slow down (429, number of requests)"]
    clock.now += 4.0                        # 10.6 s after the first line
    notices(Pause("graph", 2.0))
    assert shown.calls[-1][0] == ("Waiting 2s: Microsoft Graph asked to slow down (429); "
                                  "6 more waits (6s in all) since the last such line")
    clock.now += 1.0
    notices(Pause("dataverse", 1.0, LIMIT_REQUESTS, everyone=True))
    notices.flush()                         # before the results: nothing counted goes unsaid
    assert shown.calls[-1] == ("Waited 1 more time (1s in all) when services asked to slow down", 0.0)
    notices.flush()
    assert len(shown.calls) == 3


def test_a_plain_log_gets_the_pause_as_a_line_of_its_own() -> None:
    clock = Clock()
    stream = io.StringIO()
    progress = RunProgress(stream, live=False, clock=clock, heartbeat=False)
    progress.kind_step("revert mailboxes", 0, 2000)
    PauseNotices(progress, live=False, clock=clock)(Pause("dataverse", 1.0, LIMIT_REQUESTS, everyone=True))
    assert stream.getvalue().splitlines()[-1] == describe(Pause("dataverse", 1.0, LIMIT_REQUESTS))


def _terminal(clock: Clock) -> tuple[RunProgress, io.StringIO]:
    stream = io.StringIO()
    return RunProgress(stream, live=True, clock=clock, heartbeat=False), stream


def test_the_live_line_shows_the_pause_while_it_lasts() -> None:
    clock = Clock()
    progress, stream = _terminal(clock)
    progress.kind_step("revert mailboxes", 0, 2000)
    clock.now += 2
    progress.kind_step("revert mailboxes", 400, 2000)
    progress.paused("Waiting 1s: Dataverse asked to slow down (429, number of requests)", 1.0)
    last = stream.getvalue().split("\r\x1b[K")[-1]
    assert last == ("revert mailboxes 400/2000 (20%) · 2s · 200/s · Waiting 1s: Dataverse asked to slow "
                    "down (429, number of requests) ...")
    clock.now += 1.5
    progress.tick()
    assert stream.getvalue().split("\r\x1b[K")[-1] == "revert mailboxes 400/2000 (20%) · 3s · 114/s ..."
    assert "\n" not in stream.getvalue()


def test_a_pause_before_any_step_is_the_live_line_itself() -> None:
    progress, stream = _terminal(Clock())
    progress.paused("Waiting 2s: Microsoft Entra ID asked to slow down (429)", 2.0)
    assert stream.getvalue() == "\r\x1b[KWaiting 2s: Microsoft Entra ID asked to slow down (429) ..."
