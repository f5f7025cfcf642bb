"""Ctrl-C while applying: handlers that never wait for a lock the interrupted code holds."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from sssctl.app.interrupts import FIRST_PRESS, AbortedAtOnce, SignalRelay, graceful


def press_ctrl_c() -> None:
    """SIGINT to this process; its Python handler runs in the main thread before this returns."""
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.01)


@pytest.mark.timeout(20)
def test_the_first_press_while_the_main_thread_holds_the_progress_lock_does_not_hang() -> None:
    progress_lock = threading.Lock()   # what the progress line holds while printing a result
    said: list[str] = []

    def say(sentence: str) -> None:
        with progress_lock:
            said.append(sentence)

    stop = threading.Event()
    with graceful(stop, say):
        with progress_lock:
            press_ctrl_c()
            assert said == []          # told only once the main thread let go of the line
        assert stop.wait(5)
    assert said == [FIRST_PRESS]


def test_the_second_press_aborts_at_once_and_the_default_handler_is_back() -> None:
    stop = threading.Event()
    with pytest.raises(AbortedAtOnce), graceful(stop, lambda _: None):
        press_ctrl_c()
        assert stop.wait(5)
        press_ctrl_c()
        pytest.fail("the second Ctrl-C did not abort")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_press_after_the_run_was_stopped_otherwise_aborts_at_once() -> None:
    stop = threading.Event()
    stop.set()          # e.g. the deadline passed: a Ctrl-C now means "leave"
    with pytest.raises(AbortedAtOnce), graceful(stop, lambda _: None):
        press_ctrl_c()


def test_the_previous_handler_is_restored_after_a_quiet_run() -> None:
    before = signal.getsignal(signal.SIGINT)
    with graceful(threading.Event(), lambda _: None):
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before


def test_outside_the_main_thread_graceful_changes_nothing() -> None:
    seen: list[object] = []

    def body() -> None:
        with graceful(threading.Event(), lambda _: None):
            seen.append(signal.getsignal(signal.SIGINT))

    before = signal.getsignal(signal.SIGINT)
    worker = threading.Thread(target=body)
    worker.start()
    worker.join()
    assert seen == [before]


def test_the_relay_acts_on_every_signal_sent_before_it_closed() -> None:
    acted: list[int] = []
    relay = SignalRelay(acted.append)
    relay.handler(signal.SIGTERM, None)
    relay.handler(signal.SIGINT, None)
    relay.close()
    assert acted == [signal.SIGTERM, signal.SIGINT]
    relay.handler(signal.SIGINT, None)    # after close: ignored, no error
    assert acted == [signal.SIGTERM, signal.SIGINT]


def test_the_relay_takes_no_lock_in_the_handler() -> None:
    """Whatever ``act`` waits for, the handler returns at once."""
    gate = threading.Event()
    relay = SignalRelay(lambda _: gate.wait(5))
    started = time.monotonic()
    relay.handler(signal.SIGINT, None)
    relay.handler(signal.SIGINT, None)
    assert time.monotonic() - started < 0.5
    gate.set()
    relay.close()
