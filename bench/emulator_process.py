"""The emulator as a separate process, so the client's peak memory is the client's alone.

The server holds every table of the large dataset in memory; measured in the same
process it would drown the figure we care about. It is started in its own session, so a
Ctrl-C aimed at the benchmark does not interrupt it half-way through a reset, and it is
always stopped with SIGTERM (then SIGKILL) on the way out, whatever happened.
"""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sssctl.emulator.info import EmulatorInfo

START_TIMEOUT = 180.0
STOP_TIMEOUT = 15.0


class EmulatorFailed(RuntimeError):
    """The emulator process did not start; the message carries the end of its log."""


def serve_command(*, mailboxes: int, data_dir: Path, latency_ms: float, seed: int) -> list[str]:
    return [
        sys.executable, "-m", "sssctl", "emulator", "serve",
        "--dataset", "large", "--mailboxes", str(mailboxes), "--seed", str(seed),
        "--data-dir", str(data_dir), "--latency-ms", f"{latency_ms:g}",
    ]


def _tail(log_file: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _read_announcement(process: subprocess.Popen[str], log_file: Path) -> EmulatorInfo:
    """The one JSON line the emulator prints once it listens (with a deadline)."""
    assert process.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.5)
        if ready:
            line = process.stdout.readline()
            if line.strip():
                return EmulatorInfo(**json.loads(line))
        if process.poll() is not None:
            raise EmulatorFailed(f"the emulator exited with {process.returncode}:\n{_tail(log_file)}")
    raise EmulatorFailed(f"the emulator did not start within {START_TIMEOUT:.0f} s:\n{_tail(log_file)}")


def stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM, a grace period for a clean shutdown, then SIGKILL."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def emulator_process(
    *, mailboxes: int, workdir: Path, latency_ms: float = 0.0, seed: int = 1
) -> Iterator[EmulatorInfo]:
    """A running emulator with the large dataset; stopped on exit, even on Ctrl-C."""
    log_file = workdir / "emulator.log"
    command = serve_command(mailboxes=mailboxes, data_dir=workdir / "emulator",
                            latency_ms=latency_ms, seed=seed)
    with log_file.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True
        )
        try:
            yield _read_announcement(process, log_file)
        finally:
            stop(process)
