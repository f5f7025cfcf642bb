"""Whatever a client sends, the emulator answers with a 4xx in the service's own shape,
never a 500: a server error would send a client's retry logic down the wrong path."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sssctl.emulator import constants as c
from sssctl.emulator.admin_client import AdminClient, trusting_client
from sssctl.emulator.info import EmulatorInfo

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def http(emulator: EmulatorInfo, emulator_admin: AdminClient) -> Iterator[httpx.Client]:
    emulator_admin.reset()
    with trusting_client(emulator, timeout=10) as client:
        yield client
    emulator_admin.reset()


@pytest.fixture(scope="module")
def tokens(emulator: EmulatorInfo, emulator_admin: AdminClient) -> dict[str, str]:
    return {
        "graph": emulator_admin.token(emulator.graph_url),
        "exchange": emulator_admin.token(emulator.exchange_url),
    }


@SETTINGS
@given(
    form=st.dictionaries(
        st.sampled_from(
            [
                "grant_type",
                "client_id",
                "client_secret",
                "scope",
                "resource",
                "client_assertion",
                "client_assertion_type",
                "device_code",
                "refresh_token",
            ]
        ),
        st.text(max_size=40),
        max_size=6,
    )
)
def test_token_endpoint_never_fails_with_a_server_error(
    http: httpx.Client, emulator: EmulatorInfo, form: dict[str, str]
) -> None:
    response = http.post(f"{emulator.authority}/oauth2/v2.0/token", data=form)
    assert response.status_code in {200, 400, 401}
    if response.status_code != 200:
        assert response.json()["error"]


@SETTINGS
@given(
    method=st.sampled_from(["POST", "PATCH"]),
    path=st.sampled_from(
        [
            "applications",
            "applications(uniqueName='fuzz')",
            "servicePrincipals",
            f"servicePrincipals(appId='{c.EXCHANGE_RESOURCE_APP_ID}')/appRoleAssignedTo",
            f"applications(appId='{c.SSSCTL_APP_ID}')/federatedIdentityCredentials",
            f"applications(appId='{c.SSSCTL_APP_ID}')/addPassword",
            f"applications(appId='{c.SSSCTL_APP_ID}')/removePassword",
        ]
    ),
    body=json_values
    | st.dictionaries(
        st.sampled_from(
            [
                "displayName",
                "keyCredentials",
                "requiredResourceAccess",
                "signInAudience",
                "tags",
                "appId",
                "principalId",
                "resourceId",
                "appRoleId",
                "name",
                "issuer",
                "subject",
                "audiences",
                "uniqueName",
                "passwordCredentials",
                "keyId",
                "passwordCredential",
            ]
        ),
        json_values,
        max_size=5,
    ),
)
def test_graph_answers_bad_bodies_with_a_graph_error(
    http: httpx.Client, emulator: EmulatorInfo, tokens: dict[str, str], method: str, path: str, body: object
) -> None:
    response = http.request(
        method,
        f"{emulator.graph_url}/v1.0/{path}",
        content=json.dumps(body),
        headers={"Authorization": f"Bearer {tokens['graph']}", "Content-Type": "application/json"},
    )
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["error"]["code"]


@SETTINGS
@given(
    name=st.sampled_from(
        [
            "New-ApplicationAccessPolicy",
            "Get-ApplicationAccessPolicy",
            "Set-ApplicationAccessPolicy",
            "Remove-ApplicationAccessPolicy",
            "Test-ApplicationAccessPolicy",
            "Get-DistributionGroupMember",
        ]
    ),
    parameters=json_values
    | st.dictionaries(
        st.sampled_from(["AppId", "PolicyScopeGroupId", "AccessRight", "Identity", "Description"]),
        json_values,
        max_size=4,
    ),
)
def test_exchange_answers_bad_parameters_with_a_cmdlet_error(
    http: httpx.Client, emulator: EmulatorInfo, tokens: dict[str, str], name: str, parameters: object
) -> None:
    body = {"CmdletInput": {"CmdletName": name, "Parameters": parameters}}
    response = http.post(
        f"{emulator.exchange_url}/adminapi/beta/{c.TENANT_ID}/InvokeCommand",
        json=body,
        headers={"Authorization": f"Bearer {tokens['exchange']}"},
    )
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert re.match(r"^(Ex[0-9A-F]+)?\|[\w.]+\|", response.json()["error"]["details"][0]["message"])
