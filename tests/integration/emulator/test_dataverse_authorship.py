"""Who changed a row and when, people acting through the admin API, and email activities."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sssctl.emulator import constants as c
from sssctl.emulator.admin_client import AdminClient, trusting_client
from sssctl.emulator.info import EmulatorInfo

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture
def admin(emulator: EmulatorInfo, emulator_admin: AdminClient) -> Iterator[AdminClient]:
    emulator_admin.reset()
    yield emulator_admin
    emulator_admin.reset()


def _api(info: EmulatorInfo, admin: AdminClient, method: str, path: str, body: Any = None) -> Any:
    token = admin.token(info.dataverse_url)
    with trusting_client(info, headers={"Authorization": f"Bearer {token}"}) as http:
        response = http.request(method, f"{info.dataverse_url}/api/data/v9.2/{path}", json=body)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def _sssctl_user(info: EmulatorInfo, admin: AdminClient) -> str:
    return str(_api(info, admin, "GET", "WhoAmI")["UserId"])


def _a_user(info: EmulatorInfo, admin: AdminClient) -> dict[str, Any]:
    users = _api(info, admin, "GET", "systemusers?$select=systemuserid,domainname,_defaultmailbox_value"
                                      f"&$filter=domainname eq '{c.user_email(3)}'")["value"]
    return dict(users[0])


def test_a_write_records_the_caller_and_the_time(emulator: EmulatorInfo, admin: AdminClient) -> None:
    user = _a_user(emulator, admin)
    path = f"mailboxes({user['_defaultmailbox_value']})"
    _api(emulator, admin, "PATCH", path, {"incomingemaildeliverymethod": 0})
    row = _api(emulator, admin, "GET", f"{path}?$select=modifiedon,_modifiedby_value,_createdby_value")
    assert row["_modifiedby_value"] == _sssctl_user(emulator, admin)
    assert row["_createdby_value"] != row["_modifiedby_value"]  # seeded by the administrator
    assert row["modifiedon"] > "2020"


def test_a_user_acting_on_their_own_mailbox_is_its_modifier(
    emulator: EmulatorInfo, admin: AdminClient
) -> None:
    user = _a_user(emulator, admin)
    path = f"mailboxes({user['_defaultmailbox_value']})"
    answer = admin.act(user["domainname"], "PATCH", path, {"incomingemaildeliverymethod": 0})
    assert answer["status"] == 204, answer
    row = _api(emulator, admin, "GET", f"{path}?$select=incomingemaildeliverymethod,_modifiedby_value"
                                       "&$expand=modifiedby($select=domainname)")
    assert row["incomingemaildeliverymethod"] == 0
    assert row["_modifiedby_value"] == user["systemuserid"]
    assert row["modifiedby"]["domainname"] == user["domainname"]


def test_acting_uses_the_users_own_privileges(emulator: EmulatorInfo, admin: AdminClient) -> None:
    user, other = _a_user(emulator, admin), _api(
        emulator, admin, "GET", f"systemusers?$select=_defaultmailbox_value&$filter=domainname eq "
                                f"'{c.user_email(4)}'")["value"][0]
    answer = admin.act(user["domainname"], "PATCH", f"mailboxes({other['_defaultmailbox_value']})",
                       {"incomingemaildeliverymethod": 0})
    assert answer["status"] == 403
    assert "prvWriteMailbox" in answer["body"]["error"]["message"]
    unknown = admin.act("nobody@example.com", "GET", "WhoAmI")
    assert unknown["status"] == 403


def test_an_email_with_parties_is_sent_and_shows_in_the_snapshot(
    emulator: EmulatorInfo, admin: AdminClient
) -> None:
    user = _a_user(emulator, admin)
    queue = _api(emulator, admin, "GET", "queues?$select=queueid,emailaddress&$top=1")["value"][0]
    token = admin.token(emulator.dataverse_url)
    with trusting_client(emulator, headers={"Authorization": f"Bearer {token}",
                                            "Prefer": "return=representation"}) as http:
        created = http.post(f"{emulator.dataverse_url}/api/data/v9.2/emails", json={
            "subject": "Your mailbox was reset",
            "description": "Synchronization settings are managed centrally.",
            "email_activity_parties": [
                {"participationtypemask": 1, "partyid_queue@odata.bind": f"/queues({queue['queueid']})"},
                {"participationtypemask": 2,
                 "partyid_systemuser@odata.bind": f"/systemusers({user['systemuserid']})"},
            ],
        })
    assert created.status_code == 201, created.text
    email_id = created.json()["activityid"]
    assert created.json()["statuscode"] == 1  # Draft
    sent = _api(emulator, admin, "POST", f"emails({email_id})/Microsoft.Dynamics.CRM.SendEmail",
                {"IssueSend": True, "TrackingToken": ""})
    assert sent["Subject"] == "Your mailbox was reset"
    row = _api(emulator, admin, "GET", f"emails({email_id})?$select=statuscode,statecode")
    assert (row["statecode"], row["statuscode"]) == (1, 3)
    mail = admin.snapshot("dataverse")["dataverse"]["mail"]
    assert [(m["from"], m["to"], m["subject"]) for m in mail] == [
        (queue["emailaddress"], [user["domainname"]], "Your mailbox was reset")]
    parties = _api(emulator, admin, "GET", f"activityparties?$filter=_activityid_value eq {email_id}")
    assert sorted(p["participationtypemask"] for p in parties["value"]) == [1, 2]


def test_send_email_refuses_a_draft_without_recipients(emulator: EmulatorInfo, admin: AdminClient) -> None:
    token = admin.token(emulator.dataverse_url)
    with trusting_client(emulator, headers={"Authorization": f"Bearer {token}"}) as http:
        created = http.post(f"{emulator.dataverse_url}/api/data/v9.2/emails", json={"subject": "x"})
        email_id = created.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
        refused = http.post(f"{emulator.dataverse_url}/api/data/v9.2/emails({email_id})"
                            "/Microsoft.Dynamics.CRM.SendEmail", json={"IssueSend": True})
    assert refused.status_code == 400
    assert "recipient" in refused.json()["error"]["message"]
