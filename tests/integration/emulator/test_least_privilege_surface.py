"""What a least-privilege identity may and may not do on the emulator, as Microsoft documents it.

* Graph ``Application.ReadWrite.OwnedBy``: create apps (the caller becomes owner), manage
  only those; never consent (``AppRoleAssignment.ReadWrite.All``).
* Exchange: an app with ``Exchange.ManageAsApp`` and no administrator role runs only the
  cmdlets of the management roles assigned to its service principal pointer.
* Dataverse: an application user is non-interactive (access mode 4).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sssctl.emulator import constants as c
from sssctl.emulator.admin_client import AdminClient, trusting_client
from sssctl.emulator.directory import GRAPH_ROLES, GRAPH_SP_OBJECT_ID, LIMITED_SP_OBJECT_ID
from sssctl.emulator.info import EmulatorInfo

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def _client(
    info: EmulatorInfo, admin: AdminClient, audience: str, client_id: str | None = None
) -> httpx.Client:
    token = admin.token(audience, client_id=client_id)
    return trusting_client(info, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def owned_by(emulator: EmulatorInfo, emulator_admin: AdminClient) -> Iterator[httpx.Client]:
    """The limited app holding Application.Read.All and Application.ReadWrite.OwnedBy only."""
    emulator_admin.reset()
    with _client(emulator, emulator_admin, emulator.graph_url) as admin_graph:
        for role in ("Application.Read.All", "Application.ReadWrite.OwnedBy"):
            response = admin_graph.post(
                f"{emulator.graph_url}/v1.0/servicePrincipals/{GRAPH_SP_OBJECT_ID}/appRoleAssignedTo",
                json={"principalId": LIMITED_SP_OBJECT_ID, "resourceId": GRAPH_SP_OBJECT_ID,
                      "appRoleId": GRAPH_ROLES[role]})
            assert response.status_code == 201, response.text
    with _client(emulator, emulator_admin, emulator.graph_url, c.LIMITED_APP_ID) as graph:
        yield graph
    emulator_admin.reset()


def test_owned_by_creates_and_manages_its_own_apps_only(
    emulator: EmulatorInfo, emulator_admin: AdminClient, owned_by: httpx.Client
) -> None:
    base = f"{emulator.graph_url}/v1.0"
    created = owned_by.patch(f"{base}/applications(uniqueName='mine')", json={"displayName": "mine"},
                             headers={"Prefer": "create-if-missing"})
    assert created.status_code == 201, created.text
    app = created.json()
    assert owned_by.post(f"{base}/applications/{app['id']}/addPassword", json={}).status_code == 200
    assert owned_by.post(f"{base}/servicePrincipals", json={"appId": app["appId"]}).status_code == 201
    fic = {"name": "gh", "issuer": "https://token.actions.githubusercontent.com",
           "subject": "repo:contoso/sss:environment:production", "audiences": ["api://AzureADTokenExchange"]}
    assert owned_by.post(f"{base}/applications/{app['id']}/federatedIdentityCredentials",
                         json=fic).status_code == 201
    owners = [a["owners"] for a in emulator_admin.snapshot("directory")["directory"]["applications"]
              if a["id"] == app["id"]]
    assert owners == [[LIMITED_SP_OBJECT_ID]]

    other = owned_by.post(f"{base}/applications/{c.SSSCTL_APP_OBJECT_ID}/addPassword", json={})
    assert other.status_code == 403 and other.json()["error"]["code"] == "Authorization_RequestDenied"
    consent = owned_by.post(
        f"{base}/servicePrincipals/{GRAPH_SP_OBJECT_ID}/appRoleAssignedTo",
        json={"principalId": LIMITED_SP_OBJECT_ID, "resourceId": GRAPH_SP_OBJECT_ID,
              "appRoleId": GRAPH_ROLES["AppRoleAssignment.ReadWrite.All"]})
    assert consent.status_code == 403


def _invoke(http: httpx.Client, url: str, cmdlet: str, **parameters: Any) -> httpx.Response:
    return http.post(url, json={"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}})


def test_exchange_custom_role_allows_exactly_its_cmdlets(
    emulator: EmulatorInfo, emulator_admin: AdminClient
) -> None:
    emulator_admin.reset()
    url = f"{emulator.exchange_url}/adminapi/beta/{c.TENANT_ID}/InvokeCommand"
    with _client(emulator, emulator_admin, emulator.graph_url) as admin_graph:
        exchange_sp = admin_graph.get(f"{emulator.graph_url}/v1.0/servicePrincipals(appId="
                                      f"'{c.EXCHANGE_RESOURCE_APP_ID}')").json()
        role_id = next(r["id"] for r in exchange_sp["appRoles"] if r["value"] == "Exchange.ManageAsApp")
        admin_graph.post(f"{emulator.graph_url}/v1.0/servicePrincipals/{exchange_sp['id']}/appRoleAssignedTo",
                         json={"principalId": LIMITED_SP_OBJECT_ID, "resourceId": exchange_sp["id"],
                               "appRoleId": role_id}).raise_for_status()
    with _client(emulator, emulator_admin, emulator.exchange_url) as admin_shell:
        for cmdlet, parameters in (
            ("New-ManagementRole", {"Name": "sssctl plan", "Parent": "Organization Configuration"}),
            ("Remove-ManagementRoleEntry", {"Identity": "sssctl plan\\New-ApplicationAccessPolicy"}),
            ("New-ServicePrincipal", {"AppId": c.LIMITED_APP_ID, "ObjectId": LIMITED_SP_OBJECT_ID}),
            ("New-ManagementRoleAssignment", {"App": c.LIMITED_APP_ID, "Role": "sssctl plan"}),
        ):
            response = _invoke(admin_shell, url, cmdlet, **parameters)
            assert response.status_code == 200, response.text
        built_in = _invoke(admin_shell, url, "Remove-ManagementRoleEntry",
                           Identity="Organization Configuration\\Get-ApplicationAccessPolicy")
        assert built_in.status_code == 400
    with _client(emulator, emulator_admin, emulator.exchange_url, c.LIMITED_APP_ID) as shell:
        assert _invoke(shell, url, "Get-ApplicationAccessPolicy").status_code == 200
        refused = _invoke(shell, url, "New-ApplicationAccessPolicy", AppId=c.LIMITED_APP_ID,
                          PolicyScopeGroupId="sss-mailboxes@contoso.com", AccessRight="RestrictAccess")
        assert refused.status_code == 400 and "is not recognized" in refused.json()["error"]["message"]
    assert emulator_admin.snapshot("exchange")["exchange"]["applicationAccessPolicies"] == []


def test_an_application_user_is_non_interactive(emulator: EmulatorInfo, emulator_admin: AdminClient) -> None:
    emulator_admin.reset()
    api = f"{emulator.dataverse_url}/api/data/v9.2"
    with _client(emulator, emulator_admin, emulator.dataverse_url) as dataverse:
        body = {"applicationid": "7d4a6b8c-2e3f-4a5b-8c7d-9e0f1a2b3c4d", "lastname": "plan", "accessmode": 0}
        created = dataverse.post(f"{api}/systemusers", json=body, headers={"Prefer": "return=representation"})
        assert created.status_code == 201, created.text
        assert created.json()["accessmode"] == 4
