"""Where snapshots live: the :class:`Backend` protocol and the local directory backend.

The protocol lists every call the store, the runner and the ``state`` commands make, so a
second backend (:mod:`sssctl.state.blob`, Azure Blob with a lease as the lock) is a drop-in.
Each backend keeps the previous snapshot, makes writes conditional on the snapshot they
replace (a lost update is refused, never silently made), and names the lock's holder.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import urlparse

import structlog

from sssctl import strictjson
from sssctl.state import lock as lockfile
from sssctl.state.errors import StateConflict, StateCorrupt, StateError
from sssctl.state.location import Location, write_breadcrumb
from sssctl.state.model import Snapshot

log = structlog.get_logger(__name__)

# A snapshot is a few hundred KB at most (aggregates keep counts, not rows); refuse far more.
MAX_SNAPSHOT_BYTES = 32 * 1024 * 1024
_READ_CHUNK = 1024 * 1024


def read_capped(handle: BinaryIO, cap: int = MAX_SNAPSHOT_BYTES) -> bytes:
    """At most ``cap + 1`` bytes (one more tells "too big" apart), in chunks.

    ``handle.read(cap + 1)`` would allocate the whole cap for every read, 32 MiB for a file
    of a few kilobytes, once per checkpoint during an apply; the allocator keeps such
    buffers' memory long after they are freed.
    """
    chunks: list[bytes] = []
    left = cap + 1
    while left > 0:
        chunk = handle.read(min(_READ_CHUNK, left))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class Backend(Protocol):
    """What a state store must offer; ``name`` is the environment the snapshot belongs to."""

    name: str
    # Set by the factory, which knows the config's directory: stamped into every snapshot
    # written, and recorded in the breadcrumb (:mod:`sssctl.state.location`) after it.
    location: Location | None
    breadcrumb: Path | None

    def describe(self) -> str:
        """Where the snapshot lives, for messages (a path or a blob URL, never a credential)."""
        ...

    def read(self) -> Snapshot | None:
        """The current snapshot, None if nothing was written yet; raises StateCorrupt."""
        ...

    def read_previous(self) -> Snapshot | None:
        """The snapshot before the current one (kept by every write), None if there is none."""
        ...

    def write(self, snapshot: Snapshot, *, replaces: Snapshot | None) -> None:
        """Store ``snapshot`` if the stored one is still ``replaces`` (None: nothing stored yet).

        Raises :class:`StateConflict` otherwise; the previous snapshot is kept first.
        """
        ...

    def lock(self, command: str) -> str:
        """Take the lock at once or raise LockHeld naming the holder; returns the lock ID."""
        ...

    def holds(self, lock_id: str) -> bool:
        """Whether the lock ``lock_id`` is still held (by this backend object)."""
        ...

    def unlock(self, lock_id: str) -> None:
        """Release the lock if it is still ``lock_id``; silent otherwise."""
        ...

    def force_unlock(self, lock_id: str) -> Mapping[str, Any]:
        """``state unlock ID``: break a lock only when ``lock_id`` matches; returns its metadata."""
        ...


def environment_name(name: str | None, url: str | None) -> str:
    """The snapshot's file name: ``[environment] name``, else the org URL's host label."""
    host = urlparse(url or "").hostname or ""
    candidate = name or (host if host.replace(".", "").isdigit() else host.split(".")[0])
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", candidate).strip(".-")
    return cleaned or "default"


def parse_snapshot(raw: bytes, where: str, *, recover_hint: str) -> Snapshot:
    """Bytes from disk or the network into a verified snapshot, or StateCorrupt naming ``where``."""
    if len(raw) > MAX_SNAPSHOT_BYTES:
        raise StateCorrupt(f"state {where} is {len(raw)} bytes, more than any snapshot sssctl writes; "
                           f"sssctl will not trust it. {recover_hint}")
    try:
        document = json.loads(raw.decode("utf-8"), object_pairs_hook=strictjson.no_duplicate_keys)
        return Snapshot.from_document(document, where=where)
    except (ValueError, RecursionError, StateCorrupt) as exc:
        reason = str(exc) if isinstance(exc, StateCorrupt) else f"state file {where} is not JSON"
        if isinstance(exc, strictjson.DuplicateKey):
            reason = f"state file {where} has the key {exc.key!r} twice in one object"
        raise StateCorrupt(f"{reason}. sssctl will not trust it. {recover_hint}") from exc


def serialize(snapshot: Snapshot) -> bytes:
    text = json.dumps(snapshot.to_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return text.encode("utf-8")


def remember(backend: Backend) -> None:
    """Record in the breadcrumb that ``backend`` holds this environment's snapshot now."""
    if backend.location is not None and backend.breadcrumb is not None:
        write_breadcrumb(backend.breadcrumb, backend.location)


