"""Graph ``/users`` and ``/groups`` on the emulator, held to Graph's documented query rules.

Counting needs ``ConsistencyLevel: eventual`` (``/$count`` is refused without it,
``?$count=true`` silently ignored); ``ne``/``not``/``endsWith`` need the header and
``$count=true``; ``$search`` needs the header; only declared properties come back.
https://learn.microsoft.com/graph/aad-advanced-queries
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sssctl.emulator.directory import SSS_GROUP_ID, SSS_GROUP_MEMBERS
from sssctl.emulator.graph_schema import DECLARED

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
EVENTUAL = {"ConsistencyLevel": "eventual"}


def _error(response: httpx.Response) -> tuple[int, str, str]:
    error: dict[str, Any] = response.json()["error"]
    return response.status_code, error["code"], error["message"]


def test_count_needs_the_eventual_consistency_header(graph: httpx.Client) -> None:
    refused = _error(graph.get("/users/$count"))
    assert refused == (400, "Request_BadRequest", "$count is not currently supported.")
    counted = graph.get("/users/$count", headers=EVENTUAL)
    assert counted.status_code == 200 and int(counted.text) > len(SSS_GROUP_MEMBERS)
    ignored = graph.get("/groups", params={"$count": "true"}).json()
    assert "@odata.count" not in ignored
    listed = graph.get("/groups", params={"$count": "true"}, headers=EVENTUAL).json()
    assert listed["@odata.count"] == len(listed["value"]) >= 2
    members = graph.get(f"/groups/{SSS_GROUP_ID}/members/$count", headers=EVENTUAL)
    assert int(members.text) == len(SSS_GROUP_MEMBERS)


def test_members_and_transitive_members_are_directory_objects(graph: httpx.Client) -> None:
    page = graph.get(f"/groups/{SSS_GROUP_ID}/members", params={"$select": "id,mail"}).json()
    assert page["@odata.context"].endswith("$metadata#directoryObjects(id,mail)")
    assert sorted(m["mail"] for m in page["value"]) == sorted(SSS_GROUP_MEMBERS)
    assert {m["@odata.type"] for m in page["value"]} == {"#microsoft.graph.user"}
    users = graph.get(f"/groups/{SSS_GROUP_ID}/members/microsoft.graph.user").json()
    assert len(users["value"]) == len(SSS_GROUP_MEMBERS)
    refused = graph.get(f"/groups/{SSS_GROUP_ID}/transitiveMembers/microsoft.graph.user")
    assert _error(refused)[:2] == (400, "Request_UnsupportedQuery")
    transitive = graph.get(
        f"/groups/{SSS_GROUP_ID}/transitiveMembers/microsoft.graph.user",
        params={"$count": "true"}, headers=EVENTUAL,
    ).json()
    assert transitive["@odata.count"] == len(SSS_GROUP_MEMBERS)


def test_filters_follow_the_advanced_query_rules(graph: httpx.Client) -> None:
    address = SSS_GROUP_MEMBERS[0]
    found = graph.get("/users", params={"$filter": f"userPrincipalName eq '{address}'"}).json()["value"]
    assert [u["userPrincipalName"] for u in found] == [address]
    assert graph.get("/users", params={"$filter": "startswith(displayName,'Queue')"}).status_code == 200
    status, code, message = _error(graph.get("/users", params={"$filter": "endswith(mail,'@contoso.com')"}))
    assert (status, code) == (400, "Request_UnsupportedQuery") and message.startswith("Operator 'endsWith'")
    advanced = graph.get(
        "/users", params={"$filter": f"mail ne '{address}'", "$count": "true"}, headers=EVENTUAL
    ).json()
    assert address not in {u["mail"] for u in advanced["value"]} and advanced["@odata.count"] > 0
    assert _error(graph.get("/users", params={"$search": '"displayName:User"'}))[:2] == (
        400, "Request_UnsupportedQuery")


def test_only_declared_properties_come_back_and_unknown_selects_are_refused(graph: httpx.Client) -> None:
    user = graph.get(f"/users/{SSS_GROUP_MEMBERS[0]}").json()
    assert {k for k in user if not k.startswith("@")} <= DECLARED["user"]
    assert user["businessPhones"] == [] and user["jobTitle"] is None
    group = graph.get(f"/groups/{SSS_GROUP_ID}", params={"$select": "displayName,securityEnabled"}).json()
    assert group["@odata.context"].endswith("$metadata#groups(displayName,securityEnabled)/$entity")
    assert group["securityEnabled"] is True
    status, code, _ = _error(graph.get("/users", params={"$select": "nosuch"}))
    assert (status, code) == (400, "BadRequest")
    assert graph.post("/users", json={"displayName": "x"}).status_code == 501


def test_an_application_lists_its_owners_as_typed_directory_objects(graph: httpx.Client) -> None:
    created = graph.patch("/applications(uniqueName='owned-app')", json={"displayName": "owned-app"},
                          headers={"Prefer": "create-if-missing"})
    assert created.status_code == 201
    owners = graph.get(f"/applications/{created.json()['id']}/owners", params={"$select": "id,appId"}).json()
    assert owners["@odata.context"].endswith("$metadata#directoryObjects(id,appId)")
    assert [o["@odata.type"] for o in owners["value"]] == ["#microsoft.graph.servicePrincipal"]
    assert set(owners["value"][0]) == {"@odata.type", "id", "appId"}
    refused = graph.get(f"/applications/{created.json()['id']}/owners", params={"$select": "nosuch"})
    assert _error(refused)[:2] == (400, "BadRequest")
