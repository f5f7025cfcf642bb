"""Declared shapes of the storage answers the ``azurerm`` backend decides on.

The state backend believes Azure Storage about three things that decide whether a run may
write: whether the blob is leased (and by whom), which lease is ours, and which version
(ETag) of the snapshot the next write replaces. A broken or hostile endpoint must never
make sssctl treat a lock as free or a snapshot as valid, so each answer is converted into
a strict model first, the same way service replies are (:mod:`sssctl.clients.models`,
msgspec, ``strict=True``), and one that does not fit is a :class:`MalformedStorageReply`
naming the blob and the field; nothing is written on its strength.

What the models hold to, from the Blob service REST reference ("Get Blob Properties",
"Lease Blob", "Get Blob"; learn.microsoft.com/rest/api/storageservices): ``x-ms-lease-state``
is one of available, leased, expired, breaking, broken; ``x-ms-lease-id`` on a lease
acquired with ``x-ms-proposed-lease-id`` is that proposed id; every existing blob has an
``ETag``; a user-defined metadata value (``x-ms-meta-*``) is text. The lock metadata is
sssctl's own (:func:`sssctl.state.blob.encode_lock`): its lock id is a GUID, the other
fields are text. The snapshot bytes themselves are checked by
:func:`sssctl.state.backend.parse_snapshot` (format, checksum, no duplicate keys).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from sssctl.clients.models import Guid, NonEmpty, Reply, in_words
from sssctl.state.errors import StateError

S = TypeVar("S", bound=msgspec.Struct)

ETag = Annotated[str, msgspec.Meta(min_length=1, max_length=256, pattern=r"^[\x21-\x7e]+$")]
"""A version tag: printable, no spaces, bounded; it goes into an If-Match header."""


class MalformedStorageReply(StateError):
    """A storage answer that does not have the documented shape: the blob it concerns is
    unknown, so the lock is not taken as free and the snapshot not taken as valid."""


class Lease(Reply):
    state: Literal["available", "leased", "expired", "breaking", "broken"]


class BlobProperties(Reply):
    """``Get Blob Properties``: the lease, the metadata (the lock's holder rides there)."""

    lease: Lease
    metadata: dict[str, str] = msgspec.field(default_factory=dict)
    etag: ETag | None = None


class Download(Reply):
    """``Get Blob``: the declared size and the version read."""

    size: Annotated[int, msgspec.Meta(ge=0)]
    etag: ETag


class LockInfo(Reply):
    """sssctl's lock metadata on the blob (base64 JSON in ``x-ms-meta-sssctllock``)."""

    id: Guid
    holder: str = ""
    host: str = ""
    pid: str = ""
    command: str = ""
    created_at: str = ""


class AcquiredLease(Reply):
    """``Lease Blob`` (acquire or renew): the lease id the service says is held."""

    id: NonEmpty


def check_storage(raw: Any, model: type[S], *, blob: str, call: str) -> S:
    """``raw`` as ``model``, or :class:`MalformedStorageReply` naming the blob, the call and the field."""
    try:
        return msgspec.convert(raw, model, strict=True)
    except msgspec.ValidationError as exc:
        raise MalformedStorageReply(
            f"storage: the answer to {call} for the state blob {blob} does not have the documented "
            f"shape: {_in_words(str(exc))}; it was not used. Check that the account URL points at "
            "Azure Storage (or a faithful emulator) and run again") from exc


def _in_words(message: str) -> str:
    """A field missing at the top names itself the way the others do (``field etag: missing``)."""
    missing = re.fullmatch(r"Object missing required field `([^`]+)`", message)
    return f"field {missing.group(1)}: missing" if missing else in_words(message)


def as_plain(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """The attributes an SDK object carries, as a mapping a model can check: ``None`` and
    absent alike become absent, so a required field missing is named as such."""
    if isinstance(obj, dict):
        return {k: v for k, v in obj.items() if k in fields and v is not None}
    return {f: v for f in fields if (v := getattr(obj, f, None)) is not None}
