"""The run lock: one file next to the snapshot, created exclusively, carrying who holds it.

``O_CREAT | O_EXCL`` is the primitive (atomic on every local filesystem); the JSON
metadata is what lets the second run say *who* holds the lock and how to break it.
A lock left by a process that died on this host is taken over with a warning: the pid
is checked only on the same host, since a pid means nothing elsewhere.

The lock file is untrusted input like any file on disk. A live acquirer writes the file
under the guard lock, so a reader holding the guard that finds it empty, unparsable, or
with a ``pid`` that is not a positive integer is looking at the leftover of a crash (or
of someone else's hand), never at a lock being written: such a lock is stale, not a lock
that blocks forever.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import stat
import uuid
from pathlib import Path
from typing import Any

import psutil
import structlog
from filelock import FileLock

from sssctl.errors import cannot_write
from sssctl.state.errors import LockHeld, StateError
from sssctl.state.model import utc_now

log = structlog.get_logger(__name__)


def holder_name() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host, on every platform.

    psutil, not ``os.kill(pid, 0)``: on Windows signal 0 is CTRL_C_EVENT, which would
    interrupt the holder's console group instead of probing it. A pid no process can have
    is simply not alive.
    """
    try:
        return bool(psutil.pid_exists(pid))
    except (OverflowError, ValueError):
        return False


_MAX_LOCK_BYTES = 64 * 1024  # a real lock file is ~250 bytes; never read a huge one into memory


def read_lock(path: Path) -> dict[str, Any] | None:
    """The lock's metadata, ``{}`` if the file exists but is unreadable, None if absent.

    Opened without blocking and checked to be a regular file before a byte is read: a FIFO
    (or a device) at the lock path would otherwise hold ``apply`` and ``state unlock``
    forever, and deleting it as a stale lock would destroy something that is not ours.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except OSError:
        return {}
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise StateError(
                f"the lock path {path} is not a regular file (it is a {_file_type(os.fstat(fd).st_mode)}), "
                "so sssctl can neither read nor take it over. Remove or rename it "
                f"(`rm {path}`) if nothing else uses it, then run the command again")
        raw = _read_up_to(fd, _MAX_LOCK_BYTES + 1)
    except OSError:
        return {}
    finally:
        os.close(fd)
    if len(raw) > _MAX_LOCK_BYTES:
        return {}
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_up_to(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(fd, limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _file_type(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISDIR, "directory"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")):
        if test(mode):
            return name
    return "special file"


def well_formed(info: dict[str, Any]) -> bool:
    """Whether the metadata is what :func:`acquire` writes (anything else is a crash leftover)."""
    pid = info.get("pid")
    return (isinstance(info.get("id"), str) and isinstance(info.get("host"), str)
            and isinstance(pid, int) and not isinstance(pid, bool) and pid > 0)


def describe_holder(info: dict[str, Any]) -> str:
    if not well_formed(info):
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
    info = {
        "id": str(uuid.uuid4()),
        "holder": holder_name(),
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "created_at": utc_now(),
        "command": command,
    }
    try:
        return _acquire(path, info)
    except OSError as exc:
        raise StateError(cannot_write(path.parent, exc, what="in the state directory", remedy=(
            "sssctl keeps the snapshot, its backup and the run lock there; make the directory "
            "writable, or point [state] path or SSSCTL_STATE_DIR at one that is"))) from None


def _acquire(path: Path, info: dict[str, Any]) -> dict[str, Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
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
    unlock = f"sssctl state unlock {current.get('id', '<ID>')}"
    raise LockHeld(
        f"the state is locked by {describe_holder(current)}. Wait for that run to finish; if it died, "
        f"run `{unlock}` (lock file {path})",
        holder=current, unlock=unlock,
    )


def _try_create(path: Path, info: dict[str, Any]) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(info, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    return True


def _is_stale(info: dict[str, Any]) -> bool:
    """Only called under the guard lock, where a malformed file cannot be one being written."""
    if not well_formed(info):
        return True
    pid = int(info["pid"])
    same_host = info.get("host") == socket.gethostname()
    return same_host and pid != os.getpid() and not _pid_alive(pid)


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
    if not well_formed(current):
        path.unlink(missing_ok=True)  # nobody can hold an unreadable lock: any ID removes it
        return current
    if current.get("id") != lock_id:
        raise StateError(
            f"lock ID {lock_id} does not match the current lock, held by {describe_holder(current)}; "
            "nothing was removed"
        )
    path.unlink()
    return current
