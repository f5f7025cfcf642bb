from __future__ import annotations

import json
import re
import threading
import uuid
from typing import Any

import httpx
import pytest

from sssctl.clients.dataverse import (
    NOT_EXECUTED,
    BatchOperation,
    DataverseClient,
    decode_batch_response,
    etag_of,
    odata_literal,
    odata_string,
)
from sssctl.clients.errors import (
    DataverseError,
    NotFound,
    PreconditionFailed,
    PrivilegeDenied,
    Throttled,
    ValidationFailed,
)
from sssctl.clients.http import LIMIT_EXECUTION, LIMIT_REQUESTS, RateLimiter, RetryPolicy

from .helpers import Handler, service

pytestmark = pytest.mark.timeout(30)
ORG = "https://org.example"
API = ORG + "/api/data/v9.2/"


def client(handler: Handler, **kw: Any) -> DataverseClient:
    svc, _ = service(handler, **kw)
    return DataverseClient(ORG, svc)


def test_literals_quote_safely() -> None:
    assert odata_string("O'Brien") == "'O''Brien'"
    assert odata_literal("x' or 1 eq 1 or 'a") == "'x'' or 1 eq 1 or ''a'"
    assert odata_literal(True) == "true"
    assert odata_literal(None) == "null"
    assert odata_literal(3) == "3"
    assert odata_literal("5A1F7C2E-3D4B-4E6F-8A9B-0C1D2E3F4A5B") == "5A1F7C2E-3D4B-4E6F-8A9B-0C1D2E3F4A5B"
    with pytest.raises(TypeError):
        odata_literal(object())


def test_get_sends_odata_headers_and_keeps_etag() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"@odata.etag": 'W/"7"', "name": "x", "orgdborgsettings": None})

    record = client(handler).get("organizations", "abc", select=["name", "orgdborgsettings"])
    request = seen[0]
    assert request.url.path == "/api/data/v9.2/organizations(abc)"
    assert request.url.params["$select"] == "name,orgdborgsettings"
    assert request.headers["OData-MaxVersion"] == "4.0" and request.headers["OData-Version"] == "4.0"
    assert request.headers["Accept"] == "application/json"
    assert etag_of(record) == 'W/"7"'


def test_query_streams_pages_following_next_link_verbatim() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        assert request.headers["Prefer"] == "odata.maxpagesize=2"
        page = int(request.url.params.get("$skiptoken", "0"))
        rows = [{"i": page * 2 + k} for k in range(2)]
        body: dict[str, Any] = {"value": rows}
        if page < 2:
            body["@odata.nextLink"] = f"{API}mailboxes?$select=i&$skiptoken={page + 1}"
        return httpx.Response(200, json=body)

    rows = client(handler).query("mailboxes", select=["i"], filter="statecode eq 0", page_size=2)
    first = next(rows)
    assert first == {"i": 0} and len(seen) == 1  # lazy: one page fetched so far
    assert [r["i"] for r in rows] == [1, 2, 3, 4, 5]
    assert len(seen) == 3
    assert seen[1] == f"{API}mailboxes?$select=i&$skiptoken=1"


def test_query_with_top_does_not_send_page_size() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert "Prefer" not in request.headers
        assert request.url.params["$top"] == "1"
        return httpx.Response(200, json={"value": [{"a": 1}, {"a": 2}]})

    assert list(client(handler).query("roles", top=1)) == [{"a": 1}]


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, ValidationFailed), (403, PrivilegeDenied), (404, NotFound), (412, PreconditionFailed),
     (500, DataverseError)],
)
def test_errors_map_to_meanings_with_code_and_request_id(status: int, kind: type[DataverseError]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"REQ_ID": "req-123"},
                              json={"error": {"code": "0x80040217",
                                              "message": "mailbox With Id = 1 Does Not Exist"}})

    with pytest.raises(kind) as caught:
        client(handler).get("mailboxes", "1")
    error = caught.value
    assert type(error) is kind
    assert error.status == status and error.code == "0x80040217" and error.request_id == "req-123"
    assert "Does Not Exist" in str(error) and "req-123" in str(error)


def test_throttled_after_retries_carries_retry_after() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(429, headers={"Retry-After": "0.01"},
                              json={"error": {"code": "0x80072322", "message": "too many"}})

    with pytest.raises(Throttled) as caught:
        client(handler, policy=RetryPolicy(max_attempts=3)).get("roles", "1")
    assert caught.value.retry_after == 0.01
    assert len(calls) == 3


def test_update_uses_if_match_and_never_upserts() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    dv = client(handler)
    dv.update("organizations", "o1", {"name": "n"}, if_match='W/"5"')
    dv.update("organizations", "o1", {"name": "n"})
    assert seen[0].headers["If-Match"] == 'W/"5"' and seen[1].headers["If-Match"] == "*"
    assert seen[0].method == "PATCH" and json.loads(seen[0].content) == {"name": "n"}
    assert seen[0].headers["Content-Type"] == "application/json"


