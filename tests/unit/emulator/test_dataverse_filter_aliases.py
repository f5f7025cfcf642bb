"""``$filter`` parameter aliases, JSON-quoted ``In`` values and lookup-column paths."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from sssctl.emulator.dataverse.errors import DataverseFault
from sssctl.emulator.dataverse.odata_filter import compile_filter

COLUMNS = {"name": "string", "statecode": "int"}
PROFILES = {"p1": {"name": "Exchange Online"}, "p2": {"name": "Own app"}}
ROWS = [
    {"name": "a", "statecode": 0, "profile": "p1"},
    {"name": "b", "statecode": 1, "profile": "p2"},
    {"name": "O'Brien", "statecode": 0, "profile": None},
]


class ProfileLookups:
    def columns(self, nav: str) -> tuple[str, Mapping[str, str]] | None:
        return ("emailserverprofile", {"name": "string"}) if nav == "emailserverprofile" else None

    def related(self, row: Mapping[str, Any], nav: str) -> Mapping[str, Any] | None:
        return PROFILES.get(row.get("profile") or "")


def _names(text: str, **aliases: str) -> list[str]:
    keyed = {f"@{k}": v for k, v in aliases.items()}
    predicate = compile_filter(text, COLUMNS, "mailbox", aliases=keyed, lookups=ProfileLookups())
    return [r["name"] for r in ROWS if predicate(r)]


def test_aliases_stand_for_literals_anywhere() -> None:
    assert _names("statecode eq @s", s="1") == ["b"]
    in_names = "Microsoft.Dynamics.CRM.In(PropertyName=@p,PropertyValues=@v)"
    assert _names(in_names, p="'name'", v="['a','b']") == ["a", "b"]


def test_in_takes_json_double_quoted_values_with_escapes() -> None:
    text = "Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=[\"O'Brien\",\"\\u0061\"])"
    assert _names(text) == ["a", "O'Brien"]


@pytest.mark.parametrize("text", ["name eq @missing", "name eq @outer"])
def test_an_alias_without_a_literal_value_is_refused(text: str) -> None:
    with pytest.raises(DataverseFault) as refused:
        _names(text, outer="@inner", inner="'a'")
    assert refused.value.status == 400 and "has no value" in refused.value.message


def test_a_lookup_path_reads_the_related_row_and_null_when_there_is_none() -> None:
    assert _names("emailserverprofile/name eq 'own app'") == ["b"]
    assert _names("emailserverprofile/name ne 'own app'") == ["a"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("owner/name eq 'x'", "'owner' on type 'Microsoft.Dynamics.CRM.mailbox'"),
        ("emailserverprofile/nosuch eq 'x'", "'nosuch' on type 'Microsoft.Dynamics.CRM.emailserverprofile'"),
    ],
)
def test_an_unknown_lookup_or_property_is_named(text: str, message: str) -> None:
    with pytest.raises(DataverseFault) as refused:
        _names(text)
    assert message in refused.value.message
