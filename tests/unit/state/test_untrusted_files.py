"""Lock and snapshot files are untrusted input: malformed ones never block forever or crash."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from sssctl.state.backend import LocalBackend
from sssctl.state.errors import StateConflict, StateCorrupt, StateError
from sssctl.state.lock import acquire, force_unlock, read_lock
from sssctl.state.model import Snapshot, checksum_of

URL = "https://contoso.crm.dynamics.com"
ORG = "11111111-2222-3333-4444-555555555555"


@pytest.mark.parametrize("content", [
    "",
    "not json at all",
    "[1, 2]",
    json.dumps({"id": "x", "host": socket.gethostname(), "pid": "1234"}),
    json.dumps({"id": "x", "host": socket.gethostname(), "pid": True}),
    json.dumps({"id": "x", "host": socket.gethostname(), "pid": -5}),
    json.dumps({"id": "x", "host": socket.gethostname(), "pid": 10**30}),
    "[" * 100_000,
], ids=["empty", "garbage", "array", "pid-string", "pid-bool", "pid-negative", "pid-huge", "deep"])
def test_a_malformed_lock_is_stale_and_taken_over(tmp_path: Path, content: str) -> None:
    path = tmp_path / "env.lock"
    path.write_text(content)
    info = acquire(path, "apply")
    assert read_lock(path) == info


def test_a_malformed_lock_can_be_removed_with_any_id(tmp_path: Path) -> None:
    path = tmp_path / "env.lock"
    path.write_text("\x00\x01garbage")
    force_unlock(path, "whatever-the-message-said")
    assert not path.exists()


def test_a_huge_lock_file_is_not_read_into_memory(tmp_path: Path) -> None:
    path = tmp_path / "env.lock"
    path.write_bytes(b" " * (1024 * 1024))
    assert read_lock(path) == {}


def test_leftover_temp_files_are_removed_when_the_next_run_locks(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, "env")
    leftovers = [tmp_path / ".env.json.deadbeef.tmp", tmp_path / ".env.json.bak.cafe.tmp"]
    for leftover in leftovers:
        leftover.write_text("half a snapshot")
    unrelated = tmp_path / ".other.json.1.tmp"
    unrelated.write_text("not ours")
    lock_id = backend.lock("apply")
    assert not any(p.exists() for p in leftovers) and unrelated.exists()
    backend.unlock(lock_id)


def test_a_symlink_planted_at_a_temp_name_is_never_written_through(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    backend = LocalBackend(tmp_path, "env")
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / ".env.json.0000000000000000.tmp").symlink_to(victim)
    monkeypatch.setattr("sssctl.state.backend.secrets.token_hex", lambda n: "0" * (2 * n))
    with pytest.raises(StateError, match="File exists"):
        backend.write(Snapshot.new(url=URL, organization_id=ORG, name="env"), replaces=None)
    assert victim.read_text() == "keep"


def test_a_write_must_replace_the_stored_snapshot(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, "env")
    first = Snapshot.new(url=URL, organization_id=ORG, name="env").with_resources({})
    backend.write(first, replaces=None)
    with pytest.raises(StateConflict, match="expected no snapshot"):
        backend.write(first.with_resources({}), replaces=None)
    stale = Snapshot.new(url=URL, organization_id=ORG, name="env")
    with pytest.raises(StateConflict, match=f"found lineage {first.lineage} serial 1"):
        backend.write(stale.with_resources({}), replaces=stale)
    assert backend.read() == first and backend.read_previous() is None


def _signed(document: dict[str, object]) -> str:
    return json.dumps({**document, "checksum": checksum_of(document)})


@pytest.mark.parametrize(("change", "complaint"), [
    ({"serial": "7"}, "serial must be a non-negative integer"),
    ({"serial": True}, "serial must be a non-negative integer"),
    ({"lineage": 5}, "lineage must be a non-empty string"),
    ({"resources": []}, "resources must be an object"),
    ({"resources": {"approval": "x"}}, "resources.approval must be an object"),
    ({"resources": {"approval": {"managed": [1]}}}, "resources.approval.managed must be an object"),
    ({"environment": None}, "environment must be an object"),
])
def test_a_well_signed_but_malformed_snapshot_names_the_file_and_field(
        tmp_path: Path, change: dict[str, object], complaint: str) -> None:
    document = {**Snapshot.new(url=URL, organization_id=ORG, name="env").to_document(), **change}
    document.pop("checksum")
    (tmp_path / "env.json").write_text(_signed(document))
    with pytest.raises(StateCorrupt, match=complaint) as caught:
        LocalBackend(tmp_path, "env").read()
    assert str(tmp_path / "env.json") in str(caught.value)


def test_a_snapshot_with_a_key_twice_is_refused(tmp_path: Path) -> None:
    document = Snapshot.new(url=URL, organization_id=ORG, name="env").to_document()
    text = _signed(document)
    (tmp_path / "env.json").write_text(text[:-1] + ', "serial": 99}')
    with pytest.raises(StateCorrupt, match=r"env\.json has the key 'serial' twice"):
        LocalBackend(tmp_path, "env").read()


@pytest.mark.parametrize("raw", [b"[" * 200_000, b"\xff\xfe not utf-8", b"null"])
def test_a_hostile_snapshot_is_a_clear_error_not_a_crash(tmp_path: Path, raw: bytes) -> None:
    (tmp_path / "env.json").write_bytes(raw)
    with pytest.raises(StateCorrupt, match=r"env\.json"):
        LocalBackend(tmp_path, "env").read()


def test_lock_files_are_created_without_following_symlinks(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    (tmp_path / "env.lock").symlink_to(target)
    info = acquire(tmp_path / "env.lock", "apply")  # a dangling symlink is an unreadable, stale lock
    assert not target.exists() and read_lock(tmp_path / "env.lock") == info
    assert os.getpid() == info["pid"]
