"""Query options of collection reads: ``$select``, ``$orderby``, ``$expand``, paging, annotations.

Paging orders rows by ``$orderby`` then by primary key, and the ``$skiptoken`` carries the
sort key of the last row sent; the next page starts strictly after it. That keeps pages
stable when rows are inserted or deleted between page requests, as the real paging cookie
does. The token has the documented ``<cookie pagenumber=… pagingcookie=… />`` shape, but
clients must treat it as opaque.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import total_ordering
from typing import Any
from urllib.parse import quote

from .errors import ODATA_READER, DataverseFault, bad_request, no_property
from .odata_filter import compile_filter
from .schema import BOOL, LOOKUP, MANAGED, PICKLIST, Table
from .store import Row

MAX_PAGE = 5000
FORMATTED = "OData.Community.Display.V1.FormattedValue"
LOOKUP_LOGICAL = "Microsoft.Dynamics.CRM.lookuplogicalname"
NAV_PROPERTY = "Microsoft.Dynamics.CRM.associatednavigationproperty"


# -- Prefer header -----------------------------------------------------------------------


@dataclass
class Preferences:
    representation: bool = False
    max_page_size: int | None = None
    annotations: list[str] = field(default_factory=list)
    continue_on_error: bool = False

    def wants(self, annotation: str) -> bool:
        return any(fnmatch.fnmatchcase(annotation, pattern) for pattern in self.annotations)


def parse_prefer(headers: Sequence[str]) -> Preferences:
    prefs = Preferences()
    for header in headers:
        for raw in _split_top(header, ","):
            item = raw.strip()
            key, _, value = item.partition("=")
            key, value = key.strip().lower(), value.strip().strip('"')
            if key == "return" and value.lower() == "representation":
                prefs.representation = True
            elif key == "odata.maxpagesize":
                prefs.max_page_size = _positive_int(value, "odata.maxpagesize")
            elif key == "odata.include-annotations":
                prefs.annotations = [v.strip() for v in value.split(",") if v.strip()]
            elif key == "odata.continue-on-error":
                prefs.continue_on_error = True
    return prefs


def _positive_int(value: str, what: str) -> int:
    if not value.isdigit() or int(value) <= 0:
        raise bad_request(f"The value '{value}' of '{what}' is not a positive integer.")
    return int(value)


def _split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside parentheses and quotes."""
    parts, depth, quoted, start = [], 0, False, 0
    for index, char in enumerate(text):
        if char in {'"', "'"}:
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == sep:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return [p for p in parts if p.strip()]


# -- $select / $orderby / $expand ----------------------------------------------------------


def parse_select(value: str | None, table: Table) -> list[str] | None:
    if value is None:
        return None
    names = [n.strip() for n in value.split(",") if n.strip()]
    for name in names:
        if name not in table.by_prop or table.by_prop[name].writeonly:
            raise no_property(name, table.logical, ODATA_READER)
    return names


def parse_orderby(value: str | None, table: Table) -> list[tuple[str, bool]]:
    order: list[tuple[str, bool]] = []
    for item in (value or "").split(","):
        words = item.split()
        if not words:
            continue
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise bad_request(f"Syntax error in $orderby at '{item.strip()}'.")
        column = table.by_prop.get(words[0])
        if column is None or column.writeonly:
            raise no_property(words[0], table.logical)
        if column.kind == MANAGED:
            raise bad_request(f"The property '{words[0]}' cannot be used in $orderby.")
        order.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
    return order


@dataclass
class Expansion:
    nav: str
    select: list[str] | None
    predicate: Callable[[Row], bool] | None = None  # $filter inside a collection expansion
    order: list[tuple[str, bool]] = field(default_factory=list)
    top: int | None = None


_COLLECTION_OPTIONS = {"$select", "$filter", "$orderby", "$top"}


def parse_expand(value: str | None, table: Table, collections: dict[str, Table]) -> list[Expansion]:
    """``nav`` or ``nav($select=a,b)``; collection-valued navs (``collections``, nav -> table)
    also take ``$filter``, ``$orderby`` and ``$top``, separated by ``;``."""
    result = []
    for item in _split_top(value or "", ","):
        match = re.fullmatch(r"\s*(\w+)\s*(?:\((.*)\))?\s*", item)
        if match is None:
            raise bad_request(f"Syntax error in $expand at '{item.strip()}'.")
        nav, text = match.group(1), match.group(2) or ""
        if nav not in table.by_nav and nav not in collections:
            raise no_property(nav, table.logical)
        options = {}
        for option in _split_top(text, ";"):
            key, _, arg = option.partition("=")
            allowed = _COLLECTION_OPTIONS if nav in collections else {"$select"}
            if key.strip() not in allowed:
                raise bad_request(
                    f"The query option '{key.strip()}' is not supported inside $expand of '{nav}'."
                )
            options[key.strip()] = arg.strip()
        result.append(_expansion(nav, options, collections.get(nav)))
    return result


