"""The emulator's ``$filter`` parser: what it selects and what it refuses."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# -- property: the parser agrees with a direct evaluation of the same expression tree ---------

_INT_COLUMNS = ("incomingemaildeliverymethod", "versionnumber")
_OPS = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}


def _comparison() -> st.SearchStrategy[tuple[str, Any]]:
    numbers = st.builds(
        lambda column, op, value: (f"{column} {op} {value}", ("cmp", column, op, value)),
        st.sampled_from(_INT_COLUMNS),
        st.sampled_from(sorted(_OPS)),
        st.integers(min_value=-1, max_value=35),
    )
    names = st.builds(
        lambda op, value: (
            f"name {op} '{value.replace(chr(39), chr(39) * 2)}'",
            ("cmp", "name", op, value.casefold()),
        ),
        st.sampled_from(["eq", "ne"]),
        st.sampled_from(["Bob", "bob", "Alice O'Hara", "nobody"]),
    )
    nulls = st.builds(
        lambda op: (f"_emailserverprofile_value {op} null", ("null", op)), st.sampled_from(["eq", "ne"])
    )
    return st.one_of(numbers, names, nulls)


def _combine(children: st.SearchStrategy[tuple[str, Any]]) -> st.SearchStrategy[tuple[str, Any]]:
    pairs = st.tuples(children, st.sampled_from(["and", "or"]), children)
    return st.one_of(
        st.builds(lambda p: (f"({p[0][0]}) {p[1]} ({p[2][0]})", (p[1], p[0][1], p[2][1])), pairs),
        st.builds(lambda c: (f"not ({c[0]})", ("not", c[1])), children),
    )


def _evaluate(tree: Any, row: dict[str, Any]) -> bool | None:
    kind = tree[0]
    if kind == "cmp":
        value = row.get(tree[1])
        if value is None:
            return None
        value = value.casefold() if isinstance(value, str) else value
        return bool(_OPS[tree[2]](value, tree[3]))
    if kind == "null":
        return (row.get("_emailserverprofile_value") is None) == (tree[1] == "eq")
    if kind == "not":
        inner = _evaluate(tree[1], row)
        return None if inner is None else not inner
    left, right = _evaluate(tree[1], row), _evaluate(tree[2], row)
    if kind == "and":
        if left is False or right is False:
            return False
        return None if None in (left, right) else True
    if left is True or right is True:
        return True
    return None if None in (left, right) else False


@settings(max_examples=300, deadline=None)
@given(st.recursive(_comparison(), _combine, max_leaves=8))
def test_parser_matches_direct_evaluation(expression: tuple[str, Any]) -> None:
    text, tree = expression
    expected = [row["id"] for row in ROWS if _evaluate(tree, row) is True]
    assert select(text) == expected, text


def test_a_filter_with_thousands_of_terms_does_not_recurse() -> None:
    long = " or ".join(f"versionnumber eq {n}" for n in range(5000))
    assert select(long) == [1, 2, 3]
    assert select(" and ".join(["incomingemaildeliverymethod ge 0"] * 3000)) == [1, 2, 3]
    with pytest.raises(DataverseFault, match="nested too deeply"):
        select("(" * 3000 + "versionnumber eq 1" + ")" * 3000)
