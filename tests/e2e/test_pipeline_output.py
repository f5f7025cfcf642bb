"""What a CI log shows while sssctl works: plain progress lines on stderr, soon and regularly.

A 20,000-mailbox tenant behind 40 ms of latency per request: without a terminal the run
must not stay silent until the end. The test asserts that a progress line arrives within
the heartbeat interval, never how long the whole run takes.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sssctl.app.progress import HEARTBEAT_SECONDS
from sssctl.emulator.info import EmulatorInfo
from tests.e2e.conftest import DATAVERSE_CONFIG

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PROGRESS_LINE = re.compile(r"^(Still .+|.+: \d+(/\d+| so far)).*\[\d+s elapsed\]$")


@pytest.fixture(scope="module")
def big_tenant() -> Iterator[EmulatorInfo]:
    from sssctl.emulator import running_emulator

    with running_emulator(dataset="large", mailboxes=20000, business_units=2, roles=10,
                          faults={"latency_ms": 40}) as info:
        yield info


def _lines_of(stream: subprocess.Popen[str]) -> queue.Queue[tuple[float, str]]:
    lines: queue.Queue[tuple[float, str]] = queue.Queue()

    def pump() -> None:
        assert stream.stderr is not None
        for line in stream.stderr:
            lines.put((time.monotonic(), line.rstrip("\n")))

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_piped_stderr_shows_a_progress_line_within_the_heartbeat(big_tenant: EmulatorInfo,
                                                                   tmp_path: Path) -> None:
    config = tmp_path / "e2e.toml"
    config.write_text(DATAVERSE_CONFIG)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SSSCTL_", "MSAL_", "NO_COLOR", "FORCE_COLOR"))}
    env.update(big_tenant.environ(), SSSCTL_STATE_DIR=str(tmp_path / "state"))
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "sssctl", "plan", "-c", str(config)], env=env,
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = _lines_of(process)
    first: tuple[float, str] | None = None
    try:
        deadline = started + HEARTBEAT_SECONDS + 5      # process start-up and sign-in come first
        while first is None and time.monotonic() < deadline:
            try:
                at, line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if PROGRESS_LINE.match(line):
                first = (at, line)
        assert first is not None, "no progress line on piped stderr"
        assert first[0] - started <= HEARTBEAT_SECONDS + 5
        assert "\r" not in first[1] and "\x1b" not in first[1]
        out, _ = process.communicate(timeout=240)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "mailboxes" in out
    rest = [line for _, line in iter_queue(lines)]
    assert any(line.startswith("read mailboxes: ") for line in [first[1], *rest])


def iter_queue(lines: queue.Queue[tuple[float, str]]) -> Iterator[tuple[float, str]]:
    while True:
        try:
            yield lines.get_nowait()
        except queue.Empty:
            return
