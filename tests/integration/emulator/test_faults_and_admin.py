"""Fault injection and the admin API, over real HTTPS."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from sssctl.emulator import constants as c
from sssctl.emulator.admin_client import AdminClient, trusting_client
from sssctl.emulator.info import EmulatorInfo

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture
def admin(emulator: EmulatorInfo, emulator_admin: AdminClient) -> Iterator[AdminClient]:
    emulator_admin.reset()
    emulator_admin.clear_faults()
    yield emulator_admin
    emulator_admin.clear_faults()
    emulator_admin.reset()


def _graph_get(info: EmulatorInfo, admin: AdminClient) -> httpx.Response:
    token = admin.token(info.graph_url)
    with trusting_client(info, headers={"Authorization": f"Bearer {token}"}) as http:
        return http.get(f"{info.graph_url}/v1.0/applications")


def test_dropped_connection_is_a_transport_error(emulator: EmulatorInfo, admin: AdminClient) -> None:
    token = admin.token(emulator.graph_url)
    admin.faults(drop_probability=1.0)
    with (
        trusting_client(emulator, headers={"Authorization": f"Bearer {token}"}) as http,
        pytest.raises(httpx.TransportError),
    ):
        http.get(f"{emulator.graph_url}/v1.0/applications")
    admin.clear_faults()
    assert _graph_get(emulator, admin).status_code == 200


def test_error_fault_answers_503_in_the_services_shape(emulator: EmulatorInfo, admin: AdminClient) -> None:
    admin.faults(error_probability=1.0)
    with trusting_client(emulator) as http:
        graph = http.get(f"{emulator.graph_url}/v1.0/applications")
        dataverse = http.get(f"{emulator.dataverse_url}/api/data/v9.2/WhoAmI")
    assert graph.status_code == dataverse.status_code == 503
    assert graph.json()["error"]["code"] == "serviceNotAvailable"
    assert dataverse.json()["error"]["code"].startswith("0x")


def test_throttle_fault_on_dataverse_uses_the_service_protection_body(
    emulator: EmulatorInfo, admin: AdminClient
) -> None:
    admin.faults(throttle_probability=1.0, retry_after_seconds=2)
    with trusting_client(emulator) as http:
        response = http.get(f"{emulator.dataverse_url}/api/data/v9.2/WhoAmI")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert response.json()["error"]["code"] == "0x80072322"


def test_latency_fault_delays_requests(emulator: EmulatorInfo, admin: AdminClient) -> None:
    admin.faults(latency_ms=300)
    started = time.monotonic()
    assert _graph_get(emulator, admin).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_admin_api_needs_the_admin_token(emulator: EmulatorInfo) -> None:
    with trusting_client(emulator) as http:
        response = http.get(
            f"{emulator.url}{c.ADMIN_PREFIX}/counters", headers={"Authorization": "Bearer wrong"}
        )
    assert response.status_code == 401
    assert "admin_token" in response.json()["error"]


def test_unknown_fault_knob_and_dataset_are_refused(emulator: EmulatorInfo, admin: AdminClient) -> None:
    with trusting_client(emulator, headers={"Authorization": f"Bearer {emulator.admin_token}"}) as http:
        knob = http.post(f"{emulator.url}{c.ADMIN_PREFIX}/faults", json={"throtle_probability": 1})
        dataset = http.post(f"{emulator.url}{c.ADMIN_PREFIX}/reset", json={"dataset": "huge"})
        garbage = http.post(f"{emulator.url}{c.ADMIN_PREFIX}/reset", content=b"[1, 2]")
        lifetime = http.post(f"{emulator.url}{c.ADMIN_PREFIX}/tokens", json={"lifetime": "soon"})
    assert garbage.status_code == 400 and "JSON object" in garbage.json()["error"]
    assert lifetime.status_code == 400 and "whole seconds" in lifetime.json()["error"]
    assert knob.status_code == 400 and "throtle_probability" in knob.json()["error"]
    assert dataset.status_code == 400 and "small, large" in dataset.json()["error"]


def test_counters_record_login_graph_and_exchange(emulator: EmulatorInfo, admin: AdminClient) -> None:
    with trusting_client(emulator) as http:
        http.post(
            f"{emulator.authority}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": emulator.client_id,
                "client_secret": emulator.client_secret,
                "scope": f"{emulator.graph_url}/.default",
            },
        )
        http.get(
            emulator.msi_endpoint,
            params={"resource": emulator.graph_url},
            headers={"X-IDENTITY-HEADER": emulator.msi_header},
        )
    assert _graph_get(emulator, admin).status_code == 200
    counters = admin.counters()
    assert counters["by_route"]["POST login:token"] == 1
    assert counters["by_route"]["GET login:msi"] == 1
    assert counters["by_route"]["GET graph:applications"] == 1
    assert counters["writes"] == 0
    admin.reset_counters()
    assert admin.counters()["total"] == 0


def test_snapshot_covers_every_service_and_keeps_only_secret_hashes(
    emulator: EmulatorInfo, admin: AdminClient
) -> None:
    snapshot = admin.snapshot()
    assert set(snapshot) == {"dataverse", "directory", "exchange"}
    sssctl_app = next(a for a in snapshot["directory"]["applications"] if a["appId"] == emulator.client_id)
    assert len(sssctl_app["secretHashes"]) == 2
    assert emulator.client_secret not in str(snapshot)
    assert sssctl_app["federatedIdentityCredentials"][0]["subject"] == c.FEDERATED_SUBJECT


def test_reset_restores_the_seed(emulator: EmulatorInfo, admin: AdminClient) -> None:
    token = admin.token(emulator.graph_url)
    with trusting_client(emulator, headers={"Authorization": f"Bearer {token}"}) as http:
        assert (
            http.post(f"{emulator.graph_url}/v1.0/applications", json={"displayName": "temp"}).status_code
            == 201
        )
        before = len(http.get(f"{emulator.graph_url}/v1.0/applications").json()["value"])
        admin.reset()
        after = len(http.get(f"{emulator.graph_url}/v1.0/applications").json()["value"])
    assert after == before - 1


def test_device_codes_approve_one_by_user_code(emulator: EmulatorInfo, admin: AdminClient) -> None:
    with trusting_client(emulator) as http:
        flows = [
            http.post(
                f"{emulator.authority}/oauth2/v2.0/devicecode",
                data={"client_id": emulator.client_id, "scope": f"{emulator.graph_url}/.default"},
            ).json()
            for _ in range(2)
        ]
        assert admin.approve_device_codes(flows[0]["user_code"]) == [flows[0]["user_code"]]
        polls = [
            http.post(
                f"{emulator.authority}/oauth2/v2.0/token",
                data={
                    "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                    "client_id": emulator.client_id,
                    "device_code": f["device_code"],
                },
            )
            for f in flows
        ]
    assert [p.status_code for p in polls] == [200, 400]
    assert admin.approve_device_codes() == [flows[1]["user_code"]]


def test_snapshot_can_be_narrowed_to_some_services(emulator: EmulatorInfo, admin: AdminClient) -> None:
    assert set(admin.snapshot("directory", "exchange")) == {"directory", "exchange"}
    with pytest.raises(RuntimeError, match="unknown snapshot service"):
        admin.snapshot("graph")


def test_throttle_faults_carry_the_code_of_the_limit_they_stand_for(
    emulator: EmulatorInfo, admin: AdminClient
) -> None:
    admin.faults(throttle_probability=1.0, fault_seed=1, throttle_mix="requests:1,execution:1,concurrent:1")
    with trusting_client(emulator) as http:
        answers = [http.get(f"{emulator.dataverse_url}/api/data/v9.2/WhoAmI") for _ in range(30)]
    assert {a.status_code for a in answers} == {429}
    codes = {a.json()["error"]["code"] for a in answers}
    assert codes == {"0x80072322", "0x80072321", "0x80072326"}
    by_code = {a.json()["error"]["code"]: a.json()["error"]["message"] for a in answers}
    assert "concurrent requests" in by_code["0x80072326"] and "execution time" in by_code["0x80072321"]
    admin.faults(throttle_mix="execution")
    with trusting_client(emulator) as http:
        only = http.get(f"{emulator.dataverse_url}/api/data/v9.2/WhoAmI")
    assert only.json()["error"]["code"] == "0x80072321"


def test_a_throttle_mix_or_share_that_makes_no_sense_is_refused(emulator: EmulatorInfo) -> None:
    with trusting_client(emulator, headers={"Authorization": f"Bearer {emulator.admin_token}"}) as http:
        mix = http.post(f"{emulator.url}{c.ADMIN_PREFIX}/faults", json={"throttle_mix": "requests,speed"})
        share = http.post(f"{emulator.url}{c.ADMIN_PREFIX}/faults", json={"competing_share": 1.0})
    assert mix.status_code == 400 and "'speed' is not one" in mix.json()["error"]
    assert share.status_code == 400 and "competing_share" in share.json()["error"]
