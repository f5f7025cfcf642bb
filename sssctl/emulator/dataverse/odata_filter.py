"""``$filter`` for the emulator: a tokenizer and a recursive-descent parser compiled to a predicate.

Semantics follow what Dataverse does after translating OData to SQL, since that is what
clients meet in practice:

* string comparisons and ``contains``/``startswith``/``endswith`` ignore case (the
  database collation is case-insensitive);
* comparisons with a null column are *unknown* (SQL three-valued logic), so
  ``name ne 'x'`` does not return rows whose ``name`` is null; only ``eq null`` /
  ``ne null`` test for null;
* operand types must agree: ``_x_value eq 'text'`` is refused as Dataverse refuses it
  (Edm.Guid vs Edm.String).

The compiled predicate returns ``True`` only for rows the filter selects.

Also documented and handled here:

* parameter aliases (``In(PropertyName=@p1,PropertyValues=@p2)&@p1='name'&@p2=["a","b"]``):
  an alias stands for the literal given in the query string, as OData URL Conventions §5.1.1.13
  define; the ``In`` collection may hold JSON double-quoted strings
  (https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/query/filter-rows
  "Use parameter aliases with filter conditions", and the ``In`` function reference
  https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/reference/in);
* a column of the row a single-valued navigation property points at
  (``emailserverprofile/name eq 'x'``), filter-rows "Filter on lookup column property values".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from .errors import DataverseFault, bad_request, no_property

Row = Mapping[str, Any]
Predicate = Callable[[Row], "bool | None"]

# Edm kinds a column can have, as the schema reports them.
NUMERIC_KINDS = frozenset({"int", "bigint", "decimal"})
EDM_NAMES = {
    "string": "Edm.String",
    "int": "Edm.Int32",
    "bigint": "Edm.Int64",
    "decimal": "Edm.Decimal",
    "bool": "Edm.Boolean",
    "guid": "Edm.Guid",
    "datetime": "Edm.DateTimeOffset",
    "null": "null",
}

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<dstring>"(?:[^"\\]|\\.)*")
  | (?P<alias>@[A-Za-z_]\w*)
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-]))
  | (?P<datetime>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))?(?![\w-]))
  | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
  | (?P<name>[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*(?:/[A-Za-z_]\w*)?)
  | (?P<punct>[(),=\[\]])
    """,
    re.VERBOSE,
)

_COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}
_FUNCTIONS = {"contains", "startswith", "endswith"}
_IN_FUNCTIONS = {"microsoft.dynamics.crm.in", "microsoft.dynamics.crm.notin"}


@dataclass(frozen=True)
class Token:
    kind: str  # string guid datetime number name punct end
    text: str
    pos: int


class Lookups(Protocol):
    """What a filter needs to follow a single-valued navigation property of its table."""

    def columns(self, nav: str) -> tuple[str, Mapping[str, str]] | None:
        """(target logical name, its filterable columns), or None if ``nav`` is no lookup."""
        ...

    def related(self, row: Row, nav: str) -> Row | None:
        """The row ``nav`` points at, or None."""
        ...


def tokenize(text: str, aliases: Mapping[str, str] | None = None) -> list[Token]:
    """Split a ``$filter`` into tokens, refusing any character the grammar does not know.

    An alias is replaced by the tokens of its value; a value may not name another alias."""
    tokens = [*_tokens(text, aliases or {}, nested=False), Token("end", "", len(text))]
    return tokens


def _tokens(text: str, aliases: Mapping[str, str], *, nested: bool) -> Iterator[Token]:
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _syntax(text, pos, f"unexpected character '{text[pos]}'")
        kind = match.lastgroup or ""
        if kind == "alias":
            yield from _alias_tokens(match.group(), pos, aliases, nested=nested)
        elif kind != "ws":
            yield Token(kind, match.group(), pos)
        pos = match.end()


