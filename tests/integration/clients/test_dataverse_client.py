"""The Dataverse client against the emulator: paging, $batch, ETags, throttling, auth check."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sssctl.cli import cli
from sssctl.clients.dataverse import NOT_EXECUTED, BatchOperation, DataverseClient, etag_of, odata_literal
from sssctl.clients.errors import NotFound, PreconditionFailed, Throttled, ValidationFailed
from sssctl.clients.session import open_clients
from sssctl.emulator import constants as c
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo

from .conftest import RecordingSleep, emulator_desired, fast_options, secret_environ

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
MAILBOXES = 6000


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorInfo]:
    """An emulator of its own with thousands of mailboxes, so the shared one stays small.

    It runs in another process so that memory measured here is the client's alone.
    """
    data_dir = tmp_path_factory.mktemp("big-emulator")
    process = subprocess.Popen(
        [sys.executable, "-m", "sssctl", "emulator", "serve", "--mailboxes", str(MAILBOXES),
         "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        yield EmulatorInfo(**json.loads(line))
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def big_admin(big: EmulatorInfo) -> Iterator[AdminClient]:
    with AdminClient(big) as admin:
        admin.clear_faults()
        admin.faults(retry_after_seconds=0.05)
        yield admin
        admin.clear_faults()


@pytest.fixture
def dataverse(big: EmulatorInfo, big_admin: AdminClient) -> Iterator[DataverseClient]:
    with open_clients(emulator_desired(big), environ=secret_environ(big),
                      options=fast_options(RecordingSleep())) as clients:
        clients.dataverse.whoami()  # signed in before any fault is switched on
        yield clients.dataverse


def test_whoami(dataverse: DataverseClient) -> None:
    who = dataverse.whoami()
    assert who.user_id and who.business_unit_id and who.organization_id


def _peak(work: Any) -> tuple[Any, int]:
    gc.collect()
    tracemalloc.start()
    try:
        result = work()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_paging_streams_thousands_of_rows_in_bounded_memory(dataverse: DataverseClient) -> None:
    columns = ["mailboxid", "emailaddress", "incomingemaildeliverymethod", "outgoingemaildeliverymethod"]

    def stream() -> int:
        count = 0
        for row in dataverse.query("mailboxes", select=columns, page_size=200):
            assert row["mailboxid"]
            count += 1
        return count

    next(dataverse.query("mailboxes", select=columns, page_size=200))  # warm: connection, TLS, imports
    count, streamed_peak = _peak(stream)
    rows, all_rows_peak = _peak(lambda: list(dataverse.query("mailboxes", select=columns, page_size=200)))
    assert count == len(rows) >= MAILBOXES
    assert len({r["mailboxid"] for r in rows}) == count
    assert streamed_peak < all_rows_peak / 8, f"streamed {streamed_peak} B vs all rows {all_rows_peak} B"


def test_filter_literals_round_trip(dataverse: DataverseClient) -> None:
    first = next(dataverse.query("mailboxes", select=["mailboxid", "emailaddress"], top=1))
    found = list(dataverse.query("mailboxes", select=["mailboxid"],
                                 filter=f"emailaddress eq {odata_literal(first['emailaddress'])}"))
    assert [r["mailboxid"] for r in found] == [first["mailboxid"]]
    assert list(dataverse.query("mailboxes", select=["mailboxid"],
                                filter=f"emailaddress eq {odata_literal('o' + chr(39) + 'x+y@z')}")) == []


def test_update_with_a_stale_etag_is_refused(dataverse: DataverseClient) -> None:
    columns = ["organizationid", "requireapprovalforuseremail"]
    org = next(dataverse.query("organizations", select=columns, top=1))
    key, stale = org["organizationid"], etag_of(org)
    dataverse.update("organizations", key, {"requireapprovalforuseremail": True}, if_match=stale)
    with pytest.raises(PreconditionFailed) as caught:
        dataverse.update("organizations", key, {"requireapprovalforuseremail": False}, if_match=stale)
    assert caught.value.status == 412 and caught.value.request_id
    fresh = dataverse.get("organizations", key, select=["requireapprovalforuseremail"])
    assert fresh["requireapprovalforuseremail"] is True and etag_of(fresh) != stale


def test_missing_record_is_not_found_and_update_never_creates(dataverse: DataverseClient) -> None:
    ghost = "00000000-0000-0000-0000-00000000abcd"
    with pytest.raises(NotFound):
        dataverse.get("mailboxes", ghost)
    with pytest.raises(NotFound):
        dataverse.update("mailboxes", ghost, {"name": "ghost"})


def test_batch_splits_and_reports_each_operation(dataverse: DataverseClient, big_admin: AdminClient) -> None:
    rows = list(dataverse.query("mailboxes", select=["mailboxid", "incomingemaildeliverymethod"], top=2500))
    ops = [BatchOperation("PATCH", f"mailboxes({r['mailboxid']})",
                          {"incomingemaildeliverymethod": r["incomingemaildeliverymethod"]},
                          {"If-Match": etag_of(r) or "*"}) for r in rows]
    ops[1234] = BatchOperation("PATCH", f"mailboxes({rows[1234]['mailboxid']})",
                               {"incomingemaildeliverymethod": 2}, {"If-Match": 'W/"1"'})
    big_admin.reset_counters()
    results = dataverse.batch(ops, continue_on_error=True)
    counters = big_admin.counters()
    assert counters["by_route"].get("POST dataverse:$batch") == 3
    assert counters["by_route"].get("PATCH dataverse:mailboxes") == 2500
    assert [r.operation for r in results] == ops
    failed = [i for i, r in enumerate(results) if not r.ok]
    assert failed == [1234]
    assert isinstance(results[1234].error, PreconditionFailed)


def _bad_patch(mailbox_id: str) -> BatchOperation:
    return BatchOperation("PATCH", f"mailboxes({mailbox_id})", {"nosuchcolumn": 1}, {"If-Match": "*"})


def test_batch_without_continue_stops_and_marks_the_rest(dataverse: DataverseClient) -> None:
    rows = list(dataverse.query("mailboxes", select=["mailboxid"], top=4))
    ops = [BatchOperation("PATCH", f"mailboxes({r['mailboxid']})", {"name": f"renamed {i}"},
                          {"If-Match": "*"}) for i, r in enumerate(rows)]
    ops[1] = _bad_patch(rows[1]["mailboxid"])
    results = dataverse.batch(ops)
    assert results[0].ok
    assert isinstance(results[1].error, ValidationFailed)
    assert [r.status for r in results[2:]] == [NOT_EXECUTED, NOT_EXECUTED]


def test_atomic_batch_rolls_back_the_change_set(dataverse: DataverseClient) -> None:
    rows = list(dataverse.query("mailboxes", select=["mailboxid", "name"], top=3))
    ops = [BatchOperation("PATCH", f"mailboxes({r['mailboxid']})", {"name": "atomic"}, {"If-Match": "*"})
           for r in rows]
    ops[2] = _bad_patch(rows[2]["mailboxid"])
    results = dataverse.batch(ops, atomic=True)
    assert not any(r.ok for r in results)
    assert isinstance(results[2].error, ValidationFailed)
    assert dataverse.get("mailboxes", rows[0]["mailboxid"], select=["name"])["name"] == rows[0]["name"]


def test_throttled_reads_are_retried_with_exact_counts(big: EmulatorInfo, big_admin: AdminClient) -> None:
    sleep = RecordingSleep(after=3, action=big_admin.clear_faults)
    with open_clients(emulator_desired(big), environ=secret_environ(big),
                      options=fast_options(sleep)) as clients:
        clients.dataverse.whoami()
        big_admin.reset_counters()
        big_admin.faults(throttle_probability=1.0)
        assert clients.dataverse.whoami().user_id
        assert big_admin.counters()["throttled"] == 3
        assert clients.stats.total == 5 and clients.stats.throttled == 3
        assert sleep.calls == [0.05, 0.05, 0.05]


def test_throttling_past_the_budget_raises_throttled(big: EmulatorInfo, big_admin: AdminClient) -> None:
    with open_clients(emulator_desired(big), environ=secret_environ(big),
                      options=fast_options(RecordingSleep(), max_attempts=3)) as clients:
        who = clients.dataverse.whoami()
        big_admin.faults(throttle_probability=1.0)
        with pytest.raises(Throttled) as caught:
            clients.dataverse.get("organizations", who.organization_id)
        assert caught.value.retry_after == 0.05 and caught.value.code == "0x80072322"
        assert clients.stats.total == 1 + 3


FULL_CONFIG = """version = 1
[environment]
name = "emulator"
[org_settings]
RequirePrivilegeToSelfApproveEmailAddress = true
[privileges.prvApproveRejectEmailAddress]
allowed_roles = ["System Administrator"]
[mailboxes]
enforce = "defaults"
[user_settings]
incoming_email_filtering = "email_enabled_records"
[app_registrations.sss]
display_name = "Dataverse SSS"
permissions = ["exchange:full_access_as_app"]
mailbox_scope = { group = "sss-mailboxes@contoso.onmicrosoft.com" }
"""


def test_auth_check_passes_for_everything_a_full_config_needs(big: EmulatorInfo, tmp_path: Path) -> None:
    config = tmp_path / "sssctl.toml"
    config.write_text(FULL_CONFIG)
    result = CliRunner().invoke(cli, ["auth", "check", "-c", str(config), "--json"], env=big.environ())
    report = json.loads(result.output)
    by_name = {c["name"]: c["result"] for c in report["checks"]}
    assert result.exit_code == 0, result.output
    assert set(by_name.values()) == {"ok"}
    for name in ("sign in + WhoAmI", "read organization", "read roles + role privileges",
                 "prvWriteOrganization", "prvWriteMailbox", "prvWriteRole", "prvWriteUserSettings",
                 "Graph: application permissions", "Exchange: admin API"):
        assert name in by_name
    assert big.client_secret not in result.output


def test_auth_check_names_missing_privileges(big: EmulatorInfo, tmp_path: Path) -> None:
    config = tmp_path / "sssctl.toml"
    config.write_text(FULL_CONFIG.split("[app_registrations.sss]", maxsplit=1)[0])
    env = {**big.environ(), "SSSCTL_CLIENT_ID": c.LIMITED_APP_ID,
           "SSSCTL_CLIENT_SECRET": c.LIMITED_APP_SECRET}
    result = CliRunner().invoke(cli, ["auth", "check", "-c", str(config)], env=env)
    assert result.exit_code == 1
    assert "missing" in result.output and "prvWriteOrganization" in result.output
    assert "add prvWriteOrganization to a security role" in result.output


def test_auth_check_wrong_secret_exits_1_with_remedy(big: EmulatorInfo, tmp_path: Path) -> None:
    config = tmp_path / "sssctl.toml"
    config.write_text('version = 1\n[environment]\nname = "emulator"\n')
    env = {**big.environ(), "SSSCTL_CLIENT_SECRET": "wrong-secret-value"}
    result = CliRunner().invoke(cli, ["auth", "check", "-c", str(config)], env=env)
    assert result.exit_code == 1
    assert "secret VALUE" in result.output and "wrong-secret-value" not in result.output
    assert "AADSTS7000215" in result.output   # the code support and the Entra docs go by, with the remedy


def test_parallel_calls_share_the_limiter(big: EmulatorInfo, big_admin: AdminClient) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with open_clients(emulator_desired(big), environ=secret_environ(big), max_concurrency=4,
                      options=fast_options(RecordingSleep())) as clients:
        clients.dataverse.whoami()
        big_admin.faults(latency_ms=20)
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=24) as pool:
            answers = list(pool.map(lambda _: clients.dataverse.whoami().user_id, range(48)))
        elapsed = time.monotonic() - started
        assert len(set(answers)) == 1
        assert elapsed >= 48 / 4 * 0.02 * 0.9  # at most 4 in flight, each at least 20 ms
        assert clients.stats.total == 49 and clients.stats.retries == 0


def test_an_update_can_return_the_version_it_produced(
    dataverse: DataverseClient, big_admin: AdminClient
) -> None:
    org = next(dataverse.query("organizations", select=["organizationid"], top=1))
    big_admin.reset_counters()
    fresh = dataverse.update("organizations", org["organizationid"], {"requireapprovalforuseremail": True},
                             if_match=etag_of(org), returning=["organizationid"])
    assert big_admin.counters()["total"] == 1
    assert fresh is not None and etag_of(fresh) not in (None, etag_of(org))
    again = dataverse.get("organizations", org["organizationid"], select=["organizationid"])
    assert etag_of(again) == etag_of(fresh)


def test_concurrency_starts_at_the_hint_and_grows_under_load_up_to_the_cap(
    big: EmulatorInfo, big_admin: AdminClient
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    big_admin.faults(dop_hint=3, latency_ms=30)
    try:
        with open_clients(emulator_desired(big), environ=secret_environ(big), max_concurrency=10,
                          options=fast_options(RecordingSleep())) as clients:
            limiter = clients.dataverse.http.limiter
            assert limiter is not None
            clients.dataverse.whoami()
            assert limiter.limit == 3  # the environment's recommendation, before any load
            with ThreadPoolExecutor(max_workers=20) as pool:
                list(pool.map(lambda _: clients.dataverse.whoami(), range(60)))
            assert limiter.peak == 10  # every slot was busy and the budgets had room: up to the cap
    finally:
        big_admin.faults(dop_hint=4, latency_ms=0)
