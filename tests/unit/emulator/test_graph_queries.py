"""Graph query options the emulator accepts, and what it refuses with Graph's codes."""

from __future__ import annotations

import pytest

from sssctl.emulator.graph import GraphError, _filtered, _public, _select, _skip, _top

ITEMS = [
    {"id": "1", "displayName": "Alpha", "appId": "a"},
    {"id": "2", "displayName": "O'Brien", "appId": "b"},
    {"id": "3", "displayName": "alpha", "appId": "c"},
]


def test_eq_filter_is_case_insensitive_and_unescapes_quotes() -> None:
    assert [i["id"] for i in _filtered(ITEMS, "displayName eq 'ALPHA'", {"displayName"})] == ["1", "3"]
    assert [i["id"] for i in _filtered(ITEMS, "displayName eq 'O''Brien'", {"displayName"})] == ["2"]
    both = _filtered(ITEMS, "displayName eq 'alpha' and appId eq 'c'", {"displayName", "appId"})
    assert [i["id"] for i in both] == ["3"]


def test_guid_literals_need_no_quotes() -> None:
    items = [
        {"id": "1", "resourceId": "0e1f2a3b-4c5d-4e6f-8a9b-aa0000000002"},
        {"id": "2", "resourceId": "x"},
    ]
    found = _filtered(items, "resourceId eq 0E1F2A3B-4C5D-4E6F-8A9B-AA0000000002", {"resourceId"})
    assert [i["id"] for i in found] == ["1"]


@pytest.mark.parametrize("expression", ["startswith(displayName,'a')", "notes eq 'x'", "displayName ne 'a'"])
def test_unsupported_filters_are_refused(expression: str) -> None:
    with pytest.raises(GraphError) as caught:
        _filtered(ITEMS, expression, {"displayName"})
    assert (caught.value.status, caught.value.code) == (400, "Request_UnsupportedQuery")


@pytest.mark.parametrize(("raw", "expected"), [(None, 100), ("1", 1), ("999", 999)])
def test_page_size(raw: str | None, expected: int) -> None:
    assert _top(raw) == expected


@pytest.mark.parametrize("raw", ["0", "1000", "ten"])
def test_bad_page_size_is_refused(raw: str) -> None:
    with pytest.raises(GraphError):
        _top(raw)


def test_skip_token_round_trip_and_garbage() -> None:
    assert _skip(None) == 0 and _skip("X40") == 40
    with pytest.raises(GraphError):
        _skip("40")


def test_public_view_hides_secret_text_and_key_blobs() -> None:
    data = {
        "passwordCredentials": [{"keyId": "k", "secretText": "s3cret"}],
        "keyCredentials": [{"keyId": "c", "key": "MIIB"}],
    }
    shown = _public(data)
    assert shown["passwordCredentials"][0]["secretText"] is None
    assert shown["keyCredentials"][0]["key"] is None
    assert data["passwordCredentials"][0]["secretText"] == "s3cret"  # stored data untouched


def test_select_keeps_only_named_fields() -> None:
    assert _select({"id": "1", "displayName": "x", "appId": "a"}, ["id", "appId"]) == {
        "id": "1",
        "appId": "a",
    }
    assert _select({"id": "1"}, None) == {"id": "1"}
