"""``sssctl watch`` as a user runs it: SIGTERM, SIGHUP, and two replicas electing one leader.

People are played through ``/_emulator/act``; each watcher's JSON log lines are read as
they come (never slept past).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sssctl.emulator import constants as c
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo
from sssctl.state.model import Snapshot
from tests.e2e.conftest import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

CONFIG = """
version = 1

[environment]
name = "watched"

[mailbox_defaults]
incoming_email = "server_side_sync"
outgoing_email = "server_side_sync"
appointments_contacts_tasks = "server_side_sync"

[mailboxes]
enforce = "defaults"

[user_settings]
incoming_email_filtering = "email_enabled_records"

[watch]
interval = "2s"
"""


class Watcher:
    """One watcher process and the log events it has written so far."""

    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sssctl", "--log-format", "json", "watch", "-c", str(config)],
            cwd=config.parent, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.events: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            try:
                self.events.append(json.loads(line))
            except ValueError:
                self.events.append({"event": "(not json)", "line": line})

    def saw(self, event: str, after: int = 0) -> list[dict[str, Any]]:
        return [e for e in self.events[after:] if e.get("event") == event]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def setup(emulator: EmulatorInfo, emulator_admin: AdminClient,
          tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    emulator_admin.reset()
    emulator_admin.clear_faults()
    config = tmp_path / "watched.toml"
    config.write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSSCTL_", "MSAL_"))}
    env.update(emulator.environ())
    env["SSSCTL_STATE_DIR"] = str(tmp_path / "state")
    yield config, env
    emulator_admin.reset()


@pytest.fixture
def start(setup: tuple[Path, dict[str, str]]) -> Iterator[Any]:
    started: list[Watcher] = []

    def starting() -> Watcher:
        watcher = Watcher(*setup)
        started.append(watcher)
        return watcher

    yield starting
    for watcher in started:
        watcher.stop()


def _change_own_mailbox(admin: AdminClient, n: int) -> str:
    upn = c.user_email(n)
    user = admin.act(upn, "GET", f"systemusers?$select=_defaultmailbox_value&$filter=domainname eq '{upn}'")
    mailbox = user["body"]["value"][0]["_defaultmailbox_value"]
    answer = admin.act(upn, "PATCH", f"mailboxes({mailbox})", {"incomingemaildeliverymethod": 0})
    assert answer["status"] == 204, answer
    return upn


def test_sigterm_leaves_within_ten_seconds_with_valid_state(
    start: Any, setup: tuple[Path, dict[str, str]]
) -> None:
    watcher = start()
    wait_for(lambda: watcher.saw("watch.cycle.done"), timeout=60, what="a first cycle")
    stopped = time.monotonic()
    watcher.process.send_signal(signal.SIGTERM)
    assert watcher.process.wait(timeout=10) == 0
    assert time.monotonic() - stopped < 10
    (summary,) = watcher.saw("watch.stopped")
    # the exit summary counts cycles by outcome, unknown apart from failed
    assert summary["cycles"] == summary["ok"] + summary["unknown"] + summary["failed"] >= 1
    state = Path(setup[1]["SSSCTL_STATE_DIR"]) / "watched.json"
    snapshot = Snapshot.from_document(json.loads(state.read_text()), where=str(state))
    assert "mailboxes" in snapshot.resources
    assert not (state.parent / "watched.json.lock").exists() and not list(state.parent.glob("*.lock"))


def test_an_invalid_config_on_sighup_keeps_the_old_one(
    start: Any, setup: tuple[Path, dict[str, str]]
) -> None:
    config = setup[0]
    watcher = start()
    wait_for(lambda: watcher.saw("watch.cycle.done"), timeout=60, what="a first cycle")
    config.write_text(CONFIG.replace('interval = "2s"', 'interval = "1s"\nrevert = ["mailbox"]'))
    watcher.process.send_signal(signal.SIGHUP)
    wait_for(lambda: watcher.saw("watch.reload.refused"), timeout=10, what="the reload to be refused")
    refused = watcher.saw("watch.reload.refused")[0]
    assert any("watch.interval" in p for p in refused["problems"])
    mark = len(watcher.events)
    wait_for(lambda: watcher.saw("watch.cycle.done", after=mark), timeout=10,
             what="a cycle on the old config")
    config.write_text(CONFIG.replace('interval = "2s"', 'interval = "3s"'))
    watcher.process.send_signal(signal.SIGHUP)
    wait_for(lambda: watcher.saw("watch.reloaded"), timeout=10, what="the fixed config to load")
    assert watcher.saw("watch.reloaded")[0]["interval_seconds"] == 3.0
    assert watcher.process.poll() is None


def test_two_watchers_on_one_state_only_the_leader_writes(emulator_admin: AdminClient, start: Any) -> None:
    admin = emulator_admin
    first = start()
    wait_for(lambda: first.saw("watch.cycle.done"), timeout=60, what="the first watcher to lead")
    second = start()
    wait_for(lambda: second.saw("watch.standby"), timeout=60, what="the second watcher to stand by")
    upn = _change_own_mailbox(admin, 3)
    wait_for(lambda: any(e.get("changed_by") == upn for e in first.saw("watch.reverted")), timeout=10,
             what="the leader to revert the change")
    assert not second.saw("watch.reverted") and not second.saw("apply.change.done")
    first.process.kill()  # SIGKILL: no unlock; the lock's holder is dead, so it is stale
    first.process.wait(timeout=10)
    killed = time.monotonic()
    wait_for(lambda: second.saw("watch.leading"), timeout=10, what="the standby to take over")
    assert time.monotonic() - killed <= 2 + 5  # one interval, plus the time to sign in
    upn = _change_own_mailbox(admin, 4)
    wait_for(lambda: any(e.get("changed_by") == upn for e in second.saw("watch.reverted")), timeout=10,
             what="the new leader to revert the next change")


@pytest.mark.timeout(180)
def test_on_azure_blob_the_lease_elects_the_leader_and_a_standby_takes_over(
    emulator_admin: AdminClient, setup: tuple[Path, dict[str, str]], start: Any, tmp_path: Path
) -> None:
    from tests.azurite import running_azurite

    config, env = setup
    with running_azurite(tmp_path / "azurite") as azurite:
        container = azurite.new_container()
        config.write_text(CONFIG + f'\n[state]\nbackend = "azurerm"\ncontainer = "{container}"\n'
                          'lease_seconds = 15\nconnection_string = { env = "STATE_CONNECTION" }\n')
        env["STATE_CONNECTION"] = azurite.connection_string
        first = start()
        wait_for(lambda: first.saw("watch.cycle.done"), timeout=60, what="the first watcher to lead")
        second = start()
        wait_for(lambda: second.saw("watch.standby"), timeout=60, what="the second watcher to stand by")
        upn = _change_own_mailbox(emulator_admin, 3)
        wait_for(lambda: any(e.get("changed_by") == upn for e in first.saw("watch.reverted")), timeout=10,
                 what="the leader to revert the change")
        first.process.kill()  # its lease is never released: it expires after lease_seconds
        first.process.wait(timeout=10)
        killed = time.monotonic()
        upn = _change_own_mailbox(emulator_admin, 4)
        wait_for(lambda: any(e.get("changed_by") == upn for e in second.saw("watch.reverted")), timeout=30,
                 what="the standby to take over and revert the next change")
        assert time.monotonic() - killed <= 15 + 2 + 3  # one lease period, one interval, a cycle
        assert not [e for e in second.events[:second.events.index(second.saw("watch.leading")[0])]
                    if e.get("event") in ("watch.reverted", "apply.change.done")]
