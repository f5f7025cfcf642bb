"""Writes whose answer is lost are settled in the same run, against the real emulator.

The emulator's lost-response fault carries a request out and then drops the connection,
exactly what a proxy timing out after the service committed looks like. The run must
read again and record the write as applied (or send it once more when it did not take
effect); the next apply writes nothing, and nothing exists twice. A ``$batch`` chunk of
the aggregate kinds is settled by the thread that sent it, without a round of the
engine's read of the whole kind: each row is sent again, counted as written or refused
by name, from what reading it back shows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from structlog.testing import capture_logs

from sssctl import exitcodes
from sssctl.app import runner
from sssctl.cli import cli
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo
from sssctl.kinds._rows import MIN_BATCH_SIZE

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

HARDENED = Path(__file__).resolve().parents[3] / "configs" / "hardened.toml"
UNIQUE_NAME = "sssctl-contoso-prod-sss"


@pytest.fixture
def fresh(emulator_admin: AdminClient) -> Iterator[AdminClient]:
    emulator_admin.reset()
    emulator_admin.clear_faults()
    yield emulator_admin
    emulator_admin.clear_faults()


def environ(emulator: EmulatorInfo, state_dir: Path) -> dict[str, str]:
    return {**emulator.environ(), "SSSCTL_STATE_DIR": str(state_dir)}


def run(emulator: EmulatorInfo, state_dir: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--log-format", "json", *args, "-c", str(HARDENED)],
                              env=environ(emulator, state_dir))


def lose_next_answer(admin: AdminClient, route: str) -> None:
    admin.faults(lost_response_probability=1.0, max_faults=1, fault_route=route)


def assert_nothing_left_to_write(emulator: EmulatorInfo, admin: AdminClient, state_dir: Path) -> None:
    admin.clear_faults()
    admin.reset_counters()
    again = run(emulator, state_dir, "apply", "--auto-approve")
    assert again.exit_code == exitcodes.OK, again.output
    assert admin.counters()["writes"] == 0


def nothing_twice(admin: AdminClient) -> None:
    snapshot = admin.snapshot("directory", "exchange")
    apps = [a for a in snapshot["directory"]["applications"] if a.get("uniqueName") == UNIQUE_NAME]
    assert len(apps) == 1
    assert len(apps[0]["passwordCredentials"]) == 1
    assert len(snapshot["exchange"]["applicationAccessPolicies"]) == 1


DATAVERSE = "/dataverse/api/data/v9.2/"


def events(output: str, name: str) -> list[dict[str, Any]]:
    found = []
    for line in output.splitlines():
        if line.startswith("{") and f'"{name}"' in line:
            record = json.loads(line)
            if record.get("event") == name:
                found.append(record)
    return found


def someone_edits(admin: AdminClient, mailbox_id: str) -> str:
    """A person edits the mailbox's delivery method: another value, another ETag. Returns its address."""
    tables = admin.snapshot("dataverse")["dataverse"]["tables"]
    mailbox = next(m for m in tables["mailbox"] if m["mailboxid"] == mailbox_id)
    owner = next(u for u in tables["systemuser"] if u["systemuserid"] == mailbox["_regardingobjectid_value"])
    answer = admin.act(owner["domainname"], "PATCH", f"mailboxes({mailbox_id})",
                       {"incomingemaildeliverymethod": 0})
    assert answer["status"] == 204, answer
    return str(mailbox["emailaddress"])


@pytest.mark.parametrize(("method", "route", "holding"), [
    pytest.param("PATCH", DATAVERSE + "organizations(", "", id="organization PATCH with If-Match"),
    pytest.param("POST", "/graph/v1.0/applications/", "", id="addPassword"),
    pytest.param("POST", DATAVERSE + "$batch", "/mailboxes(", id="mailboxes $batch"),
    pytest.param("POST", DATAVERSE + "$batch", "/usersettingscollection(", id="user settings $batch"),
    pytest.param("POST", DATAVERSE + "$batch", "RemovePrivilegeRole", id="role edits $batch"),
    pytest.param("PATCH", DATAVERSE + "emailserverprofiles(", "", id="profile PATCH with If-Match"),
    pytest.param("POST", "/exchange/adminapi/", "New-ApplicationAccessPolicy", id="Exchange cmdlet"),
])
def test_a_lost_answer_is_settled_in_the_same_run(emulator: EmulatorInfo, fresh: AdminClient, tmp_path: Path,
                                                  method: str, route: str, holding: str) -> None:
    fresh.faults(lost_response_probability=1.0, max_faults=1, fault_route=route, fault_method=method,
                 fault_request_contains=holding)

    applied = run(emulator, tmp_path, "apply", "--auto-approve")

    assert applied.exit_code == exitcodes.OK, applied.output
    assert fresh.faults()["max_faults"] == 1
    assert "apply.answer_lost" in applied.output      # the fault really hit a write
    assert "changed since the plan was read" not in applied.output
    assert not list(tmp_path.glob("*.lock")), "the state lock must be released"
    nothing_twice(fresh)
    assert_nothing_left_to_write(emulator, fresh, tmp_path)


