"""Routing of the Web API, independent of the HTTP server.

Both the HTTP layer and ``$batch`` feed :class:`ApiRequest` objects through
:meth:`WebApi.handle`, so an operation behaves the same inside or outside a batch.
Everything a handler reads or writes happens under the store lock.

This module only maps a URL and method to the work: the message values live in
``messages``, query options in ``options``, reading rows in ``reads``, functions and
actions in ``actions`` and the per-table write rules in ``rules``.
"""

from __future__ import annotations

import json
import re
import uuid

from ..context import Counters
from . import email, metadata, roles, rules
from .actions import Actions
from .errors import (
    DUPLICATE_RECORD,
    VERSION_MISMATCH,
    DataverseFault,
    bad_request,
    no_segment,
    not_found,
)
from .messages import (
    API_PATH,
    SEGMENT,
    ApiRequest,
    ApiResponse,
    content_id,
    fault_response,
    json_body,
    json_response,
    no_content,
    not_allowed,
    record_key,
    split_path,
    target_of,
    unsupported,
)
from .options import ctx_select, prefer_headers
from .query import lookup_target, parse_prefer, parse_select, render
from .reads import Reader, collection_navs, existing
from .schema import BY_LOGICAL, LOOKUP, ROLEPRIVILEGES, TABLES, Table
from .security import Principal, require
from .store import Row, Store
from .testenable import MailboxAccess
from .writes import body_changes

__all__ = ["WebApi"]


