from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from sssctl.clients.errors import ExchangeError, GraphConflict, GraphError, GraphNotFound
from sssctl.clients.exchange import ExchangeClient, exchange_error_message
from sssctl.clients.graph import GraphClient

from .helpers import Handler, Sleeps, service

pytestmark = pytest.mark.timeout(30)
GRAPH = "https://graph.example"


def graph(handler: Handler, sleeps: Sleeps | None = None) -> GraphClient:
    svc, sleeper = service(handler, name="graph", sleeps=sleeps)
    return GraphClient(GRAPH, svc, replication_timeout=60, sleep=sleeper)


def _graph_error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, headers={"request-id": "rid-1"},
                          json={"error": {"code": code, "message": message,
                                          "innerError": {"request-id": "rid-1"}}})


def test_graph_paths_and_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1.0/applications(uniqueName='sss')"
        return _graph_error(404, "Request_ResourceNotFound", "Resource 'sss' does not exist")

    with pytest.raises(GraphNotFound) as caught:
        graph(handler).get("applications(uniqueName='sss')")
    assert caught.value.code == "Request_ResourceNotFound" and caught.value.request_id == "rid-1"


def test_graph_conflict() -> None:
    with pytest.raises(GraphConflict):
        graph(lambda r: _graph_error(409, "Request_MultipleObjectsWithSameKeyValue", "exists")).post(
            "servicePrincipals", {"appId": "a"})


def test_graph_list_follows_next_link() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "skiptoken" in str(request.url):
            return httpx.Response(200, json={"value": [{"id": _id(3)}]})
        return httpx.Response(200, json={"value": [{"id": _id(1)}, {"id": _id(2)}],
                                         "@odata.nextLink": f"{GRAPH}/v1.0/applications?$skiptoken=x"})

    found = [a["id"] for a in graph(handler).list("applications", params={"$top": "2"})]
    assert found == [_id(1), _id(2), _id(3)]


def _id(n: int) -> str:
    return f"00000000-0000-0000-0000-{n:012d}"


def test_wait_for_replication_retries_only_replication_answers() -> None:
    answers = [
        _graph_error(400, "Request_BadRequest",
                     "The appId 'a' of the service principal does not reference a valid application object."),
        _graph_error(404, "Request_ResourceNotFound", "not yet"),
        httpx.Response(201, json={"id": _id(1), "appId": _id(2)}),
    ]
    sleeps = Sleeps()
    result = graph(lambda r: answers.pop(0), sleeps).post("servicePrincipals", {"appId": "a"},
                                                          wait_for_replication=True)
    assert result == {"id": _id(1), "appId": _id(2)} and sleeps.calls == [0.5, 1.0]


def test_wait_for_replication_gives_up_on_other_errors_and_without_the_flag() -> None:
    with pytest.raises(GraphError, match="Insufficient privileges"):
        graph(lambda r: _graph_error(403, "Authorization_RequestDenied", "Insufficient privileges")).get(
            "applications", wait_for_replication=True)
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return _graph_error(404, "Request_ResourceNotFound", "nope")

    with pytest.raises(GraphNotFound):
        graph(handler).get("applications(appId='x')")
    assert len(calls) == 1


def test_wait_for_replication_is_bounded() -> None:
    sleeps = Sleeps()
    with pytest.raises(GraphNotFound):
        graph(lambda r: _graph_error(404, "Request_ResourceNotFound", "nope"), sleeps).get(
            "servicePrincipals(appId='x')", wait_for_replication=True)
    assert sum(sleeps.calls) <= 60 and max(sleeps.calls) == 8.0


# -- Exchange -----------------------------------------------------------------------------------
def exchange(handler: Handler) -> ExchangeClient:
    svc, _ = service(handler, name="exchange")
    return ExchangeClient("https://exo.example", "tenant-1", svc)


def test_exchange_invoke_pages_by_reposting_the_same_body() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body: dict[str, Any] = {"value": [{"Identity": f"p{len(seen)}", "AccessRight": "RestrictAccess",
                                           "AppId": "00000000-0000-0000-0000-000000000001"}]}
        if len(seen) == 1:
            body["@odata.nextLink"] = "https://exo.example/adminapi/beta/tenant-1/InvokeCommand?$skiptoken=2"
        return httpx.Response(200, json=body)

    rows = exchange(handler).invoke("Get-ApplicationAccessPolicy", {})
    assert [r["Identity"] for r in rows] == ["p1", "p2"]
    first, second = seen
    assert first.url.path == "/adminapi/beta/tenant-1/InvokeCommand"
    assert first.headers["X-AnchorMailbox"] == (
        "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@tenant-1")
    assert first.headers["Prefer"] == "odata.maxpagesize=1000"
    assert json.loads(first.content) == json.loads(second.content) == {
        "CmdletInput": {"CmdletName": "Get-ApplicationAccessPolicy", "Parameters": {}}}
    assert second.url.params["$skiptoken"] == "2"


def test_exchange_error_text_comes_from_details() -> None:
    body = {"error": {"code": "BadRequest", "message": "Invalid Operation",
                      "details": [{"message": "|Microsoft.Exchange.Tasks.Error|The group was not found."}]}}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json=body)

    with pytest.raises(ExchangeError) as caught:
        exchange(handler).invoke("New-ApplicationAccessPolicy", {"AppId": "a"})
    assert str(caught.value).startswith("New-ApplicationAccessPolicy: The group was not found.")
    inner = {"error": {"message": "Invalid Operation",
                       "innererror": {"internalexception": {"message": "Inner text"}}}}
    assert exchange_error_message(inner, "x") == (None, "Inner text")
    coded = {"error": {"code": "NotFound", "details": [{"message": "Ex6F9304|Microsoft.Exchange.X|Gone."}]}}
    assert exchange_error_message(coded, "x") == ("NotFound", "Gone.")


def test_exchange_writes_are_not_replayed_after_a_drop() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.RemoteProtocolError("dropped")

    with pytest.raises(Exception, match="1 attempt"):
        exchange(handler).invoke("New-ApplicationAccessPolicy", {})
    assert len(calls) == 1


def test_graph_filters_are_percent_encoded_and_keep_existing_query() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"value": []})

    list(graph(handler).list("applications?$count=true", params={"$filter": "displayName eq 'a+b'"}))
    raw = seen[0].url.raw_path.decode()
    assert raw == "/v1.0/applications?$count=true&$filter=displayName%20eq%20'a%2Bb'"


def test_exchange_non_json_error_body_is_shown_printable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, content=b"\x00\x00Forbidden\x00")

    with pytest.raises(ExchangeError) as caught:
        exchange(handler).invoke("Get-ApplicationAccessPolicy")
    assert caught.value.status == 403
    assert "\x00" not in str(caught.value) and "Forbidden" in str(caught.value)
