"""``sssctl emulator serve``: run the emulator as a process until SIGINT or SIGTERM.

stdout carries exactly one line, the connection facts as JSON, so a script can start the
server in the background and read that line; everything else goes to stderr.
"""

from __future__ import annotations

import os
import shlex
import signal
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import structlog

from sssctl.emulator.info import EmulatorInfo

log = structlog.get_logger("sssctl.emulator")


def default_data_dir() -> Path:
    """Per-user cache, so the CA a user trusted once stays the same across runs (the
    platform's own cache directory, as platformdirs knows it; ``XDG_CACHE_HOME`` on Linux)."""
    import platformdirs

    return platformdirs.user_cache_path("sssctl", appauthor=False) / "emulator"


def env_file_text(info: EmulatorInfo) -> str:
    """``SSSCTL_*`` lines that ``set -a; . FILE; set +a`` loads (values shell-quoted)."""
    lines = [f"{name}={shlex.quote(value)}" for name, value in sorted(info.environ().items())]
    return (
        "# Written by `sssctl emulator serve`; it holds a client secret: keep it private.\n"
        + "\n".join(lines)
        + "\n"
    )


def write_env_file(path: Path, info: EmulatorInfo) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(env_file_text(info))


def serve(
    *,
    out: TextIO,
    err: TextIO | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    dataset: str = "small",
    mailboxes: int | None = None,
    business_units: int | None = None,
    roles: int | None = None,
    seed: int = 1,
    data_dir: Path | None = None,
    env_file: Path | None = None,
    auto_approve_device_codes: bool = False,
    token_lifetime: int = 3600,
    faults: Mapping[str, Any] | None = None,
    organizations: int = 1,
    clock: str | None = None,
) -> None:
    """Start, announce, wait for a stop signal, stop. Raises ``EmulatorError`` on bad input."""
    from sssctl.emulator.server import check_loopback, running_emulator

    check_loopback(host)
    # The handler only records the signal: it runs in the main thread between two bytecodes,
    # maybe inside ``Event.wait`` or a log write holding their lock, and taking that lock
    # again would wait forever. The loop below notices within a tenth of a second.
    received: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with running_emulator(
            dataset=dataset,
            seed=seed,
            mailboxes=mailboxes,
            business_units=business_units,
            roles=roles,
            data_dir=data_dir or default_data_dir(),
            host=host,
            port=port,
            faults=faults,
            auto_approve_device_codes=auto_approve_device_codes,
            token_lifetime=token_lifetime,
            organizations=organizations,
            clock=clock,
        ) as info:
            if env_file is not None:
                write_env_file(env_file, info)
            out.write(info.to_json() + "\n")
            out.flush()
            if err is not None:
                err.write(
                    f"sssctl emulator: serving {info.url} (dataset {dataset}, "
                    f"{len(info.organizations)} organization(s)); trust {info.ca_file}; "
                    "Ctrl-C stops it.\n"
                )
                err.flush()
            while not received:
                time.sleep(0.1)
            log.info("emulator.signal", signal=signal.Signals(received[0]).name)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