class WebApi:
    """The Web API's routes over one store."""

    def __init__(self, store: Store, base_url: str, counters: Counters) -> None:
        self.store = store
        self.base_url = base_url.rstrip("/")
        self.api = f"{self.base_url}/{API_PATH}"
        self.counters = counters
        self.reader = Reader(store, self.api)
        self.actions = Actions(store, self.api)
        # Set by the emulator when Exchange runs beside Dataverse: (app id, mailbox address,
        # uses AutoDiscover) -> whether the profile's app can open that mailbox.
        self.mailbox_access: MailboxAccess | None = None

    # -- entry point -----------------------------------------------------------------
    def handle(self, request: ApiRequest, who: Principal) -> ApiResponse:
        method = request.method.upper()
        target = target_of(request.path)
        write = method in ("POST", "PATCH", "PUT", "DELETE") and not target.startswith("Retrieve")
        self.counters.record(method, "dataverse", target, write=write, request=not request.inner)
        try:
            with self.store.atomic(), self.store.acting(who.id):  # a refused write leaves nothing half done
                return self._dispatch(request, who)
        except DataverseFault as fault:
            return fault_response(fault)

    def _dispatch(self, request: ApiRequest, who: Principal) -> ApiResponse:
        segments = split_path(request.path)
        if segments and re.fullmatch(r"\$\d+", segments[0]):
            segments = split_path(content_id(request, segments[0])) + segments[1:]
        if not segments:
            return self._service_document()
        if segments == ["$metadata"]:
            if request.method.upper() != "GET":
                raise not_allowed(request.method, "$metadata")
            return ApiResponse(
                200, [("Content-Type", "application/xml"), ("OData-Version", "4.0")], metadata.csdl().encode()
            )
        match = SEGMENT.match(segments[0])
        if match is None:
            raise no_segment(segments[0])
        name, key = match.group("name"), match.group("key")
        if name == "WhoAmI":
            return self.actions.whoami(request, who, key, segments)
        if name == "RetrieveRolePrivilegesRole":
            return self.actions.retrieve_role_privileges(request, who, key)
        if name == "EntityDefinitions":
            return self._entity_definitions(request, key, segments)
        if name == "$batch":
            raise bad_request("Nested $batch requests are not supported.")
        table = TABLES.get(name)
        if table is None:
            raise no_segment(name)
        if table is ROLEPRIVILEGES:
            return self._role_privilege_rows(request, who, key, segments)
        if key is None:
            if segments[1:] == ["$count"]:
                return self.reader.count(request, who, table)
            if len(segments) > 1:
                raise no_segment(segments[1])
            return self._collection(request, who, table)
        record_id = record_key(key)
        if len(segments) == 1:
            return self._record(request, who, table, record_id)
        return self._record_part(request, who, table, record_id, segments[1:])

    def _service_document(self) -> ApiResponse:
        value = [{"name": t.entity_set, "kind": "EntitySet", "url": t.entity_set} for t in TABLES.values()]
        return json_response(200, {"@odata.context": f"{self.api}/$metadata", "value": value})

    def _entity_definitions(self, request: ApiRequest, key: str | None, segments: list[str]) -> ApiResponse:
        if request.method.upper() != "GET":
            raise not_allowed(request.method, "EntityDefinitions")
        status, body = metadata.entity_definitions(self.api, key, segments[1:], dict(request.params))
        return json_response(status, body)

    # -- collections -----------------------------------------------------------------
    def _collection(self, request: ApiRequest, who: Principal, table: Table) -> ApiResponse:
        method = request.method.upper()
        if method == "GET":
            return self.reader.query(request, who, table)
        if method == "POST":
            return self._create(request, who, table, None)
        raise not_allowed(method, table.entity_set)

    def _role_privilege_rows(
        self, request: ApiRequest, who: Principal, key: str | None, segments: list[str]
    ) -> ApiResponse:
        """``GET roleprivilegescollection?$filter=privilegeid eq <id>``: who holds a privilege, at
        which depth, in one query; the rows are read-only, as Dataverse keeps them."""
        if request.method.upper() != "GET":
            raise not_allowed(request.method, ROLEPRIVILEGES.entity_set)
        if key is not None or len(segments) > 1:
            raise no_segment(segments[-1])
        rows = roles.intersect_rows(self.store, request.param("$filter"))
        return self.reader.query(request, who, ROLEPRIVILEGES, rows)

    # -- single records --------------------------------------------------------------
    def _record(self, request: ApiRequest, who: Principal, table: Table, record_id: str) -> ApiResponse:
        method = request.method.upper()
        if method == "GET":
            return self.reader.read(request, who, table, record_id)
        if method == "PATCH":
            return self._upsert(request, who, table, record_id)
        if method == "DELETE":
            return self._delete(request, who, table, record_id)
        raise not_allowed(method, f"{table.entity_set}({record_id})")

    def _check_if_match(self, request: ApiRequest, row: Row | None, table: Table, record_id: str) -> None:
        if_match = request.header("if-match")
        if if_match is None:
            return
        if row is None:
            raise not_found(table.logical, record_id)
        if if_match.strip() != "*" and if_match.strip() != f'W/"{row["versionnumber"]}"':
            raise DataverseFault(
                412,
                VERSION_MISMATCH,
                "The version of the existing record doesn't match the RowVersion property provided.",
            )

    def _upsert(self, request: ApiRequest, who: Principal, table: Table, record_id: str) -> ApiResponse:
        row = self.store.get(table.logical, record_id)
        self._check_if_match(request, row, table, record_id)
        if request.header("if-none-match") == "*":
            if row is not None:
                raise DataverseFault(
                    412, DUPLICATE_RECORD, "A record with matching key values already exists."
                )
            return self._create(request, who, table, record_id)
        if row is None:
            if table.logical in rules.NO_CREATE:
                raise not_found(table.logical, record_id)
            return self._create(request, who, table, record_id)
        body = json_body(request)
        if table.read_only_table:
            raise unsupported("Update", table)
        require(self.store, who, "Write", table, row)
        changes = body_changes(
            table,
            body,
            creating=False,
            exists=self._exists,
            resolve_content_id=lambda ref: content_id(request, ref),
        )
        if table.pk in changes and changes.pop(table.pk) != record_id:
            raise bad_request(
                f"The key in the body does not match the record {table.entity_set}({record_id})."
            )
        rules.before_update(self.store, who, table, row, changes, mailbox_access=self.mailbox_access)
        updated = self.store.update(table.logical, record_id, changes)
        rules.after_update(self.store, table, updated, changes)
        return self._written(
            request, table, self.store.get(table.logical, record_id) or updated, created=False
        )

    def _create(
        self, request: ApiRequest, who: Principal, table: Table, record_id: str | None
    ) -> ApiResponse:
        if table.logical in rules.NO_CREATE or table.read_only_table:
            raise unsupported("Create", table)
        body = json_body(request)
        require(self.store, who, "Create", table)
        parties = body.pop(email.PARTIES, None) if table.logical == "email" else None
        changes = body_changes(
            table,
            body,
            creating=True,
            exists=self._exists,
            resolve_content_id=lambda ref: content_id(request, ref),
        )
        body_id = changes.pop(table.pk, None)
        if record_id is not None and body_id is not None and body_id != record_id:
            raise bad_request(
                f"The key in the body does not match the record {table.entity_set}({record_id})."
            )
        record_id = record_id or body_id or str(uuid.uuid4())
        if self.store.get(table.logical, record_id) is not None:
            raise DataverseFault(412, DUPLICATE_RECORD, "A record with matching key values already exists.")
        row = rules.new_row(self.store, who, table, changes, record_id)
        created = self.store.insert(table.logical, record_id, row)
        rules.after_create(self.store, table, created, parties, lambda ref: content_id(request, ref))
        return self._written(request, table, created, created=True)

    def _written(self, request: ApiRequest, table: Table, row: Row, *, created: bool) -> ApiResponse:
        path = f"{table.entity_set}({row[table.pk]})"
        headers = [("OData-EntityId", f"{self.api}/{path}")]
        prefs = parse_prefer(prefer_headers(request))
        if prefs.representation:
            select = parse_select(request.param("$select"), table)
            body = {
                "@odata.context": f"{self.api}/$metadata#{table.entity_set}{ctx_select(select)}/$entity",
                **render(table, row, select, prefs=prefs, resolve=self.reader.resolve, by_logical=BY_LOGICAL),
            }
            response = json_response(
                201 if created else 200,
                body,
                [
                    *headers,
                    ("ETag", f'W/"{row["versionnumber"]}"'),
                    ("Preference-Applied", "return=representation"),
                ],
            )
        else:
            response = ApiResponse(204, [("OData-Version", "4.0"), *headers])
        response.entity_path = path
        return response

    def _delete(self, request: ApiRequest, who: Principal, table: Table, record_id: str) -> ApiResponse:
        row = self.store.get(table.logical, record_id)
        self._check_if_match(request, row, table, record_id)
        if table.logical in rules.NO_DELETE or table.read_only_table:
            raise unsupported("Delete", table)
        if row is None:
            raise not_found(table.logical, record_id)
        require(self.store, who, "Delete", table, row)
        rules.delete(self.store, table, row)
        return no_content()

    def _exists(self, logical: str, record_id: str) -> bool:
        return self.store.get(logical, record_id) is not None

    # -- record parts: properties, navigation, bound actions ---------------------------
    def _record_part(
        self, request: ApiRequest, who: Principal, table: Table, record_id: str, rest: list[str]
    ) -> ApiResponse:
        method = request.method.upper()
        part = rest[0]
        if part.startswith("Microsoft.Dynamics.CRM."):
            action = part.removeprefix("Microsoft.Dynamics.CRM.")
            return self.actions.bound(request, who, table, record_id, action=action, rest=rest)
        nav_match = SEGMENT.match(part)
        if nav_match and nav_match.group("name") in collection_navs(table):
            return self._collection_nav(request, who, table, record_id, rest)
        row = existing(self.store, table, record_id)
        if part in table.by_nav:
            return self._nav(request, who, table, row, nav=part, rest=rest)
        column = table.by_prop.get(part)
        if column is None or column.writeonly or len(rest) > 1:
            raise no_segment(rest[-1] if column is not None else part)
        if method == "GET":
            require(self.store, who, "Read", table, row)
            return json_response(
                200,
                {
                    "@odata.context": f"{self.api}/$metadata#{table.entity_set}({record_id})/{part}",
                    "value": row.get(part),
                },
            )
        if method in ("PUT", "DELETE"):
            value = None if method == "DELETE" else json_body(request).get("value")
            if column.kind == LOOKUP:
                raise bad_request(
                    "CRM do not support direct update of Entity Reference properties, Use Navigation "
                    "properties instead."
                )
            return self._patch_as(request, who, table, record_id, {part: value})
        raise not_allowed(method, part)

    def _patch_as(
        self, request: ApiRequest, who: Principal, table: Table, record_id: str, body: dict[str, object]
    ) -> ApiResponse:
        """A single-property write run as the PATCH it amounts to, answering 204 when it succeeds."""
        patch = ApiRequest(
            "PATCH",
            f"{table.entity_set}({record_id})",
            [],
            request.headers,
            json.dumps(body).encode(),
            request.content_ids,
            request.inner,
        )
        response = self._upsert(patch, who, table, record_id)
        return no_content() if response.status < 300 else response

    def _nav(
        self, request: ApiRequest, who: Principal, table: Table, row: Row, *, nav: str, rest: list[str]
    ) -> ApiResponse:
        method = request.method.upper()
        column = table.by_nav[nav]
        if len(rest) == 2 and rest[1] == "$ref" and method == "DELETE":
            return self._patch_as(request, who, table, row[table.pk], {f"{nav}@odata.bind": None})
        if len(rest) > 1 or method != "GET":
            raise not_allowed(method, nav)
        require(self.store, who, "Read", table, row)
        target = column.navs[nav]
        value = row.get(column.prop)
        if value is None or lookup_target(column.navs, row, column.prop) != target:
            return no_content()
        target_table = BY_LOGICAL[target]
        return self.reader.read(
            ApiRequest("GET", f"{target_table.entity_set}({value})", request.params, request.headers),
            who,
            target_table,
            str(value),
        )

    def _collection_nav(
        self, request: ApiRequest, who: Principal, table: Table, record_id: str, rest: list[str]
    ) -> ApiResponse:
        method = request.method.upper()
        match = SEGMENT.match(rest[0])
        assert match is not None
        nav, key = match.group("name"), match.group("key")
        row = existing(self.store, table, record_id)
        if method == "GET" and key is None and len(rest) == 1:
            require(self.store, who, "Read", table, row)
            target = collection_navs(table)[nav]
            return self.reader.query(request, who, target, source=self.reader.related(table, record_id, nav))
        if rest[-1] != "$ref" or nav != "systemuserroles_association" or table.logical != "systemuser":
            raise not_allowed(method, nav)
        if method == "POST" and key is None and len(rest) == 2:
            return self.actions.assign_role(who, row, json_body(request).get("@odata.id"), assign=True)
        if method == "DELETE" and len(rest) == 2:
            reference = f"roles({key})" if key is not None else request.param("$id")
            return self.actions.assign_role(who, row, reference, assign=False)
        raise not_allowed(method, nav)