def test_lost_answers_to_a_third_of_every_batch_settle_with_only_the_rows_not_yet_in_effect(
        emulator: EmulatorInfo, fresh: AdminClient, tmp_path: Path) -> None:
    """Seeded: the same batches lose their answers on every run; resends shrink round by round."""
    fresh.faults(lost_response_probability=0.3, fault_seed=7, fault_route=DATAVERSE + "$batch")

    applied = run(emulator, tmp_path, "apply", "--auto-approve", "--parallelism", "1")

    assert applied.exit_code == exitcodes.OK, applied.output[-4000:]
    assert "apply.answer_lost" in applied.output
    nothing_twice(fresh)
    assert_nothing_left_to_write(emulator, fresh, tmp_path)


def test_a_lost_answer_to_the_app_upsert_never_makes_a_second_app(emulator: EmulatorInfo, fresh: AdminClient,
                                                                    tmp_path: Path) -> None:
    opts = runner.RunOptions(config_path=HARDENED, environ=environ(emulator, tmp_path), command="apply",
                             parallelism=4)
    with runner.session(opts, runner.default_services()) as s:
        planned = runner.plan(s)
        lose_next_answer(fresh, f"/graph/v1.0/applications(uniqueName='{UNIQUE_NAME}')")
        report = runner.execute(s, planned)
    assert report.ok, report.summary()
    (app,) = [o for o in report.outcomes if o.change.address == "app_registration.sss"]
    assert "sent again after a lost answer" in app.message or "fresh read" in app.message
    nothing_twice(fresh)
    assert_nothing_left_to_write(emulator, fresh, tmp_path)


# --- a $batch chunk whose answer is lost is settled by the thread that sent it ---


def test_a_lost_answer_is_settled_for_its_chunk_counting_what_took_effect_and_naming_what_changed(
        emulator: EmulatorInfo, fresh: AdminClient, tmp_path: Path) -> None:
    opts = runner.RunOptions(config_path=HARDENED, environ=environ(emulator, tmp_path), command="apply")
    with runner.session(opts, runner.default_services()) as s, capture_logs() as logs:
        planned = runner.plan(s)
        (change,) = [c for c in planned.changes if c.address == "mailboxes"]
        rows = list(change.detail["rows"])
        first = rows[0]
        # a user's mailbox in the same chunk (a chunk holds at least MIN_BATCH_SIZE rows; the
        # canary moves the first user's mailbox before) is edited by its owner after the plan:
        # the service refuses our write of it with 412
        second = [row for row in rows[1:MIN_BATCH_SIZE] if row[2] == "user"][-1]
        edited = someone_edits(fresh, str(second[0]))
        # the chunk is carried out, then its answer is lost
        fresh.faults(lost_response_probability=1.0, max_faults=1, fault_route=DATAVERSE + "$batch",
                     fault_method="POST", fault_request_contains=f"mailboxes({first[0]})")
        report = runner.execute(s, planned)
    assert edited not in {e.get("mailbox") for e in logs if e["event"] == "canary.passed"}

    (settled,) = [e for e in logs if e["event"] == "apply.answer_lost.settled_in_place"]
    assert (settled["changed_by_others"], settled["resent"], settled["still_unknown"]) == (1, 0, 0), settled
    assert settled["took_effect"] == settled["rows"] - 1
    assert [e for e in logs if e["event"] == "apply.answer_lost"] == []     # no round of the engine's own
    (outcome,) = [o for o in report.outcomes if o.change.address == "mailboxes"]
    assert outcome.status != "applied"
    assert f"reverted {len(rows) - 1} mailboxes; 1 changed since plan and were left alone ({edited})" \
        in outcome.message, outcome.message
    mailbox = next(m for m in fresh.snapshot("dataverse")["dataverse"]["tables"]["mailbox"]
                   if m["mailboxid"] == second[0])
    assert mailbox["incomingemaildeliverymethod"] == 0              # the owner's edit stands


@pytest.mark.parametrize("holding", ["/mailboxes(", "/usersettingscollection("])
def test_a_chunk_that_never_reached_the_service_is_sent_again_by_its_own_thread(
        emulator: EmulatorInfo, fresh: AdminClient, tmp_path: Path, holding: str) -> None:
    # the connection drops once the request has left, before the service reads it
    fresh.faults(drop_probability=1.0, max_faults=1, fault_route=DATAVERSE + "$batch",
                 fault_method="POST", fault_request_contains=holding)

    # one request at a time: the burst cap is checked before a request's body is read, so
    # batches sent together could all meet the one drop
    applied = run(emulator, tmp_path, "apply", "--auto-approve", "--parallelism", "1")

    assert applied.exit_code == exitcodes.OK, applied.output[-4000:]
    (settled,) = events(applied.output, "apply.answer_lost.settled_in_place")
    assert settled["resent"] == settled["rows"] and settled["still_unknown"] == 0
    assert events(applied.output, "apply.answer_lost") == []
    assert_nothing_left_to_write(emulator, fresh, tmp_path)
