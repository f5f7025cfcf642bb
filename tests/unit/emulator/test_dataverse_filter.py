"""The emulator's ``$filter`` parser: what it selects and what it refuses."""

from __future__ import annotations

import pytest

from sssctl.emulator.dataverse.errors import DataverseFault
from sssctl.emulator.dataverse.odata_filter import compile_filter, tokenize

pytestmark = pytest.mark.timeout(30)

PROFILE = "7eedeb22-6a30-4a66-808b-00c25a95b03f"
OTHER = "11111111-2222-4333-8444-555555555555"
COLUMNS = {
    "name": "string",
    "emailaddress": "string",
    "incomingemaildeliverymethod": "int",
    "versionnumber": "bigint",
    "isforwardmailbox": "bool",
    "_emailserverprofile_value": "guid",
    "modifiedon": "datetime",
}
ROWS = [
    {"id": 1, "name": "Alice O'Hara", "emailaddress": "user001@contoso.com", "incomingemaildeliverymethod": 2,
     "versionnumber": 10, "isforwardmailbox": False, "_emailserverprofile_value": PROFILE,
     "modifiedon": "2024-05-02T09:30:00Z"},
    {"id": 2, "name": "Bob", "emailaddress": "USER002@CONTOSO.COM", "incomingemaildeliverymethod": 1,
     "versionnumber": 20, "isforwardmailbox": True, "_emailserverprofile_value": OTHER,
     "modifiedon": "2025-01-01T00:00:00Z"},
    {"id": 3, "name": None, "emailaddress": "queue01@contoso.com", "incomingemaildeliverymethod": 0,
     "versionnumber": 30, "isforwardmailbox": False, "_emailserverprofile_value": None,
     "modifiedon": "2023-12-31T23:59:59Z"},
]  # fmt: skip


def select(expression: str) -> list[int]:
    predicate = compile_filter(expression, COLUMNS, "mailbox")
    return [row["id"] for row in ROWS if predicate(row)]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("incomingemaildeliverymethod eq 2", [1]),
        ("incomingemaildeliverymethod ne 2", [2, 3]),
        ("incomingemaildeliverymethod gt 0", [1, 2]),
        ("incomingemaildeliverymethod ge 1 and incomingemaildeliverymethod le 1", [2]),
        ("versionnumber lt 25", [1, 2]),
        ("isforwardmailbox eq true", [2]),
        ("not isforwardmailbox eq true", [1, 3]),
        (f"_emailserverprofile_value eq {PROFILE}", [1]),
        (f"_emailserverprofile_value eq {PROFILE.upper()}", [1]),
        ("_emailserverprofile_value eq null", [3]),
        ("_emailserverprofile_value ne null", [1, 2]),
        ("null eq name", [3]),
        ("name ne 'Bob'", [1]),  # SQL semantics: a null name is neither equal nor unequal
        ("not (name eq 'Bob')", [1]),
        ("name eq 'alice o''hara'", [1]),  # '' escapes a quote; comparison ignores case
        ("contains(emailaddress,'002@contoso')", [2]),
        ("startswith(emailaddress, 'user')", [1, 2]),
        ("endswith(emailaddress,'.COM')", [1, 2, 3]),
        ("not startswith(emailaddress,'user')", [3]),
        ("incomingemaildeliverymethod eq 2 or isforwardmailbox eq true", [1, 2]),
        (
            "incomingemaildeliverymethod eq 0 or incomingemaildeliverymethod eq 1"
            " and isforwardmailbox eq false",
            [3],
        ),
        (
            "(incomingemaildeliverymethod eq 0 or incomingemaildeliverymethod eq 1)"
            " and isforwardmailbox eq true",
            [2],
        ),
        ("modifiedon gt 2024-01-01T00:00:00Z", [1, 2]),
        ("modifiedon lt 2024-01-01", [3]),
        (
            "Microsoft.Dynamics.CRM.In(PropertyName='emailaddress',PropertyValues=['user001@contoso.com','x'])",
            [1],
        ),
        (
            f"Microsoft.Dynamics.CRM.In(PropertyName='_emailserverprofile_value',PropertyValues=['{OTHER}'])",
            [2],
        ),
        (
            "Microsoft.Dynamics.CRM.NotIn(PropertyName='incomingemaildeliverymethod',PropertyValues=['0','1'])",
            [1],
        ),
        ("  incomingemaildeliverymethod   eq   2  ", [1]),
        ("incomingemaildeliverymethod EQ 2 AND isforwardmailbox eq false", [1]),
        ("versionnumber eq 10.0", [1]),
    ],
)
def test_filter_selects(expression: str, expected: list[int]) -> None:
    assert select(expression) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("nosuch eq 1", "Could not find a property named 'nosuch' on type 'Microsoft.Dynamics.CRM.mailbox'"),
        ("", "empty"),
        ("name eq", "expected a property or a literal"),
        ("name 'x'", "expected a comparison operator"),
        ("(name eq 'x'", "expected ')'"),
        ("name eq 'x')", "unexpected ')'"),
        ("name eq 'unterminated", "unexpected character"),
        ("name eq 'x' and", "expected a property or a literal"),
        ("name like 'x'", "expected a comparison operator"),
        ("_emailserverprofile_value eq 'text'", "incompatible types"),
        ("incomingemaildeliverymethod eq 'two'", "incompatible types"),
        ("isforwardmailbox eq 1", "incompatible types"),
        ("name gt null", "cannot be used with null"),
        ("contains(incomingemaildeliverymethod,'2')", "needs a string property"),
        ("substringof('a',name)", "Unknown function"),
        ("name eq 'a' # comment", "unexpected character '#'"),
        ("Microsoft.Dynamics.CRM.In(PropertyName='name')", "needs PropertyName and PropertyValues"),
        (
            "Microsoft.Dynamics.CRM.In(PropertyName='incomingemaildeliverymethod',PropertyValues=['x'])",
            "Cannot convert",
        ),
    ],
)
def test_filter_refuses_with_a_400(expression: str, message: str) -> None:
    with pytest.raises(DataverseFault) as refused:
        compile_filter(expression, COLUMNS, "mailbox")
    assert refused.value.status == 400
    assert refused.value.code == "0x80060888"
    assert message in refused.value.message


def test_tokenizer_recognises_guids_dates_numbers_and_dotted_names() -> None:
    kinds = [(t.kind, t.text) for t in tokenize(f"a eq {PROFILE} and b ge 2024-05-02T09:30:00Z or c lt -1.5")]
    assert kinds[2] == ("guid", PROFILE)
    assert ("datetime", "2024-05-02T09:30:00Z") in kinds
    assert ("number", "-1.5") in kinds
    assert tokenize("Microsoft.Dynamics.CRM.In(")[0].text == "Microsoft.Dynamics.CRM.In"
    assert kinds[-1][0] == "end"
