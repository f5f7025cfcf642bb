"""Microsoft's own Graph SDK (msgraph-sdk, with an azure-identity credential) against the
emulator, unchanged.

The SDK sends what real clients send: ``@odata.type`` in every body, alternate-key URLs, its
own paging and error parsing. Only its base URL, the login authority and the trusted CA point
at the emulator.
"""

from __future__ import annotations

import asyncio
import ssl
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from azure.identity.aio import ClientSecretCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphServiceClient
from msgraph.generated.applications.applications_request_builder import ApplicationsRequestBuilder
from msgraph.generated.applications.item.add_password.add_password_post_request_body import (
    AddPasswordPostRequestBody,
)
from msgraph.generated.applications.item.remove_password.remove_password_post_request_body import (
    RemovePasswordPostRequestBody,
)
from msgraph.generated.models.app_role_assignment import AppRoleAssignment
from msgraph.generated.models.application import Application
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_credential import PasswordCredential
from msgraph.generated.models.service_principal import ServicePrincipal
from msgraph.generated.models.user import User
from msgraph.generated.service_principals.service_principals_request_builder import (
    ServicePrincipalsRequestBuilder,
)
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph_core import GraphClientFactory

from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.directory import EXCHANGE_ROLES, EXCHANGE_SP_OBJECT_ID, SSS_GROUP_ID, SSS_GROUP_MEMBERS
from sssctl.emulator.info import EmulatorInfo

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(120),
    # The SDK's generated builders warn about their own legacy configuration classes.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:msgraph"),
]

GraphCall = Callable[[GraphServiceClient], Awaitable[Any]]
RunSdk = Callable[[GraphCall], Any]


@pytest.fixture
def run_sdk(emulator: EmulatorInfo, emulator_admin: AdminClient) -> Iterator[RunSdk]:
    """Runs a coroutine against a freshly built SDK client (kiota clients are bound to one loop)."""
    emulator_admin.reset()
    emulator_admin.clear_faults()

    async def with_client(call: GraphCall) -> Any:
        credential = ClientSecretCredential(
            emulator.tenant_id,
            emulator.client_id,
            emulator.client_secret,
            authority=emulator.login_url,
            connection_verify=emulator.ca_file,
            # azure-identity's documented switch for an authority outside Microsoft's list.
            disable_instance_discovery=True,
        )
        auth = AzureIdentityAuthenticationProvider(
            credential, scopes=[f"{emulator.graph_url}/.default"], allowed_hosts=["127.0.0.1"]
        )
        trust = ssl.create_default_context(cafile=emulator.ca_file)
        async with httpx.AsyncClient(verify=trust, timeout=10) as http:
            middleware = GraphClientFactory.create_with_default_middleware(client=http)
            adapter = GraphRequestAdapter(auth, middleware)
            adapter.base_url = f"{emulator.graph_url}/v1.0"
            try:
                return await call(GraphServiceClient(request_adapter=adapter))
            finally:
                await credential.close()

    yield lambda call: asyncio.run(with_client(call))
    emulator_admin.reset()


def _create_if_missing() -> RequestConfiguration[None]:
    config: RequestConfiguration[None] = RequestConfiguration()
    config.headers.add("Prefer", "create-if-missing")
    return config


def test_sdk_creates_reads_by_app_id_with_select_and_updates(run_sdk: RunSdk) -> None:
    async def scenario(graph: GraphServiceClient) -> tuple[Any, ...]:
        created = await graph.applications.post(Application(display_name="sdk-app"))
        assert created is not None and created.app_id is not None
        await graph.applications.by_application_id(str(created.id)).patch(Application(notes="patched"))
        query = ApplicationsRequestBuilder.ApplicationsRequestBuilderGetQueryParameters(
            select=["id", "notes"]
        )
        config = RequestConfiguration(query_parameters=query)
        read = await graph.applications_with_app_id(created.app_id).get(request_configuration=config)
        return created, read

    created, read = run_sdk(scenario)
    assert read is not None and created is not None
    assert read.id == created.id and read.notes == "patched"
    assert read.display_name is None  # not selected


def test_sdk_upserts_an_application_by_unique_name(run_sdk: RunSdk) -> None:
    async def scenario(graph: GraphServiceClient) -> tuple[Any, ...]:
        by_name = graph.applications_with_unique_name("sdk-upsert")
        first = await by_name.patch(Application(display_name="sdk-upsert"), _create_if_missing())
        second = await by_name.patch(Application(display_name="sdk-upsert", notes="v2"), _create_if_missing())
        return first, second, await by_name.get()

    first, second, read = run_sdk(scenario)
    assert first is not None and first.unique_name == "sdk-upsert"  # 201 with the new object
    assert second is None  # 204: updated in place
    assert read is not None and read.id == first.id and read.notes == "v2"


def test_sdk_adds_and_removes_a_password(run_sdk: RunSdk) -> None:
    async def scenario(graph: GraphServiceClient) -> tuple[Any, ...]:
        app = await graph.applications.post(Application(display_name="sdk-secrets"))
        assert app is not None and app.id is not None
        item = graph.applications.by_application_id(app.id)
        added = await item.add_password.post(
            AddPasswordPostRequestBody(password_credential=PasswordCredential(display_name="ci"))
        )
        assert added is not None and added.key_id is not None
        listed = await item.get()
        assert listed is not None and [p.key_id for p in listed.password_credentials or []] == [added.key_id]
        await item.remove_password.post(RemovePasswordPostRequestBody(key_id=added.key_id))
        return added, await item.get()

    added, after = run_sdk(scenario)
    assert added is not None and added.secret_text and added.hint == added.secret_text[:3]
    assert after is not None and after.password_credentials == []