def _alias_tokens(name: str, pos: int, aliases: Mapping[str, str], *, nested: bool) -> Iterator[Token]:
    value = aliases.get(name)
    if value is None or nested:
        raise bad_request(f"The parameter alias '{name}' has no value in the query string.")
    for token in _tokens(value, aliases, nested=True):
        yield Token(token.kind, token.text, pos)


def _syntax(text: str, pos: int, why: str) -> DataverseFault:
    return bad_request(f"Syntax error at position {pos} in '{text}': {why}.")


@dataclass(frozen=True)
class Operand:
    """Either a column reference (``column`` set) or a literal value of an Edm kind."""

    kind: str
    value: Any = None
    column: str | None = None


class _Parser:
    def __init__(
        self,
        text: str,
        columns: Mapping[str, str],
        logical: str,
        aliases: Mapping[str, str] | None = None,
        lookups: Lookups | None = None,
    ) -> None:
        self.text = text
        self.tokens = tokenize(text, aliases)
        self.index = 0
        self.columns = columns
        self.logical = logical
        self.lookups = lookups

    # -- token helpers ---------------------------------------------------------------
    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, text: str) -> Token:
        token = self.take()
        if token.text.lower() != text:
            raise _syntax(self.text, token.pos, f"expected '{text}' but found '{token.text or 'end'}'")
        return token

    def at_word(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "name" and token.text.lower() in words

    # -- grammar ---------------------------------------------------------------------
    def parse(self) -> Predicate:
        if self.peek().kind == "end":
            raise _syntax(self.text, 0, "the expression is empty")
        predicate = self.or_expr()
        token = self.peek()
        if token.kind != "end":
            raise _syntax(self.text, token.pos, f"unexpected '{token.text}'")
        return predicate

    def or_expr(self) -> Predicate:
        terms = [self.and_expr()]
        while self.at_word("or"):
            self.take()
            terms.append(self.and_expr())
        return terms[0] if len(terms) == 1 else _any(terms)

    def and_expr(self) -> Predicate:
        terms = [self.not_expr()]
        while self.at_word("and"):
            self.take()
            terms.append(self.not_expr())
        return terms[0] if len(terms) == 1 else _all(terms)

    def not_expr(self) -> Predicate:
        if self.at_word("not"):
            self.take()
            return _not(self.not_expr())
        return self.primary()

    def primary(self) -> Predicate:
        token = self.peek()
        if token.text == "(":
            self.take()
            inner = self.or_expr()
            self.expect(")")
            return inner
        if token.kind == "name" and self.tokens[self.index + 1].text == "(":
            name = token.text.lower()
            if name in _FUNCTIONS:
                return self.string_function()
            if name in _IN_FUNCTIONS:
                return self.in_function()
            raise bad_request(f"Unknown function '{token.text}'.")
        return self.comparison()

    def comparison(self) -> Predicate:
        left = self.operand()
        token = self.take()
        op = token.text.lower()
        if token.kind != "name" or op not in _COMPARE:
            raise _syntax(
                self.text, token.pos, f"expected a comparison operator but found '{token.text or 'end'}'"
            )
        right = self.operand()
        return _compare(op, left, right)

    def operand(self) -> Operand:
        token = self.take()
        if token.kind == "string":
            return Operand("string", token.text[1:-1].replace("''", "'"))
        if token.kind == "guid":
            return Operand("guid", token.text.lower())
        if token.kind == "number":
            return Operand("decimal" if "." in token.text else "int", _number(token.text))
        if token.kind == "datetime":
            return Operand("datetime", _parse_datetime(token.text))
        if token.kind == "name":
            word = token.text.lower()
            if word in ("true", "false"):
                return Operand("bool", word == "true")
            if word == "null":
                return Operand("null")
            return self.column(token.text)
        raise _syntax(
            self.text, token.pos, f"expected a property or a literal but found '{token.text or 'end'}'"
        )

    def column(self, name: str) -> Operand:
        if "/" in name:
            return self.lookup_column(name)
        kind = self.columns.get(name)
        if kind is None:
            raise no_property(name, self.logical)
        return Operand(kind, column=name)

    def lookup_column(self, path: str) -> Operand:
        """``nav/prop``: the predicate reads it through :class:`_Navigable`."""
        nav, prop = path.split("/")
        target = self.lookups.columns(nav) if self.lookups is not None else None
        if target is None:
            raise no_property(nav, self.logical)
        logical, columns = target
        kind = columns.get(prop)
        if kind is None:
            raise no_property(prop, logical)
        return Operand(kind, column=path)

    def string_function(self) -> Predicate:
        name = self.take().text.lower()
        self.expect("(")
        column = self.operand()
        self.expect(",")
        needle = self.operand()
        self.expect(")")
        if column.column is None or column.kind != "string" or needle.kind != "string":
            raise bad_request(f"The '{name}' function needs a string property and a string literal.")
        return _string_function(name, column.column, str(needle.value).casefold())

    def in_function(self) -> Predicate:
        negate = self.take().text.lower().endswith("notin")
        self.expect("(")
        params: dict[str, Any] = {}
        while True:
            key = self.take()
            self.expect("=")
            if key.text == "PropertyValues":
                params["PropertyValues"] = self.string_list()
            elif key.text == "PropertyName":
                value = self.take()
                if value.kind != "string":
                    raise _syntax(self.text, value.pos, "PropertyName must be a string literal")
                params["PropertyName"] = value.text[1:-1].replace("''", "'")
            else:
                raise bad_request(f"Unknown parameter '{key.text}' for function In.")
            if self.peek().text != ",":
                break
            self.take()
        self.expect(")")
        if set(params) != {"PropertyName", "PropertyValues"}:
            raise bad_request("The In function needs PropertyName and PropertyValues.")
        column = self.column(params["PropertyName"])
        values = {_coerce_text(column.kind, v, self.logical) for v in params["PropertyValues"]}
        return _in(str(column.column), values, negate)

    def string_list(self) -> list[str]:
        self.expect("[")
        values: list[str] = []
        while self.peek().text != "]":
            token = self.take()
            if token.kind not in ("string", "dstring", "guid", "number"):
                raise _syntax(self.text, token.pos, "PropertyValues holds string literals")
            values.append(_list_item(token))
            if self.peek().text == ",":
                self.take()
        self.expect("]")
        return values


def _list_item(token: Token) -> str:
    """A collection item as text: OData quotes strings with ', JSON (and Microsoft's examples) with "."""
    if token.kind == "string":
        return token.text[1:-1].replace("''", "'")
    if token.kind == "dstring":
        return str(json.loads(token.text))
    return token.text


def _number(text: str) -> int | float:
    return float(text) if "." in text else int(text)


def _parse_datetime(text: str) -> datetime:
    if "T" not in text:
        text += "T00:00:00Z"
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _coerce_text(kind: str, value: str, logical: str) -> Any:
    """Turn an ``In`` value (always text in the URL) into the column's kind for comparison."""
    try:
        if kind in NUMERIC_KINDS:
            return _number(value)
        if kind == "guid":
            return value.lower()
        if kind == "string":
            return value.casefold()
        if kind == "bool":
            return value.lower() == "true"
    except ValueError:
        pass
    raise bad_request(
        f"Cannot convert the literal '{value}' to the expected type '{EDM_NAMES.get(kind, kind)}'."
    )


def _comparable(left: str, right: str) -> bool:
    if "null" in (left, right):
        return True
    if left in NUMERIC_KINDS and right in NUMERIC_KINDS:
        return True
    return left == right


def _key(kind: str, value: Any) -> Any:
    """The value as the database would compare it."""
    if value is None:
        return None
    if kind == "string":
        return str(value).casefold()
    if kind == "guid":
        return str(value).lower()
    if kind == "datetime" and isinstance(value, str):
        return _parse_datetime(value)
    return value


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}