def test_create_returns_id_from_odata_entity_id() -> None:
    new_id = "11111111-2222-3333-4444-555555555555"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(204, headers={"OData-EntityId": f"{API}emailserverprofiles({new_id})"})

    assert client(handler).create("emailserverprofiles", {"name": "p"}) == new_id


def test_functions_and_bound_actions() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "GET":
            return httpx.Response(200, json={"RolePrivileges": []})
        return httpx.Response(204)

    dv = client(handler)
    role = "5a1f7c2e-3d4b-4e6f-8a9b-0c1d2e3f4a5b"
    assert dv.function("RetrieveRolePrivilegesRole", {"RoleId": role}) == {"RolePrivileges": []}
    assert seen[0].url.raw_path.decode().endswith(f"RetrieveRolePrivilegesRole(RoleId={role})")
    body = {"Privilege": {"privilegeid": "p"}}
    assert dv.action("RemovePrivilegeRole", body, bound=("roles", role)) is None
    assert seen[1].url.path == f"/api/data/v9.2/roles({role})/Microsoft.Dynamics.CRM.RemovePrivilegeRole"


# -- $batch -----------------------------------------------------------------------------------
def _parse_request_parts(request: httpx.Request) -> tuple[list[tuple[str, str, str | None]], bool]:
    """(method, url, content-id) per operation, and whether a change set was used."""
    body = request.content.decode()
    ops = re.findall(r"(?:Content-ID: (\S+)\r\n)?\r\n(GET|POST|PATCH|DELETE) (\S+) HTTP/1.1", body)
    return [(m, u, cid or None) for cid, m, u in ops], "changeset_" in body


def _batch_answer(parts: list[tuple[int, dict[str, Any] | None, str | None]], *, changeset: bool,
                  status: int = 200) -> httpx.Response:
    outer, inner = "batchresponse_1", "changesetresponse_2"
    chunks = []
    for code, body, cid in parts:
        head = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
        if cid:
            head += f"Content-ID: {cid}\r\n"
        payload = json.dumps(body) if body is not None else ""
        reason = {204: "No Content", 400: "Bad Request", 412: "Precondition Failed"}.get(code, "OK")
        chunks.append(f"{head}\r\nHTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\n"
                      f"OData-EntityId: {API}x({cid or 'n'})\r\n\r\n{payload}\r\n")
    if changeset:
        nested = "".join(f"--{inner}\r\n{c}" for c in chunks) + f"--{inner}--\r\n"
        text = f"--{outer}\r\nContent-Type: multipart/mixed; boundary={inner}\r\n\r\n{nested}--{outer}--\r\n"
    else:
        text = "".join(f"--{outer}\r\n{c}" for c in chunks) + f"--{outer}--\r\n"
    return httpx.Response(status, content=text.encode(),
                          headers={"Content-Type": f"multipart/mixed; boundary={outer}"})


def test_batch_splits_into_chunks_and_keeps_input_order() -> None:
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/data/v9.2/$batch"
        assert request.headers["Content-Type"].startswith("multipart/mixed; boundary=batch_")
        ops, changeset = _parse_request_parts(request)
        sizes.append(len(ops))
        return _batch_answer([(204, None, None) for _ in ops], changeset=changeset)

    ops = [BatchOperation("PATCH", f"mailboxes({i})", {"n": i}, {"If-Match": "*"}) for i in range(2500)]
    results = client(handler).batch(ops)
    assert sizes == [1000, 1000, 500]
    assert [r.operation for r in results] == ops
    assert all(r.ok and r.status == 204 for r in results)


def test_batch_request_body_is_well_formed_multipart() -> None:
    captured: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        captured.append(request.content)
        return _batch_answer([(204, None, "1"), (204, None, "2")], changeset=True)

    ops = [BatchOperation("PATCH", "mailboxes(1)", {"a": 1}, {"If-Match": 'W/"3"'}),
           BatchOperation("DELETE", "mailboxes(2)")]
    client(handler).batch(ops, atomic=True)
    body = captured[0].decode()
    assert "Content-Type: multipart/mixed; boundary=changeset_" in body
    assert "Content-ID: 1\r\n" in body and "Content-ID: 2\r\n" in body
    assert f"PATCH {API}mailboxes(1) HTTP/1.1\r\n" in body
    assert 'Content-Type: application/json; type=entry\r\nIf-Match: W/"3"\r\n\r\n{"a": 1}' in body
    assert body.rstrip().endswith("--")


def test_batch_failing_operation_with_continue_on_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Prefer"] == "odata.continue-on-error"
        return _batch_answer([(204, None, None),
                              (412, {"error": {"code": "0x80060882", "message": "version mismatch"}}, None),
                              (204, None, None)], changeset=False)

    ops = [BatchOperation("PATCH", f"mailboxes({i})", {}) for i in range(3)]
    results = client(handler).batch(ops, continue_on_error=True)
    assert [r.status for r in results] == [204, 412, 204]
    assert isinstance(results[1].error, PreconditionFailed)
    assert results[1].error.code == "0x80060882"
    assert results[0].ok and results[2].ok


