"""Microsoft's own Dataverse SDK (PowerPlatform-Dataverse-Client) against the emulator, unchanged.

The SDK was written for real Dataverse and nobody in this project wrote it: if it pages,
resolves metadata, converts option labels, writes and batches correctly here, the emulator
speaks the protocol rather than an in-house dialect of it.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from typing import Any

import httpx
import msal
import pytest
from azure.core.credentials import AccessToken
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.core.errors import HttpError

from sssctl.emulator import constants as c
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


class MsalCredential:
    """The azure-core TokenCredential shape, backed by a real MSAL client-credentials sign-in."""

    def __init__(self, info: EmulatorInfo) -> None:
        http = httpx.Client(verify=ssl.create_default_context(cafile=info.ca_file), timeout=10)
        self.app = msal.ConfidentialClientApplication(
            info.client_id,
            client_credential=info.client_secret,
            authority=info.authority,
            instance_discovery=False,
            http_client=http,
        )
        self.scopes_asked: set[str] = set()

    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.scopes_asked.update(scopes)
        result = self.app.acquire_token_for_client(scopes=list(scopes))
        return AccessToken(result["access_token"], int(time.time()) + int(result["expires_in"]))


@pytest.fixture
def sdk(
    emulator: EmulatorInfo, emulator_admin: AdminClient, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[DataverseClient, MsalCredential]]:
    emulator_admin.reset()
    emulator_admin.clear_faults()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_file)  # the SDK speaks through requests
    credential = MsalCredential(emulator)
    with DataverseClient(emulator.dataverse_url, credential) as client:
        yield client, credential
    emulator_admin.reset()


def test_sdk_pages_through_mailboxes_following_next_links(
    sdk: tuple[DataverseClient, MsalCredential], emulator: EmulatorInfo
) -> None:
    client, credential = sdk
    pages = [
        list(page)
        for page in client.records.list_pages(
            "mailbox", select=["emailaddress", "_emailserverprofile_value"], page_size=7
        )
    ]
    assert [len(page) for page in pages] == [7, 7, 7, 7, 2]
    addresses = {record["emailaddress"] for page in pages for record in page}
    assert c.user_email(1) in addresses and c.queue_email(5) in addresses
    assert credential.scopes_asked == {f"{emulator.dataverse_url}/.default"}


def test_sdk_filters_on_a_lookup_and_reads_one_record(sdk: tuple[DataverseClient, MsalCredential]) -> None:
    client, _ = sdk
    on_default = list(
        client.records.list(
            "mailbox", select=["mailboxid"], filter=f"_emailserverprofile_value eq {c.DEFAULT_PROFILE_ID}"
        )
    )
    assert 0 < len(on_default) < 30
    one = client.records.retrieve("mailbox", on_default[0]["mailboxid"], select=["name", "emailaddress"])
    assert one["emailaddress"].endswith("@contoso.com")


def test_sdk_creates_updates_and_deletes_with_option_labels(
    sdk: tuple[DataverseClient, MsalCredential], emulator_admin: AdminClient
) -> None:
    client, _ = sdk
    profile_id = client.records.create(
        "emailserverprofile",
        {"name": "Contoso IMAP", "servertype": "IMAP/SMTP", "oauthclientsecret": "hidden-1"},
    )
    stored = {
        r["emailserverprofileid"]: r
        for r in emulator_admin.snapshot()["dataverse"]["tables"]["emailserverprofile"]
    }
    assert stored[profile_id]["servertype"] == 4 and stored[profile_id]["isoauthclientsecretset"] is True
    client.records.update("emailserverprofile", profile_id, {"description": "changed by the SDK"})
    read = client.records.retrieve("emailserverprofile", profile_id, select=["description"])
    assert read["description"] == "changed by the SDK"
    with pytest.raises(HttpError) as refused:
        client.records.update("emailserverprofile", profile_id, {"servertype": 42})
    assert refused.value.status_code == 400
    client.records.delete("emailserverprofile", profile_id)
    assert client.records.retrieve("emailserverprofile", profile_id) is None  # the SDK's reading of 404
    with pytest.raises(HttpError) as gone:  # the SDK updates with If-Match: *, so no upsert
        client.records.update("emailserverprofile", profile_id, {"description": "again"})
    assert gone.value.status_code == 404


def test_sdk_batch_change_set_with_content_id_reference(sdk: tuple[DataverseClient, MsalCredential]) -> None:
    client, _ = sdk
    batch = client.batch.new()
    with batch.changeset() as changeset:
        reference = changeset.records.create("emailserverprofile", {"name": "Batch profile"})
        changeset.records.update("emailserverprofile", reference, {"description": "via $batch"})
    result = batch.execute()
    assert not result.has_errors, [r.error_message for r in result.failed]
    created, updated = result.responses
    assert created.status_code == updated.status_code == 204
    assert created.entity_id and updated.entity_id == created.entity_id
    read = client.records.retrieve("emailserverprofile", str(created.entity_id), select=["description"])
    assert read["description"] == "via $batch"


def test_sdk_batch_failure_rolls_back_and_reports_the_error(
    sdk: tuple[DataverseClient, MsalCredential],
) -> None:
    client, _ = sdk
    batch = client.batch.new()
    with batch.changeset() as changeset:
        changeset.records.create("emailserverprofile", {"name": "Never kept"})
        changeset.records.create("emailserverprofile", {"name": "Bad", "servertype": 99})
    result = batch.execute(continue_on_error=True)
    assert result.has_errors
    assert any(r.error_code == "0x80044331" for r in result.failed)
    kept = [
        r for page in client.records.list("emailserverprofile", filter="name eq 'Never kept'") for r in page
    ]
    assert kept == []
