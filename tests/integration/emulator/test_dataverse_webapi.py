"""Dataverse Web API v9.2 on the emulator, over HTTPS with tokens from a real MSAL sign-in."""

from __future__ import annotations

import re
import ssl
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import msal
import pytest

from sssctl.emulator import constants as c
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

APPROVE = "prvApproveRejectEmailAddress"


def _token(info: EmulatorInfo, client_id: str, secret: str) -> str:
    http = httpx.Client(verify=ssl.create_default_context(cafile=info.ca_file), timeout=10)
    app = msal.ConfidentialClientApplication(
        client_id,
        client_credential=secret,
        authority=info.authority,
        instance_discovery=False,
        http_client=http,
    )
    result = app.acquire_token_for_client(scopes=[f"{info.dataverse_url}/.default"])
    assert "access_token" in result, result
    return str(result["access_token"])


def _client(info: EmulatorInfo, token: str) -> httpx.Client:
    return httpx.Client(
        verify=ssl.create_default_context(cafile=info.ca_file),
        base_url=f"{info.dataverse_url}/api/data/v9.2/",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json", "OData-Version": "4.0"},
        timeout=60,
    )


@pytest.fixture(scope="module")
def tokens(emulator: EmulatorInfo) -> dict[str, str]:
    return {
        "sssctl": _token(emulator, emulator.client_id, emulator.client_secret),
        "limited": _token(emulator, c.LIMITED_APP_ID, c.LIMITED_APP_SECRET),
    }


@pytest.fixture
def dv(emulator: EmulatorInfo, emulator_admin: AdminClient, tokens: dict[str, str]) -> Iterator[httpx.Client]:
    emulator_admin.reset()
    emulator_admin.clear_faults()
    with _client(emulator, tokens["sssctl"]) as client:
        yield client
    emulator_admin.reset()


@pytest.fixture
def limited(emulator: EmulatorInfo, tokens: dict[str, str], dv: httpx.Client) -> Iterator[httpx.Client]:
    with _client(emulator, tokens["limited"]) as client:
        yield client


def _one(client: httpx.Client, url: str) -> dict[str, Any]:
    response = client.get(url)
    assert response.status_code == 200, response.text
    values: list[dict[str, Any]] = response.json()["value"]
    assert values, url
    return values[0]


def _error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


def _privilege_id(client: httpx.Client, name: str) -> str:
    return str(_one(client, f"privileges?$select=privilegeid&$filter=name eq '{name}'")["privilegeid"])


def _root_role(client: httpx.Client, name: str) -> dict[str, Any]:
    return _one(client, f"roles?$filter=name eq '{name}' and _parentroleid_value eq null")


# -- protocol basics ----------------------------------------------------------------------


def test_request_without_token_gets_the_dataverse_challenge(emulator: EmulatorInfo, dv: httpx.Client) -> None:
    response = dv.get("WhoAmI", headers={"Authorization": ""})
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge == (
        f"Bearer authorization_uri={emulator.login_url}/{c.TENANT_ID}/oauth2/authorize, "
        f"resource_id={emulator.dataverse_url}/"
    )


def test_whoami_answers_in_the_documented_property_order(dv: httpx.Client) -> None:
    response = dv.get("WhoAmI")
    assert response.status_code == 200
    assert re.fullmatch(
        r'\{"@odata\.context":"[^"]+\$metadata#Microsoft\.Dynamics\.CRM\.WhoAmIResponse",'
        r'"BusinessUnitId":"[0-9a-f-]{36}","UserId":"[0-9a-f-]{36}","OrganizationId":"[0-9a-f-]{36}"\}',
        response.text,
    )
    assert response.json()["UserId"] == c.SSSCTL_APP_USER_ID
    assert response.json()["OrganizationId"] == c.ORGANIZATION_ID
    assert response.headers["REQ_ID"]
    assert int(response.headers["x-ms-ratelimit-burst-remaining-xrm-requests"]) > 0


def test_unknown_entity_set_and_unknown_record(dv: httpx.Client) -> None:
    response = dv.get("mailboxez")
    assert response.status_code == 404
    assert _error(response) == {
        "code": "0x8006088a",
        "message": "Resource not found for the segment 'mailboxez'.",
    }
    missing = str(uuid.uuid4())
    response = dv.get(f"mailboxes({missing})")
    assert response.status_code == 404
    assert _error(response) == {
        "code": "0x80040217",
        "message": f"mailbox With Id = {missing} Does Not Exist",
    }


