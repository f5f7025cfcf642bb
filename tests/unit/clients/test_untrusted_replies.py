"""Hostile answers over a mock transport: links off the origin, redirects, runaway paging,
oversized and endless bodies, and JSON of the wrong shape all end in typed errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sssctl.clients.dataverse import DataverseClient
from sssctl.clients.errors import (
    DeadlineExceeded,
    ForeignLink,
    MalformedReply,
    PagingRunaway,
    ReplyTooLarge,
    UntrustedReply,
)
from sssctl.clients.exchange import ExchangeClient
from sssctl.clients.graph import GraphClient
from sssctl.clients.http import HttpService, ReplyLimits, RequestStats
from sssctl.clients.paging import PageGuard

from .helpers import Handler, Sleeps

pytestmark = pytest.mark.timeout(30)

ORG = "https://org.example"
API = f"{ORG}/api/data/v9.2/"
TOKEN = "tok-abcdef-123456"


def _http(handler: Handler, *, name: str = "dataverse", limits: ReplyLimits | None = None,
          clock: Any = None) -> tuple[HttpService, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    extra = {"clock": clock} if clock is not None else {}
    svc = HttpService(name, httpx.Client(transport=httpx.MockTransport(recording)), token=lambda: TOKEN,
                      stats=RequestStats(), sleep=Sleeps(), origin=ORG, limits=limits, **extra)
    return svc, seen


def _page(rows: int, next_link: Any = None, **extra: Any) -> httpx.Response:
    ids = [f"00000000-0000-0000-0000-{i:012d}" for i in range(rows)]
    body: dict[str, Any] = {"value": [{"mailboxid": i} for i in ids], **extra}
    if next_link is not None:
        body["@odata.nextLink"] = next_link
    return httpx.Response(200, json=body)


# -- the token stays on its origin -------------------------------------------------------------
@pytest.mark.parametrize("url", [
    "https://evil.example/api/data/v9.2/WhoAmI",
    "http://org.example/api/data/v9.2/WhoAmI",
    "https://org.example:8443/api/data/v9.2/WhoAmI",
])
def test_a_request_off_the_origin_is_refused_before_anything_is_sent(url: str) -> None:
    svc, seen = _http(lambda r: httpx.Response(200))
    with pytest.raises(ForeignLink, match="token was not sent"):
        svc.request("GET", url)
    assert seen == []


def test_the_default_port_is_the_same_origin() -> None:
    svc, seen = _http(lambda r: httpx.Response(200))
    assert svc.request("GET", "https://ORG.example:443/api/data/v9.2/WhoAmI").status_code == 200
    assert len(seen) == 1


def test_a_redirect_elsewhere_is_refused_and_not_followed() -> None:
    svc, seen = _http(lambda r: httpx.Response(302, headers={"Location": "https://evil.example/steal"}))
    with pytest.raises(ForeignLink, match=r"evil\.example"):
        svc.request("GET", f"{API}WhoAmI")
    assert len(seen) == 1


def test_a_redirect_on_the_same_origin_is_not_followed_either() -> None:
    svc, seen = _http(lambda r: httpx.Response(307, headers={"Location": "/elsewhere"}))
    with pytest.raises(MalformedReply, match="redirect"):
        svc.request("GET", f"{API}WhoAmI")
    assert len(seen) == 1


def test_a_foreign_next_link_is_refused_without_a_request_to_it() -> None:
    svc, seen = _http(lambda r: _page(2, "https://evil.example/api/data/v9.2/mailboxes?page=2"))
    rows: list[dict[str, Any]] = []
    with pytest.raises(ForeignLink, match="nextLink"):
        rows.extend(DataverseClient(ORG, svc).query("mailboxes"))
    assert [str(r.url.host) for r in seen] == ["org.example"]
    assert rows == []  # a page whose link is hostile is not used at all


def test_a_created_record_elsewhere_is_refused() -> None:
    foreign = "https://evil.example/api/data/v9.2/accounts(11111111-2222-3333-4444-555555555555)"
    svc, _ = _http(lambda r: httpx.Response(204, headers={"OData-EntityId": foreign}))
    with pytest.raises(ForeignLink):
        DataverseClient(ORG, svc).create("accounts", {"name": "a"})


# -- paging ends ------------------------------------------------------------------------------------
def test_a_next_link_seen_twice_is_a_loop() -> None:
    loop = f"{API}mailboxes?$skiptoken=1"
    svc, seen = _http(lambda r: _page(1, loop))
    with pytest.raises(PagingRunaway, match="already sent"):
        list(DataverseClient(ORG, svc).query("mailboxes"))
    assert len(seen) == 2


def test_more_pages_than_the_count_allows_is_refused() -> None:
    calls = iter(range(1000))

    def endless(request: httpx.Request) -> httpx.Response:
        return _page(0, f"{API}mailboxes?$skiptoken={next(calls)}", **{"@odata.count": 2})

    svc, seen = _http(endless)
    with pytest.raises(PagingRunaway, match=r"@odata.count"):
        list(DataverseClient(ORG, svc).query("mailboxes"))
    assert len(seen) == 3


def test_empty_pages_that_keep_linking_onward_are_refused_after_a_few() -> None:
    calls = iter(range(1000))

    def empty_forever(request: httpx.Request) -> httpx.Response:
        return _page(0, f"{API}mailboxes?$skiptoken={next(calls)}")

    svc, seen = _http(empty_forever)
    with pytest.raises(PagingRunaway, match=r"4 empty pages in a row"):
        list(DataverseClient(ORG, svc).query("mailboxes"))
    assert len(seen) == 4


def test_an_empty_page_between_full_ones_is_followed() -> None:
    answers = iter([_page(1, f"{API}mailboxes?$skiptoken=1"), _page(0, f"{API}mailboxes?$skiptoken=2"),
                    _page(2)])
    svc, _ = _http(lambda r: next(answers))
    assert len(list(DataverseClient(ORG, svc).query("mailboxes"))) == 3


def test_the_page_ceiling_stops_an_endless_collection() -> None:
    guard = PageGuard("graph", "applications", "https://graph.example/v1.0/applications", max_pages=5)
    link = None
    with pytest.raises(PagingRunaway, match="ceiling of 5 pages"):
        for n in range(10):
            link = guard.next_url({"value": [{"id": n}], "@odata.nextLink": f"https://graph.example/v1.0/a?n={n}"})
    assert link is not None and guard.pages == 5


def test_a_relative_next_link_is_resolved_against_the_page() -> None:
    guard = PageGuard("graph", "applications", "https://graph.example/v1.0/applications")
    assert guard.next_url({"@odata.nextLink": "applications?$skiptoken=x"}) == (
        "https://graph.example/v1.0/applications?$skiptoken=x")


@pytest.mark.parametrize("page", [{"@odata.nextLink": 42}, {"@odata.count": "many"}, {"@odata.count": True}])
def test_paging_annotations_of_the_wrong_type_are_malformed(page: dict[str, Any]) -> None:
    with pytest.raises(MalformedReply):
        PageGuard("graph", "applications", "https://graph.example/v1.0/applications").next_url(page)


def test_graph_paging_loop_is_refused() -> None:
    graph = "https://graph.example"
    link = f"{graph}/v1.0/applications?$skiptoken=same"
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(
        200, json={"value": [{"id": "00000000-0000-0000-0000-000000000001"}], "@odata.nextLink": link})))
    svc = HttpService("graph", client, token=lambda: TOKEN, stats=RequestStats(), origin=graph)
    with pytest.raises(PagingRunaway):
        list(GraphClient(graph, svc).list("applications"))


# -- bodies: size and time ----------------------------------------------------------------------------
def test_an_announced_oversized_body_is_refused_unread() -> None:
    svc, _ = _http(lambda r: httpx.Response(200, headers={"Content-Length": str(10**9)}, content=b"{}"),
                   limits=ReplyLimits(max_body_bytes=1024))
    with pytest.raises(ReplyTooLarge, match="announced 1,000,000,000 bytes"):
        svc.request("GET", f"{API}mailboxes")


def test_an_endless_body_is_cut_at_the_cap() -> None:
    def chunks() -> Iterator[bytes]:
        while True:
            yield b"x" * 4096

    cap = ReplyLimits(max_body_bytes=64 * 1024)
    svc, _ = _http(lambda r: httpx.Response(200, content=chunks()), limits=cap)
    with pytest.raises(ReplyTooLarge, match="65,536-byte cap"):
        svc.request("GET", f"{API}mailboxes")


def test_a_trickling_body_ends_at_the_deadline_and_is_not_retried() -> None:
    now = [0.0]

    def clock() -> float:
        now[0] += 1.0  # every read of the clock is a second later
        return now[0]

    svc, seen = _http(lambda r: httpx.Response(200, content=iter([b"{"] * 100)),
                      limits=ReplyLimits(deadline=10.0), clock=clock)
    with pytest.raises(DeadlineExceeded, match="within 10 s"):
        svc.request("GET", f"{API}mailboxes")
    assert len(seen) == 1


# -- shapes ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("response", [
    httpx.Response(200, text="<html>proxy</html>"),
    httpx.Response(200, content=b""),
    httpx.Response(200, json=[1, 2]),
    httpx.Response(200, json={"value": "nope"}),
    httpx.Response(200, json={"value": [1, 2]}),
])
def test_a_collection_that_is_not_one_is_malformed(response: httpx.Response) -> None:
    svc, _ = _http(lambda r: response)
    with pytest.raises(MalformedReply):
        list(DataverseClient(ORG, svc).query("mailboxes"))


@pytest.mark.parametrize("response", [httpx.Response(200, text="<html>proxy</html>"),
                                      httpx.Response(200, content=b""), httpx.Response(200, json={})])
def test_an_exchange_answer_without_a_collection_is_never_no_objects(response: httpx.Response) -> None:
    exo = "https://outlook.example"
    client = httpx.Client(transport=httpx.MockTransport(lambda r: response))
    svc = HttpService("exchange", client, token=lambda: TOKEN, stats=RequestStats(), origin=exo)
    with pytest.raises(MalformedReply, match="Get-ApplicationAccessPolicy"):
        ExchangeClient(exo, "tenant", svc).invoke("Get-ApplicationAccessPolicy")


def test_a_record_that_is_not_an_object_is_malformed() -> None:
    svc, _ = _http(lambda r: httpx.Response(200, json=["not", "a", "record"]))
    with pytest.raises(MalformedReply, match="not an object"):
        DataverseClient(ORG, svc).get("organizations", "11111111-2222-3333-4444-555555555555")


def test_whoami_ids_must_be_guids() -> None:
    body = {"UserId": "x'or'1", "BusinessUnitId": "b", "OrganizationId": "o"}
    svc, _ = _http(lambda r: httpx.Response(200, json=body))
    with pytest.raises(MalformedReply, match=r"field UserId: .* GUID"):
        DataverseClient(ORG, svc).whoami()


def test_every_new_error_is_a_client_error_the_planner_reports_as_unknown() -> None:
    from sssctl.clients.errors import ClientError, TransportError

    for kind in (ForeignLink, PagingRunaway, MalformedReply, ReplyTooLarge):
        assert issubclass(kind, UntrustedReply) and issubclass(kind, ClientError)
    assert issubclass(DeadlineExceeded, TransportError)


def test_a_caller_taking_malformed_rows_gets_the_good_rows_and_each_bad_one_with_why() -> None:
    good = "00000000-0000-0000-0000-000000000001"
    rows = [{"mailboxid": "00000000-0000-0000-0000-000000000009", "mailboxstatus": "bad"},
            {"mailboxid": good, "mailboxstatus": 1}]
    svc, _ = _http(lambda request: httpx.Response(200, json={"value": rows}))
    bad: list[tuple[Any, MalformedReply]] = []

    read = list(DataverseClient(ORG, svc).query("mailboxes", select=["mailboxid", "mailboxstatus"],
                                                malformed_row=lambda row, why: bad.append((row, why))))

    assert [r["mailboxid"] for r in read] == [good]
    assert bad[0][0] is not None and "mailboxstatus" in str(bad[0][1]) and "row 1" in str(bad[0][1])
    with pytest.raises(MalformedReply, match="mailboxstatus"):     # without it, the page fails
        list(DataverseClient(ORG, svc).query("mailboxes", select=["mailboxid", "mailboxstatus"]))
