"""The ``$batch`` multipart parser: boundaries, line ends, change sets and request lines."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sssctl.emulator.dataverse.batch import api_request, boundary_of, parse_multipart, parse_operation
from sssctl.emulator.dataverse.errors import DataverseFault

from .dataverse_harness import client, make_service

pytestmark = pytest.mark.timeout(30)

BODY = """--batch_AAA
Content-Type: application/http
Content-Transfer-Encoding: binary

GET https://org.crm.dynamics.com/api/data/v9.2/WhoAmI HTTP/1.1
Accept: application/json


--batch_AAA
Content-Type: multipart/mixed; boundary="changeset_BBB"

--changeset_BBB
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

POST /api/data/v9.2/emailserverprofiles HTTP/1.1
Content-Type: application/json; type=entry

{"name": "a\\nb"}
--changeset_BBB
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 2

PATCH $1 HTTP/1.1
Content-Type: application/json

{"description": "x"}
--changeset_BBB--
--batch_AAA--
"""


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_parses_parts_and_change_sets_with_either_line_end(line_end: str) -> None:
    parts = parse_multipart(BODY.replace("\n", line_end), "batch_AAA")
    assert len(parts) == 2
    get = parse_operation(parts[0])
    assert (get.method, get.url, get.headers["accept"]) == (
        "GET",
        "https://org.crm.dynamics.com/api/data/v9.2/WhoAmI",
        "application/json",
    )
    assert parts[1].is_changeset and len(parts[1].children) == 2
    create, patch = (parse_operation(child) for child in parts[1].children)
    assert create.content_id == "1" and create.body == '{"name": "a\\nb"}'
    assert (patch.method, patch.url, patch.content_id) == ("PATCH", "$1", "2")


@pytest.mark.parametrize(
    ("header", "boundary"),
    [
        ('multipart/mixed; boundary="batch_1"', "batch_1"),
        ("multipart/mixed;boundary=batch_2", "batch_2"),
        ("Multipart/Mixed; charset=utf-8; BOUNDARY=batch_3", "batch_3"),
    ],
)
def test_boundary_with_or_without_quotes(header: str, boundary: str) -> None:
    assert boundary_of(header) == boundary


@pytest.mark.parametrize("header", [None, "application/json", "multipart/mixed"])
def test_missing_boundary_is_a_400(header: str | None) -> None:
    with pytest.raises(DataverseFault) as refused:
        boundary_of(header)
    assert refused.value.status == 400


def test_unclosed_body_and_bad_request_line_are_refused() -> None:
    with pytest.raises(DataverseFault, match="not closed"):
        parse_multipart(BODY.replace("--batch_AAA--", ""), "batch_AAA")
    with pytest.raises(DataverseFault, match="does not contain the boundary"):
        parse_multipart("nothing here", "batch_AAA")
    broken = parse_multipart(BODY.replace("GET https", "GEThttps"), "batch_AAA")
    with pytest.raises(DataverseFault, match="request line"):
        parse_operation(broken[0])


def test_nested_change_sets_are_refused() -> None:
    nested = (
        "--b\nContent-Type: multipart/mixed; boundary=c1\n\n--c1\n"
        "Content-Type: multipart/mixed; boundary=c2\n\n--c2\n\n--c2--\n--c1--\n--b--\n"
    )
    with pytest.raises(DataverseFault, match="cannot be nested"):
        parse_multipart(nested, "b")


def test_operation_urls_become_web_api_requests() -> None:
    parts = parse_multipart(BODY, "batch_AAA")
    request = api_request(parse_operation(parts[0]), {})
    assert (request.method, request.path, request.inner) == ("GET", "WhoAmI", True)
    create = api_request(parse_operation(parts[1].children[0]), {})
    assert create.path == "emailserverprofiles" and create.body == b'{"name": "a\\nb"}'
    query = parse_operation(parts[0])
    query.url = "/org/api/data/v9.2/mailboxes?$select=name&$filter=name%20eq%20'a+b'"
    request = api_request(query, {})
    assert request.path == "mailboxes"
    assert request.params == [("$select", "name"), ("$filter", "name eq 'a b'")]
    query.url = "/elsewhere/mailboxes"
    with pytest.raises(DataverseFault, match="not below"):
        api_request(query, {})


# -- robustness: damaged batch bodies are refused, never crash the service ------------------

_PIECES = [
    "\r\n",
    "\n",
    "-",
    "--batch_AAA",
    "--changeset_BBB",
    "--batch_AAA--",
    "$",
    "(",
    ")",
    "{",
    "}",
    ":",
    " ",
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=0), st.sampled_from([*_PIECES, ""])), min_size=1, max_size=6))
def test_damaged_batch_bodies_never_crash_the_service(edits: list[tuple[int, str]]) -> None:
    text = list(BODY.replace("\n", "\r\n"))
    for position, piece in edits:
        index = position % len(text)
        if piece:
            text.insert(index, piece)
        else:
            del text[index]
    service, _, _ = make_service()
    with client(service) as dv:
        response = dv.post(
            "$batch",
            content="".join(text).encode(),
            headers={"Content-Type": 'multipart/mixed; boundary="batch_AAA"'},
        )
    assert response.status_code < 500, response.text
