"""Counting, paging and nested membership on the emulator's Graph lists, as documented.

"Advanced query capabilities on Microsoft Entra ID objects" (section "Error handling for
advanced queries on directory objects", https://learn.microsoft.com/graph/aad-advanced-queries):
counting directory objects needs ``ConsistencyLevel: eventual``; without it ``?$count=true``
is silently ignored and the ``/$count`` segment is refused. Paging ("Paging Microsoft Graph
data in your app", https://learn.microsoft.com/graph/paging): ``$top`` sets the page size and
``@odata.nextLink`` carries a ``$skiptoken`` to the next page, to be followed as is.
``transitiveMembers`` walks nested groups
(https://learn.microsoft.com/graph/api/group-list-transitivemembers).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sssctl.emulator import constants as c
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.directory import (
    DISTRIBUTION_GROUP_ID,
    SSS_GROUP_ADDRESS,
    SSS_GROUP_ID,
    SSS_GROUP_MEMBERS,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
EVENTUAL = {"ConsistencyLevel": "eventual"}
_LISTS = (
    "/applications",
    "/servicePrincipals",
    "/users",
    "/groups",
    f"/groups/{SSS_GROUP_ID}/members",
    f"/groups/{SSS_GROUP_ID}/transitiveMembers",
    "/applications/{owned}/owners",
    f"/servicePrincipals/{c.SSSCTL_SP_OBJECT_ID}/appRoleAssignments",
)


@pytest.mark.parametrize("path", _LISTS)
def test_count_true_counts_only_with_eventual_consistency(graph: httpx.Client, path: str) -> None:
    if "{owned}" in path:  # the caller owns what it creates
        created = graph.post("/applications", json={"displayName": "count-owned"})
        assert created.status_code == 201, created.text
        path = path.replace("{owned}", created.json()["id"])
    plain = graph.get(path, params={"$count": "true"})
    assert plain.status_code == 200, plain.text
    assert "@odata.count" not in plain.json()  # silently ignored [doc]
    counted = graph.get(path, params={"$count": "true"}, headers=EVENTUAL).json()
    assert counted["@odata.count"] == len(counted["value"]) > 0
    assert list(counted)[:3] == ["@odata.context", "@odata.count", "value"]
    assert "@odata.count" not in graph.get(path, headers=EVENTUAL).json()


@pytest.mark.parametrize("entity_set", ["applications", "servicePrincipals"])
def test_the_count_segment_needs_eventual_consistency(graph: httpx.Client, entity_set: str) -> None:
    refused = graph.get(f"/{entity_set}/$count")
    assert refused.status_code == 400
    assert (refused.json()["error"]["code"], refused.json()["error"]["message"]) == (
        "Request_BadRequest", "$count is not currently supported.")
    counted = graph.get(f"/{entity_set}/$count", headers=EVENTUAL)
    assert counted.status_code == 200
    assert int(counted.text) == len(graph.get(f"/{entity_set}").json()["value"])
    sssctl_only = {"$filter": "displayName eq 'sssctl'"}
    filtered = graph.get(f"/{entity_set}/$count", params=sssctl_only, headers=EVENTUAL)
    assert int(filtered.text) == 1


def test_search_on_applications_needs_eventual_consistency(graph: httpx.Client) -> None:
    refused = graph.get("/applications", params={"$search": '"displayName:sssctl"'})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "Request_UnsupportedQuery"
    found = graph.get("/applications", params={"$search": '"displayName:sssctl"'}, headers=EVENTUAL).json()
    assert found["value"] and all("sssctl" in a["displayName"].lower() for a in found["value"])


def _pages(graph: httpx.Client, path: str, top: int) -> list[dict[str, Any]]:
    pages = [graph.get(path, params={"$top": str(top), "$count": "true"}, headers=EVENTUAL).json()]
    while "@odata.nextLink" in pages[-1]:
        link = pages[-1]["@odata.nextLink"]
        assert "$skiptoken" in parse_qs(urlsplit(link).query)
        response = graph.get(link, headers=EVENTUAL)  # absolute URL, followed as is
        assert response.status_code == 200, response.text
        pages.append(response.json())
    return pages


@pytest.mark.parametrize("path", ["/users", "/groups", f"/groups/{DISTRIBUTION_GROUP_ID}/members"])
def test_paging_with_top_and_next_links_yields_every_item_once(graph: httpx.Client, path: str) -> None:
    everything = graph.get(path, params={"$top": "999"}).json()["value"]
    assert len(everything) >= 2
    pages = _pages(graph, path, top=2)
    assert len(pages) == (len(everything) + 1) // 2
    assert all(len(p["value"]) <= 2 for p in pages)
    assert all(p["@odata.count"] == len(everything) for p in pages)
    assert [i["id"] for p in pages for i in p["value"]] == [i["id"] for i in everything]


def test_a_nested_group_is_walked_by_transitive_members(
    graph: httpx.Client, emulator_admin: AdminClient
) -> None:
    extra = c.queue_email(2)
    inner = emulator_admin.add_group("sss-escalations", [extra], security=True)
    outer = emulator_admin.add_group("sss-all", [SSS_GROUP_ADDRESS, inner["mail"]], security=True)
    direct = graph.get(f"/groups/{outer['id']}/members", params={"$select": "id,mail"}).json()["value"]
    assert {m["@odata.type"] for m in direct} == {"#microsoft.graph.group"}
    assert {m["id"] for m in direct} == {SSS_GROUP_ID, inner["id"]}
    walked = graph.get(
        f"/groups/{outer['id']}/transitiveMembers", params={"$select": "id,mail"}
    ).json()["value"]
    users = {m["mail"] for m in walked if m["@odata.type"] == "#microsoft.graph.user"}
    assert users == {*SSS_GROUP_MEMBERS, extra}
    groups = {m["id"] for m in walked if m["@odata.type"] == "#microsoft.graph.group"}
    assert groups == {SSS_GROUP_ID, inner["id"]}
    assert len(walked) == len({m["id"] for m in walked})  # each object once
    cast = graph.get(
        f"/groups/{outer['id']}/transitiveMembers/microsoft.graph.user",
        params={"$count": "true"}, headers=EVENTUAL,
    ).json()
    assert cast["@odata.count"] == len(SSS_GROUP_MEMBERS) + 1
    counted = graph.get(f"/groups/{outer['id']}/transitiveMembers/$count", headers=EVENTUAL)
    assert int(counted.text) == len(SSS_GROUP_MEMBERS) + 3


def test_applications_and_service_principals_filter_by_the_advanced_query_rules(graph: httpx.Client) -> None:
    """``startsWith`` works by default on displayName; ``ne`` and ``not`` need the header and
    ``$count=true`` (directory objects, https://learn.microsoft.com/graph/aad-advanced-queries)."""
    for path in ("/applications", "/servicePrincipals"):
        started = graph.get(path, params={"$filter": "startswith(displayName,'sssctl')"}).json()["value"]
        assert started and all(i["displayName"].lower().startswith("sssctl") for i in started)
        refused = graph.get(path, params={"$filter": "displayName ne 'sssctl'"})
        assert refused.status_code == 400
        assert refused.json()["error"]["message"].startswith("Operator 'ne' is not supported")
        advanced = graph.get(
            path, params={"$filter": "displayName ne 'sssctl'", "$count": "true"}, headers=EVENTUAL
        ).json()
        assert advanced["@odata.count"] == len(advanced["value"]) > 0
        assert all(i["displayName"] != "sssctl" for i in advanced["value"])
    unsupported = graph.get("/applications", params={"$filter": "notes eq 'x'"})
    assert unsupported.status_code == 400
    assert unsupported.json()["error"]["code"] == "Request_UnsupportedQuery"
