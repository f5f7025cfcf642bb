"""Reading rows: collection queries, single records, ``$count``, ``$expand`` and N:N navigation.

A query selects the rows the caller's read depth reaches and the ``$filter`` keeps, orders
only the page it answers (plus one row, to know whether a next page exists) and links the
next page with a ``$skiptoken`` that remembers where the page stopped.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from operator import itemgetter
from typing import Any

from . import options
from .errors import no_http_resource, not_found
from .messages import ApiRequest, ApiResponse, aliases, json_response
from .odata_filter import compile_filter
from .query import (
    MAX_PAGE,
    Expansion,
    Preferences,
    decode_token,
    encode_token,
    lookup_target,
    next_link,
    parse_expand,
    parse_orderby,
    parse_prefer,
    parse_select,
    raw_key,
    render,
    sort_key_factory,
)
from .schema import BY_LOGICAL, PRIVILEGE, TABLES, Table
from .security import Principal, require
from .store import Row, Store


def collection_navs(table: Table) -> dict[str, Table]:
    """N:N navigation properties, as ``metadata.MANY_TO_MANY`` declares them."""
    if table.logical == "role":
        return {"roleprivileges_association": PRIVILEGE, "systemuserroles_association": TABLES["systemusers"]}
    if table.logical == "systemuser":
        return {"systemuserroles_association": TABLES["roles"]}
    if table.logical == "privilege":
        return {"roleprivileges_association": TABLES["roles"]}
    return {}


def existing(store: Store, table: Table, record_id: str) -> Row:
    """The row, or Dataverse's 404 for a record that does not exist."""
    row = store.get(table.logical, record_id)
    if row is None:
        raise not_found(table.logical, record_id)
    return row


def request_uri(api: str, request: ApiRequest) -> str:
    return f"{api}/{request.path.strip('/')}"


class Lookups:
    """Follows a table's single-valued navigation properties for ``$filter`` (``nav/prop``)."""

    def __init__(self, store: Store, table: Table) -> None:
        self.store, self.table = store, table

    def columns(self, nav: str) -> tuple[str, dict[str, str]] | None:
        column = self.table.by_nav.get(nav)
        if column is None:
            return None
        target = BY_LOGICAL[column.navs[nav]]
        return target.logical, target.filterable

    def related(self, row: Mapping[str, Any], nav: str) -> Row | None:
        column = self.table.by_nav[nav]
        value = row.get(column.prop)
        target = column.navs[nav]
        if value is None or lookup_target(column.navs, row, column.prop) != target:
            return None
        return self.store.get(target, str(value))


