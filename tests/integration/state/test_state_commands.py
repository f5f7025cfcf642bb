"""``state push | migrate | rm`` and ``--lock-timeout`` as a user runs them, local and Azurite."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sssctl import exitcodes
from sssctl.state.backend import LocalBackend
from sssctl.state.location import Location
from sssctl.state.model import Snapshot
from tests.azurite import ROOT, Azurite
from tests.integration.state.test_blob_backend import URL, env_for, write_config

pytestmark = pytest.mark.integration
ORG = "11111111-2222-3333-4444-555555555555"


def sssctl(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sssctl", "--log-format", "json", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)


def seeded_local(directory: Path) -> Snapshot:
    first = Snapshot.new(url=URL, organization_id=ORG, name="blobenv").with_resources(
        {"approval": {"kind": "approval", "managed": {"require_for_users": True}}})
    LocalBackend(directory, "blobenv").write(first, replaces=None)
    return first


def test_migrate_local_to_blob_and_back(tmp_path: Path, azurite: Azurite) -> None:
    env = env_for(azurite)
    original = seeded_local(tmp_path / "state")
    to_blob = write_config(tmp_path / "blob.toml", azurite.new_container())
    moved = sssctl(env, "state", "migrate", "--from", "local", "-c", str(to_blob), cwd=tmp_path)
    assert moved.returncode == 0, moved.stderr
    pulled = sssctl(env, "state", "pull", "-c", str(to_blob), cwd=tmp_path)
    assert json.loads(pulled.stdout)["lineage"] == original.lineage

    back = tmp_path / "back.toml"
    back.write_text(to_blob.read_text().replace('backend = "azurerm"', 'backend = "local"\npath = "back"'))
    returned = sssctl(env, "state", "migrate", "--from", "azurerm", "-c", str(back), cwd=tmp_path)
    assert returned.returncode == 0, returned.stderr
    returned_snapshot = LocalBackend(tmp_path / "back", "blobenv").read()
    assert returned_snapshot is not None
    assert dataclasses.replace(returned_snapshot, location=None) == original
    assert returned_snapshot.location == Location(kind="local", path="back")  # where it lives now
    again = sssctl(env, "state", "migrate", "--from", "azurerm", "-c", str(back), cwd=tmp_path)
    assert again.returncode == 0 and "nothing to do" in again.stdout


def test_migrate_refuses_a_target_of_another_lineage(tmp_path: Path, azurite: Azurite) -> None:
    env = env_for(azurite)
    seeded_local(tmp_path / "state")
    config = write_config(tmp_path / "blob.toml", azurite.new_container())
    assert sssctl(env, "state", "migrate", "--from", "local", "-c", str(config), cwd=tmp_path).returncode == 0
    seeded_local(tmp_path / "other")  # a second, unrelated history
    refused = sssctl(env, "state", "migrate", "--from", "local:other", "-c", str(config), cwd=tmp_path)
    assert refused.returncode == exitcodes.ERROR and "lineage" in refused.stderr


def test_push_refuses_a_foreign_lineage_and_an_old_serial(tmp_path: Path, azurite: Azurite) -> None:
    env = env_for(azurite)
    seeded_local(tmp_path / "state")
    config = write_config(tmp_path / "blob.toml", azurite.new_container())
    assert sssctl(env, "state", "migrate", "--from", "local", "-c", str(config), cwd=tmp_path).returncode == 0
    foreign = seeded_local(tmp_path / "foreign")
    foreign_file = tmp_path / "foreign" / "blobenv.json"
    refused = sssctl(env, "state", "push", str(foreign_file), "-c", str(config), cwd=tmp_path)
    assert refused.returncode == exitcodes.ERROR and foreign.lineage in refused.stderr
    same = sssctl(env, "state", "push", str(tmp_path / "state" / "blobenv.json"), "-c", str(config),
                  cwd=tmp_path)
    assert same.returncode == exitcodes.ERROR and "not newer" in same.stderr
    forced = sssctl(env, "state", "push", "--force", str(tmp_path / "state" / "blobenv.json"),
                    "-c", str(config), cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert json.loads(sssctl(env, "state", "pull", "-c", str(config), cwd=tmp_path).stdout)["serial"] == 2


def test_rm_forgets_an_address(tmp_path: Path, azurite: Azurite) -> None:
    env = env_for(azurite)
    seeded_local(tmp_path / "state")
    config = write_config(tmp_path / "blob.toml", azurite.new_container())
    assert sssctl(env, "state", "migrate", "--from", "local", "-c", str(config), cwd=tmp_path).returncode == 0
    removed = sssctl(env, "state", "rm", "approval", "-c", str(config), cwd=tmp_path)
    assert removed.returncode == 0, removed.stderr
    assert json.loads(sssctl(env, "state", "pull", "-c", str(config), cwd=tmp_path).stdout)["resources"] == {}
    missing = sssctl(env, "state", "rm", "approval", "-c", str(config), cwd=tmp_path)
    assert missing.returncode == exitcodes.ERROR and "state list" in missing.stderr


def test_a_second_process_waits_with_lock_timeout_or_exits_4_without(tmp_path: Path,
                                                                     azurite: Azurite) -> None:
    env = env_for(azurite)
    seeded_local(tmp_path / "state")
    config = write_config(tmp_path / "blob.toml", azurite.new_container())
    assert sssctl(env, "state", "migrate", "--from", "local", "-c", str(config), cwd=tmp_path).returncode == 0
    # The holder lets go only once the patient process has said it waits: how long each
    # process takes to start on a busy machine cannot decide whether the wait is seen.
    holder = subprocess.Popen([sys.executable, "-m", "tests.state_holder", str(config), "90",
                               "--until-input"],
                              env=env, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdin is not None and holder.stdout is not None
    try:
        held_id = holder.stdout.readline().strip()
        impatient = sssctl(env, "state", "rm", "approval", "-c", str(config), cwd=tmp_path)
        assert impatient.returncode == exitcodes.LOCKED and held_id in impatient.stderr
        patient = subprocess.Popen(
            [sys.executable, "-m", "sssctl", "--log-format", "json", "state", "rm", "approval",
             "--lock-timeout", "1m", "-c", str(config)],
            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert patient.stderr is not None
        before = ""
        while "Waiting up to" not in before and (line := patient.stderr.readline()):
            before += line
        holder.stdin.close()
        assert holder.wait(timeout=30) == 0
        _, after = patient.communicate(timeout=90)
    finally:
        holder.kill()
    assert patient.returncode == 0, before + after
    assert (before + after).count("Waiting up to 1m0s for the state lock") == 1
    assert held_id in before


def test_a_bad_lock_timeout_is_a_usage_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSSCTL_")}
    result = sssctl(env, "state", "rm", "x", "--lock-timeout", "soon", "-c", str(tmp_path / "x.toml"),
                    cwd=tmp_path)
    assert result.returncode == exitcodes.ERROR and "not a duration" in result.stderr