def _compare(op: str, left: Operand, right: Operand) -> Predicate:
    if not _comparable(left.kind, right.kind):
        raise bad_request(
            "A binary operator with incompatible types was detected. Found operand types "
            f"'{EDM_NAMES.get(left.kind, left.kind)}' and '{EDM_NAMES.get(right.kind, right.kind)}' "
            f"for operator kind '{op}'."
        )
    if "null" in (left.kind, right.kind) and op not in ("eq", "ne"):
        raise bad_request(f"The operator '{op}' cannot be used with null.")
    kind = left.kind if left.column is not None else right.kind

    def value_of(operand: Operand) -> Callable[[Row], Any]:
        if operand.column is not None:
            column = operand.column
            return lambda row: _key(kind, row.get(column))
        constant = _key(kind, operand.value)
        return lambda row: constant

    get_left, get_right = value_of(left), value_of(right)
    if "null" in (left.kind, right.kind):
        wanted_null = op == "eq"
        other = get_right if left.kind == "null" else get_left
        return lambda row: (other(row) is None) == wanted_null
    func = _OPS[op]

    def predicate(row: Row) -> bool | None:
        a, b = get_left(row), get_right(row)
        if a is None or b is None:
            return None
        return func(a, b)

    return predicate


def _string_function(name: str, column: str, needle: str) -> Predicate:
    def predicate(row: Row) -> bool | None:
        value = row.get(column)
        if value is None:
            return None
        text = str(value).casefold()
        if name == "contains":
            return needle in text
        if name == "startswith":
            return text.startswith(needle)
        return text.endswith(needle)

    return predicate


