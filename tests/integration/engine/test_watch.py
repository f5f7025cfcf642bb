"""``sssctl watch`` against the emulator: people change their own settings, watch reverts them.

The watcher runs in a thread of the test process (its HTTP listener on a free port, the
webhook a tiny loopback server here); people are played through ``/_emulator/act``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from sssctl.app.watch import Watch, WatchRequest
from sssctl.emulator import constants as c
from sssctl.emulator.admin_client import AdminClient, trusting_client
from sssctl.emulator.info import EmulatorInfo

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

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
scope = "users"

[user_settings]
incoming_email_filtering = "email_enabled_records"

[watch]
interval = "2s"
notify = {{ webhook = "http://127.0.0.1:{port}/hook", email_user = true, from = "{sender}" }}
"""


class Hook:
    """A loopback webhook receiver that keeps every event it was sent."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        events = self.events

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                events.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def rows(self) -> list[dict[str, Any]]:
        return [row for e in self.events for change in e["reverted"] for row in change["rows"]]


@pytest.fixture
def admin(emulator_admin: AdminClient) -> Iterator[AdminClient]:
    emulator_admin.reset()
    emulator_admin.clear_faults()
    yield emulator_admin
    emulator_admin.clear_faults()
    emulator_admin.reset()


@pytest.fixture
def hook() -> Iterator[Hook]:
    receiver = Hook()
    yield receiver
    receiver.server.shutdown()


def _get(info: EmulatorInfo, admin: AdminClient, path: str) -> Any:
    token = admin.token(info.dataverse_url)
    with trusting_client(info, headers={"Authorization": f"Bearer {token}"}) as http:
        response = http.get(f"{info.dataverse_url}/api/data/v9.2/{path}")
    assert response.status_code == 200, response.text
    return response.json()


def _user(info: EmulatorInfo, admin: AdminClient, n: int) -> dict[str, Any]:
    return dict(_get(info, admin, "systemusers?$select=systemuserid,domainname,_defaultmailbox_value"
                                  f"&$filter=domainname eq '{c.user_email(n)}'")["value"][0])


def _wait(predicate: Any, timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def watching(emulator: EmulatorInfo, admin: AdminClient, hook: Hook, tmp_path: Path) -> Iterator[Watch]:
    queue = _get(emulator, admin, "queues?$select=emailaddress&$top=1")["value"][0]["emailaddress"]
    config = tmp_path / "watched.toml"
    config.write_text(CONFIG.format(port=hook.port, sender=queue))
    environ = {**emulator.environ(), "SSSCTL_STATE_DIR": str(tmp_path / "state")}
    watch = Watch(WatchRequest(config, environ, listen=("127.0.0.1", 0)))
    runner = threading.Thread(target=watch.run, daemon=True)
    runner.start()
    _wait(lambda: watch.cycles >= 1, 30, "the first cycle (which converges the seeded drift)")
    yield watch
    watch.stop()
    runner.join(timeout=10)
    assert not runner.is_alive(), "watch did not stop within 10 s"


def test_changes_people_make_are_reverted_naming_them(
    emulator: EmulatorInfo, admin: AdminClient, hook: Hook, watching: Watch
) -> None:
    hook.events.clear()
    people = [_user(emulator, admin, n) for n in (3, 4, 5)]
    for person in people[:2]:
        answer = admin.act(person["domainname"], "PATCH", f"mailboxes({person['_defaultmailbox_value']})",
                           {"incomingemaildeliverymethod": 0})
        assert answer["status"] == 204, answer
    settings = f"usersettingscollection({people[2]['systemuserid']})"
    answer = admin.act(people[2]["domainname"], "PATCH", settings, {"incomingemailfilteringmethod": 0})
    assert answer["status"] == 204, answer
    changed = time.monotonic()

    def named() -> set[str]:
        return {str((r.get("changed_by") or {}).get("upn")) for r in hook.rows()}

    _wait(lambda: {p["domainname"] for p in people} <= named(), 10, "every revert to name its author")
    assert time.monotonic() - changed < 10
    by_name = {r["name"]: r for r in hook.rows()}
    mailbox_row = by_name[people[0]["domainname"]]
    assert mailbox_row["old"] == {"incoming_email": "none"}
    assert mailbox_row["new"] == {"incoming_email": "server_side_sync"}
    assert mailbox_row["drift_seconds"] is not None and mailbox_row["drift_seconds"] < 10
    settings_row = by_name[people[2]["domainname"]]
    assert settings_row["old"] == {"incoming_email_filtering": "all"}
    assert settings_row["new"] == {"incoming_email_filtering": "email_enabled_records"}
    assert hook.events[0]["schema"] == "sssctl.watch.cycle/v1"

    mailbox = people[0]["_defaultmailbox_value"]
    live = _get(emulator, admin, f"mailboxes({mailbox})?$select=incomingemaildeliverymethod")
    assert live["incomingemaildeliverymethod"] == 2
    # each person gets an email from the queue, sent with SendEmail (after the webhook)
    def mailed() -> set[str]:
        return {to for m in admin.snapshot("dataverse")["dataverse"]["mail"] for to in m["to"]}

    _wait(lambda: {p["domainname"] for p in people} <= mailed(), 5, "an email to each person")
    # the state keeps a short history naming them
    state = json.loads((Path(watching.request.environ["SSSCTL_STATE_DIR"]) / "watched.json").read_text())
    history = state["resources"]["mailboxes"]["history"]
    assert any(r["changed_by"]["upn"] == people[0]["domainname"] for h in history for r in h["rows"])
    # and /metrics counts them
    assert watching.listener is not None
    host, port = watching.listener.address
    metrics = httpx.get(f"http://{host}:{port}/metrics").text
    assert 'sssctl_watch_reverted_total{environment="watched",kind="user_settings"}' in metrics
    assert httpx.get(f"http://{host}:{port}/healthz").status_code == 200


def test_an_idle_cycle_reads_little(emulator: EmulatorInfo, admin: AdminClient, watching: Watch) -> None:
    cycles = watching.cycles
    _wait(lambda: watching.cycles >= cycles + 1, 10, "a settled cycle")
    admin.reset_counters()
    start = watching.cycles
    _wait(lambda: watching.cycles >= start + 2, 10, "two idle cycles")
    counted = admin.counters()
    cycles = watching.cycles - start
    # one filtered read per watched kind (mailboxes, user_settings); nothing else while idle
    assert counted["writes"] == 0
    assert counted["total"] <= 2 * cycles, counted["by_route"]
    assert set(counted["by_route"]) <= {"GET dataverse:mailboxes", "GET dataverse:usersettingscollection"}


def test_faults_never_end_the_process_and_health_follows_them(
    emulator: EmulatorInfo, admin: AdminClient, hook: Hook, watching: Watch
) -> None:
    assert watching.listener is not None
    host, port = watching.listener.address
    health = f"http://{host}:{port}/healthz"
    person = _user(emulator, admin, 6)
    hook.events.clear()
    admin.faults(throttle_probability=0.2, error_probability=0.05, retry_after_seconds=0,
                 fault_service="dataverse")
    # the person acts through the admin API, which no fault touches
    assert admin.act(person["domainname"], "PATCH", f"mailboxes({person['_defaultmailbox_value']})",
                     {"incomingemaildeliverymethod": 0})["status"] == 204
    _wait(lambda: any(r["name"] == person["domainname"] for r in hook.rows()), 20,
          "the change to be reverted despite 429s and 5xx")
    # a full outage: every Dataverse request fails; cycles fail, health goes stale, the process stays
    admin.faults(throttle_probability=0, error_probability=1.0, fault_service="dataverse")
    _wait(lambda: httpx.get(health).status_code == 503, 20, "/healthz to report the outage")
    _wait(lambda: bool(watching.health.last_error), 60, "the failed cycle to say why")
    admin.clear_faults()
    _wait(lambda: httpx.get(health).status_code == 200, 60, "/healthz to recover after the outage")
    metrics = httpx.get(f"http://{host}:{port}/metrics").text
    assert "sssctl_watch_throttled_total" in metrics


def test_a_reply_that_fails_its_model_makes_the_cycle_unknown_not_failed(
    emulator: EmulatorInfo, admin: AdminClient, watching: Watch
) -> None:
    assert watching.listener is not None
    host, port = watching.listener.address
    admin.faults(mutate_route="/dataverse/api/data/v9.2/usersettingscollection",
                 mutate_field="value.*.incomingemailfilteringmethod", mutate_to='"all"')
    start = watching.outcomes["unknown"]
    # A drifted row for the cycle to read (it reads only what drifted): its answer is the bad one.
    person = _user(emulator, admin, 6)
    answer = admin.act(person["domainname"], "PATCH", f"usersettingscollection({person['systemuserid']})",
                       {"incomingemailfilteringmethod": 0})
    assert answer["status"] == 204, answer
    _wait(lambda: watching.outcomes["unknown"] > start, 20, "a cycle with an unknown read")
    admin.clear_faults()
    metrics = httpx.get(f"http://{host}:{port}/metrics").text
    assert 'sssctl_watch_unknown_total{environment="watched",kind="user_settings"}' in metrics
    assert 'sssctl_watch_cycles_total{environment="watched",outcome="unknown"}' in metrics
    assert 'sssctl_watch_failed_total{environment="watched",kind="user_settings"}' not in metrics
    assert watching.outcomes["failed"] == 0


FLEET_MEMBER = """
version = 1