def check_replaces(current: Snapshot | None, replaces: Snapshot | None, where: str) -> None:
    """The precondition of every write: the stored snapshot is the one the writer read."""
    def ident(s: Snapshot | None) -> str:
        return "no snapshot" if s is None else f"lineage {s.lineage} serial {s.serial}"

    if ident(current) != ident(replaces):
        raise StateConflict(
            f"the state {where} changed while this run held it: it expected {ident(replaces)} but "
            f"found {ident(current)}. Nothing was written; another writer ignored the lock. "
            "Run `sssctl plan` again and review before applying"
        )


class LocalBackend:
    """``<dir>/<name>.json`` with one ``.bak`` of the previous snapshot and a ``.lock`` file."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name
        self.path = directory / f"{name}.json"
        self.backup_path = directory / f"{name}.json.bak"
        self.lock_path = directory / f"{name}.lock"
        self.location: Location | None = None
        self.breadcrumb: Path | None = None

    def describe(self) -> str:
        return str(self.path)

    def read(self) -> Snapshot | None:
        return self._read(self.path, f"The previous snapshot is kept at {self.backup_path}; "
                                     "inspect both and copy the right one back to continue")

    def read_previous(self) -> Snapshot | None:
        return self._read(self.backup_path, "Inspect it by hand; it is not used by any run")

    def _read(self, path: Path, hint: str) -> Snapshot | None:
        try:
            with path.open("rb") as handle:
                raw = read_capped(handle)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read state file {path}: {exc.strerror}") from exc
        return parse_snapshot(raw, str(path), recover_hint=hint)

    def write(self, snapshot: Snapshot, *, replaces: Snapshot | None) -> None:
        """Atomic replace: temp file in the same directory, fsync, rename, fsync the directory.

        The previous snapshot is first copied to ``.bak`` (also atomically), so a reader
        always finds either the old or the new complete file, never half of one.
        """
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            check_replaces(self.read(), replaces, str(self.path))
            if self.path.exists():
                self._atomic_write(self.backup_path, self.path.read_bytes())
            self._atomic_write(self.path, serialize(snapshot.stored_at(self.location)))
        except OSError as exc:
            raise StateError(
                f"cannot write state file {self.path}: {exc.strerror or exc}. The last change was applied "
                "but not recorded; fix the directory (space, permissions) and run apply again to record it"
            ) from exc
        remember(self)

    def _temp_prefix(self, target: Path) -> str:
        return f".{target.name}."

    def _atomic_write(self, target: Path, data: bytes) -> None:
        # O_EXCL | O_NOFOLLOW: a planted file or symlink at the temp name is never written through.
        tmp = self.directory / f"{self._temp_prefix(target)}{secrets.token_hex(8)}.tmp"
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def remove_leftovers(self) -> list[Path]:
        """Delete temp files a crashed writer left; only safe under the lock, where nobody writes."""
        removed: list[Path] = []
        for target in (self.path, self.backup_path):
            for leftover in self.directory.glob(f"{self._temp_prefix(target)}*.tmp"):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
                    removed.append(leftover)
        if removed:
            log.warning("state.leftovers_removed", files=[str(p) for p in removed])
        return removed

    def lock(self, command: str) -> str:
        lock_id = str(lockfile.acquire(self.lock_path, command)["id"])
        self.remove_leftovers()
        return lock_id

    def holds(self, lock_id: str) -> bool:
        """Whether the lock is still ours (``watch`` asks before each cycle: a leader that lost
        its lock must stop writing, since another replica may now lead)."""
        current = lockfile.read_lock(self.lock_path)
        return current is not None and current.get("id") == lock_id

    def unlock(self, lock_id: str) -> None:
        lockfile.release(self.lock_path, lock_id)

    def force_unlock(self, lock_id: str) -> Mapping[str, Any]:
        return lockfile.force_unlock(self.lock_path, lock_id)
