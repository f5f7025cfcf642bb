"""Microsoft Graph v1.0 on the emulator: the app-registration surface sssctl manages."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sssctl.emulator import constants as c
from sssctl.emulator.admin_client import AdminClient, trusting_client
from sssctl.emulator.directory import EXCHANGE_ROLES, EXCHANGE_SP_OBJECT_ID
from sssctl.emulator.info import EmulatorInfo

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

FULL_ACCESS = EXCHANGE_ROLES["full_access_as_app"]


def _upsert(graph: httpx.Client, name: str, **body: Any) -> httpx.Response:
    return graph.patch(
        f"/applications(uniqueName='{name}')",
        json={"displayName": name, **body},
        headers={"Prefer": "create-if-missing"},
    )


def test_upsert_creates_then_updates_by_unique_name(graph: httpx.Client) -> None:
    created = _upsert(graph, "sss-prod")
    assert created.status_code == 201
    app = created.json()
    assert app["uniqueName"] == "sss-prod" and app["passwordCredentials"] == []
    again = _upsert(graph, "sss-prod", signInAudience="AzureADMyOrg", notes="second")
    assert again.status_code == 204 and again.content == b""
    read = graph.get(f"/applications/{app['id']}").json()
    assert read["notes"] == "second"
    by_app_id = graph.get(f"/applications(appId='{app['appId']}')")
    assert by_app_id.json()["id"] == app["id"]


def test_patch_without_create_header_on_missing_app_is_404(graph: httpx.Client) -> None:
    response = graph.patch("/applications(uniqueName='nope')", json={"displayName": "nope"})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "Request_ResourceNotFound"
    assert set(error["innerError"]) >= {"request-id", "date"}


def test_unknown_property_is_refused(graph: httpx.Client) -> None:
    response = _upsert(graph, "typo", displayNmae="x")
    assert response.status_code == 400


def test_filter_select_and_paging(graph: httpx.Client) -> None:
    for n in range(5):
        assert graph.post("/applications", json={"displayName": f"paged {n}"}).status_code == 201
    found = graph.get(
        "/applications", params={"$filter": "displayName eq 'paged 3'", "$select": "id,displayName"}
    )
    assert [set(a) for a in found.json()["value"]] == [{"id", "displayName"}]
    seen: list[str] = []
    url: str | None = "/applications?$top=2"
    pages = 0
    while url:
        body = graph.get(url).json()
        seen += [a["displayName"] for a in body["value"]]
        url = body.get("@odata.nextLink")
        pages += 1
    assert pages >= 4 and len(seen) == len(set(seen)) and {f"paged {n}" for n in range(5)} <= set(seen)
    assert graph.get("/applications?$top=1000").status_code == 400


def test_add_password_shows_secret_text_once(graph: httpx.Client, emulator_admin: AdminClient) -> None:
    app = _upsert(graph, "secrets").json()
    added = graph.post(
        f"/applications/{app['id']}/addPassword", json={"passwordCredential": {"displayName": "s1"}}
    )
    assert added.status_code == 200
    credential = added.json()
    text = credential["secretText"]
    assert 16 <= len(text) <= 64 and credential["hint"] == text[:3]
    assert credential["endDateTime"][:4] == str(int(credential["startDateTime"][:4]) + 2)
    listed = graph.get(f"/applications/{app['id']}").json()["passwordCredentials"]
    assert [(p["keyId"], p["secretText"], p["hint"]) for p in listed] == [
        (credential["keyId"], None, text[:3])
    ]
    assert text not in str(emulator_admin.snapshot())

    removed = graph.post(f"/applications/{app['id']}/removePassword", json={"keyId": credential["keyId"]})
    assert removed.status_code == 204
    assert graph.get(f"/applications/{app['id']}").json()["passwordCredentials"] == []


def test_secret_from_add_password_signs_in_once_the_app_has_a_service_principal(
    graph: httpx.Client, emulator: EmulatorInfo
) -> None:
    app = _upsert(graph, "signs-in").json()
    text = graph.post(f"/applications/{app['id']}/addPassword", json={}).json()["secretText"]
    form = {
        "grant_type": "client_credentials",
        "client_id": app["appId"],
        "client_secret": text,
        "scope": f"{emulator.exchange_url}/.default",
    }
    with trusting_client(emulator) as http:
        without_sp = http.post(f"{emulator.authority}/oauth2/v2.0/token", data=form)
        sp = graph.post("/servicePrincipals", json={"appId": app["appId"]}).json()
        with_sp = http.post(f"{emulator.authority}/oauth2/v2.0/token", data=form)
        assert (
            graph.patch(f"/servicePrincipals/{sp['id']}", json={"accountEnabled": False}).status_code == 204
        )
        disabled = http.post(f"{emulator.authority}/oauth2/v2.0/token", data=form)
    assert without_sp.json()["error_codes"] == [7000229]
    assert with_sp.status_code == 200, with_sp.text
    assert disabled.json()["error_codes"] == [7000112]


def test_key_credentials_are_replaced_and_key_shown_only_on_select(
    graph: httpx.Client, emulator: EmulatorInfo
) -> None:
    app = _upsert(graph, "certs").json()
    pem = Path(emulator.client_certificate_file).read_bytes()
    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    key = base64.b64encode(der).decode()
    body = {"keyCredentials": [{"type": "AsymmetricX509Cert", "usage": "Verify", "key": key}]}
    assert graph.patch(f"/applications/{app['id']}", json=body).status_code == 204
    plain = graph.get(f"/applications/{app['id']}").json()["keyCredentials"]
    assert len(plain) == 1 and plain[0]["key"] is None and plain[0]["customKeyIdentifier"]
    selected = graph.get(f"/applications/{app['id']}", params={"$select": "keyCredentials"}).json()
    assert selected["keyCredentials"][0]["key"] == key
    assert graph.patch(f"/applications/{app['id']}", json={"keyCredentials": []}).status_code == 204
    assert graph.get(f"/applications/{app['id']}").json()["keyCredentials"] == []


def test_federated_credentials_have_unique_names(graph: httpx.Client) -> None:
    app = _upsert(graph, "fic").json()
    fic = {
        "name": "gh-main",
        "issuer": "https://token.actions.githubusercontent.com",
        "subject": "repo:o/r:ref:refs/heads/main",
        "audiences": ["api://AzureADTokenExchange"],
    }
    path = f"/applications/{app['id']}/federatedIdentityCredentials"
    assert graph.post(path, json=fic).status_code == 201
    assert graph.post(path, json=fic).status_code == 409
    listed = graph.get(path).json()["value"]
    assert [f["name"] for f in listed] == ["gh-main"]
    assert graph.delete(f"{path}/{listed[0]['id']}").status_code == 204
    assert graph.get(path).json()["value"] == []


def test_service_principal_create_duplicate_and_lookup(graph: httpx.Client) -> None:
    app = _upsert(graph, "sp").json()
    created = graph.post("/servicePrincipals", json={"appId": app["appId"]})
    assert created.status_code == 201
    duplicate = graph.post("/servicePrincipals", json={"appId": app["appId"]})
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "Request_MultipleObjectsWithSameKeyValue"
    by_app = graph.get(f"/servicePrincipals(appId='{app['appId']}')").json()
    assert by_app["id"] == created.json()["id"]
    filtered = graph.get("/servicePrincipals", params={"$filter": f"appId eq '{app['appId']}'"}).json()
    assert [s["id"] for s in filtered["value"]] == [by_app["id"]]


def test_exchange_resource_exposes_its_app_roles(graph: httpx.Client) -> None:
    exo = graph.get(
        f"/servicePrincipals(appId='{c.EXCHANGE_RESOURCE_APP_ID}')",
        params={"$select": "id,appId,displayName,appRoles"},
    ).json()
    assert exo["displayName"] == "Office 365 Exchange Online"
    assert {r["value"]: r["id"] for r in exo["appRoles"]}["full_access_as_app"] == FULL_ACCESS


def _client_sp(graph: httpx.Client, name: str) -> dict[str, Any]:
    app = _upsert(graph, name).json()
    return dict(graph.post("/servicePrincipals", json={"appId": app["appId"]}).json())


def test_app_role_assignment_duplicate_unknown_and_delete(
    graph: httpx.Client, emulator: EmulatorInfo, emulator_admin: AdminClient
) -> None:
    sp = _client_sp(graph, "consent")
    body = {"principalId": sp["id"], "resourceId": EXCHANGE_SP_OBJECT_ID, "appRoleId": FULL_ACCESS}
    path = f"/servicePrincipals/{EXCHANGE_SP_OBJECT_ID}/appRoleAssignedTo"
    created = graph.post(path, json=body)
    assert created.status_code == 201
    assert created.json()["resourceDisplayName"] == "Office 365 Exchange Online"
    duplicate = graph.post(path, json=body)
    assert duplicate.status_code == 400
    assert duplicate.json()["error"]["message"] == "Permission being assigned already exists on the object."
    unknown = graph.post(path, json={**body, "appRoleId": "11111111-2222-3333-4444-555555555555"})
    assert unknown.json()["error"]["message"] == "Permission being assigned was not found on application."

    mine = graph.get(f"/servicePrincipals/{sp['id']}/appRoleAssignments").json()["value"]
    assert [a["appRoleId"] for a in mine] == [FULL_ACCESS]
    secret = graph.post(f"/applications(appId='{sp['appId']}')/addPassword", json={}).json()["secretText"]
    with trusting_client(emulator) as http:
        token = http.post(
            f"{emulator.authority}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": sp["appId"],
                "client_secret": secret,
                "scope": f"{emulator.exchange_url}/.default",
            },
        ).json()["access_token"]
    import jwt

    assert jwt.decode(token, options={"verify_signature": False})["roles"] == ["full_access_as_app"]
    assert graph.delete(f"{path}/{created.json()['id']}").status_code == 204
    assert graph.get(f"/servicePrincipals/{sp['id']}/appRoleAssignments").json()["value"] == []
    counters = emulator_admin.counters()["by_route"]
    assert counters["POST graph:servicePrincipals/appRoleAssignedTo"] == 3
    assert counters["DELETE graph:servicePrincipals/appRoleAssignedTo"] == 1


def test_replication_delay_hides_new_objects_for_n_requests(
    graph: httpx.Client, emulator_admin: AdminClient
) -> None:
    emulator_admin.faults(replication_delay=2)
    app = _upsert(graph, "slow").json()
    early = graph.post("/servicePrincipals", json={"appId": app["appId"]})
    assert early.status_code == 400
    error = early.json()["error"]
    assert error["message"] == (
        f"The appId '{app['appId']}' of the service principal does not reference a valid application object."
    )
    assert error["details"][0]["code"] == "NoBackingApplicationObject"
    assert graph.get(f"/applications/{app['id']}").status_code == 404
    assert graph.get(f"/applications/{app['id']}").status_code == 200

    sp = graph.post("/servicePrincipals", json={"appId": app["appId"]}).json()
    assign = graph.post(
        f"/servicePrincipals/{EXCHANGE_SP_OBJECT_ID}/appRoleAssignedTo",
        json={"principalId": sp["id"], "resourceId": EXCHANGE_SP_OBJECT_ID, "appRoleId": FULL_ACCESS},
    )
    assert assign.status_code == 400
    assert "Not a valid reference update" in assign.json()["error"]["message"]


def test_delete_application_removes_its_service_principal(graph: httpx.Client) -> None:
    sp = _client_sp(graph, "gone")
    app = graph.get(f"/applications(appId='{sp['appId']}')").json()
    assert graph.delete(f"/applications/{app['id']}").status_code == 204
    assert graph.get(f"/servicePrincipals/{sp['id']}").status_code == 404


def test_limited_app_is_denied(emulator: EmulatorInfo, emulator_admin: AdminClient) -> None:
    token = emulator_admin.token(emulator.graph_url, client_id=c.LIMITED_APP_ID)
    with trusting_client(emulator, headers={"Authorization": f"Bearer {token}"}) as http:
        response = http.get(f"{emulator.graph_url}/v1.0/applications")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "Authorization_RequestDenied"


def test_throttle_fault_sends_fractional_retry_after(
    graph: httpx.Client, emulator_admin: AdminClient
) -> None:
    emulator_admin.faults(throttle_probability=1.0, retry_after_seconds=1.5)
    response = graph.get("/applications")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1.5"
    assert response.json()["error"]["code"] == "TooManyRequests"
    emulator_admin.clear_faults()
    assert emulator_admin.counters()["throttled"] == 1
    assert graph.get("/applications").status_code == 200


def test_alternate_key_with_a_quote_is_unescaped(graph: httpx.Client) -> None:
    created = graph.patch(
        "/applications(uniqueName='o''brien')",
        json={"displayName": "x"},
        headers={"Prefer": "create-if-missing"},
    )
    assert created.status_code == 201
    assert created.json()["uniqueName"] == "o'brien"
    assert graph.get("/applications(uniqueName='o''brien')").status_code == 200


def test_required_resource_access_is_replaced_wholesale(graph: httpx.Client) -> None:
    app = _upsert(graph, "rra").json()
    first = [
        {"resourceAppId": c.EXCHANGE_RESOURCE_APP_ID, "resourceAccess": [{"id": FULL_ACCESS, "type": "Role"}]}
    ]
    assert (
        graph.patch(f"/applications/{app['id']}", json={"requiredResourceAccess": first}).status_code == 204
    )
    assert graph.get(f"/applications/{app['id']}").json()["requiredResourceAccess"] == first
    assert graph.patch(f"/applications/{app['id']}", json={"requiredResourceAccess": []}).status_code == 204
    assert graph.get(f"/applications/{app['id']}").json()["requiredResourceAccess"] == []


def test_deleting_a_service_principal_drops_its_assignments(graph: httpx.Client) -> None:
    sp = _client_sp(graph, "drop")
    path = f"/servicePrincipals(appId='{c.EXCHANGE_RESOURCE_APP_ID}')/appRoleAssignedTo"
    body = {"principalId": sp["id"], "resourceId": EXCHANGE_SP_OBJECT_ID, "appRoleId": FULL_ACCESS}
    assert graph.post(path, json=body).status_code == 201
    assert graph.patch(f"/servicePrincipals/{sp['id']}", json={"tags": ["sssctl"]}).status_code == 204
    assert graph.get(f"/servicePrincipals/{sp['id']}", params={"$select": "tags"}).json()["tags"] == [
        "sssctl"
    ]
    assert graph.delete(f"/servicePrincipals/{sp['id']}").status_code == 204
    remaining = graph.get(path).json()["value"]
    assert sp["id"] not in {a["principalId"] for a in remaining}


def test_password_credential_patch_is_refused(graph: httpx.Client) -> None:
    app = _upsert(graph, "nopatch").json()
    response = graph.patch(f"/applications/{app['id']}", json={"passwordCredentials": []})
    assert response.status_code == 400
    assert "addPassword" in response.json()["error"]["message"]


def test_expired_certificate_credential_no_longer_signs_in(
    graph: httpx.Client, emulator: EmulatorInfo
) -> None:
    import msal

    from .msal_helpers import certificate_credential, msal_http

    app = _upsert(graph, "old-cert").json()
    graph.post("/servicePrincipals", json={"appId": app["appId"]})
    pem = Path(emulator.client_certificate_file).read_bytes()
    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    key = {"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.b64encode(der).decode()}
    scopes = [f"{emulator.graph_url}/.default"]
    results = []
    for end in (None, "2020-01-01T00:00:00Z"):
        sent = {**key, "endDateTime": end} if end else key
        assert graph.patch(f"/applications/{app['id']}", json={"keyCredentials": [sent]}).status_code == 204
        cca = msal.ConfidentialClientApplication(
            app["appId"],
            client_credential=certificate_credential(emulator),
            authority=emulator.authority,
            instance_discovery=False,
            http_client=msal_http(emulator),
        )
        results.append(cca.acquire_token_for_client(scopes))
    assert "access_token" in results[0], results[0]
    assert results[1]["error_codes"] == [700027]
    assert "expired" in results[1]["error_description"]


@pytest.mark.parametrize(
    "body",
    [
        {"signInAudience": "Everyone"},
        {"requiredResourceAccess": [{"resourceAppId": c.EXCHANGE_RESOURCE_APP_ID}]},
        {
            "requiredResourceAccess": [
                {"resourceAppId": "x", "resourceAccess": [{"id": "y", "type": "Roles"}]}
            ]
        },
    ],
)
def test_malformed_application_fields_are_refused(graph: httpx.Client, body: dict[str, Any]) -> None:
    assert _upsert(graph, "bad", **body).status_code == 400


def test_create_accepts_an_empty_password_list(graph: httpx.Client) -> None:
    assert (
        graph.post("/applications", json={"displayName": "empty", "passwordCredentials": []}).status_code
        == 201
    )