class Reader:
    """The read side of the Web API over one store; ``api`` is the service root URL."""

    def __init__(self, store: Store, api: str) -> None:
        self.store = store
        self.api = api

    def query(
        self, request: ApiRequest, who: Principal, table: Table, source: list[Row] | None = None
    ) -> ApiResponse:
        options.check_options(request)
        prefs = parse_prefer(options.prefer_headers(request))
        select = parse_select(request.param("$select"), table)
        order = parse_orderby(request.param("$orderby"), table)
        expand = parse_expand(request.param("$expand"), table, collection_navs(table))
        top = options.top(request.param("$top"))
        rows = self.matching_rows(request, who, table, source)
        total = len(rows)
        sort_key = sort_key_factory(order, table.pk)
        keyed: Iterable[tuple[Any, Row]] = ((sort_key(r), r) for r in rows)
        page_size = min(prefs.max_page_size or MAX_PAGE, MAX_PAGE)
        limit = (
            top if (top is not None and prefs.max_page_size is None) else None
        )  # maxpagesize wins over $top
        page_number = 1
        token_text = request.param("$skiptoken")
        if token_text is not None:
            token = decode_token(token_text)
            page_number, limit = token.page, token.remaining
            names = [p for p, _ in order]
            last = sort_key({**dict(zip(names, token.last[:-1], strict=False)), table.pk: token.last[-1]})
            keyed = (pair for pair in keyed if pair[0] > last)
        # Only the page (and one more row, to know whether a next page exists) is ordered:
        # sorting the whole table for every page made paging through it quadratic.
        take = page_size if limit is None else min(page_size, limit)
        head = heapq.nsmallest(take + 1, keyed, key=itemgetter(0))
        page = [r for _, r in head[:take]]
        body: dict[str, Any] = {
            "@odata.context": f"{self.api}/$metadata#{table.entity_set}{options.ctx_select(select)}"
        }
        if request.param("$count") == "true":
            body.update(options.counts(total, prefs))
        body["value"] = [self.render(table, r, select, expand, prefs) for r in page]
        remaining = None if limit is None else limit - len(page)
        if len(head) > len(page) and (remaining is None or remaining > 0):
            cookie = encode_token(page_number + 1, raw_key(page[-1], order, table.pk), remaining)
            body["@odata.nextLink"] = next_link(self.api, request.path.strip("/"), request.params, cookie)
        return json_response(200, body, options.applied(prefs))

    def count(self, request: ApiRequest, who: Principal, table: Table) -> ApiResponse:
        """``GET <entityset>/$count``: the bare number as text/plain (OData Protocol §11.2.10),
        capped like ``$count=true`` at 5,000:
        https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/query/count-rows"""
        if request.method.upper() != "GET":
            raise no_http_resource(request_uri(self.api, request))
        options.check_options(request)
        total = len(self.matching_rows(request, who, table, None))
        return ApiResponse(
            200,
            [("Content-Type", "text/plain; charset=utf-8"), ("OData-Version", "4.0")],
            str(min(total, MAX_PAGE)).encode(),
        )

    def read(self, request: ApiRequest, who: Principal, table: Table, record_id: str) -> ApiResponse:
        options.check_options(request)
        prefs = parse_prefer(options.prefer_headers(request))
        select = parse_select(request.param("$select"), table)
        expand = parse_expand(request.param("$expand"), table, collection_navs(table))
        row = existing(self.store, table, record_id)
        require(self.store, who, "Read", table, row)
        etag = f'W/"{row["versionnumber"]}"'
        if request.header("if-none-match") == etag and not expand and not prefs.annotations:
            return ApiResponse(304, [("ETag", etag), ("OData-Version", "4.0")])
        body = {
            "@odata.context": f"{self.api}/$metadata#{table.entity_set}{options.ctx_select(select)}/$entity",
            **self.render(table, row, select, expand, prefs),
        }
        return json_response(200, body, [("ETag", etag), *options.applied(prefs)])

    def matching_rows(
        self, request: ApiRequest, who: Principal, table: Table, source: list[Row] | None
    ) -> list[Row]:
        """Rows the filter selects among those the caller's read depth reaches."""
        reach = require(self.store, who, "Read", table)
        text = request.param("$filter")
        predicate = (
            compile_filter(
                text,
                table.filterable,
                table.logical,
                aliases=aliases(request),
                lookups=Lookups(self.store, table),
            )
            if text
            else None
        )
        return [
            r
            for r in (self.store.table(table.logical).values() if source is None else source)
            if reach.reaches(r) and (predicate is None or predicate(r))
        ]

    def render(
        self, table: Table, row: Row, select: list[str] | None, expand: list[Expansion], prefs: Preferences
    ) -> dict[str, Any]:
        out = render(table, row, select, prefs=prefs, resolve=self.resolve, by_logical=BY_LOGICAL)
        for item in expand:
            out[item.nav] = self._expanded(table, row, item, prefs)
        return out

    def _expanded(self, table: Table, row: Row, item: Expansion, prefs: Preferences) -> Any:
        collection = collection_navs(table).get(item.nav)
        if collection is not None:
            related = [
                r
                for r in self.related(table, row[table.pk], item.nav)
                if item.predicate is None or item.predicate(r)
            ]
            related.sort(key=sort_key_factory(item.order, collection.pk))
            return [
                render(collection, r, item.select, prefs=prefs, resolve=self.resolve, by_logical=BY_LOGICAL)
                for r in related[: item.top]
            ]
        column = table.by_nav[item.nav]
        value = row.get(column.prop)
        target = column.navs[item.nav]
        if value is None or lookup_target(column.navs, row, column.prop) != target:
            return None
        target_row = self.resolve(target, value)
        target_table = BY_LOGICAL[target]
        if target_row is None:
            return None
        select = parse_select(",".join(item.select), target_table) if item.select else None
        return render(
            target_table, target_row, select, prefs=prefs, resolve=self.resolve, by_logical=BY_LOGICAL
        )

    def resolve(self, logical: str, record_id: str) -> Row | None:
        return self.store.get(logical, record_id)

    def related(self, table: Table, record_id: str, nav: str) -> list[Row]:
        """Rows on the other side of an N:N relationship."""
        roles_table = self.store.table("role")
        if nav == "roleprivileges_association" and table.logical == "privilege":
            holders = {root for root, held in self.store.role_privileges.items() if record_id in held}
            return [r for r in roles_table.values() if r["_parentrootroleid_value"] in holders]
        if nav == "roleprivileges_association":
            privileges = self.store.table("privilege")
            return [privileges[p] for p in self.store.privileges_of_role(record_id) if p in privileges]
        if table.logical == "systemuser":
            return [roles_table[r] for r in self.store.user_roles.get(record_id, []) if r in roles_table]
        users = self.store.table("systemuser")
        return [users[u] for u, held in self.store.user_roles.items() if record_id in held and u in users]
