"""The ``azurerm`` backend: the snapshot in one Azure blob, a lease on that blob as the lock.

As in Terraform's azurerm backend, the lock is a lease on the state blob itself (created
empty on first use), so holding the lock and guarding the writes are one mechanism. Unlike
Terraform's infinite lease, the lease here is bounded (60 s by default) and renewed by a
background thread while the run lasts: the lock of a killed runner expires by itself.
The lock's metadata (holder, lock ID, host, command, time) rides on the blob, so a
second run can say who holds it. Every write carries the lease and the ETag read just
before, and the previous content is copied to ``<key>.bak`` first. Every storage answer
those decisions rest on (lease state and id, lock metadata, ETag, declared size) is
checked against its model in :mod:`sssctl.state.replies` before it is believed.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import socket
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import structlog
from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import BlobClient, BlobLeaseClient, ContentSettings

from sssctl.state.backend import MAX_SNAPSHOT_BYTES, check_replaces, parse_snapshot, remember, serialize
from sssctl.state.errors import LockHeld, StateConflict, StateError
from sssctl.state.location import Location
from sssctl.state.lock import holder_name
from sssctl.state.model import Snapshot, utc_now
from sssctl.state.replies import (
    AcquiredLease,
    BlobProperties,
    Download,
    LockInfo,
    MalformedStorageReply,
    as_plain,
    check_storage,
)

log = structlog.get_logger(__name__)

LOCK_METADATA = "sssctllock"          # metadata names must be C# identifiers
_MAX_METADATA_CHARS = 4096
_LEASE_HELD = frozenset({"LeaseAlreadyPresent", "LeaseIdMismatchWithLeaseOperation"})


def encode_lock(info: Mapping[str, Any]) -> str:
    return base64.b64encode(json.dumps(dict(info), sort_keys=True).encode("utf-8")).decode("ascii")


def decode_lock(value: str | None, blob: str = "") -> dict[str, str]:
    """Lock metadata from the blob: {} when there is none (a lease taken by another tool);
    :class:`MalformedStorageReply` naming the field when there is some but not sssctl's
    shape, since a holder sssctl cannot read is still a holder."""
    if not value:
        return {}
    where = f"metadata {LOCK_METADATA}"
    if len(value) > _MAX_METADATA_CHARS:
        raise MalformedStorageReply(f"storage: the lock metadata on the state blob {blob} ({where}) is "
                                    f"longer than {_MAX_METADATA_CHARS} characters; it was not used")
    try:
        data = json.loads(base64.b64decode(value, validate=True).decode("utf-8"))
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise MalformedStorageReply(f"storage: the lock metadata on the state blob {blob} ({where}) is "
                                    "not base64 JSON; it was not used") from exc
    info = check_storage(data, LockInfo, blob=blob, call=f"the lock ({where})")
    return {f: v for f in LockInfo.__struct_fields__ if (v := getattr(info, f))}


def describe_holder(info: Mapping[str, str]) -> str:
    if not info:
        return "an unknown holder (the lease carries no sssctl lock metadata)"
    return (f"{info.get('holder', '?')} (on {info.get('host', '?')}, running '{info.get('command', '?')}' "
            f"since {info.get('created_at', '?')}), lock ID {info.get('id', '?')}")


def public_url(url: str) -> str:
    """The blob URL without its query: a SAS token must never reach a message or a log."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class BlobBackend:
    """One environment's snapshot in ``blob``; ``<blob>.bak`` keeps the previous one."""

    def __init__(self, blob: BlobClient, backup: BlobClient, name: str, *, lease_seconds: int = 60) -> None:
        if not 15 <= lease_seconds <= 60:
            raise StateError(f"lease_seconds must be 15..60 (Azure's bounds), got {lease_seconds}")
        self.name = name
        self._blob = blob
        self._backup = backup
        self._lease_seconds = lease_seconds
        self._lease: BlobLeaseClient | None = None
        self._lock_info: dict[str, str] = {}
        self._stop_renewing = threading.Event()
        self._renewer: threading.Thread | None = None
        self._lease_problem: str | None = None
        self.location: Location | None = None
        self.breadcrumb: Path | None = None

    def describe(self) -> str:
        return public_url(self._blob.url)

    # -- reading ------------------------------------------------------------------------
    def _download(self, blob: BlobClient) -> tuple[bytes, str | None]:
        """The blob's bytes and ETag; (b"", None) when it does not exist."""
        where = public_url(blob.url)
        try:
            downloader = blob.download_blob()
            answer = as_plain(downloader, ("size",)) | as_plain(downloader.properties, ("etag",))
            read = check_storage(answer, Download, blob=where, call="Get Blob")
            if read.size > MAX_SNAPSHOT_BYTES:
                raise StateError(f"state blob {where} is {read.size} bytes, more than "
                                 "any snapshot sssctl writes; sssctl will not trust it")
            raw = downloader.readall()
            if not isinstance(raw, bytes) or len(raw) != read.size:
                got = len(raw) if isinstance(raw, bytes) else type(raw).__name__
                raise MalformedStorageReply(
                    f"storage: the answer to Get Blob for the state blob {where} does not have the "
                    f"documented shape: field size: {read.size} declared, {got} received; it was not used")
            return raw, read.etag
        except ResourceNotFoundError:
            return b"", None
        except AzureError as exc:
            raise self._storage_error("read", exc) from exc

    def _parse(self, raw: bytes, blob: BlobClient) -> Snapshot | None:
        if not raw:
            return None  # the empty blob a lock created: nothing written yet
        return parse_snapshot(raw, public_url(blob.url), recover_hint=(
            f"The previous snapshot is kept in {public_url(self._backup.url)}; inspect both "
            "(`sssctl state pull`) and push the right one back with `sssctl state push FILE`"))

    def read(self) -> Snapshot | None:
        return self._parse(self._download(self._blob)[0], self._blob)

    def read_previous(self) -> Snapshot | None:
        return self._parse(self._download(self._backup)[0], self._backup)

    # -- writing ------------------------------------------------------------------------
    def write(self, snapshot: Snapshot, *, replaces: Snapshot | None) -> None:
        raw, etag = self._download(self._blob)
        check_replaces(self._parse(raw, self._blob), replaces, self.describe())
        if self._lease_problem:
            raise StateError(f"the lock on {self.describe()} was lost ({self._lease_problem}); nothing was "
                             "written. The last change was applied but not recorded: run apply again")
        try:
            if raw:
                self._backup.upload_blob(raw, overwrite=True, content_settings=_JSON)
            self._blob.upload_blob(
                serialize(snapshot.stored_at(self.location)), overwrite=True, lease=self._lease,
                content_settings=_JSON,
                metadata=self._metadata(), etag=etag,
                match_condition=MatchConditions.IfNotModified if etag else MatchConditions.IfMissing,
            )
        except ResourceModifiedError as exc:
            if _code(exc) == "ConditionNotMet":
                raise StateConflict(f"the state {self.describe()} changed between read and write (ETag "
                                    "mismatch); nothing was written. Run `sssctl plan` again") from exc
            raise self._storage_error("write", exc) from exc
        except AzureError as exc:
            raise self._storage_error("write", exc) from exc
        remember(self)

    def _metadata(self) -> dict[str, str] | None:
        return {LOCK_METADATA: encode_lock(self._lock_info)} if self._lock_info else None

    # -- locking ------------------------------------------------------------------------
    def lock(self, command: str) -> str:
        self._ensure_blob()
        proposed = str(uuid.uuid4())
        lease = BlobLeaseClient(self._blob, lease_id=proposed)
        try:
            lease.acquire(lease_duration=self._lease_seconds)
            self._check_lease(lease, proposed, "Lease Blob (acquire)")
        except HttpResponseError as exc:
            if exc.status_code == 409 and _code(exc) in _LEASE_HELD | {None}:
                raise self._held() from exc
            raise self._storage_error("lock", exc) from exc
        except AzureError as exc:
            raise self._storage_error("lock", exc) from exc
        except MalformedStorageReply:
            _release_quietly(lease)
            raise
        info = {"id": str(uuid.uuid4()), "holder": holder_name(), "host": socket.gethostname(),
                "pid": str(os.getpid()), "command": command, "created_at": utc_now()}
        try:
            self._blob.set_blob_metadata({LOCK_METADATA: encode_lock(info)}, lease=lease)
        except AzureError as exc:
            lease.release()
            raise self._storage_error("lock", exc) from exc
        self._lease, self._lock_info, self._lease_problem = lease, info, None
        self._start_renewing(lease)
        return info["id"]

    def _check_lease(self, lease: BlobLeaseClient, proposed: str, call: str) -> None:
        """The service must say the lease it holds is the one proposed: any other id (or none)
        means the lock is not known to be ours, so it is not taken."""
        held = check_storage(as_plain(lease, ("id",)), AcquiredLease, blob=self.describe(), call=call)
        if held.id != proposed:
            raise MalformedStorageReply(
                f"storage: the answer to {call} for the state blob {self.describe()} does not have the "
                "documented shape: field id: not the proposed lease id; the lock was not taken")

    def _ensure_blob(self) -> None:
        """A lease needs a blob: create the empty placeholder once, as Terraform does."""
        try:
            self._blob.upload_blob(b"", overwrite=False, content_settings=_JSON)
        except (ResourceExistsError, ResourceModifiedError):
            pass
        except HttpResponseError as exc:
            if exc.status_code != 412:  # leased by someone else: the lease attempt will say who
                raise self._storage_error("lock", exc) from exc
        except AzureError as exc:
            raise self._storage_error("lock", exc) from exc

    def _held(self) -> LockHeld:
        try:
            info, holder = self._current_lock_info(), ""
        except MalformedStorageReply as exc:
            info, holder = {}, f"a holder whose lock metadata sssctl cannot read ({exc})"
        unlock = f"sssctl state unlock {info.get('id', '<ID>')}"
        return LockHeld(
            f"the state is locked by {holder or describe_holder(info)}. Wait for that run to finish "
            f"(--lock-timeout waits for it); the lease of a run that died expires within "
            f"{self._lease_seconds} s by itself, or run `{unlock}` (blob {self.describe()})",
            holder=info, unlock=unlock,
        )

    def _current_lock_info(self) -> dict[str, str]:
        try:
            properties = self._blob.get_blob_properties()
        except AzureError:
            return {}
        return decode_lock(self._properties(properties).metadata.get(LOCK_METADATA), self.describe())

    def _properties(self, properties: Any) -> BlobProperties:
        answer = as_plain(properties, ("metadata", "etag"))
        answer["lease"] = as_plain(getattr(properties, "lease", None), ("state",))
        return check_storage(answer, BlobProperties, blob=self.describe(), call="Get Blob Properties")

    def _start_renewing(self, lease: BlobLeaseClient) -> None:
        self._stop_renewing = threading.Event()
        stop = self._stop_renewing
        proposed = str(lease.id)

        def renew() -> None:
            while not stop.wait(self._lease_seconds / 3):
                try:
                    lease.renew()
                    self._check_lease(lease, proposed, "Lease Blob (renew)")
                except MalformedStorageReply as exc:
                    self._lease_problem = f"renewing the lease got an answer sssctl cannot trust: {exc}"
                    log.warning("state.lease.lost", blob=self.describe(), reason=self._lease_problem)
                    return
                except AzureError as exc:
                    self._lease_problem = f"renewing the lease failed: {_code(exc) or type(exc).__name__}"
                    log.warning("state.lease.lost", blob=self.describe(), reason=self._lease_problem)
                    return

        self._renewer = threading.Thread(target=renew, name="sssctl-lease-renewal", daemon=True)
        self._renewer.start()

    def _stop(self) -> None:
        self._stop_renewing.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
            self._renewer = None

    def holds(self, lock_id: str) -> bool:
        """Whether the lease is still ours and renewing (see ``LocalBackend.holds``)."""
        return self._lease is not None and self._lock_info.get("id") == lock_id and not self._lease_problem

    def unlock(self, lock_id: str) -> None:
        lease = self._lease
        if lease is None or self._lock_info.get("id") != lock_id:
            return
        self._stop()
        self._lease, self._lock_info = None, {}
        try:
            self._blob.set_blob_metadata({}, lease=lease)
            lease.release()
        except AzureError as exc:
            log.warning("state.lease.release_failed", blob=self.describe(),
                        reason=_code(exc) or type(exc).__name__,
                        hint=f"the lease expires within {self._lease_seconds} s by itself")

    def force_unlock(self, lock_id: str) -> Mapping[str, Any]:
        try:
            properties = self._blob.get_blob_properties()
        except ResourceNotFoundError as exc:
            raise StateError(f"there is no lock to remove ({self.describe()} does not exist)") from exc
        except AzureError as exc:
            raise self._storage_error("unlock", exc) from exc
        checked = self._properties(properties)
        if checked.lease.state != "leased":
            raise StateError(f"there is no lock to remove (the state blob {self.describe()} is not leased)")
        info = decode_lock(checked.metadata.get(LOCK_METADATA), self.describe())
        if not info:
            raise StateError(
                f"the lease on {self.describe()} carries no sssctl lock metadata, so no ID can match; "
                "an sssctl lease expires by itself within a minute. A lease from another tool must be "
                "broken with that tool (or `az storage blob lease break`); nothing was changed")
        if info.get("id") != lock_id:
            raise StateError(f"lock ID {lock_id} does not match the current lock, held by "
                             f"{describe_holder(info)}; nothing was broken")
        try:
            BlobLeaseClient(self._blob).break_lease(lease_break_period=0)
            self._blob.set_blob_metadata({})
        except AzureError as exc:
            raise self._storage_error("unlock", exc) from exc
        return info

    def _storage_error(self, what: str, exc: AzureError) -> StateError:
        status = getattr(exc, "status_code", None)
        reason = _code(exc) or (f"HTTP {status}" if status else type(exc).__name__)
        remedy = {
            401: "check the credential ([auth] identity, SAS token or connection string)",
            403: "give the identity the Storage Blob Data Contributor role on the container, "
                 "or use a SAS with read, write, create and delete permissions",
            404: "create the container first (see README, State)",
        }.get(status or 0, "check the account URL and connectivity, then run again")
        return StateError(f"cannot {what} the state blob {self.describe()}: {reason}. What to do: {remedy}")


_JSON = ContentSettings(content_type="application/json")


def _release_quietly(lease: BlobLeaseClient) -> None:
    """Give back a lease whose answer was not trusted; if that fails too, it expires by itself."""
    with contextlib.suppress(AzureError):
        lease.release()


def _code(exc: AzureError) -> str | None:
    code = getattr(exc, "error_code", None)
    return str(code) if code else None
