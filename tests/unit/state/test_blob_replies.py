"""Storage answers the azurerm backend decides on are typed first (fake answers, no network).

A broken or hostile endpoint must never make sssctl treat a lock as free, a lease as ours
or a snapshot version as known: each case below is one malformed answer, refused with a
message naming the blob and the field, and nothing written or broken on its strength.
"""

from __future__ import annotations

import base64
import json
import time
from types import SimpleNamespace
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from sssctl.state import blob as blob_module
from sssctl.state.blob import BlobBackend, decode_lock, encode_lock
from sssctl.state.errors import LockHeld, StateError
from sssctl.state.replies import MalformedStorageReply

URL = "https://acct.blob.core.windows.net/state/env.json"
LOCK_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
GOOD_LOCK = {"id": LOCK_ID, "holder": "ci", "host": "h", "pid": "1", "command": "apply",
             "created_at": "2026-01-01T00:00:00Z"}


class FakeDownloader:
    def __init__(self, body: bytes, *, size: Any = None, etag: Any = '"0x8D1"') -> None:
        self.size = len(body) if size is None else size
        self.properties = SimpleNamespace(etag=etag)
        self._body = body

    def readall(self) -> bytes:
        return self._body


class FakeBlob:
    def __init__(self, *, body: bytes = b"", size: Any = None, etag: Any = '"0x8D1"',
                 lease_state: Any = "leased", metadata: Any = None) -> None:
        self.url = URL + "?sig=secret"
        self.downloader = FakeDownloader(body, size=size, etag=etag)
        self.properties = SimpleNamespace(lease=SimpleNamespace(state=lease_state),
                                          metadata=metadata or {}, etag=etag)
        self.calls: list[str] = []

    def download_blob(self) -> FakeDownloader:
        return self.downloader

    def get_blob_properties(self) -> Any:
        return self.properties

    def upload_blob(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append("upload")

    def set_blob_metadata(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append("metadata")


class FakeLease:
    """Stands in for BlobLeaseClient: the service's answer sets ``id`` after acquire."""

    answer: Any = "proposed"
    made: list[FakeLease] = []  # noqa: RUF012 - test double's registry

    def __init__(self, blob: Any, lease_id: str | None = None) -> None:
        self.id = lease_id
        self.released = False
        self.broken = False
        FakeLease.made.append(self)

    def acquire(self, lease_duration: int) -> None:
        if FakeLease.answer != "proposed":
            self.id = FakeLease.answer

    def release(self) -> None:
        self.released = True

    def break_lease(self, lease_break_period: int) -> None:
        self.broken = True


@pytest.fixture
def fake_lease(monkeypatch: pytest.MonkeyPatch) -> type[FakeLease]:
    FakeLease.answer, FakeLease.made = "proposed", []
    monkeypatch.setattr(blob_module, "BlobLeaseClient", FakeLease)
    return FakeLease


def backend(blob: FakeBlob) -> BlobBackend:
    return BlobBackend(blob, FakeBlob(), "env", lease_seconds=15)  # type: ignore[arg-type]


def metadata(value: Any) -> dict[str, str]:
    raw = json.dumps(value).encode()
    return {"sssctllock": base64.b64encode(raw).decode()}


def test_sssctl_lock_metadata_reads_back() -> None:
    assert decode_lock(encode_lock(GOOD_LOCK), URL) == GOOD_LOCK
    assert decode_lock(None, URL) == {}


@pytest.mark.parametrize(("info", "field"), [
    ({**GOOD_LOCK, "id": "None"}, "field id: .* a GUID"),
    ({**GOOD_LOCK, "id": None}, "field id"),
    ({k: v for k, v in GOOD_LOCK.items() if k != "id"}, "field id: missing"),
    ({**GOOD_LOCK, "pid": 12}, "field pid"),
    ({**GOOD_LOCK, "holder": {"name": "ci"}}, "field holder"),
    ([GOOD_LOCK], "Expected `object`, got `array`"),
])
def test_lock_metadata_not_in_sssctls_shape_is_refused_naming_the_field(info: Any, field: str) -> None:
    with pytest.raises(MalformedStorageReply, match=field) as caught:
        decode_lock(metadata(info)["sssctllock"], URL)
    assert URL in str(caught.value)


def test_lock_metadata_that_is_not_base64_json_is_refused() -> None:
    with pytest.raises(MalformedStorageReply, match="not base64 JSON"):
        decode_lock("%%%", URL)


@pytest.mark.parametrize(("etag", "field"), [(None, "etag"), ("", "etag"), (12, "etag"),
                                             ('"a b"', "etag")])
def test_a_download_without_a_usable_etag_is_refused(etag: Any, field: str) -> None:
    with pytest.raises(MalformedStorageReply, match=f"field {field}") as caught:
        backend(FakeBlob(body=b"{}", etag=etag)).read()
    assert URL in str(caught.value) and "secret" not in str(caught.value)


@pytest.mark.parametrize("size", [None, -1, "2", 5])
def test_a_download_whose_size_is_wrong_is_refused(size: Any) -> None:
    blob = FakeBlob(body=b"{}")
    blob.downloader.size = size
    with pytest.raises(MalformedStorageReply, match="size"):
        backend(blob).read()


def test_a_write_never_goes_out_after_a_malformed_read() -> None:
    blob = FakeBlob(body=b"{}", etag=None)
    with pytest.raises(MalformedStorageReply):
        backend(blob).write(None, replaces=None)  # type: ignore[arg-type]
    assert blob.calls == []


@pytest.mark.parametrize(("state", "field"), [(None, "state"), ("free", "lease.state"),
                                              (1, "lease.state")])
def test_unlock_refuses_a_lease_state_it_cannot_read(fake_lease: type[FakeLease], state: Any,
                                                    field: str) -> None:
    blob = FakeBlob(lease_state=state, metadata={"sssctllock": encode_lock(GOOD_LOCK)})
    with pytest.raises(MalformedStorageReply, match=field):
        backend(blob).force_unlock(LOCK_ID)
    assert not any(lease.broken for lease in fake_lease.made) and blob.calls == []


def test_unlock_refuses_lock_metadata_it_cannot_read(fake_lease: type[FakeLease]) -> None:
    blob = FakeBlob(metadata=metadata({**GOOD_LOCK, "id": "None"}))
    with pytest.raises(MalformedStorageReply, match="field id"):
        backend(blob).force_unlock("None")
    assert not any(lease.broken for lease in fake_lease.made) and blob.calls == []


def test_unlock_breaks_a_well_formed_matching_lock(fake_lease: type[FakeLease]) -> None:
    blob = FakeBlob(metadata={"sssctllock": encode_lock(GOOD_LOCK)})
    assert backend(blob).force_unlock(LOCK_ID) == GOOD_LOCK
    assert any(lease.broken for lease in fake_lease.made)


@pytest.mark.parametrize("answer", [None, "", "another-lease-id"])
def test_a_lease_answer_with_another_id_is_not_taken_as_ours(fake_lease: type[FakeLease],
                                                            answer: Any) -> None:
    fake_lease.answer = answer
    blob = FakeBlob()
    store = backend(blob)
    with pytest.raises(MalformedStorageReply, match=r"Lease Blob .* field id"):
        store.lock("apply")
    assert "metadata" not in blob.calls and not store.holds("anything")
    assert fake_lease.made[-1].released


def test_a_held_lease_with_unreadable_metadata_is_still_held(monkeypatch: pytest.MonkeyPatch) -> None:
    class Taken(FakeLease):
        def acquire(self, lease_duration: int) -> None:
            error = HttpResponseError(message="lease already present")
            error.status_code, error.error_code = 409, "LeaseAlreadyPresent"
            raise error

    monkeypatch.setattr(blob_module, "BlobLeaseClient", Taken)
    blob = FakeBlob(metadata=metadata({**GOOD_LOCK, "id": 7}))
    with pytest.raises(LockHeld, match="cannot read") as caught:
        backend(blob).lock("apply")
    assert "field id" in str(caught.value)


def test_a_renewal_answer_with_another_lease_id_loses_the_lock(fake_lease: type[FakeLease]) -> None:
    class Swapped(FakeLease):
        def renew(self) -> None:
            self.id = "someone-elses-lease"

    blob_module.BlobLeaseClient = Swapped  # type: ignore[misc]  # the fixture restores it
    store = backend(FakeBlob())
    store._lease_seconds = 0.03  # type: ignore[assignment]  # renew every 10 ms
    lock_id = store.lock("apply")
    deadline = time.monotonic() + 5
    while store.holds(lock_id) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not store.holds(lock_id)
    with pytest.raises(StateError, match="cannot trust"):
        store.write(None, replaces=None)  # type: ignore[arg-type]
    store.unlock(lock_id)