def test_batch_stopping_at_first_error_marks_later_operations_not_executed() -> None:
    sent: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(1)
        # As Dataverse does: the answer holds only the failing part, named by its Content-ID.
        return _batch_answer([(400, {"error": {"code": "0x80044331", "message": "bad value"}}, "2")],
                             changeset=False, status=400)

    ops = [BatchOperation("PATCH", f"mailboxes({i})", {}) for i in range(6)]
    results = client(handler).batch(ops, max_per_batch=4)
    assert [r.status for r in results] == [204, 400, NOT_EXECUTED, NOT_EXECUTED, NOT_EXECUTED, NOT_EXECUTED]
    assert results[0].ok
    assert isinstance(results[1].error, ValidationFailed)
    assert results[2].error is not None and "not executed" in str(results[2].error)
    assert "operation 2" in str(results[3].error)
    assert "earlier batch" in str(results[5].error)
    assert len(sent) == 1  # the second chunk is not sent once the first one failed


def test_atomic_failure_rolls_back_every_operation_of_the_change_set() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return _batch_answer([(400, {"error": {"code": "0x80044331", "message": "bad"}}, "2")],
                             changeset=True, status=400)

    ops = [BatchOperation("PATCH", f"mailboxes({i})", {}) for i in range(3)]
    results = client(handler).batch(ops, atomic=True)
    assert [r.status for r in results] == [NOT_EXECUTED, 400, NOT_EXECUTED]
    assert "rolled back" in str(results[0].error)


def test_batch_created_id_and_body_of_parts() -> None:
    answer = _batch_answer([(204, None, "7")], changeset=True)
    parts = decode_batch_response(answer.content, answer.headers["Content-Type"])
    assert parts[0].status == 204 and parts[0].content_id == "7" and parts[0].in_changeset
    results = client(lambda r: answer).batch([BatchOperation("POST", "x", {"a": 1})], atomic=True)
    assert results[0].created_id == "7"


def test_atomic_batch_refuses_reads() -> None:
    with pytest.raises(ValueError, match="GET"):
        client(lambda r: httpx.Response(500)).batch([BatchOperation("GET", "roles")], atomic=True)


def test_query_values_encode_spaces_and_plus_safely() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"value": []})

    text = f"emailaddress eq {odata_literal('a+b@x.com')}"
    list(client(handler).query("mailboxes", select=["mailboxid"], filter=text))
    raw = seen[0].url.raw_path.decode()
    assert "$filter=emailaddress%20eq%20'a%2Bb@x.com'" in raw
    assert seen[0].url.params["$filter"] == "emailaddress eq 'a+b@x.com'"


def test_whoami_from_something_that_is_not_dataverse_is_explained() -> None:
    with pytest.raises(DataverseError, match=r"environment\.url"):
        client(lambda r: httpx.Response(200, text="<html>hello</html>")).whoami()
    ids = [str(uuid.UUID(int=n)) for n in (1, 2, 3)]
    who = client(lambda r: httpx.Response(200, json=dict(zip(("UserId", "BusinessUnitId", "OrganizationId"),
                                                             ids, strict=True)))).whoami()
    assert [who.user_id, who.business_unit_id, who.organization_id] == ids


def test_only_one_batch_more_than_the_limiter_lets_fly_is_built_across_all_callers() -> None:
    dv = client(lambda request: httpx.Response(204))
    dv.http.limiter = RateLimiter(52, start=2)
    stop = threading.Event()
    assert [dv.reserve_batch(stop) for _ in range(3)] == [True, True, True]  # two fly, one waits built
    stop.set()
    assert dv.reserve_batch(stop) is False  # a fourth would wait; a stop ends the wait
    dv.release_batch()
    assert dv.reserve_batch(stop) is True  # an answer made room


def test_batches_hold_twice_the_rows_while_the_number_of_requests_is_limited() -> None:
    dv = client(lambda request: httpx.Response(204))
    assert dv.rows_per_batch(50) == 50  # no limiter
    dv.http.limiter = RateLimiter(52)
    assert dv.rows_per_batch(50) == 50
    dv.http.limiter.on_throttled(1.0, LIMIT_EXECUTION)
    assert dv.rows_per_batch(50) == 50  # more per batch takes the same execution time
    dv.http.limiter.on_throttled(1.0, LIMIT_REQUESTS)
    assert (dv.rows_per_batch(50), dv.rows_per_batch(700)) == (100, 1000)  # never past Dataverse's 1,000


def test_without_a_limiter_batches_are_never_held_back() -> None:
    dv = client(lambda request: httpx.Response(204))
    assert all(dv.reserve_batch(threading.Event()) for _ in range(100))
