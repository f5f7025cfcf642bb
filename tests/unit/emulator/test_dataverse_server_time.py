"""Server time, limit headers and the role-privilege intersect table, as Dataverse serves them."""

from __future__ import annotations

from typing import Any

import pytest

from sssctl.emulator import constants
from sssctl.emulator.dataverse.messages import API_PATH
from tests.support.fake_clock import FakeClock

from .dataverse_harness import client, make_service

APPROVE = "prvApproveRejectEmailAddress"


def _batch_of_whoami(count: int) -> str:
    part = "--b\r\nContent-Type: application/http\r\n\r\nGET /api/data/v9.2/WhoAmI HTTP/1.1\r\n\r\n\r\n"
    return part * count + "--b--\r\n"


def _remaining_seconds(value: str) -> float:
    return float(value.replace(",", ""))


def test_a_batch_is_charged_its_simulated_time_once() -> None:
    service, _, faults = make_service()
    faults.batch_operation_ms = 100
    with client(service) as dv:
        response = dv.post("$batch", content=_batch_of_whoami(10),
                           headers={"Content-Type": "multipart/mixed; boundary=b"})
    assert response.status_code == 200
    # Ten operations of 100 ms: one second of the 1,200 s budget, not two.
    assert response.headers["x-ms-ratelimit-time-remaining-xrm-requests"] == "1,199.00"


def test_a_request_sent_alone_is_charged_its_configured_time() -> None:
    service, _, faults = make_service()
    with client(service) as dv:
        free = dv.get("WhoAmI")
        faults.request_operation_ms = 250
        charged = dv.get("WhoAmI")
    # No simulated time, no charge: the emulator's own Python time is not server time.
    assert free.headers["x-ms-ratelimit-time-remaining-xrm-requests"] == "1,200.00"
    assert _remaining_seconds(charged.headers["x-ms-ratelimit-time-remaining-xrm-requests"]) == 1199.75
    assert charged.headers["x-ms-ratelimit-burst-remaining-xrm-requests"] == "5998"


def test_every_answer_carries_the_recommended_degree_of_parallelism() -> None:
    service, _, faults = make_service()
    with client(service) as dv:
        default = dv.get("WhoAmI").headers["x-ms-dop-hint"]
        faults.dop_hint = 48
        changed = dv.get("WhoAmI").headers["x-ms-dop-hint"]
    assert (default, changed) == ("4", "48")


def test_the_intersect_table_names_every_holder_and_its_depth_in_one_query() -> None:
    service, counters, _ = make_service()
    with client(service) as dv:
        privilege = dv.get("privileges", params={"$filter": f"name eq '{APPROVE}'"}).json()["value"][0]
        rows = dv.get("roleprivilegescollection", params={
            "$select": "roleid,privilegedepthmask", "$filter": f"privilegeid eq {privilege['privilegeid']}",
        }).json()["value"]
    snapshot = service.snapshot()
    by_id = {r["roleid"]: r for r in snapshot["tables"]["role"]}
    wanted = privilege["privilegeid"]
    privileges = snapshot["role_privileges"]
    holding_roots = {root: held[wanted] for root, held in privileges.items() if wanted in held}
    # One row per role copy (root and business-unit copies alike), with the root's depth mask.
    expected = {(role_id, holding_roots[role["_parentrootroleid_value"]])
                for role_id, role in by_id.items() if role["_parentrootroleid_value"] in holding_roots}
    assert holding_roots and {(str(r["roleid"]), r["privilegedepthmask"]) for r in rows} == expected
    assert counters.snapshot()["by_route"]["GET dataverse:roleprivilegescollection"] == 1


def test_the_intersect_table_is_read_only() -> None:
    service, _, _ = make_service()
    with client(service) as dv:
        created = dv.post("roleprivilegescollection", json={"privilegedepthmask": 8})
    assert created.status_code == 405
    assert "not allowed on 'roleprivilegescollection'" in created.json()["error"]["message"]


def _serve_taking(monkeypatch: pytest.MonkeyPatch, handling: float, operation_ms: float) -> list[float]:
    """One request whose handling takes ``handling`` seconds; returns what was slept after it."""
    import sssctl.emulator.dataverse as dataverse

    service, _, faults = make_service()
    faults.request_operation_ms = operation_ms
    clock = FakeClock()
    monkeypatch.setattr(dataverse, "time", clock)
    begin = service.begin

    def slow_begin(*args: Any) -> Any:
        clock.now += handling
        return begin(*args)

    monkeypatch.setattr(service, "begin", slow_begin)
    token = {"authorization": f"Bearer app:{constants.SSSCTL_APP_ID}"}
    response = service.serve("GET", f"/{API_PATH}/WhoAmI", "", token, b"")
    assert response.status == 200
    return clock.slept


def test_the_handling_counts_toward_the_simulated_server_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # 500 ms of server time of which the emulator's own work took 300 ms: answered at
    # 500 ms, as the service would be, not 800 ms.
    assert _serve_taking(monkeypatch, handling=0.3, operation_ms=500) == [pytest.approx(0.2)]


def test_handling_slower_than_the_simulated_time_adds_no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _serve_taking(monkeypatch, handling=0.7, operation_ms=500) == [0.0]
