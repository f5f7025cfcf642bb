"""Dataverse requests written as Microsoft Learn shows them, sent raw over HTTPS: several
``Prefer`` lines, ``/$count``, parameter aliases with ``In``, lookup-column filters, the
documented error bodies and ``RetrievePrincipalAccess``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sssctl.emulator import constants as c
from sssctl.emulator.admin_client import AdminClient, trusting_client
from sssctl.emulator.info import EmulatorInfo

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

FULL_RIGHTS = (
    "ReadAccess, WriteAccess, AppendAccess, AppendToAccess, CreateAccess, DeleteAccess, ShareAccess, "
    "AssignAccess"
)


@pytest.fixture
def dv(emulator: EmulatorInfo, emulator_admin: AdminClient) -> Iterator[httpx.Client]:
    emulator_admin.reset()
    token = emulator_admin.token(emulator.dataverse_url)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "OData-Version": "4.0"}
    base_url = f"{emulator.dataverse_url}/api/data/v9.2/"
    with trusting_client(emulator, base_url=base_url, headers=headers) as client:
        yield client
    emulator_admin.reset()


def _values(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return list(response.json()["value"])


def test_every_prefer_line_is_honoured(dv: httpx.Client) -> None:
    response = dv.get(
        "mailboxes",
        params={"$select": "emailaddress", "$count": "true"},
        headers=[
            ("Prefer", 'odata.include-annotations="Microsoft.Dynamics.CRM.totalrecordcount"'),
            ("Prefer", "odata.maxpagesize=3"),
        ],
    )
    body = response.json()
    assert len(body["value"]) == 3 and "@odata.nextLink" in body
    assert body["@Microsoft.Dynamics.CRM.totalrecordcount"] == body["@odata.count"] == 30
    applied = response.headers["Preference-Applied"]
    assert "odata.maxpagesize=3" in applied and "totalrecordcount" in applied


def test_count_segment_returns_the_bare_number_as_text(dv: httpx.Client) -> None:
    everything = dv.get("mailboxes/$count")
    assert everything.status_code == 200
    assert everything.headers["Content-Type"].startswith("text/plain")
    assert everything.text == "30"
    queues = dv.get("mailboxes/$count", params={"$filter": "startswith(emailaddress,'queue')"})
    assert queues.text == str(len(_values(dv.get("queues", params={"$select": "name"}))))


def test_in_with_parameter_aliases_and_double_quoted_values(dv: httpx.Client) -> None:
    wanted = [c.user_email(1), c.user_email(2)]
    response = dv.get(
        "mailboxes",
        params={
            "$select": "emailaddress",
            "$filter": "Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)",
            "@p1": "'emailaddress'",
            "@p2": '["' + '","'.join(wanted) + '"]',
        },
    )
    assert sorted(m["emailaddress"] for m in _values(response)) == sorted(wanted)
    inline = dv.get(
        "mailboxes",
        params={
            "$select": "emailaddress",
            "$filter": "Microsoft.Dynamics.CRM.In(PropertyName='emailaddress',"
            f'PropertyValues=["{wanted[0]}"])',
        },
    )
    assert [m["emailaddress"] for m in _values(inline)] == [wanted[0]]


def test_an_alias_without_a_value_is_refused(dv: httpx.Client) -> None:
    response = dv.get("mailboxes", params={"$filter": "emailaddress eq @missing"})
    assert response.status_code == 400
    assert "'@missing' has no value" in response.json()["error"]["message"]


def test_filter_on_a_lookup_columns_property(dv: httpx.Client) -> None:
    on_default = dv.get(
        "mailboxes",
        params={
            "$select": "_emailserverprofile_value",
            "$filter": f"emailserverprofile/name eq '{c.DEFAULT_PROFILE_NAME}'",
        },
    )
    assert {m["_emailserverprofile_value"] for m in _values(on_default)} == {c.DEFAULT_PROFILE_ID}
    by_id = dv.get(
        "mailboxes",
        params={"$select": "emailaddress", "$filter": f"_emailserverprofile_value eq {c.DEFAULT_PROFILE_ID}"},
    )
    assert len(_values(on_default)) == len(_values(by_id))
    unknown = dv.get("mailboxes", params={"$filter": "emailserverprofile/nosuch eq 'x'"})
    assert unknown.status_code == 400
    assert "'nosuch' on type 'Microsoft.Dynamics.CRM.emailserverprofile'" in unknown.text


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code", "message"),
    [
        ("GET", "Account", None, 404, "0x8006088a", "Resource not found for the segment 'Account'."),
        (
            "GET",
            "mailboxes?$select=Name",
            None,
            400,
            "0x0",
            "Could not find a property named 'Name' on type 'Microsoft.Dynamics.CRM.mailbox'.",
        ),
        (
            "POST",
            "emailserverprofiles",
            {"Name": "x"},
            400,
            "0x0",
            "Invalid property 'Name' was found in entity 'Microsoft.Dynamics.CRM.emailserverprofile'.",
        ),
        ("POST", "WhoAmI", None, 404, "", "No HTTP resource was found that matches the request URI "),
    ],
)
def test_client_errors_as_the_troubleshooting_page_shows(
    dv: httpx.Client, method: str, path: str, body: Any, status: int, code: str, message: str
) -> None:
    response = dv.request(method, path, json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and message in error["message"]


def _access(dv: httpx.Client, user_id: str, reference: str) -> str:
    response = dv.get(
        f"systemusers({user_id})/Microsoft.Dynamics.CRM.RetrievePrincipalAccess(Target=@tid)",
        params={"@tid": f"{{'@odata.id':'{reference}'}}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["@odata.context"].endswith("RetrievePrincipalAccessResponse")
    return str(response.json()["AccessRights"])


def test_retrieve_principal_access_follows_the_users_roles(dv: httpx.Client) -> None:
    mailbox = _values(dv.get("mailboxes", params={"$select": "emailaddress", "$top": "1"}))[0]["mailboxid"]
    profile = f"emailserverprofiles({c.DEFAULT_PROFILE_ID})"
    assert _access(dv, c.SSSCTL_APP_USER_ID, f"mailboxes({mailbox})") == FULL_RIGHTS
    # "Contoso Mailbox Operator": read everything, write mailboxes only.
    assert _access(dv, c.LIMITED_APP_USER_ID, f"mailboxes({mailbox})") == "ReadAccess, WriteAccess"
    assert _access(dv, c.LIMITED_APP_USER_ID, profile) == "ReadAccess"


def test_retrieve_principal_access_is_a_function_not_an_action(dv: httpx.Client) -> None:
    response = dv.post(
        f"systemusers({c.LIMITED_APP_USER_ID})/Microsoft.Dynamics.CRM.RetrievePrincipalAccess(Target=@tid)",
        params={"@tid": f"{{'@odata.id':'emailserverprofiles({c.DEFAULT_PROFILE_ID})'}}"},
    )
    assert response.status_code == 404
    assert response.json()["error"]["message"].startswith("No HTTP resource was found")