def _expansion(nav: str, options: dict[str, str], target: Table | None) -> Expansion:
    select = [n.strip() for n in options["$select"].split(",") if n.strip()] if "$select" in options else None
    if target is None:
        return Expansion(nav, select)
    top = options.get("$top")
    if top is not None and not top.isdigit():
        raise bad_request(f"Invalid value '{top}' for $top inside $expand of '{nav}'.")
    predicate = (
        compile_filter(options["$filter"], target.filterable, target.logical)
        if "$filter" in options
        else None
    )
    return Expansion(
        nav,
        parse_select(",".join(select), target) if select else None,
        predicate,
        parse_orderby(options.get("$orderby"), target),
        int(top) if top is not None else None,
    )


# -- rendering ---------------------------------------------------------------------------

Resolver = Callable[[str, str], "Row | None"]  # (logical, id) -> row


def render(
    table: Table,
    row: Row,
    select: list[str] | None,
    *,
    prefs: Preferences,
    resolve: Resolver,
    by_logical: dict[str, Table],
) -> dict[str, Any]:
    """One record as the Web API returns it; the primary key is always included."""
    out: dict[str, Any] = {"@odata.etag": f'W/"{row["versionnumber"]}"'}
    props = list(select) if select is not None else table.readable
    if select is not None and table.pk not in props:
        props.append(table.pk)
    for prop in props:
        value = row.get(prop)
        if prefs.annotations and value is not None:
            _annotate(out, table, prop, row, prefs=prefs, resolve=resolve, by_logical=by_logical)
        out[prop] = value
    return out


def _annotate(
    out: dict[str, Any],
    table: Table,
    prop: str,
    row: Row,
    *,
    prefs: Preferences,
    resolve: Resolver,
    by_logical: dict[str, Table],
) -> None:
    column = table.by_prop[prop]
    value = row[prop]
    formatted: str | None = None
    if column.kind == PICKLIST and column.options:
        formatted = column.options.get(value)
    elif column.kind == BOOL:
        formatted = "Yes" if value else "No"
    elif column.kind == LOOKUP:
        target = lookup_target(column.navs, row, prop)
        if target is not None and prefs.wants(NAV_PROPERTY):
            nav = next((n for n, t in column.navs.items() if t == target), column.name)
            out[f"{prop}@{NAV_PROPERTY}"] = nav
        if target is not None and prefs.wants(LOOKUP_LOGICAL):
            out[f"{prop}@{LOOKUP_LOGICAL}"] = target
        target_table = by_logical.get(target or "")
        target_row = resolve(target, value) if target and target_table else None
        if target_table is not None and target_row is not None and target_table.primary_name:
            formatted = target_row.get(target_table.primary_name)
    if formatted is not None and prefs.wants(FORMATTED):
        out[f"{prop}@{FORMATTED}"] = formatted


def lookup_target(navs: dict[str, str], row: Mapping[str, Any], prop: str) -> str | None:
    return row.get(f"{prop}@lt") or (next(iter(navs.values())) if navs else None)


# -- sorting and paging ------------------------------------------------------------------


@total_ordering
class _Desc:
    """Inverts the order of a sort key part for ``desc``."""

    __slots__ = ("key",)

    def __init__(self, key: Any) -> None:
        self.key = key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.key == other.key

    def __lt__(self, other: _Desc) -> bool:
        return bool(self.key > other.key)

    def __hash__(self) -> int:
        return hash(self.key)


def _part(value: Any) -> tuple[bool, Any]:
    # SQL sorts nulls first; strings compare case-insensitively like the collation.
    if value is None:
        return (False, 0)
    return (True, value.casefold() if isinstance(value, str) else value)


def sort_key_factory(order: list[tuple[str, bool]], pk: str) -> Callable[[Row], tuple[Any, ...]]:
    def key(row: Row) -> tuple[Any, ...]:
        parts: list[Any] = [_Desc(_part(row.get(p))) if desc else _part(row.get(p)) for p, desc in order]
        parts.append(str(row.get(pk)).lower())
        return tuple(parts)

    return key


def raw_key(row: Row, order: list[tuple[str, bool]], pk: str) -> list[Any]:
    return [row.get(p) for p, _ in order] + [row.get(pk)]


def encode_token(page: int, last: list[Any], remaining: int | None) -> str:
    payload = json.dumps({"k": last, "r": remaining}, separators=(",", ":")).encode()
    cookie = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f'<cookie pagenumber="{page}" pagingcookie="{cookie}" istracking="False" />'


@dataclass
class PageToken:
    page: int
    last: list[Any]
    remaining: int | None


def decode_token(token: str) -> PageToken:
    match = re.fullmatch(
        r'\s*<cookie pagenumber="(\d+)" pagingcookie="([\w-]*)" istracking="False" />\s*', token
    )
    try:
        if match is None:
            raise ValueError("shape")
        data = match.group(2)
        payload = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
        return PageToken(int(match.group(1)), list(payload["k"]), payload["r"])
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise DataverseFault(400, "0x80040203", "The $skiptoken value is not a valid paging cookie.") from exc


def next_link(base: str, path: str, params: list[tuple[str, str]], token: str) -> str:
    kept = [(k, v) for k, v in params if k != "$skiptoken"]
    query = "&".join(f"{k}={quote(v, safe=chr(39) + '(),$=:@/')}" for k, v in kept)
    query = f"{query}&" if query else ""
    return f"{base}/{path}?{query}$skiptoken={quote(token, safe='')}"
