"""Inputs refused up front by the CLI, with a remedy, before anything is read or written.

A FIFO at the lock path used to block ``apply`` (reading the holder) and ``state unlock``
forever; an ``environment.name`` too long for a file name failed only at apply.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from tests.e2e.conftest import Cli

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are a POSIX thing")
@pytest.mark.parametrize("command", [("apply", "--auto-approve"), ("state", "unlock", "some-id")])
def test_a_fifo_at_the_lock_path_is_refused_at_once(cli: Cli, command: tuple[str, ...]) -> None:
    cli.state_dir.mkdir(parents=True, exist_ok=True)
    lock = cli.state_dir / "e2e.lock"
    os.mkfifo(lock)

    started = time.monotonic()
    result = cli.run(*command, timeout=60)

    assert time.monotonic() - started < 30
    assert result.returncode == 1, result.stdout + result.stderr
    assert "not a regular file (it is a FIFO)" in result.stderr and f"rm {lock}" in result.stderr
    assert "Traceback" not in result.stderr
    assert lock.exists()        # not ours to delete


def test_an_environment_name_longer_than_the_backends_accept_is_refused_before_any_request(cli: Cli) -> None:
    text = cli.config.read_text(encoding="utf-8")
    cli.config.write_text(text.replace('name = "e2e"', 'name = "' + "x" * 65 + '"'), encoding="utf-8")

    result = cli.run("plan")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "environment.name" in result.stderr and "1 to 64 letters" in result.stderr
    assert not cli.state_dir.exists()


@pytest.mark.parametrize("command", [("plan",), ("apply", "--auto-approve")])
def test_ctrl_c_while_reading_exits_130_without_a_traceback(cli: Cli, admin: Any,
                                                            command: tuple[str, ...]) -> None:
    admin.faults(latency_ms=400)          # every request is slow: the Ctrl-C lands while reading
    running = cli.start(*command)
    time.sleep(2.5)
    running.send_signal(signal.SIGINT)
    out, err = running.communicate(timeout=60)

    assert running.returncode == 130, out + err
    assert "Traceback" not in err and "Aborted." not in err
    assert "Interrupted (Ctrl-C)" in err
    assert not list(cli.state_dir.glob("*.lock"))


@pytest.mark.parametrize(("count", "why"), [(-1, "empty pages in a row"), (1, "(@odata.count)")])
def test_a_table_that_pages_forever_leaves_the_plan_unknown_at_once(cli: Cli, admin: Any,
                                                                    count: int, why: str) -> None:
    # Every page of mailboxes is empty and links to a new one; with a count, it also
    # announces one row. Following it would cost thousands of requests for nothing.
    admin.faults(runaway_route="/dataverse/api/data/v9.2/mailboxes", runaway_count=count)
    admin.reset_counters()

    started = time.monotonic()
    result = cli.run("plan", "--detailed-exitcode", "--out", "runaway.plan", timeout=60)

    assert time.monotonic() - started < 30
    output = result.stdout + result.stderr
    assert result.returncode == 3, output[-3000:]
    assert "stopped reading mailboxes" in output and why in output
    assert "Traceback" not in output
    assert "? mailboxes" in result.stdout and "1 unknown" in result.stdout
    counters = admin.counters()
    assert 1 <= counters["by_route"]["GET dataverse:mailboxes"] <= 5
    assert counters["writes"] == 0
    assert not cli.state_dir.exists()
