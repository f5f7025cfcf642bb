"""The emulator as a fault tool, over real HTTPS: seeded replay, lost responses, malformed
answers, faults aimed at one service or one route, bursts, and the `serve` options for them."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from sssctl.emulator.admin_client import AdminClient, trusting_client
from sssctl.emulator.info import EmulatorInfo

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

ORG_COLUMN = "requireapprovalforuseremail"


@pytest.fixture
def admin(emulator: EmulatorInfo, emulator_admin: AdminClient) -> Iterator[AdminClient]:
    emulator_admin.reset()
    emulator_admin.clear_faults()
    yield emulator_admin
    emulator_admin.clear_faults()
    emulator_admin.reset()


@pytest.fixture
def dataverse(emulator: EmulatorInfo, admin: AdminClient) -> Iterator[httpx.Client]:
    """A client of the Dataverse Web API with a token the emulator issued (fetched before any fault)."""
    token = admin.token(emulator.dataverse_url)
    with trusting_client(emulator, base_url=f"{emulator.dataverse_url}/api/data/v9.2/",
                         headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}) as http:
        yield http


def _statuses(http: httpx.Client, n: int) -> list[int]:
    return [http.get("WhoAmI").status_code for _ in range(n)]


def test_a_fault_seed_replays_the_same_faults(dataverse: httpx.Client, admin: AdminClient) -> None:
    admin.faults(throttle_probability=0.3, error_probability=0.3, retry_after_seconds=0.01, fault_seed=42)
    first = _statuses(dataverse, 24)
    admin.faults(fault_seed=42)  # setting the knobs again restarts the sequence
    second = _statuses(dataverse, 24)
    assert first == second
    assert {200, 429, 503} <= set(first)
    admin.faults(fault_seed=7)
    assert _statuses(dataverse, 24) != first


def test_clearing_the_faults_puts_every_knob_back(admin: AdminClient) -> None:
    """Costs, limits and a competing integration set for one run must not leak into the
    next: a fault-free run after a shared-budget one was throttled by the share left behind."""
    defaults = admin.clear_faults()
    admin.faults(competing_share=0.5, throttle_mix="requests:1", batch_operation_ms=10, limit_concurrent=8,
                 retry_after_seconds=0.2, throttle_probability=0.2)
    assert admin.clear_faults() == defaults


def test_a_lost_response_is_carried_out_but_never_answered(dataverse: httpx.Client,
                                                           admin: AdminClient) -> None:
    org = dataverse.get(f"organizations?$select={ORG_COLUMN}").json()["value"][0]
    wanted = not org[ORG_COLUMN]
    admin.faults(lost_response_probability=1.0)
    with pytest.raises(httpx.TransportError):
        dataverse.patch(f"organizations({org['organizationid']})", json={ORG_COLUMN: wanted},
                        headers={"If-Match": "*"})
    admin.clear_faults()
    after = dataverse.get(f"organizations({org['organizationid']})?$select={ORG_COLUMN}").json()
    assert after[ORG_COLUMN] is wanted
    assert admin.counters()["by_route"]["PATCH dataverse:organizations"] == 1


def test_faults_can_target_one_service(emulator: EmulatorInfo, dataverse: httpx.Client,
                                       admin: AdminClient) -> None:
    admin.faults(error_probability=1.0, fault_service="graph")
    with trusting_client(emulator) as http:
        assert http.get(f"{emulator.graph_url}/v1.0/applications").status_code == 503
        assert http.get(f"{emulator.authority}/v2.0/.well-known/openid-configuration").status_code == 200
    assert dataverse.get("WhoAmI").status_code == 200


def test_faults_can_target_the_login_service(emulator: EmulatorInfo, admin: AdminClient) -> None:
    admin.faults(throttle_probability=1.0, fault_service="login")
    with trusting_client(emulator) as http:
        login = http.get(f"{emulator.authority}/v2.0/.well-known/openid-configuration")
        graph = http.get(f"{emulator.graph_url}/v1.0/applications")
    assert login.status_code == 429 and "AADSTS50196" in login.json()["error_description"]
    assert graph.status_code == 401  # reached the service: no token, not a fault


def test_faults_can_target_one_route(dataverse: httpx.Client, admin: AdminClient) -> None:
    admin.faults(error_probability=1.0, fault_route="/dataverse/api/data/v9.2/mailboxes")
    assert dataverse.get("mailboxes?$top=1").status_code == 503
    assert dataverse.get("WhoAmI").status_code == 200


def test_max_faults_makes_a_burst_that_then_clears(dataverse: httpx.Client, admin: AdminClient) -> None:
    admin.faults(error_probability=1.0, max_faults=3)
    assert _statuses(dataverse, 5) == [503, 503, 503, 200, 200]
    admin.faults(max_faults=3)  # a new burst
    assert _statuses(dataverse, 4) == [503, 503, 503, 200]


def test_max_faults_holds_for_requests_that_arrive_together(dataverse: httpx.Client,
                                                             admin: AdminClient) -> None:
    admin.faults(error_probability=1.0, max_faults=1, latency_ms=300)  # all five wait out the latency
    with ThreadPoolExecutor(max_workers=5) as pool:
        statuses = sorted(pool.map(lambda _: dataverse.get("WhoAmI").status_code, range(5)))
    assert statuses == [200, 200, 200, 200, 503]


def test_a_malformed_answer_is_html_with_status_200(emulator: EmulatorInfo, admin: AdminClient) -> None:
    admin.faults(malformed_probability=1.0, fault_service="exchange")
    with trusting_client(emulator) as http:
        response = http.post(f"{emulator.exchange_url}/adminapi/beta/{emulator.tenant_id}/InvokeCommand",
                             json={"CmdletInput": {"CmdletName": "Get-ApplicationAccessPolicy"}})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("knobs", [
    {"fault_service": "sharepoint"},
    {"fault_route": "dataverse"},
    {"lost_response_probability": 1.5},
    {"max_faults": -1},
])
def test_bad_targeting_is_refused_and_changes_nothing(admin: AdminClient, knobs: dict[str, object]) -> None:
    before = admin.faults()
    with pytest.raises(RuntimeError, match=next(iter(knobs))):
        admin.faults(error_probability=0.5, **knobs)
    assert admin.faults() == before


def test_serve_takes_the_fault_tool_options(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    process = subprocess.Popen(
        [sys.executable, "-m", "sssctl", "emulator", "serve", "--fault-seed", "9",
         "--fault-service", "exchange", "--fault-route", "/exchange/adminapi",
         "--lost-response-probability", "0.25",
         "--malformed-probability", "0.5", "--max-faults", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready, "the emulator printed no line"
        info = EmulatorInfo(**json.loads(process.stdout.readline()))
        with AdminClient(info) as admin:
            faults = admin.faults()
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)
    assert {k: faults[k] for k in ("fault_seed", "fault_service", "fault_route", "lost_response_probability",
                                   "malformed_probability", "max_faults")} == {
        "fault_seed": 9, "fault_service": "exchange", "fault_route": "/exchange/adminapi",
        "lost_response_probability": 0.25, "malformed_probability": 0.5, "max_faults": 4}
