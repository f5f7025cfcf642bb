from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sssctl.state.backend import LocalBackend, environment_name
from sssctl.state.errors import LockHeld, StateCorrupt, StateError, StateMismatch
from sssctl.state.lock import acquire, force_unlock, read_lock, release
from sssctl.state.model import Snapshot
from sssctl.state.store import StateStore

ORG = "d7671e2c-0000-4a6b-9c3d-1e2f3a4b5c6d"
URL = "https://contoso.crm.dynamics.com"

pytestmark = pytest.mark.timeout(30)


def store_in(tmp_path: Path) -> tuple[LocalBackend, StateStore]:
    backend = LocalBackend(tmp_path, "contoso")
    return backend, StateStore(backend, backend.read(), url=URL, organization_id=ORG, name="contoso")


def test_every_record_is_a_new_serial_with_the_previous_snapshot_as_backup(tmp_path: Path) -> None:
    backend, store = store_in(tmp_path)
    assert store.lineage is None and store.serial == 0
    store.record("approval", kind="approval", managed={"require_for_users": True}, fingerprints={},
                 before={"require_for_users": False})
    first = backend.read()
    assert first is not None and first.serial == 1
    store.record("org_setting.A", kind="org_setting", managed={"value": 3}, fingerprints={}, before=None)
    second = backend.read()
    assert second is not None and second.serial == 2 and second.lineage == first.lineage
    backup = json.loads(backend.backup_path.read_text())
    assert backup["serial"] == 1
    assert stat.S_IMODE(backend.path.stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_original_is_kept_from_the_first_apply_and_forgetting_removes_the_entry(tmp_path: Path) -> None:
    backend, store = store_in(tmp_path)
    store.record("approval", kind="approval", managed={"u": True}, fingerprints={"k": "1"},
                 before={"u": False})
    store.record("approval", kind="approval", managed={"u": None}, fingerprints={}, before={"u": True})
    entry = backend.read().resources["approval"]  # type: ignore[union-attr]
    assert entry["original"] == {"u": False}
    assert entry["managed"] == {"u": None}
    assert entry["kind"] == "approval" and entry["updated_at"]
    store.record("approval", kind="approval", managed=None, fingerprints={}, before=None)
    assert backend.read().resources == {}  # type: ignore[union-attr]


def test_created_objects_have_no_original(tmp_path: Path) -> None:
    backend, store = store_in(tmp_path)
    store.record("server_profile.custom[\"X\"]", kind="server_profile_custom", managed={"a": 1},
                 fingerprints={}, before=None)
    store.record("server_profile.custom[\"X\"]", kind="server_profile_custom", managed={"a": 2},
                 fingerprints={}, before={"a": 1})
    assert backend.read().resources["server_profile.custom[\"X\"]"]["original"] is None  # type: ignore[union-attr]


def test_a_hand_edited_snapshot_is_refused_naming_the_backup(tmp_path: Path) -> None:
    backend, store = store_in(tmp_path)
    store.record("approval", kind="approval", managed={"u": True}, fingerprints={}, before={"u": False})
    store.record("approval", kind="approval", managed={"u": False}, fingerprints={}, before={"u": True})
    document = json.loads(backend.path.read_text())
    document["resources"]["approval"]["original"] = {"u": True}
    backend.path.write_text(json.dumps(document))
    with pytest.raises(StateCorrupt) as caught:
        backend.read()
    assert "checksum" in str(caught.value)
    assert str(backend.backup_path) in str(caught.value)


def test_a_truncated_snapshot_is_refused(tmp_path: Path) -> None:
    backend, store = store_in(tmp_path)
    store.record("approval", kind="approval", managed={"u": True}, fingerprints={}, before={"u": False})
    backend.path.write_text(backend.path.read_text()[:40])
    with pytest.raises(StateCorrupt, match="not JSON"):
        backend.read()


def test_state_of_another_organization_is_refused(tmp_path: Path) -> None:
    backend, store = store_in(tmp_path)
    store.record("approval", kind="approval", managed={"u": True}, fingerprints={}, before={"u": False})
    with pytest.raises(StateMismatch) as caught:
        StateStore(backend, backend.read(), url="https://other", organization_id="other-org", name="x")
    assert ORG in str(caught.value) and URL in str(caught.value)


def test_snapshot_document_round_trips_and_checksum_covers_everything() -> None:
    snap = Snapshot.new(url=URL, organization_id=ORG, name="n")
    doc = snap.to_document()
    assert Snapshot.from_document(doc, where="x") == snap
    doc["serial"] = 5
    with pytest.raises(StateCorrupt):
        Snapshot.from_document(doc, where="x")


def test_environment_name_comes_from_config_or_url_host() -> None:
    assert environment_name("contoso-prod", URL) == "contoso-prod"
    assert environment_name(None, URL) == "contoso"
    assert environment_name(None, None) == "default"
    assert environment_name(None, "https://127.0.0.1:8443/dataverse") == "127.0.0.1"
    assert environment_name("../etc/passwd", None) == "etc-passwd"


def test_second_locker_is_told_who_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    info = acquire(path, "apply")
    with pytest.raises(LockHeld) as caught:
        acquire(path, "plan")
    message = str(caught.value)
    assert info["id"] in message and f"pid {os.getpid()}" in message
    assert "apply" in message and f"sssctl state unlock {info['id']}" in message
    assert caught.value.holder["host"] == socket.gethostname()
    release(path, info["id"])
    assert not path.exists()


def test_lock_of_a_dead_process_on_this_host_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    path = tmp_path / "x.lock"
    path.write_text(json.dumps({"id": "old", "holder": "me@here", "pid": int(dead.stdout),
                                "host": socket.gethostname(), "created_at": "t", "command": "apply"}))
    info = acquire(path, "plan")
    assert read_lock(path)["id"] == info["id"] != "old"  # type: ignore[index]


def test_the_liveness_probe_is_portable(tmp_path: Path) -> None:
    """psutil's probe, not os.kill(pid, 0): on Windows signal 0 is CTRL_C_EVENT, which would
    interrupt the holder instead of probing it."""
    import inspect
    import re

    from sssctl.state import lock

    assert not re.search(r"^\s*os\.kill\(", inspect.getsource(lock), re.MULTILINE)
    path = tmp_path / "x.lock"
    path.write_text(json.dumps({"id": "live", "holder": "me@here", "pid": os.getppid(),
                                "host": socket.gethostname(), "created_at": "t", "command": "apply"}))
    with pytest.raises(LockHeld):
        acquire(path, "plan")       # the parent process lives: its lock holds
    path.write_text(json.dumps({"id": "gone", "holder": "me@here", "pid": 2**40,
                                "host": socket.gethostname(), "created_at": "t", "command": "apply"}))
    assert acquire(path, "plan")["id"] != "gone"   # no process can have that pid


def test_lock_of_a_live_process_on_another_host_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    path.write_text(json.dumps({"id": "theirs", "pid": 1, "host": "elsewhere", "holder": "ci@elsewhere"}))
    with pytest.raises(LockHeld, match="ci@elsewhere"):
        acquire(path, "plan")


def test_unlock_needs_the_matching_id(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    info = acquire(path, "apply")
    with pytest.raises(StateError, match="does not match"):
        force_unlock(path, "wrong")
    assert path.exists()
    assert force_unlock(path, info["id"])["pid"] == os.getpid()
    assert not path.exists()
    with pytest.raises(StateError, match="no lock"):
        force_unlock(path, info["id"])


def test_lock_file_carries_holder_metadata(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, "env")
    lock_id = backend.lock("apply")
    data = json.loads(backend.lock_path.read_text())
    assert set(data) == {"id", "holder", "pid", "host", "created_at", "command"}
    assert data["id"] == lock_id and "@" in data["holder"]
    backend.unlock("someone-else")
    assert backend.lock_path.exists()
    backend.unlock(lock_id)
    assert not backend.lock_path.exists()


def test_live_view_shows_later_checkpoints(tmp_path: Path) -> None:
    _, store = store_in(tmp_path)
    view = store.live_view()
    assert dict(view) == {}
    store.record("approval", kind="approval", managed={"u": True}, fingerprints={}, before={"u": False})
    assert list(view) == ["approval"] and view["approval"]["managed"] == {"u": True} and len(view) == 1


def test_an_unwritable_state_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    backend = LocalBackend(blocker, "x")
    with pytest.raises(StateError, match=r"cannot write state file .* run apply again"):
        backend.write(Snapshot.new(url=URL, organization_id=ORG, name="x"), replaces=None)