[mailbox_defaults]
incoming_email = "server_side_sync"
outgoing_email = "server_side_sync"
appointments_contacts_tasks = "server_side_sync"

{section}

[watch]
interval = "2s"
revert = ["{kind}"]
"""


def test_a_fleet_watches_each_member_with_its_own_state(
    emulator: EmulatorInfo, admin: AdminClient, tmp_path: Path
) -> None:
    from sssctl.app.fleet.watch import FleetWatch
    from sssctl.fleet.file import load

    (tmp_path / "mail.toml").write_text(FLEET_MEMBER.format(
        section='[mailboxes]\nenforce = "defaults"', kind="mailboxes"))
    (tmp_path / "settings.toml").write_text(FLEET_MEMBER.format(
        section='[user_settings]\nincoming_email_filtering = "email_enabled_records"', kind="user_settings"))
    fleet_file = tmp_path / "fleet.toml"
    fleet_file.write_text('version = 1\n[members.mail]\nconfig = "mail.toml"\nname = "mail"\n'
                          '[members.settings]\nconfig = "settings.toml"\nname = "settings"\n')
    environ = {**emulator.environ(), "SSSCTL_STATE_DIR": str(tmp_path / "state")}
    fleet = FleetWatch(load(fleet_file), environ, listen=("127.0.0.1", 0))
    runner = threading.Thread(target=fleet.run, daemon=True)
    runner.start()
    try:
        _wait(lambda: all(w.cycles >= 1 for w in fleet.watches), 30, "a first cycle of every member")
        person = _user(emulator, admin, 7)
        admin.act(person["domainname"], "PATCH", f"mailboxes({person['_defaultmailbox_value']})",
                  {"incomingemaildeliverymethod": 0})
        admin.act(person["domainname"], "PATCH", f"usersettingscollection({person['systemuserid']})",
                  {"incomingemailfilteringmethod": 0})
        assert fleet.listener is not None
        host, port = fleet.listener.address

        def metrics() -> str:
            return httpx.get(f"http://{host}:{port}/metrics").text

        _wait(lambda: 'environment="mail",kind="mailboxes"' in metrics()
              and 'environment="settings",kind="user_settings"' in metrics(), 10, "both members to revert")
        health = httpx.get(f"http://{host}:{port}/healthz")
        assert health.status_code == 200 and set(health.json()["members"]) == {"mail", "settings"}
        assert {p.name for p in (tmp_path / "state").glob("*.json")} == {"mail.json", "settings.json"}
    finally:
        fleet.stop()
        runner.join(timeout=10)
    assert not runner.is_alive()


def test_a_reviewed_apply_gets_the_state_lock_while_watch_leads(watching: Watch) -> None:
    from sssctl.app import runner

    assert watching.health.leading
    # a watch write may be in flight: wait for the lock as a pipeline would (--lock-timeout)
    opts = runner.RunOptions(watching.request.config_path, watching.request.environ, "apply",
                             lock_timeout=10.0)
    with runner.session(opts, runner.default_services()) as session:
        report = runner.execute(session, runner.plan(session))
    assert report.ok
    cycles = watching.cycles
    _wait(lambda: watching.cycles > cycles, 10, "watch to go on leading after the apply")
    assert watching.health.leading
