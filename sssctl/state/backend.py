"""Where snapshots live. Only the local directory backend exists today.

:class:`Backend` is the seam for a remote store (Azure Blob with a lease as the lock,
ARCHITECTURE §6): the engine only ever calls these five methods.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from sssctl.state import lock as lockfile
from sssctl.state.errors import StateCorrupt, StateError
from sssctl.state.model import Snapshot


class Backend(Protocol):
    def describe(self) -> str: ...

    def read(self) -> Snapshot | None: ...

    def write(self, snapshot: Snapshot) -> None: ...

    def lock(self, command: str) -> str: ...

    def unlock(self, lock_id: str) -> None: ...


def environment_name(name: str | None, url: str | None) -> str:
    """The snapshot's file name: ``[environment] name``, else the org URL's host label."""
    host = urlparse(url or "").hostname or ""
    candidate = name or (host if host.replace(".", "").isdigit() else host.split(".")[0])
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", candidate).strip(".-")
    return cleaned or "default"


def state_dir(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("SSSCTL_STATE_DIR") or "state")


class LocalBackend:
    """``<dir>/<name>.json`` with one ``.bak`` of the previous snapshot and a ``.lock`` file."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name
        self.path = directory / f"{name}.json"
        self.backup_path = directory / f"{name}.json.bak"
        self.lock_path = directory / f"{name}.lock"

    def describe(self) -> str:
        return str(self.path)

    def read(self) -> Snapshot | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read state file {self.path}: {exc.strerror}") from exc
        try:
            document = json.loads(text)
            return Snapshot.from_document(document, where=str(self.path))
        except (ValueError, StateCorrupt) as exc:
            reason = str(exc) if isinstance(exc, StateCorrupt) else f"state file {self.path} is not JSON"
            raise StateCorrupt(
                f"{reason}. sssctl will not trust it. The previous snapshot is kept at {self.backup_path}; "
                "inspect both and copy the right one back to continue"
            ) from exc

    def write(self, snapshot: Snapshot) -> None:
        """Atomic replace: temp file in the same directory, fsync, rename, fsync the directory.

        The previous snapshot is first copied to ``.bak`` (also atomically), so a reader
        always finds either the old or the new complete file, never half of one.
        """
        text = json.dumps(snapshot.to_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            if self.path.exists():
                self._atomic_write(self.backup_path, self.path.read_bytes())
            self._atomic_write(self.path, text.encode("utf-8"))
        except OSError as exc:
            raise StateError(
                f"cannot write state file {self.path}: {exc.strerror or exc}. The last change was applied "
                "but not recorded; fix the directory (space, permissions) and run apply again to record it"
            ) from exc

    def _atomic_write(self, target: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
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

    def lock(self, command: str) -> str:
        return str(lockfile.acquire(self.lock_path, command)["id"])

    def unlock(self, lock_id: str) -> None:
        lockfile.release(self.lock_path, lock_id)

    def force_unlock(self, lock_id: str) -> dict[str, Any]:
        return lockfile.force_unlock(self.lock_path, lock_id)
