"""The azurerm backend through Microsoft's SDK against Azurite: storage, conditions, lease lock."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas

from sssctl.config.loader import load
from sssctl.state.backend import Backend
from sssctl.state.errors import LockHeld, StateConflict, StateError
from sssctl.state.factory import backend_for
from sssctl.state.locking import acquire
from sssctl.state.model import Snapshot
from tests.azurite import ACCOUNT, ACCOUNT_KEY, ROOT, Azurite

pytestmark = pytest.mark.integration
ORG = "11111111-2222-3333-4444-555555555555"
URL = "https://contoso.crm.dynamics.com"


def write_config(path: Path, container: str, *, lease: int = 15, extra: str = "") -> Path:
    path.write_text(f'version = 1\n[environment]\nname = "blobenv"\nurl = "{URL}"\n'
                    f'[state]\nbackend = "azurerm"\ncontainer = "{container}"\n'
                    f'lease_seconds = {lease}\n{extra}')
    return path


def env_for(azurite: Azurite) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSSCTL_")}
    return {**env, "SSSCTL_STATE_CONNECTION_STRING": azurite.connection_string,
            "PYTHONPATH": str(ROOT)}


def blob_backend(tmp_path: Path, azurite: Azurite, container: str | None = None) -> Backend:
    config = write_config(tmp_path / "blob.toml", container or azurite.new_container())
    environ = env_for(azurite)
    return backend_for(load(config, environ), environ)


def snapshot() -> Snapshot:
    return Snapshot.new(url=URL, organization_id=ORG, name="blobenv")


def test_a_snapshot_is_created_read_back_and_the_previous_one_kept(tmp_path: Path, azurite: Azurite) -> None:
    backend = blob_backend(tmp_path, azurite)
    assert backend.read() is None
    lock_id = backend.lock("apply")
    assert backend.read() is None  # the lock's empty placeholder blob is "no state yet"
    first = snapshot().with_resources({"approval": {"kind": "approval", "managed": {"u": True}}})
    backend.write(first, replaces=None)
    second = first.with_resources({})
    backend.write(second, replaces=first)
    backend.unlock(lock_id)
    assert backend.read() == second and backend.read_previous() == first
    assert backend.describe().endswith("/blobenv.sssctl.json") and "AccountKey" not in backend.describe()


def test_a_write_that_does_not_replace_the_stored_snapshot_is_refused(tmp_path: Path,
                                                                     azurite: Azurite) -> None:
    backend = blob_backend(tmp_path, azurite)
    lock_id = backend.lock("apply")
    first = snapshot().with_resources({})
    backend.write(first, replaces=None)
    with pytest.raises(StateConflict, match="expected no snapshot but found lineage"):
        backend.write(first.with_resources({}), replaces=None)
    backend.unlock(lock_id)
    assert backend.read() == first


def test_a_write_without_the_lease_is_refused_by_storage(tmp_path: Path, azurite: Azurite) -> None:
    container = azurite.new_container()
    holder = blob_backend(tmp_path, azurite, container)
    intruder = blob_backend(tmp_path, azurite, container)
    lock_id = holder.lock("apply")
    with pytest.raises(StateError, match="cannot write the state blob"):
        intruder.write(snapshot(), replaces=None)
    holder.unlock(lock_id)
    assert holder.read() is None


def test_a_second_locker_is_told_who_holds_the_lease(tmp_path: Path, azurite: Azurite) -> None:
    container = azurite.new_container()
    first, second = blob_backend(tmp_path, azurite, container), blob_backend(tmp_path, azurite, container)
    lock_id = first.lock("apply")
    with pytest.raises(LockHeld) as caught:
        second.lock("destroy")
    assert caught.value.holder["id"] == lock_id and caught.value.holder["command"] == "apply"
    assert f"sssctl state unlock {lock_id}" in str(caught.value)
    first.unlock(lock_id)
    second.unlock(second.lock("destroy"))


def test_unlock_breaks_the_lease_only_for_the_matching_id(tmp_path: Path, azurite: Azurite) -> None:
    container = azurite.new_container()
    holder, operator = blob_backend(tmp_path, azurite, container), blob_backend(tmp_path, azurite, container)
    lock_id = holder.lock("apply")
    with pytest.raises(StateError, match="does not match"):
        operator.force_unlock("not-the-id")
    with pytest.raises(LockHeld):
        operator.lock("apply")
    assert operator.force_unlock(lock_id)["id"] == lock_id
    operator.unlock(operator.lock("apply"))
    with pytest.raises(StateError, match="no lock to remove"):
        operator.force_unlock(lock_id)


def test_the_lease_is_renewed_while_the_run_lasts(tmp_path: Path, azurite: Azurite) -> None:
    container = azurite.new_container()
    holder, other = blob_backend(tmp_path, azurite, container), blob_backend(tmp_path, azurite, container)
    lock_id = holder.lock("apply")
    time.sleep(17)  # longer than the 15 s lease: only the renewal keeps it
    with pytest.raises(LockHeld):
        other.lock("apply")
    holder.write(snapshot(), replaces=None)
    holder.unlock(lock_id)


def test_the_lock_of_a_killed_holder_expires_by_itself(tmp_path: Path, azurite: Azurite) -> None:
    container = azurite.new_container()
    config = write_config(tmp_path / "blob.toml", container)
    holder = subprocess.Popen([sys.executable, "-m", "tests.state_holder", str(config), "300"],
                              env=env_for(azurite), cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    held_id = holder.stdout.readline().strip()
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    waiter = blob_backend(tmp_path, azurite, container)
    with pytest.raises(LockHeld, match=held_id):
        waiter.lock("apply")
    told: list[str] = []
    lock_id = acquire(waiter, "apply", timeout=40, notify=told.append)
    assert len(told) == 1 and held_id in told[0]
    waiter.unlock(lock_id)


def test_a_sas_token_signs_in_and_never_shows(tmp_path: Path, azurite: Azurite) -> None:
    container = azurite.new_container()
    sas = generate_container_sas(ACCOUNT, container, account_key=ACCOUNT_KEY,
                                 permission=ContainerSasPermissions(read=True, write=True, create=True,
                                                                    delete=True),
                                 expiry=time.time() + 3600)
    config = write_config(tmp_path / "sas.toml", container,
                          extra=f'account_url = "{azurite.account_url}"\n'
                                'sas_token = { env = "MY_SAS" }\n')
    environ = {"MY_SAS": sas}
    backend = backend_for(load(config, environ), environ)
    backend.unlock(backend.lock("apply"))
    assert sas not in backend.describe()
    names = [b.name for b in BlobServiceClient.from_connection_string(azurite.connection_string)
             .get_container_client(container).list_blobs()]
    assert names == ["blobenv.sssctl.json"]


def test_a_missing_container_is_a_clear_error(tmp_path: Path, azurite: Azurite) -> None:
    backend = blob_backend(tmp_path, azurite, "nosuchcontainer")
    with pytest.raises(StateError, match="create the container first"):
        backend.lock("apply")


def test_a_corrupt_blob_is_refused_naming_it(tmp_path: Path, azurite: Azurite) -> None:
    container = azurite.new_container()
    BlobServiceClient.from_connection_string(azurite.connection_string).get_blob_client(
        container, "blobenv.sssctl.json").upload_blob(b'{"format_version": 1, "lineage": [')
    backend = blob_backend(tmp_path, azurite, container)
    with pytest.raises(StateError, match=r"blobenv\.sssctl\.json is not JSON.*state push"):
        backend.read()


def test_a_lease_with_lock_metadata_not_in_sssctls_shape_stays_held(tmp_path: Path, azurite: Azurite) -> None:
    # Another writer leases the blob and leaves metadata that looks like a lock but whose
    # id is not a GUID: the lease is still a lock, and no id taken from it can break it.
    container = azurite.new_container()
    blob = BlobServiceClient.from_connection_string(azurite.connection_string).get_blob_client(
        container, "blobenv.sssctl.json")
    blob.upload_blob(b"")
    lease = blob.acquire_lease(lease_duration=15)
    forged = base64.b64encode(json.dumps({"id": "None", "holder": "x"}).encode()).decode()
    blob.set_blob_metadata({"sssctllock": forged}, lease=lease)
    backend = blob_backend(tmp_path, azurite, container)
    with pytest.raises(LockHeld, match="cannot read"):
        backend.lock("apply")
    with pytest.raises(StateError, match="field id"):
        backend.force_unlock("None")
    assert blob.get_blob_properties().lease.state == "leased"
    lease.release()