def test_select_of_unknown_column_and_skip_are_refused(dv: httpx.Client) -> None:
    response = dv.get("mailboxes?$select=name,nosuchcolumn")
    assert response.status_code == 400
    assert _error(response)["code"] == "0x0"
    assert "'nosuchcolumn' on type 'Microsoft.Dynamics.CRM.mailbox'" in _error(response)["message"]
    response = dv.get("mailboxes?$skip=10")
    assert response.status_code == 400
    assert "$skip" in _error(response)["message"]


def test_write_only_secret_is_never_returned(dv: httpx.Client) -> None:
    profile_id = str(uuid.uuid4())
    response = dv.patch(
        f"emailserverprofiles({profile_id})",
        json={
            "name": "Contoso EXO (own app)",
            "oauthclientid": c.SSSCTL_APP_ID,
            "oauthclientsecret": "s3cr3t-value",
        },
        headers={"Prefer": "return=representation"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert "oauthclientsecret" not in body and body["isoauthclientsecretset"] is True
    assert "s3cr3t-value" not in dv.get(f"emailserverprofiles({profile_id})").text
    assert dv.get(f"emailserverprofiles({profile_id})?$select=oauthclientsecret").status_code == 400


# -- paging ------------------------------------------------------------------------------------


@pytest.mark.timeout(180)
def test_paging_through_twelve_thousand_mailboxes_with_next_link(
    dv: httpx.Client, emulator_admin: AdminClient
) -> None:
    emulator_admin.reset(dataset="large", mailboxes=12_000, business_units=8, roles=20)
    url: str | None = "mailboxes?$select=mailboxid,emailaddress&$filter=statecode eq 0&$count=true"
    seen: list[str] = []
    pages = 0
    while url:
        prefer = 'odata.maxpagesize=5000,odata.include-annotations="Microsoft.Dynamics.CRM.*"'
        response = dv.get(url, headers={"Prefer": prefer})
        assert response.status_code == 200, response.text
        assert response.headers["Preference-Applied"].startswith("odata.maxpagesize=5000")
        body = response.json()
        assert body["@odata.count"] == 5000  # the count stops at 5000, as documented
        assert body["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] is True
        assert len(body["value"]) <= 5000
        seen += [row["mailboxid"] for row in body["value"]]
        url = body.get("@odata.nextLink")
        pages += 1
        if url:
            assert url.startswith("https://") and "$skiptoken=" in url
    assert pages == 3
    assert len(seen) == len(set(seen)) == 12_000


def test_page_size_is_capped_and_top_ignored_with_maxpagesize(dv: httpx.Client) -> None:
    response = dv.get("mailboxes?$select=name&$top=3", headers={"Prefer": "odata.maxpagesize=10"})
    body = response.json()
    assert len(body["value"]) == 10 and "@odata.nextLink" in body
    response = dv.get("mailboxes?$select=name&$top=3")
    assert len(response.json()["value"]) == 3 and "@odata.nextLink" not in response.json()
    response = dv.get("mailboxes?$select=name", headers={"Prefer": "odata.maxpagesize=9000"})
    assert response.headers["Preference-Applied"] == "odata.maxpagesize=5000"


def test_next_link_pages_stay_stable_when_rows_change_between_pages(dv: httpx.Client) -> None:
    first = dv.get(
        "mailboxes?$select=emailaddress&$orderby=emailaddress desc", headers={"Prefer": "odata.maxpagesize=7"}
    )
    page1 = first.json()
    dv.delete(f"mailboxes({page1['value'][0]['mailboxid']})")
    rest: list[str] = []
    url = page1.get("@odata.nextLink")
    while url:
        body = dv.get(url, headers={"Prefer": "odata.maxpagesize=7"}).json()
        rest += [row["emailaddress"] for row in body["value"]]
        url = body.get("@odata.nextLink")
    addresses = [row["emailaddress"] for row in page1["value"]] + rest
    assert len(addresses) == 30 and addresses == sorted(addresses, reverse=True)


# -- filters -----------------------------------------------------------------------------------


def test_filter_on_a_lookup_value(dv: httpx.Client, emulator_admin: AdminClient) -> None:
    snapshot = emulator_admin.snapshot()["dataverse"]["tables"]["mailbox"]
    expected = {m["mailboxid"] for m in snapshot if m["_emailserverprofile_value"] != c.DEFAULT_PROFILE_ID}
    response = dv.get(
        f"mailboxes?$select=mailboxid&$filter=_emailserverprofile_value ne {c.DEFAULT_PROFILE_ID}"
        " and statecode eq 0"
    )
    assert response.status_code == 200, response.text
    assert {m["mailboxid"] for m in response.json()["value"]} == expected
    assert expected
    response = dv.get("mailboxes?$filter=_emailserverprofile_value eq 'not-a-guid'")
    assert response.status_code == 400
    response = dv.get("mailboxes?$filter=(incomingemaildeliverymethod eq 2 and nosuch eq 1")
    assert response.status_code == 400


def test_annotations_name_the_regarding_table(dv: httpx.Client) -> None:
    response = dv.get(
        "mailboxes?$select=_regardingobjectid_value,emailaddress&$filter=startswith(emailaddress,'queue')",
        headers={"Prefer": 'odata.include-annotations="*"'},
    )
    rows = response.json()["value"]
    assert len(rows) == 5
    assert all(
        r["_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "queue" for r in rows
    )


# -- writes and concurrency ---------------------------------------------------------------


def test_stale_if_match_is_412_and_current_one_succeeds(dv: httpx.Client) -> None:
    mailbox = _one(dv, "mailboxes?$select=mailboxid,versionnumber&$top=1")
    etag = mailbox["@odata.etag"]
    assert etag == f'W/"{mailbox["versionnumber"]}"'
    url = f"mailboxes({mailbox['mailboxid']})"
    assert dv.patch(url, json={"actdeliverymethod": 2}, headers={"If-Match": etag}).status_code == 204
    stale = dv.patch(url, json={"actdeliverymethod": 1}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert _error(stale)["code"] == "0x80060882"


def test_if_none_match_gives_304_until_the_record_changes(dv: httpx.Client) -> None:
    mailbox = _one(dv, "mailboxes?$select=mailboxid&$top=1")
    url = f"mailboxes({mailbox['mailboxid']})?$select=name"
    assert dv.get(url, headers={"If-None-Match": mailbox["@odata.etag"]}).status_code == 304
    dv.patch(f"mailboxes({mailbox['mailboxid']})", json={"name": "renamed"})
    changed = dv.get(url, headers={"If-None-Match": mailbox["@odata.etag"]})
    assert changed.status_code == 200 and changed.json()["name"] == "renamed"


def test_patch_upserts_unless_if_match_star_and_if_none_match_star_refuses_update(dv: httpx.Client) -> None:
    new_id = str(uuid.uuid4())
    url = f"emailserverprofiles({new_id})"
    refused = dv.patch(url, json={"name": "x"}, headers={"If-Match": "*"})
    assert refused.status_code == 404
    created = dv.patch(url, json={"name": "Contoso upsert"})
    assert created.status_code == 204
    assert created.headers["OData-EntityId"].endswith(f"/api/data/v9.2/emailserverprofiles({new_id})")
    again = dv.patch(url, json={"name": "y"}, headers={"If-None-Match": "*"})
    assert again.status_code == 412 and _error(again)["code"] == "0x80040237"


def test_read_only_column_is_refused(dv: httpx.Client) -> None:
    mailbox = _one(dv, "mailboxes?$select=mailboxid&$top=1")
    url = f"mailboxes({mailbox['mailboxid']})"
    for body in ({"mailboxstatus": 1}, {"isforwardmailbox": True}, {"versionnumber": 5}):
        response = dv.patch(url, json=body)
        assert response.status_code == 400, body
    response = dv.patch(url, json={"_emailserverprofile_value": c.DEFAULT_PROFILE_ID})
    assert response.status_code == 400 and "Navigation properties" in _error(response)["message"]
    response = dv.patch(url, json={"incomingemaildeliverymethod": 7})
    assert response.status_code == 400 and _error(response)["code"] == "0x80044331"


def test_bind_writes_a_lookup(dv: httpx.Client) -> None:
    mailbox = _one(
        dv, f"mailboxes?$select=mailboxid&$filter=_emailserverprofile_value eq {c.DEFAULT_PROFILE_ID}"
    )
    legacy = _one(dv, "emailserverprofiles?$filter=statecode eq 1")["emailserverprofileid"]
    url = f"mailboxes({mailbox['mailboxid']})"
    response = dv.patch(url, json={"emailserverprofile@odata.bind": f"/emailserverprofiles({legacy})"})
    assert response.status_code == 204
    assert dv.get(f"{url}?$select=_emailserverprofile_value").json()["_emailserverprofile_value"] == legacy


def test_profile_state_pairs_and_test_and_enable(dv: httpx.Client) -> None:
    url = f"emailserverprofiles({c.DEFAULT_PROFILE_ID})"
    assert dv.patch(url, json={"statecode": 1, "statuscode": 1}).status_code == 400
    assert dv.patch(url, json={"statecode": 1, "statuscode": 2}).status_code == 204
    mailbox = _one(dv, f"mailboxes?$filter=_emailserverprofile_value eq {c.DEFAULT_PROFILE_ID}")
    mailbox_url = f"mailboxes({mailbox['mailboxid']})"
    assert dv.patch(mailbox_url, json={"testemailconfigurationscheduled": True}).status_code == 204
    failed = dv.get(mailbox_url).json()
    assert failed["mailboxstatus"] == 2 and failed["testemailconfigurationscheduled"] is False
    assert dv.patch(url, json={"statecode": 0, "statuscode": 1}).status_code == 204
    dv.patch(mailbox_url, json={"testemailconfigurationscheduled": True, "incomingemaildeliverymethod": 2})
    passed = dv.get(mailbox_url).json()
    assert passed["mailboxstatus"] == 1 and passed["incomingemailstatus"] == 1
    assert passed["enabledforincomingemail"] is True and passed["testmailboxaccesscompletedon"]


# -- organization settings -------------------------------------------------------------------


def test_orgdborgsettings_merge_keeps_other_elements_byte_identical(dv: httpx.Client) -> None:
    url = f"organizations({c.ORGANIZATION_ID})"
    before = dv.get(f"{url}?$select=orgdborgsettings").json()["orgdborgsettings"]
    written = (
        "<OrgSettings><RequirePrivilegeToSelfApproveEmailAddress>True</RequirePrivilegeToSelfApproveEmailAddress>"
        "<SSSForceFilteringMethodForUserMailboxes>3</SSSForceFilteringMethodForUserMailboxes></OrgSettings>"
    )
    assert dv.patch(url, json={"orgdborgsettings": written}).status_code == 204
    after = dv.get(f"{url}?$select=orgdborgsettings").json()["orgdborgsettings"]
    assert after == before.replace(
        "<SSSForceFilteringMethodForUserMailboxes>-1</SSSForceFilteringMethodForUserMailboxes></OrgSettings>",
        "<SSSForceFilteringMethodForUserMailboxes>3</SSSForceFilteringMethodForUserMailboxes>"
        "<RequirePrivilegeToSelfApproveEmailAddress>True</RequirePrivilegeToSelfApproveEmailAddress>"
        "</OrgSettings>",
    )
    assert "<EnableActivitiesFeatures>1</EnableActivitiesFeatures>" in after
    assert dv.patch(url, json={"orgdborgsettings": ""}).status_code == 204
    assert dv.get(f"{url}?$select=orgdborgsettings").json()["orgdborgsettings"] == ""
    assert dv.patch(url, json={"orgdborgsettings": "<OrgSettings><Broken></OrgSettings>"}).status_code == 400


# -- privileges --------------------------------------------------------------------------------


def test_limited_app_cannot_approve_or_write_the_organization(
    limited: httpx.Client, dv: httpx.Client
) -> None:
    mailbox = _one(
        limited,
        "mailboxes?$select=mailboxid"
        "&$filter=emailrouteraccessapproval eq 2 and startswith(emailaddress,'user')",
    )
    url = f"mailboxes({mailbox['mailboxid']})"
    assert limited.patch(url, json={"actdeliverymethod": 2}).status_code == 204
    refused = limited.patch(url, json={"emailrouteraccessapproval": 1})
    assert refused.status_code == 403
    assert _error(refused)["code"] == "0x80040220"
    assert f"is missing {APPROVE} privilege" in _error(refused)["message"]
    org = limited.patch(f"organizations({c.ORGANIZATION_ID})", json={"requireapprovalforuseremail": True})
    assert org.status_code == 403 and "prvWriteOrganization" in _error(org)["message"]
    approved = dv.patch(url, json={"emailrouteraccessapproval": 1})
    assert approved.status_code == 204
    regarding = dv.get(f"{url}?$select=_regardingobjectid_value").json()["_regardingobjectid_value"]
    owner = dv.get(f"systemusers({regarding})?$select=emailrouteraccessapproval").json()
    assert owner["emailrouteraccessapproval"] == 1


# -- roles -------------------------------------------------------------------------------------


def test_role_privilege_actions_propagate_and_inherited_copies_refuse(dv: httpx.Client) -> None:
    approve_id = _privilege_id(dv, APPROVE)
    root = _root_role(dv, "Sales Manager")
    assert root["_parentrootroleid_value"] == root["roleid"]
    held = dv.get(f"RetrieveRolePrivilegesRole(RoleId={root['roleid']})").json()["RolePrivileges"]
    assert {"PrivilegeId": approve_id, "Depth": "Global"}.items() <= next(
        p for p in held if p["PrivilegeId"] == approve_id
    ).items()
    copy = _one(
        dv, f"roles?$filter=_parentrootroleid_value eq {root['roleid']} and _parentroleid_value ne null"
    )
    action = "Microsoft.Dynamics.CRM.RemovePrivilegeRole"
    refused = dv.post(f"roles({copy['roleid']})/{action}", json={"Privilege": {"privilegeid": approve_id}})
    assert refused.status_code == 400 and _error(refused)["code"] == "0x80040227"
    wrong_shape = dv.post(f"roles({root['roleid']})/{action}", json={"PrivilegeId": approve_id})
    assert wrong_shape.status_code == 400
    body = {"Privilege": {"@odata.type": "Microsoft.Dynamics.CRM.privilege", "privilegeid": approve_id}}
    assert dv.post(f"roles({root['roleid']})/{action}", json=body).status_code == 204
    names = {p["name"] for p in dv.get(f"roles({copy['roleid']})/roleprivileges_association").json()["value"]}
    assert APPROVE not in names and "prvReadAccount" in names
    add = {"Privileges": [{"PrivilegeId": approve_id, "Depth": "3"}]}
    assert (
        dv.post(f"roles({root['roleid']})/Microsoft.Dynamics.CRM.AddPrivilegesRole", json=add).status_code
        == 204
    )
    copy_view = dv.get(f"RetrieveRolePrivilegesRole(RoleId={copy['roleid']})").json()["RolePrivileges"]
    assert any(p["PrivilegeId"] == approve_id and p["Depth"] == "Global" for p in copy_view)
    assert dv.patch(f"roles({copy['roleid']})", json={"name": "Renamed"}).status_code == 400


def test_roles_expand_their_privileges(dv: httpx.Client) -> None:
    role = _root_role(dv, "Delegated Mailbox Approver")
    response = dv.get(
        f"roles({role['roleid']})?$select=name&$expand=roleprivileges_association($select=name)"
    )
    assert response.status_code == 200, response.text
    names = {p["name"] for p in response.json()["roleprivileges_association"]}
    assert APPROVE in names


# -- $batch --------------------------------------------------------------------------------------


def _batch(parts: list[str], boundary: str = "batch_1") -> str:
    return "".join(f"--{boundary}\r\n{part}\r\n" for part in parts) + f"--{boundary}--\r\n"


def _changeset(operations: list[str], boundary: str = "changeset_1") -> str:
    inner = "".join(f"--{boundary}\r\n{op}\r\n" for op in operations) + f"--{boundary}--"
    return f"Content-Type: multipart/mixed; boundary={boundary}\r\n\r\n{inner}"


def _op(method: str, url: str, body: dict[str, Any] | None = None, content_id: int | None = None) -> str:
    cid = f"Content-ID: {content_id}\r\n" if content_id is not None else ""
    text = "" if body is None else __import__("json").dumps(body)
    return (
        f"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n{cid}\r\n"
        f"{method} /api/data/v9.2/{url} HTTP/1.1\r\nContent-Type: application/json; type=entry\r\n\r\n{text}"
    )


def _post_batch(dv: httpx.Client, body: str, **headers: str) -> httpx.Response:
    return dv.post(
        "$batch",
        content=body.encode(),
        headers={"Content-Type": 'multipart/mixed; boundary="batch_1"', **headers},
    )


def test_batch_change_set_rolls_back_on_failure(dv: httpx.Client, emulator_admin: AdminClient) -> None:
    mailbox = _one(dv, "mailboxes?$select=mailboxid,name&$top=1")
    body = _batch(
        [
            _changeset(
                [
                    _op("PATCH", f"mailboxes({mailbox['mailboxid']})", {"name": "changed in batch"}),
                    _op("PATCH", f"mailboxes({mailbox['mailboxid']})", {"mailboxstatus": 1}),
                ]
            )
        ]
    )
    emulator_admin.reset_counters()
    response = _post_batch(dv, body)
    assert response.status_code == 400
    assert "HTTP/1.1 400 Bad Request" in response.text
    assert dv.get(f"mailboxes({mailbox['mailboxid']})?$select=name").json()["name"] == mailbox["name"]
    routes = emulator_admin.counters()["by_route"]
    assert routes["POST dataverse:$batch"] == 1 and routes["PATCH dataverse:mailboxes"] == 2


def test_batch_content_id_references_and_continue_on_error(dv: httpx.Client) -> None:
    profile = {"name": "Batch created profile"}
    body = _batch(
        [
            _changeset(
                [
                    _op("POST", "emailserverprofiles", profile, content_id=1),
                    _op("PATCH", "$1", {"description": "patched through $1"}, content_id=2),
                ]
            ),
            _op("GET", "nosuchset"),
            _op("GET", "WhoAmI"),
        ]
    )
    response = _post_batch(dv, body, Prefer="odata.continue-on-error")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("multipart/mixed; boundary=batchresponse_")
    assert "changesetresponse_" in response.text
    assert response.text.count("HTTP/1.1 204 No Content") == 2
    assert "HTTP/1.1 404 Not Found" in response.text and "WhoAmIResponse" in response.text
    created = _one(dv, "emailserverprofiles?$filter=name eq 'Batch created profile'")
    assert created["description"] == "patched through $1"
    stopped = _post_batch(dv, _batch([_op("GET", "nosuchset"), _op("GET", "WhoAmI")]))
    assert stopped.status_code == 404 and "WhoAmIResponse" not in stopped.text


def test_batch_refuses_more_than_1000_requests_and_get_in_change_set(dv: httpx.Client) -> None:
    too_many = _batch([_op("GET", "WhoAmI") for _ in range(1001)])
    response = _post_batch(dv, too_many)
    assert response.status_code == 400 and "1000" in _error(response)["message"]
    response = _post_batch(dv, _batch([_changeset([_op("GET", "WhoAmI")])]))
    assert response.status_code == 400 and "change set" in response.text


# -- service protection ----------------------------------------------------------------------


def test_request_limit_answers_429_with_retry_after(dv: httpx.Client, emulator_admin: AdminClient) -> None:
    emulator_admin.faults(limit_requests=5, limit_window_seconds=30)
    try:
        statuses = [dv.get("WhoAmI") for _ in range(7)]
        assert [r.status_code for r in statuses[:5]] == [200] * 5
        throttled = statuses[5]
        assert throttled.status_code == 429
        assert _error(throttled)["code"] == "0x80072322"
        assert 1 <= int(throttled.headers["Retry-After"]) <= 30
        assert emulator_admin.counters()["throttled"] >= 2
    finally:
        emulator_admin.faults(limit_requests=6000, limit_window_seconds=300)


# -- concurrency -------------------------------------------------------------------------------


def test_parallel_writes_with_one_etag_let_exactly_one_through(dv: httpx.Client) -> None:
    mailbox = _one(dv, "mailboxes?$select=mailboxid&$top=1")
    url = f"mailboxes({mailbox['mailboxid']})"
    etag = mailbox["@odata.etag"]

    def write(n: int) -> int:
        response = dv.patch(url, json={"name": f"writer {n}"}, headers={"If-Match": etag})
        return response.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(write, range(8)))
    assert statuses == [204] + [412] * 7


def test_concurrency_limit_answers_429_at_once(dv: httpx.Client, emulator_admin: AdminClient) -> None:
    emulator_admin.faults(limit_concurrent=2, batch_operation_ms=300)
    body = _batch([_op("GET", "WhoAmI")])
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            responses = list(pool.map(lambda _: _post_batch(dv, body), range(4)))
    finally:
        emulator_admin.faults(limit_concurrent=52, batch_operation_ms=0)
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) >= 1 and 429 in statuses
    throttled = next(r for r in responses if r.status_code == 429)
    assert _error(throttled)["code"] == "0x80072326" and throttled.headers["Retry-After"]


def test_fifty_two_requests_are_served_at_once(dv: httpx.Client, emulator_admin: AdminClient) -> None:
    """Dataverse admits 52 concurrent requests per user; the emulator's worker pool must not
    be the narrower limit, and the 53rd is refused by the service protection limit."""
    emulator_admin.faults(request_operation_ms=1500)
    barrier = threading.Barrier(53)

    def who_am_i(_: int) -> int:
        barrier.wait(timeout=30)
        return dv.get("WhoAmI").status_code

    try:
        with ThreadPoolExecutor(max_workers=53) as pool:
            statuses = sorted(pool.map(who_am_i, range(53)))
    finally:
        emulator_admin.faults(request_operation_ms=0)
    assert statuses.count(200) == 52 and statuses.count(429) == 1