def test_sdk_creates_lists_and_upserts_service_principals(run_sdk: RunSdk) -> None:
    async def scenario(graph: GraphServiceClient) -> tuple[Any, ...]:
        first = await graph.applications.post(Application(display_name="sdk-sp-1"))
        second = await graph.applications.post(Application(display_name="sdk-sp-2"))
        assert first is not None and second is not None and first.app_id and second.app_id
        created = await graph.service_principals.post(ServicePrincipal(app_id=first.app_id))
        assert created is not None
        query = ServicePrincipalsRequestBuilder.ServicePrincipalsRequestBuilderGetQueryParameters(
            filter=f"appId eq '{first.app_id}'"
        )
        listed = await graph.service_principals.get(RequestConfiguration(query_parameters=query))
        assert listed is not None
        upserted = await graph.service_principals_with_app_id(second.app_id).patch(
            ServicePrincipal(notes="created by upsert"), _create_if_missing()
        )
        read = await graph.service_principals_with_app_id(second.app_id).get()
        return str(created.id), [str(sp.id) for sp in listed.value or []], upserted, read

    created_id, listed_ids, upserted, read = run_sdk(scenario)
    assert listed_ids == [created_id]
    assert upserted is not None and upserted.notes == "created by upsert"
    assert read is not None and read.id == upserted.id


def test_sdk_grants_and_lists_app_role_assignments(run_sdk: RunSdk) -> None:
    role = uuid.UUID(EXCHANGE_ROLES["Exchange.ManageAsApp"])

    async def scenario(graph: GraphServiceClient) -> tuple[Any, ...]:
        app = await graph.applications.post(Application(display_name="sdk-consent"))
        assert app is not None and app.app_id
        sp = await graph.service_principals.post(ServicePrincipal(app_id=app.app_id))
        assert sp is not None and sp.id
        granted = await graph.service_principals.by_service_principal_id(
            EXCHANGE_SP_OBJECT_ID
        ).app_role_assigned_to.post(
            AppRoleAssignment(
                principal_id=uuid.UUID(sp.id), resource_id=uuid.UUID(EXCHANGE_SP_OBJECT_ID), app_role_id=role
            )
        )
        held = await graph.service_principals.by_service_principal_id(sp.id).app_role_assignments.get()
        assert held is not None
        return granted, [a.app_role_id for a in held.value or []]

    granted, held_roles = run_sdk(scenario)
    assert granted is not None and granted.app_role_id == role
    assert held_roles == [role]


def test_sdk_pages_through_applications_by_next_link(run_sdk: RunSdk) -> None:
    async def scenario(graph: GraphServiceClient) -> list[int]:
        for n in range(5):
            await graph.applications.post(Application(display_name=f"sdk-page-{n}"))
        query = ApplicationsRequestBuilder.ApplicationsRequestBuilderGetQueryParameters(top=2)
        page = await graph.applications.get(RequestConfiguration(query_parameters=query))
        sizes: list[int] = []
        while page is not None:
            sizes.append(len(page.value or []))
            link = page.odata_next_link
            page = await graph.applications.with_url(link).get() if link else None
        return sizes

    sizes = run_sdk(scenario)
    assert all(size == 2 for size in sizes[:-1]) and 1 <= sizes[-1] <= 2
    assert len(sizes) >= 3


def test_sdk_reports_a_missing_application_as_request_resource_not_found(
    run_sdk: RunSdk,
) -> None:
    async def scenario(graph: GraphServiceClient) -> None:
        await graph.applications_with_app_id(str(uuid.uuid4())).get()

    with pytest.raises(ODataError) as raised:
        run_sdk(scenario)
    assert raised.value.response_status_code == 404
    assert raised.value.error is not None and raised.value.error.code == "Request_ResourceNotFound"


def test_sdk_write_with_a_wrong_odata_type_is_refused(run_sdk: RunSdk) -> None:
    async def scenario(graph: GraphServiceClient) -> None:
        await graph.applications.post(Application(display_name="wrong", odata_type="#microsoft.graph.user"))

    with pytest.raises(ODataError) as raised:
        run_sdk(scenario)
    assert raised.value.response_status_code == 400
    assert raised.value.error is not None and "not assignable" in str(raised.value.error.message)


def test_sdk_reads_group_members_and_counts_users_with_eventual_consistency(run_sdk: RunSdk) -> None:
    async def scenario(graph: GraphServiceClient) -> tuple[Any, ...]:
        members = await graph.groups.by_group_id(SSS_GROUP_ID).members.get()
        config: RequestConfiguration[Any] = RequestConfiguration()
        config.headers.add("ConsistencyLevel", "eventual")
        counted = await graph.users.count.get(request_configuration=config)
        try:
            await graph.users.count.get()
        except ODataError as error:
            return members, counted, error
        return members, counted, None

    members, counted, refused = run_sdk(scenario)
    assert members is not None and all(isinstance(m, User) for m in members.value)
    assert sorted(m.mail for m in members.value) == sorted(SSS_GROUP_MEMBERS)
    assert members.value[0].business_phones == [] and members.value[0].job_title is None
    assert isinstance(counted, int) and counted > len(SSS_GROUP_MEMBERS)
    assert refused is not None and refused.error is not None and refused.error.code == "Request_BadRequest"
