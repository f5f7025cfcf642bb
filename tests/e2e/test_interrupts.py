"""Ctrl-C during apply, as a person at a terminal presses it.

The first press lets the ``$batch`` chunk in flight finish, saves the state, says so in a
sentence and exits 130; a second press leaves at once. Either way the state is whole,
the lock is released, and running apply again finishes the job.
"""

from __future__ import annotations

import signal
import time

import pytest

from sssctl.emulator.admin_client import AdminClient
from sssctl.state.backend import LocalBackend
from tests.e2e.conftest import Cli, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BATCH = "POST dataverse:$batch"


def _batches(admin: AdminClient) -> int:
    return int(admin.counters().get("by_route", {}).get(BATCH, 0))


def _slow_reverts(admin: AdminClient) -> None:
    """Thousands of drifted mailboxes, each $batch chunk taking a few seconds of server time."""
    admin.reset(mailboxes=4000)
    admin.faults(batch_operation_ms=2.0)
    admin.reset_counters()


def test_first_ctrl_c_finishes_the_chunk_in_flight_and_exits_130(cli: Cli, admin: AdminClient) -> None:
    _slow_reverts(admin)
    run = cli.start("apply", "--auto-approve", "--parallelism", "1")
    wait_for(lambda: _batches(admin) >= 1 or run.poll() is not None, what="the first $batch chunk")
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 130, out + err
    assert "Stopping: the requests in flight will finish" in err
    assert "stopped: reverted" in out and "run apply again" in out
    assert _batches(admin) < 4, "no chunk may start after the first Ctrl-C"
    assert not (cli.state_dir / "e2e.lock").exists()
    snapshot = LocalBackend(cli.state_dir, "e2e").read()
    assert snapshot is not None and "mailboxes" in snapshot.resources
    assert "server_profile.default" not in snapshot.resources   # nothing after the stopped kind ran
    admin.clear_faults()
    admin.faults(batch_operation_ms=0.0)      # server time is not a fault: set it back
    again = cli.run("apply", "--auto-approve")
    assert again.returncode == 0, again.stdout + again.stderr
    assert cli.run("plan", "--detailed-exitcode").returncode == 0


def test_second_ctrl_c_aborts_at_once_with_a_valid_state(cli: Cli, admin: AdminClient) -> None:
    _slow_reverts(admin)
    admin.faults(batch_operation_ms=100.0)   # $batch of 100: 10 s of server time per chunk
    run = cli.start("apply", "--auto-approve", "--parallelism", "1")
    wait_for(lambda: _batches(admin) >= 1 or run.poll() is not None, what="the first $batch chunk")
    run.send_signal(signal.SIGINT)
    time.sleep(0.3)
    pressed = time.monotonic()
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=60)
    waited = time.monotonic() - pressed
    assert run.returncode == 130, out + err
    assert "Aborted." in err
    assert waited < 7, f"the second Ctrl-C must not wait for the 10 s chunk in flight (waited {waited:.1f} s)"
    assert not (cli.state_dir / "e2e.lock").exists()
    assert LocalBackend(cli.state_dir, "e2e").read() is not None or not (cli.state_dir / "e2e.json").exists()
    admin.clear_faults()
    admin.faults(batch_operation_ms=0.0)      # server time is not a fault: set it back
    again = cli.run("apply", "--auto-approve")
    assert again.returncode == 0, again.stdout + again.stderr
    assert cli.run("plan", "--detailed-exitcode").returncode == 0