def _in(column: str, values: set[Any], negate: bool) -> Predicate:
    def predicate(row: Row) -> bool | None:
        value = row.get(column)
        if value is None:
            return None
        key = str(value).casefold() if isinstance(value, str) else value
        return (key in values) != negate

    return predicate


def _all(terms: list[Predicate]) -> Predicate:
    """SQL AND over any number of terms, evaluated in a loop (long filters must not recurse)."""

    def predicate(row: Row) -> bool | None:
        unknown = False
        for term in terms:
            value = term(row)
            if value is False:
                return False
            unknown = unknown or value is None
        return None if unknown else True

    return predicate


def _any(terms: list[Predicate]) -> Predicate:
    """SQL OR over any number of terms."""

    def predicate(row: Row) -> bool | None:
        unknown = False
        for term in terms:
            value = term(row)
            if value is True:
                return True
            unknown = unknown or value is None
        return None if unknown else False

    return predicate


def _not(inner: Predicate) -> Predicate:
    def predicate(row: Row) -> bool | None:
        value = inner(row)
        return None if value is None else not value

    return predicate


class _Navigable(Mapping[str, Any]):
    """A row whose ``nav/prop`` keys read the row ``nav`` points at, so predicates need not know."""

    def __init__(self, row: Row, lookups: Lookups) -> None:
        self.row, self.lookups = row, lookups

    def __getitem__(self, key: str) -> Any:
        if "/" not in key:
            return self.row[key]
        nav, prop = key.split("/")
        related = self.lookups.related(self.row, nav)
        return None if related is None else related.get(prop)

    def __iter__(self) -> Iterator[str]:
        return iter(self.row)

    def __len__(self) -> int:
        return len(self.row)


def compile_filter(
    text: str,
    columns: Mapping[str, str],
    logical: str,
    *,
    aliases: Mapping[str, str] | None = None,
    lookups: Lookups | None = None,
) -> Callable[[Row], bool]:
    """Compile ``$filter`` text against a table's columns (property name -> Edm kind).

    ``aliases`` are the query string's ``@name=value`` parameters; ``lookups`` lets the filter
    follow single-valued navigation properties."""
    try:
        predicate = _Parser(text, columns, logical, aliases, lookups).parse()
    except RecursionError as exc:
        raise bad_request("The $filter expression is nested too deeply.") from exc
    if lookups is None or "/" not in text:
        return lambda row: predicate(row) is True
    follow = lookups
    return lambda row: predicate(_Navigable(row, follow)) is True
