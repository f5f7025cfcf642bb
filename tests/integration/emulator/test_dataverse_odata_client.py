"""A generic OData v4 client (python-odata) reflects the emulator's ``$metadata`` and works with it.

python-odata knows nothing about Dataverse: it builds its entity classes from the CSDL
document, so this proves the metadata describes the tables as the service serves them.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import msal
import pytest
import requests
from odata import ODataService

from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def service(
    emulator: EmulatorInfo, emulator_admin: AdminClient, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    emulator_admin.reset()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_file)  # python-odata speaks through requests
    http = httpx.Client(verify=ssl.create_default_context(cafile=emulator.ca_file), timeout=10)
    app = msal.ConfidentialClientApplication(
        emulator.client_id,
        client_credential=emulator.client_secret,
        authority=emulator.authority,
        instance_discovery=False,
        http_client=http,
    )
    token = app.acquire_token_for_client(scopes=[f"{emulator.dataverse_url}/.default"])["access_token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    yield ODataService(f"{emulator.dataverse_url}/api/data/v9.2/", session=session, reflect_entities=True)
    session.close()
    emulator_admin.reset()


def test_metadata_reflects_every_entity_set(service: Any) -> None:
    assert {"mailboxes", "emailserverprofiles", "organizations", "roles", "privileges", "systemusers",
            "queues", "businessunits", "usersettingscollection"} <= set(service.entities)  # fmt: skip


def test_query_save_and_navigate_with_reflected_classes(service: Any) -> None:
    mailbox_class = service.entities["mailboxes"]
    found = service.query(mailbox_class).filter(mailbox_class.incomingemaildeliverymethod == 2).limit(3).all()
    assert len(found) == 3 and all(m.incomingemaildeliverymethod == 2 for m in found)
    mailbox = found[0]
    mailbox.name = "renamed by a generic client"
    service.save(mailbox)
    again = service.query(mailbox_class).filter(mailbox_class.name == "renamed by a generic client").first()
    assert again.mailboxid == mailbox.mailboxid
    role_class = service.entities["roles"]
    role = service.query(role_class).filter(role_class.name == "Delegated Mailbox Approver").first()
    names = {p.name for p in role.roleprivileges_association}
    assert "prvApproveRejectEmailAddress" in names
