"""Where a snapshot lives, recorded without a secret: in the snapshot and in a local breadcrumb.

A backend switch (``[state]`` from one Blob container to another, or from Blob back to
the local directory) leaves the configured backend empty until ``state migrate`` runs; a
plan from there would propose creating what sssctl already manages. The run can only
refuse if it knows where the snapshot was before, so two records name it:

* every snapshot a backend writes carries ``location`` (kind plus account URL, container
  and key, or the local directory relative to the config): a pulled or migrated copy
  still says where it came from;
* a breadcrumb, ``<name>.location`` in the local state directory beside the config
  (``state/`` or ``$SSSCTL_STATE_DIR``), names the last backend that held this
  environment's snapshot. It lives where no ``[state]`` edit moves it, and is rewritten
  after every write and every run that found a snapshot. It is a runtime file: git
  ignores it, and a fresh CI checkout has none (there the Blob state is the only history).

Neither record ever carries a credential: account URLs are refused with a query string
or user info (a SAS token would sit there), and both records are untrusted input when
read back, parsed strictly into :class:`Location` before any use.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit

from sssctl import strictjson
from sssctl.config.spec import storage_url_ok
from sssctl.state.errors import StateCorrupt

BREADCRUMB_SUFFIX = ".location"
_MAX_BREADCRUMB_BYTES = 4096
_KEYS = {"local": {"kind", "path"}, "azurerm": {"kind", "account_url", "container", "key"}}


@dataclass(frozen=True)
class Location:
    """``local`` with ``path`` (the directory, POSIX, relative to the config's directory when
    under it), or ``azurerm`` with ``account_url``, ``container`` and ``key``."""

    kind: Literal["local", "azurerm"]
    path: str | None = None
    account_url: str | None = None
    container: str | None = None
    key: str | None = None

    @classmethod
    def local(cls, directory: Path, base: Path) -> Location:
        absolute = directory if directory.is_absolute() else Path.cwd() / directory
        try:
            shown = os.path.relpath(absolute.resolve(), base.resolve())
        except ValueError:  # another drive (Windows)
            shown = str(absolute.resolve())
        if shown.startswith(".."):
            shown = str(absolute.resolve())
        return cls(kind="local", path=PurePosixPath(Path(shown).as_posix()).as_posix())

    @classmethod
    def blob(cls, account_url: str, container: str, key: str) -> Location:
        return cls(kind="azurerm", account_url=account_url.rstrip("/"), container=container, key=key)

    def to_document(self) -> dict[str, str]:
        if self.kind == "local":
            return {"kind": "local", "path": str(self.path)}
        return {"kind": "azurerm", "account_url": str(self.account_url), "container": str(self.container),
                "key": str(self.key)}

    def spec(self) -> str:
        """The ``state migrate --from`` value naming this location."""
        if self.kind == "local":
            return f"local:{self.path}"
        return f"azurerm:{self.container}/{self.key}"

    def describe(self) -> str:
        if self.kind == "local":
            return f"the local directory {self.path}"
        return f"{self.account_url}/{self.container}/{self.key}"

    @classmethod
    def from_document(cls, document: Any, *, where: str) -> Location:
        """A strictly typed location, or StateCorrupt naming ``where`` and the bad key."""
        if not isinstance(document, dict):
            raise StateCorrupt(f"{where}: location must be an object")
        kind = document.get("kind")
        if kind not in _KEYS:
            raise StateCorrupt(f"{where}: location.kind must be \"local\" or \"azurerm\", got {kind!r}")
        extra = set(document) - _KEYS[kind]
        if extra:
            raise StateCorrupt(f"{where}: location has unknown key(s) {sorted(extra)} for kind {kind!r}")
        for name in sorted(_KEYS[kind] - {"kind"}):
            value = document.get(name)
            if not isinstance(value, str) or not value or len(value) > 1024 or "\x00" in value:
                raise StateCorrupt(f"{where}: location.{name} must be a non-empty string")
        if kind == "local":
            return cls(kind="local", path=document["path"])
        url = document["account_url"]
        parts = urlsplit(url)
        if not storage_url_ok(url) or parts.query or parts.fragment or "@" in parts.netloc:
            raise StateCorrupt(f"{where}: location.account_url must be an https storage URL without a "
                               "query or user info")
        if "/" in document["container"]:
            raise StateCorrupt(f"{where}: location.container must not contain '/'")
        return cls.blob(url, document["container"], document["key"])


def breadcrumb_path(directory: Path, name: str) -> Path:
    return directory / f"{name}{BREADCRUMB_SUFFIX}"


def read_breadcrumb(path: Path) -> Location | None:
    """The last location recorded for this environment; None when absent or unreadable.

    A breadcrumb is a hint, never state: a damaged one is ignored rather than stopping a
    run (the snapshot's own checks still protect what matters).
    """
    try:
        with path.open("rb") as handle:
            raw = handle.read(_MAX_BREADCRUMB_BYTES + 1)
        if len(raw) > _MAX_BREADCRUMB_BYTES:
            return None
        document = json.loads(raw.decode("utf-8"), object_pairs_hook=strictjson.no_duplicate_keys)
        return Location.from_document(document, where=str(path))
    except (OSError, ValueError, RecursionError, StateCorrupt):
        return None


def write_breadcrumb(path: Path, location: Location) -> None:
    """Record ``location`` if it is not already what the breadcrumb says; best effort.

    A read-only checkout (or a container's read-only mount) must not fail a run for a hint.
    """
    if read_breadcrumb(path) == location:
        return
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(location.to_document(), sort_keys=True) + "\n")
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
