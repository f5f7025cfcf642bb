"""The run lock: one file next to the snapshot, created exclusively, carrying who holds it.

``O_CREAT | O_EXCL`` is the primitive (atomic on every local filesystem); the JSON
metadata is what lets the second run say *who* holds the lock and how to break it.
A lock left by a process that died on this host is taken over with a warning: the pid
is checked only on the same host, since a pid means nothing elsewhere.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import uuid
from pathlib import Path
from typing import Any

import structlog
from filelock import FileLock

from sssctl.state.errors import LockHeld, StateError
from sssctl.state.model import utc_now

log = structlog.get_logger(__name__)


def _holder_name() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_lock(path: Path) -> dict[str, Any] | None:
    """The lock's metadata, ``{}`` if the file exists but is unreadable, None if absent."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def describe_holder(info: dict[str, Any]) -> str:
    if not info:
        return "an unknown holder (the lock file is unreadable)"
    return (
        f"{info.get('holder', '?')} (pid {info.get('pid', '?')} on {info.get('host', '?')}, "
        f"running '{info.get('command', '?')}' since {info.get('created_at', '?')}), "
        f"lock ID {info.get('id', '?')}"
    )


def acquire(path: Path, command: str) -> dict[str, Any]:
    """Create the lock file or raise :class:`LockHeld` naming the holder.

    The take-over of a stale lock runs under a short-lived guard lock so that two runs
    finding the same dead holder cannot both delete and re-create the file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    info = {
        "id": str(uuid.uuid4()),
        "holder": _holder_name(),
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "created_at": utc_now(),
        "command": command,
    }
    # The guard file stays (deleting a lock file others may wait on breaks the mutex); hidden.
    with FileLock(str(path.with_name(f".{path.name}.guard")), timeout=30):
        if _try_create(path, info):
            return info
        current = read_lock(path) or {}
        if _is_stale(current):
            log.warning("state.lock.stale_taken_over", path=str(path), previous=describe_holder(current))
            path.unlink(missing_ok=True)
            if _try_create(path, info):
                return info
            current = read_lock(path) or {}
    raise LockHeld(
        f"the state is locked by {describe_holder(current)}. Wait for that run to finish; if it died, "
        f"run `sssctl state unlock {current.get('id', '<ID>')}` (lock file {path})",
        holder=current,
    )


def _try_create(path: Path, info: dict[str, Any]) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(info, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    return True


def _is_stale(info: dict[str, Any]) -> bool:
    pid = info.get("pid")
    same_host = info.get("host") == socket.gethostname()
    return same_host and isinstance(pid, int) and pid != os.getpid() and not _pid_alive(pid)


def release(path: Path, lock_id: str) -> None:
    """Remove the lock if (and only if) it is still ours; silent if already gone."""
    current = read_lock(path)
    if current is not None and current.get("id") == lock_id:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def force_unlock(path: Path, lock_id: str) -> dict[str, Any]:
    """``state unlock ID``: remove a lock whose ID the operator names, nothing else."""
    current = read_lock(path)
    if current is None:
        raise StateError(f"there is no lock to remove ({path} does not exist)")
    if current.get("id") != lock_id:
        raise StateError(
            f"lock ID {lock_id} does not match the current lock, held by {describe_holder(current)}; "
            "nothing was removed"
        )
    path.unlink()
    return current
