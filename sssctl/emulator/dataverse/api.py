"""Routing and handlers of the Web API, independent of the HTTP server.

Both the HTTP layer and ``$batch`` feed :class:`ApiRequest` objects through
:meth:`WebApi.handle`, so an operation behaves the same inside or outside a batch.
Everything a handler reads or writes happens under the store lock.
"""

from __future__ import annotations

import heapq
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from ..context import Counters
from . import access, email, metadata, orgsettings, roles
from .errors import (
    DUPLICATE_RECORD,
    NOT_SUPPORTED,
    ODATA_URI_PROBLEM,
    PRIVILEGE_DENIED,
    VERSION_MISMATCH,
    DataverseFault,
    bad_request,
    no_http_resource,
    no_segment,
    not_found,
)
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
from .schema import BY_LOGICAL, LOOKUP, PRIVILEGE, ROLEPRIVILEGES, TABLES, Table
from .security import APPROVE, Principal, may_approve_exchange_online, require
from .store import Row, Store, now_iso
from .writes import body_changes, parse_guid, resolve_reference, state_pair

API_PATH = "api/data/v9.2"
JSON_TYPE = "application/json; odata.metadata=minimal"
_SEGMENT = re.compile(r"^(?P<name>[$\w.]+)(?:\((?P<key>.*)\))?$")
_QUERY_OPTIONS = {
    "$select",
    "$filter",
    "$orderby",
    "$top",
    "$count",
    "$expand",
    "$skiptoken",
    "$apply",
    "fetchXml",
    "$format",
}
_NO_CREATE = {"organization", "usersettings", "privilege"}
_NO_DELETE = {"organization", "usersettings", "privilege", "businessunit"}
_APPROVAL_TABLES = {"mailbox", "systemuser", "queue"}
ROLE_ACTIONS = {"AddPrivilegesRole", "RemovePrivilegeRole", "ReplacePrivilegesRole"}


def header_fields(lines: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header lines by lower-case name; a field sent on several lines is joined with ", ".

    RFC 9110 §5.3 makes repeated lines of a list-valued field equal to one comma-separated
    line, and RFC 7240 §2 makes ``Prefer`` such a field: Microsoft's count-rows example sends
    ``odata.include-annotations`` and ``odata.maxpagesize`` as two ``Prefer`` lines
    (https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/query/count-rows).
    """
    fields: dict[str, str] = {}
    for name, value in lines:
        key = name.lower()
        fields[key] = f"{fields[key]}, {value}" if key in fields else value
    return fields


@dataclass
class ApiRequest:
    method: str
    path: str  # after api/data/v9.2/, percent-decoded
    params: list[tuple[str, str]]  # decoded query parameters, in order
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    content_ids: dict[str, str] = field(default_factory=dict)  # "$1" -> "mailboxes(<id>)"
    inner: bool = False  # part of a $batch

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.params if k == name), None)


@dataclass
class ApiResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    entity_path: str | None = None  # "mailboxes(<id>)" of a created/updated record


def json_response(status: int, body: Any, headers: list[tuple[str, str]] | None = None) -> ApiResponse:
    data = json.dumps(body, separators=(",", ":")).encode()
    return ApiResponse(
        status, [("Content-Type", JSON_TYPE), ("OData-Version", "4.0"), *(headers or [])], data
    )


def fault_response(fault: DataverseFault) -> ApiResponse:
    return json_response(fault.status, fault.body(), list(fault.headers.items()))


def split_path(path: str) -> list[str]:
    """Split on '/' outside parentheses and quotes (keys may hold slashes in string literals)."""
    parts: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
    for char in path.strip("/"):
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        if char == "/" and depth == 0 and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p for p in parts if p]


def target_of(path: str) -> str:
    """The counters' name for a request: entity set, or action/function name."""
    segments = split_path(path)
    if not segments:
        return "$service"
    match = _SEGMENT.match(segments[0])
    name = match.group("name") if match else segments[0]
    if len(segments) > 1 and segments[1].startswith("Microsoft.Dynamics.CRM."):
        return segments[1].split(".")[-1].split("(")[0]
    return name


class WebApi:
    """The Web API handlers over one store."""

    def __init__(self, store: Store, base_url: str, counters: Counters) -> None:
        self.store = store
        self.base_url = base_url.rstrip("/")
        self.api = f"{self.base_url}/{API_PATH}"
        self.counters = counters
        # Set by the emulator when Exchange runs beside Dataverse: (app id, mailbox address,
        # uses AutoDiscover) -> whether the profile's app can open that mailbox.
        self.mailbox_access: Callable[[str, str, bool], bool] | None = None

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
            segments = split_path(_content_id(request, segments[0])) + segments[1:]
        if not segments:
            return self._service_document()
        if segments == ["$metadata"]:
            if request.method.upper() != "GET":
                raise _not_allowed(request.method, "$metadata")
            return ApiResponse(
                200, [("Content-Type", "application/xml"), ("OData-Version", "4.0")], metadata.csdl().encode()
            )
        match = _SEGMENT.match(segments[0])
        if match is None:
            raise no_segment(segments[0])
        name, key = match.group("name"), match.group("key")
        if name == "WhoAmI":
            return self._whoami(request, who, key, segments)
        if name == "RetrieveRolePrivilegesRole":
            return self._retrieve_role_privileges(request, who, key)
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
                return self._count(request, who, table)
            if len(segments) > 1:
                raise no_segment(segments[1])
            return self._collection(request, who, table)
        record_id = _record_id(key)
        if len(segments) == 1:
            return self._record(request, who, table, record_id)
        return self._record_part(request, who, table, record_id, segments[1:])

    # -- functions -------------------------------------------------------------------
    def _service_document(self) -> ApiResponse:
        value = [{"name": t.entity_set, "kind": "EntitySet", "url": t.entity_set} for t in TABLES.values()]
        return json_response(200, {"@odata.context": f"{self.api}/$metadata", "value": value})

    def _whoami(
        self, request: ApiRequest, who: Principal, key: str | None, segments: list[str]
    ) -> ApiResponse:
        if request.method.upper() != "GET":
            raise no_http_resource(self._request_uri(request))
        if len(segments) > 1 or key not in (None, ""):
            raise _not_allowed(request.method, "WhoAmI")
        return json_response(
            200,
            {
                "@odata.context": f"{self.api}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                "BusinessUnitId": who.business_unit,
                "UserId": who.id,
                "OrganizationId": _organization_id(self.store),
            },
        )

    def _retrieve_role_privileges(self, request: ApiRequest, who: Principal, key: str | None) -> ApiResponse:
        if request.method.upper() != "GET":
            raise no_http_resource(self._request_uri(request))
        match = re.fullmatch(r"\s*RoleId\s*=\s*(@?[\w-]+)\s*", key or "")
        if match is None:
            raise bad_request(
                "RetrieveRolePrivilegesRole needs the parameter RoleId, e.g. "
                "RetrieveRolePrivilegesRole(RoleId=<guid>) or RoleId=@p1 with ?@p1=<guid>."
            )
        value = match.group(1)
        if value.startswith("@"):  # a parameter alias, given in the query string
            aliased = request.param(value)
            if aliased is None:
                raise bad_request(f"The parameter alias '{value}' has no value in the query string.")
            value = aliased
        role = self._existing(TABLES["roles"], parse_guid(value, "RoleId"))
        require(self.store, who, "Read", TABLES["roles"], role)
        return json_response(
            200,
            {
                "@odata.context": f"{self.api}/$metadata#Microsoft.Dynamics.CRM."
                "RetrieveRolePrivilegesRoleResponse",
                "RolePrivileges": roles.retrieve_role_privileges(self.store, role),
            },
        )

    def _entity_definitions(self, request: ApiRequest, key: str | None, segments: list[str]) -> ApiResponse:
        if request.method.upper() != "GET":
            raise _not_allowed(request.method, "EntityDefinitions")
        status, body = metadata.entity_definitions(self.api, key, segments[1:], dict(request.params))
        return json_response(status, body)

    # -- collections -----------------------------------------------------------------
    def _collection(self, request: ApiRequest, who: Principal, table: Table) -> ApiResponse:
        method = request.method.upper()
        if method == "GET":
            return self._query(request, who, table)
        if method == "POST":
            return self._create(request, who, table, None)
        raise _not_allowed(method, table.entity_set)

    def _query(
        self, request: ApiRequest, who: Principal, table: Table, source: list[Row] | None = None
    ) -> ApiResponse:
        _check_options(request)
        prefs = parse_prefer(_prefer_headers(request))
        select = parse_select(request.param("$select"), table)
        order = parse_orderby(request.param("$orderby"), table)
        expand = parse_expand(request.param("$expand"), table, _collection_navs(table))
        top = _top(request.param("$top"))
        rows = self._matching_rows(request, who, table, source)
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
            "@odata.context": f"{self.api}/$metadata#{table.entity_set}{_ctx_select(select)}"
        }
        if request.param("$count") == "true":
            body.update(_counts(total, prefs))
        body["value"] = [self._render(table, r, select, expand, prefs) for r in page]
        remaining = None if limit is None else limit - len(page)
        if len(head) > len(page) and (remaining is None or remaining > 0):
            cookie = encode_token(page_number + 1, raw_key(page[-1], order, table.pk), remaining)
            body["@odata.nextLink"] = next_link(self.api, request.path.strip("/"), request.params, cookie)
        return json_response(200, body, _applied(prefs))

    def _role_privilege_rows(
        self, request: ApiRequest, who: Principal, key: str | None, segments: list[str]
    ) -> ApiResponse:
        """``GET roleprivilegescollection?$filter=privilegeid eq <id>``: who holds a privilege, at
        which depth, in one query; the rows are read-only, as Dataverse keeps them."""
        if request.method.upper() != "GET":
            raise _not_allowed(request.method, ROLEPRIVILEGES.entity_set)
        if key is not None or len(segments) > 1:
            raise no_segment(segments[-1])
        rows = roles.intersect_rows(self.store, request.param("$filter"))
        return self._query(request, who, ROLEPRIVILEGES, rows)

    def _count(self, request: ApiRequest, who: Principal, table: Table) -> ApiResponse:
        """``GET <entityset>/$count``: the bare number as text/plain (OData Protocol §11.2.10),
        capped like ``$count=true`` at 5,000:
        https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/query/count-rows"""
        if request.method.upper() != "GET":
            raise no_http_resource(self._request_uri(request))
        _check_options(request)
        total = len(self._matching_rows(request, who, table, None))
        return ApiResponse(
            200,
            [("Content-Type", "text/plain; charset=utf-8"), ("OData-Version", "4.0")],
            str(min(total, MAX_PAGE)).encode(),
        )

    def _request_uri(self, request: ApiRequest) -> str:
        return f"{self.api}/{request.path.strip('/')}"

    def _matching_rows(
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
                aliases=_aliases(request),
                lookups=_Lookups(self.store, table),
            )
            if text
            else None
        )
        return [
            r
            for r in (self.store.table(table.logical).values() if source is None else source)
            if reach.reaches(r) and (predicate is None or predicate(r))
        ]

    def _render(
        self, table: Table, row: Row, select: list[str] | None, expand: list[Expansion], prefs: Preferences
    ) -> dict[str, Any]:
        out = render(table, row, select, prefs=prefs, resolve=self._resolve, by_logical=BY_LOGICAL)
        for item in expand:
            out[item.nav] = self._expanded(table, row, item, prefs)
        return out

    def _expanded(self, table: Table, row: Row, item: Expansion, prefs: Preferences) -> Any:
        collection = _collection_navs(table).get(item.nav)
        if collection is not None:
            related = [
                r
                for r in self._related(table, row[table.pk], item.nav)
                if item.predicate is None or item.predicate(r)
            ]
            related.sort(key=sort_key_factory(item.order, collection.pk))
            return [
                render(collection, r, item.select, prefs=prefs, resolve=self._resolve, by_logical=BY_LOGICAL)
                for r in related[: item.top]
            ]
        column = table.by_nav[item.nav]
        value = row.get(column.prop)
        target = column.navs[item.nav]
        if value is None or lookup_target(column.navs, row, column.prop) != target:
            return None
        target_row = self._resolve(target, value)
        target_table = BY_LOGICAL[target]
        if target_row is None:
            return None
        select = parse_select(",".join(item.select), target_table) if item.select else None
        return render(
            target_table, target_row, select, prefs=prefs, resolve=self._resolve, by_logical=BY_LOGICAL
        )

    def _resolve(self, logical: str, record_id: str) -> Row | None:
        return self.store.get(logical, record_id)

    # -- single records --------------------------------------------------------------
    def _existing(self, table: Table, record_id: str) -> Row:
        row = self.store.get(table.logical, record_id)
        if row is None:
            raise not_found(table.logical, record_id)
        return row

    def _record(self, request: ApiRequest, who: Principal, table: Table, record_id: str) -> ApiResponse:
        method = request.method.upper()
        if method == "GET":
            return self._read(request, who, table, record_id)
        if method == "PATCH":
            return self._upsert(request, who, table, record_id)
        if method == "DELETE":
            return self._delete(request, who, table, record_id)
        raise _not_allowed(method, f"{table.entity_set}({record_id})")

    def _read(self, request: ApiRequest, who: Principal, table: Table, record_id: str) -> ApiResponse:
        _check_options(request)
        prefs = parse_prefer(_prefer_headers(request))
        select = parse_select(request.param("$select"), table)
        expand = parse_expand(request.param("$expand"), table, _collection_navs(table))
        row = self._existing(table, record_id)
        require(self.store, who, "Read", table, row)
        etag = f'W/"{row["versionnumber"]}"'
        if request.header("if-none-match") == etag and not expand and not prefs.annotations:
            return ApiResponse(304, [("ETag", etag), ("OData-Version", "4.0")])
        body = {
            "@odata.context": f"{self.api}/$metadata#{table.entity_set}{_ctx_select(select)}/$entity",
            **self._render(table, row, select, expand, prefs),
        }
        return json_response(200, body, [("ETag", etag), *_applied(prefs)])

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
            if table.logical in _NO_CREATE:
                raise not_found(table.logical, record_id)
            return self._create(request, who, table, record_id)
        body = _json_body(request)
        if table.read_only_table:
            raise _unsupported("Update", table)
        require(self.store, who, "Write", table, row)
        changes = body_changes(
            table,
            body,
            creating=False,
            exists=self._exists,
            resolve_content_id=lambda ref: _content_id(request, ref),
        )
        if table.pk in changes and changes.pop(table.pk) != record_id:
            raise bad_request(
                f"The key in the body does not match the record {table.entity_set}({record_id})."
            )
        self._before_update(who, table, row, changes)
        updated = self.store.update(table.logical, record_id, changes)
        self._after_update(table, updated, changes)
        return self._written(
            request, table, self.store.get(table.logical, record_id) or updated, created=False
        )

    def _before_update(self, who: Principal, table: Table, row: Row, changes: Row) -> None:
        state_pair(table, row, changes)
        if table.logical in _APPROVAL_TABLES and "emailrouteraccessapproval" in changes:
            self._check_approval(who, table, row, changes["emailrouteraccessapproval"])
        if table.logical == "organization" and "orgdborgsettings" in changes:
            changes["orgdborgsettings"] = orgsettings.merge(
                row.get("orgdborgsettings"), changes["orgdborgsettings"]
            )
        if table.logical == "role":
            roles.require_root(row)
        if table.logical == "mailbox" and changes.get("testemailconfigurationscheduled") is True:
            if row.get("emailrouteraccessapproval") != 1 and self._may_self_approve(who, row):
                changes["emailrouteraccessapproval"] = 1  # Test & Enable approves your own mailbox
            changes.update(self._test_and_enable({**row, **changes}))

    def _check_approval(self, who: Principal, table: Table, row: Row | None, value: Any) -> None:
        """Approving needs prvApproveRejectEmailAddress, except for self-approval (reference §4.3);
        approving an Exchange Online mailbox needs an administrator on top."""
        if row is not None and table.logical == "mailbox" and self._may_self_approve(who, row):
            return
        require(self.store, who, APPROVE, table)
        if (
            value == 1
            and row is not None
            and self._exchange_online(table, row)
            and not may_approve_exchange_online(who)
        ):
            raise DataverseFault(
                403,
                PRIVILEGE_DENIED,
                f"Principal user (Id={who.id}) cannot approve the email address of {table.logical} "
                f"{row[table.pk]}: mailboxes that synchronize with Exchange Online can only be approved by a "
                "System Administrator who is also a Global administrator or Exchange administrator, or who "
                "holds the Delegated Mailbox Approver role.",
            )

    def _exchange_online(self, table: Table, row: Row) -> bool:
        mailbox = (
            row
            if table.logical == "mailbox"
            else self.store.get("mailbox", row.get("_defaultmailbox_value") or "")
        )
        profile = self.store.get("emailserverprofile", (mailbox or {}).get("_emailserverprofile_value") or "")
        return profile is not None and profile.get("emailservertypename") == "Exchange Online"

    def _may_self_approve(self, who: Principal, mailbox: Row) -> bool:
        """Own user mailbox at own address, unless RequirePrivilegeToSelfApproveEmailAddress is on."""
        own = (
            mailbox.get("_regardingobjectid_value@lt") == "systemuser"
            and mailbox.get("_regardingobjectid_value") == who.id
            and str(who.user.get("internalemailaddress") or "").casefold()
            == str(mailbox.get("emailaddress") or "").casefold()
        )
        if not own:
            return False
        organization = self.store.get("organization", _organization_id(self.store)) or {}
        setting = orgsettings.value_of(
            organization.get("orgdborgsettings"), "RequirePrivilegeToSelfApproveEmailAddress"
        )
        return (setting or "").strip().lower() not in ("true", "1")

    def _after_update(self, table: Table, row: Row, changes: Row) -> None:
        if table.logical == "role":
            roles.propagate_update(self.store, row, changes)
        if "emailrouteraccessapproval" in changes and table.logical in _APPROVAL_TABLES:
            self._sync_approval(table, row, changes["emailrouteraccessapproval"])

    def _sync_approval(self, table: Table, row: Row, value: int) -> None:
        """The platform keeps a mailbox and its user/queue agreeing on approval."""
        if table.logical == "mailbox":
            logical, partner = row.get("_regardingobjectid_value@lt"), row.get("_regardingobjectid_value")
        else:
            logical, partner = "mailbox", row.get("_defaultmailbox_value")
        if not logical or not partner:
            return
        other = self.store.get(logical, partner)
        if other is not None and other.get("emailrouteraccessapproval") != value:
            self.store.update(logical, partner, {"emailrouteraccessapproval": value})

    def _test_and_enable(self, mailbox: Row) -> Row:
        """Simulate the asynchronous Test & Enable job finishing at once (reference §4.2)."""
        profile = self.store.get("emailserverprofile", mailbox.get("_emailserverprofile_value") or "")
        organization = self.store.get("organization", _organization_id(self.store)) or {}
        is_queue = mailbox.get("_regardingobjectid_value@lt") == "queue"
        needs_approval = organization.get(
            "requireapprovalforqueueemail" if is_queue else "requireapprovalforuseremail"
        )
        ok = profile is not None and profile.get("statecode") == 0 and self._app_reaches(profile, mailbox)
        mail_ok = ok and not (needs_approval and mailbox.get("emailrouteraccessapproval") != 1)
        result: Row = {
            "testemailconfigurationscheduled": False,
            "testmailboxaccesscompletedon": now_iso(),
            "mailboxstatus": 1 if mail_ok else 2,
        }
        methods = (
            (
                "incomingemailstatus",
                "enabledforincomingemail",
                mailbox.get("incomingemaildeliverymethod") != 0,
                mail_ok,
            ),
            (
                "outgoingemailstatus",
                "enabledforoutgoingemail",
                mailbox.get("outgoingemaildeliverymethod") != 0,
                mail_ok,
            ),
            ("actstatus", "enabledforact", mailbox.get("actdeliverymethod") != 2, ok),
        )
        for status, enabled, used, success in methods:
            if used:
                result[status] = 1 if success else 2
                result[enabled] = success
            else:
                result[status] = 0
        return result

    def _app_reaches(self, profile: Row, mailbox: Row) -> bool:
        """A profile signing in as its own app connects only if Exchange lets that app in."""
        client_id = profile.get("oauthclientid")
        if not client_id or self.mailbox_access is None:
            return True
        address = str(mailbox.get("emailaddress") or "")
        return self.mailbox_access(str(client_id), address, bool(profile.get("useautodiscover")))

    def _create(
        self, request: ApiRequest, who: Principal, table: Table, record_id: str | None
    ) -> ApiResponse:
        if table.logical in _NO_CREATE or table.read_only_table:
            raise _unsupported("Create", table)
        body = _json_body(request)
        require(self.store, who, "Create", table)
        parties = body.pop(email.PARTIES, None) if table.logical == "email" else None
        changes = body_changes(
            table,
            body,
            creating=True,
            exists=self._exists,
            resolve_content_id=lambda ref: _content_id(request, ref),
        )
        body_id = changes.pop(table.pk, None)
        if record_id is not None and body_id is not None and body_id != record_id:
            raise bad_request(
                f"The key in the body does not match the record {table.entity_set}({record_id})."
            )
        record_id = record_id or body_id or str(uuid.uuid4())
        if self.store.get(table.logical, record_id) is not None:
            raise DataverseFault(412, DUPLICATE_RECORD, "A record with matching key values already exists.")
        if table.logical in _APPROVAL_TABLES and "emailrouteraccessapproval" in changes:
            self._check_approval(who, table, None, changes["emailrouteraccessapproval"])
        state_pair(table, None, changes)
        row = {**_defaults(table, who), **changes, table.pk: record_id}
        if table.logical == "systemuser" and row.get("applicationid"):
            # An application user is always non-interactive (access mode 4), whatever was sent:
            # https://learn.microsoft.com/power-platform/admin/manage-application-users
            row["accessmode"] = 4
        if table.logical == "role":
            row.update(_new_role_links(self.store, row, record_id))
        created = self.store.insert(table.logical, record_id, row)
        if table.logical == "role":
            roles.create_copies(self.store, created)
        if parties is not None:
            email.add_parties(self.store, created, parties, lambda ref: _content_id(request, ref))
        return self._written(request, table, created, created=True)

    def _written(self, request: ApiRequest, table: Table, row: Row, *, created: bool) -> ApiResponse:
        path = f"{table.entity_set}({row[table.pk]})"
        headers = [("OData-EntityId", f"{self.api}/{path}")]
        prefs = parse_prefer(_prefer_headers(request))
        if prefs.representation:
            select = parse_select(request.param("$select"), table)
            body = {
                "@odata.context": f"{self.api}/$metadata#{table.entity_set}{_ctx_select(select)}/$entity",
                **render(table, row, select, prefs=prefs, resolve=self._resolve, by_logical=BY_LOGICAL),
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
        if table.logical in _NO_DELETE or table.read_only_table:
            raise _unsupported("Delete", table)
        if row is None:
            raise not_found(table.logical, record_id)
        require(self.store, who, "Delete", table, row)
        if table.logical == "role":
            roles.delete_role(self.store, row)
        else:
            self.store.delete(table.logical, record_id)
        return ApiResponse(204, [("OData-Version", "4.0")])

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
            return self._bound_action(request, who, table, record_id, action=action, rest=rest)
        nav_match = _SEGMENT.match(part)
        if nav_match and nav_match.group("name") in _collection_navs(table):
            return self._collection_nav(request, who, table, record_id, rest)
        row = self._existing(table, record_id)
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
            value = None if method == "DELETE" else _json_body(request).get("value")
            if column.kind == LOOKUP:
                raise bad_request(
                    "CRM do not support direct update of Entity Reference properties, Use Navigation "
                    "properties instead."
                )
            patch = ApiRequest(
                "PATCH",
                f"{table.entity_set}({record_id})",
                [],
                request.headers,
                json.dumps({part: value}).encode(),
                request.content_ids,
                request.inner,
            )
            response = self._upsert(patch, who, table, record_id)
            return ApiResponse(204, [("OData-Version", "4.0")]) if response.status < 300 else response
        raise _not_allowed(method, part)

    def _nav(
        self, request: ApiRequest, who: Principal, table: Table, row: Row, *, nav: str, rest: list[str]
    ) -> ApiResponse:
        method = request.method.upper()
        column = table.by_nav[nav]
        if len(rest) == 2 and rest[1] == "$ref" and method == "DELETE":
            body = json.dumps({f"{nav}@odata.bind": None}).encode()
            patch = ApiRequest(
                "PATCH",
                f"{table.entity_set}({row[table.pk]})",
                [],
                request.headers,
                body,
                request.content_ids,
                request.inner,
            )
            response = self._upsert(patch, who, table, row[table.pk])
            return ApiResponse(204, [("OData-Version", "4.0")]) if response.status < 300 else response
        if len(rest) > 1 or method != "GET":
            raise _not_allowed(method, nav)
        require(self.store, who, "Read", table, row)
        target = column.navs[nav]
        value = row.get(column.prop)
        if value is None or lookup_target(column.navs, row, column.prop) != target:
            return ApiResponse(204, [("OData-Version", "4.0")])
        target_table = BY_LOGICAL[target]
        return self._read(
            ApiRequest("GET", f"{target_table.entity_set}({value})", request.params, request.headers),
            who,
            target_table,
            str(value),
        )

    def _related(self, table: Table, record_id: str, nav: str) -> list[Row]:
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

    def _collection_nav(
        self, request: ApiRequest, who: Principal, table: Table, record_id: str, rest: list[str]
    ) -> ApiResponse:
        method = request.method.upper()
        match = _SEGMENT.match(rest[0])
        assert match is not None
        nav, key = match.group("name"), match.group("key")
        row = self._existing(table, record_id)
        if method == "GET" and key is None and len(rest) == 1:
            require(self.store, who, "Read", table, row)
            target = _collection_navs(table)[nav]
            return self._query(request, who, target, source=self._related(table, record_id, nav))
        if rest[-1] != "$ref" or nav != "systemuserroles_association" or table.logical != "systemuser":
            raise _not_allowed(method, nav)
        if method == "POST" and key is None and len(rest) == 2:
            return self._assign_role(who, row, _json_body(request).get("@odata.id"), assign=True)
        if method == "DELETE" and len(rest) == 2:
            reference = f"roles({key})" if key is not None else request.param("$id")
            return self._assign_role(who, row, reference, assign=False)
        raise _not_allowed(method, nav)

    def _assign_role(self, who: Principal, user: Row, reference: Any, *, assign: bool) -> ApiResponse:
        """Associate or disassociate a security role (needs prvAssignRole); same business unit only."""
        if not isinstance(reference, str):
            raise bad_request("The request needs the role's reference as '@odata.id' (or '$id').")
        entity_set, role_id = resolve_reference(reference, lambda ref: ref)
        if entity_set != "roles":
            raise bad_request(f"'{reference}' is not a reference to a role.")
        role = self._existing(TABLES["roles"], role_id)
        require(self.store, who, "prvAssignRole", TABLES["roles"])
        held = list(self.store.user_roles.get(user["systemuserid"], []))
        if assign:
            if role["_businessunitid_value"] != user["_businessunitid_value"]:
                raise DataverseFault(
                    400,
                    "0x80040203",
                    f"The role {role_id} belongs to another business unit than the user "
                    f"{user['systemuserid']}; assign the role copy of the user's business unit.",
                )
            if role_id not in held:
                held.append(role_id)
        elif role_id in held:
            held.remove(role_id)
        self.store.set_user_roles(user["systemuserid"], held)
        self.store.update("systemuser", user["systemuserid"], {})
        return ApiResponse(204, [("OData-Version", "4.0")])

    def _retrieve_user_privileges(
        self, request: ApiRequest, who: Principal, table: Table, record_id: str, rest: list[str]
    ) -> ApiResponse:
        """The privileges a user holds through its roles (how ``auth check`` probes without writing)."""
        if request.method.upper() != "GET" or len(rest) > 1:
            raise no_http_resource(self._request_uri(request))
        user = self._existing(table, record_id)
        require(self.store, who, "Read", table, user)
        role_rows = self.store.table("role")
        entries = [
            entry
            for role_id in self.store.user_roles.get(user["systemuserid"], [])
            if role_id in role_rows
            for entry in roles.retrieve_role_privileges(self.store, role_rows[role_id])
        ]
        return json_response(
            200,
            {
                "@odata.context": f"{self.api}/$metadata#Microsoft.Dynamics.CRM."
                "RetrieveUserPrivilegesResponse",
                "RolePrivileges": entries,
            },
        )

    def _retrieve_principal_access(
        self, request: ApiRequest, who: Principal, user_id: str, rest: list[str]
    ) -> ApiResponse:
        if request.method.upper() != "GET" or len(rest) > 1:
            raise no_http_resource(self._request_uri(request))
        users = TABLES["systemusers"]
        user = self._existing(users, user_id)
        require(self.store, who, "Read", users, user)
        parameters = rest[0].removeprefix("Microsoft.Dynamics.CRM.RetrievePrincipalAccess")
        target, record_id = access.target_reference(parameters[1:-1], _aliases(request))
        record = self._existing(target, record_id)
        return json_response(
            200,
            {
                "@odata.context": f"{self.api}/$metadata#Microsoft.Dynamics.CRM."
                "RetrievePrincipalAccessResponse",
                "AccessRights": access.access_rights(self.store, user, target, record),
            },
        )

    def _bound_action(
        self,
        request: ApiRequest,
        who: Principal,
        table: Table,
        record_id: str,
        *,
        action: str,
        rest: list[str],
    ) -> ApiResponse:
        if table.logical == "systemuser" and action in ("RetrieveUserPrivileges", "RetrieveUserPrivileges()"):
            return self._retrieve_user_privileges(request, who, table, record_id, rest)
        if table.logical == "systemuser" and action.startswith("RetrievePrincipalAccess("):
            return self._retrieve_principal_access(request, who, record_id, rest)
        if table.logical == "email" and action == "SendEmail" and len(rest) == 1:
            return self._send_email(request, who, table, record_id)
        if table.logical != "role" or action not in ROLE_ACTIONS or len(rest) > 1:
            raise no_segment(rest[0])
        if request.method.upper() != "POST":
            raise _not_allowed(request.method, action)
        role = self._existing(table, record_id)
        require(self.store, who, "Write", table, role)
        body = _json_body(request)
        handler: Callable[[Store, Row, dict[str, Any]], None] = {
            "AddPrivilegesRole": roles.add_privileges,
            "RemovePrivilegeRole": roles.remove_privilege,
            "ReplacePrivilegesRole": roles.replace_privileges,
        }[action]
        handler(self.store, role, body)
        return ApiResponse(204, [("OData-Version", "4.0")])


    def _send_email(self, request: ApiRequest, who: Principal, table: Table, record_id: str) -> ApiResponse:
        if request.method.upper() != "POST":
            raise _not_allowed(request.method, "SendEmail")
        row = self._existing(table, record_id)
        require(self.store, who, "Write", table, row)
        answer = email.send(self.store, row, _json_body(request))
        context = f"{self.api}/$metadata#Microsoft.Dynamics.CRM.SendEmailResponse"
        return json_response(200, {"@odata.context": context, **answer})


# -- helpers -----------------------------------------------------------------------------


def _record_id(key: str) -> str:
    text = key.strip()
    if re.fullmatch(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", text):
        return text.lower()
    raise DataverseFault(
        400,
        ODATA_URI_PROBLEM,
        f"Bad Request - Error in query syntax: the key '{key}' is not a "
        "GUID (alternate keys are not defined on this table).",
    )


def _not_allowed(method: str, what: str) -> DataverseFault:
    return DataverseFault(
        405, ODATA_URI_PROBLEM, f"The HTTP method '{method.upper()}' is not allowed on '{what}'."
    )


def _unsupported(verb: str, table: Table) -> DataverseFault:
    return DataverseFault(
        405, NOT_SUPPORTED, f"The '{verb}' method does not support entities of type '{table.logical}'."
    )


def _json_body(request: ApiRequest) -> dict[str, Any]:
    if not request.body.strip():
        return {}
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


def _content_id(request: ApiRequest, reference: str) -> str:
    path = request.content_ids.get(reference)
    if path is None:
        raise bad_request(f"Content-ID Reference: '{reference}' does not exist in the batch context.")
    return path


def _aliases(request: ApiRequest) -> dict[str, str]:
    """The query string's parameter aliases (``@p1=...``)."""
    return {k: v for k, v in request.params if k.startswith("@")}


class _Lookups:
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


def _prefer_headers(request: ApiRequest) -> list[str]:
    value = request.header("prefer")
    return [value] if value else []


def _applied(prefs: Preferences) -> list[tuple[str, str]]:
    applied = []
    if prefs.max_page_size is not None:
        applied.append(f"odata.maxpagesize={min(prefs.max_page_size, MAX_PAGE)}")
    if prefs.annotations:
        applied.append('odata.include-annotations="' + ",".join(prefs.annotations) + '"')
    return [("Preference-Applied", ",".join(applied))] if applied else []


def _check_options(request: ApiRequest) -> None:
    seen: set[str] = set()
    for key, _ in request.params:
        if key.startswith("$") and key in seen:
            raise bad_request(
                f"Query option '{key}' was specified more than once, but it must be specified at most once."
            )
        seen.add(key)
        if key == "$skip":
            raise bad_request("The query parameter $skip is not supported.")
        if key.startswith("$") and key not in _QUERY_OPTIONS:
            raise bad_request(f"The query parameter {key} is not supported.")
        if key in ("$apply", "fetchXml"):
            raise DataverseFault(501, NOT_SUPPORTED, f"The emulator does not implement {key}.")


def _counts(total: int, prefs: Preferences) -> dict[str, Any]:
    """``$count`` stops at 5000; the annotations say whether the real total is larger."""
    counts: dict[str, Any] = {"@odata.count": min(total, MAX_PAGE)}
    if prefs.wants("Microsoft.Dynamics.CRM.totalrecordcount"):
        counts["@Microsoft.Dynamics.CRM.totalrecordcount"] = min(total, MAX_PAGE)
    if prefs.wants("Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"):
        counts["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] = total > MAX_PAGE
    return counts


def _top(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit():
        raise bad_request(f"Invalid value '{value}' for $top query option found.")
    return int(value)


def _ctx_select(select: list[str] | None) -> str:
    return f"({','.join(select)})" if select else ""


def _collection_navs(table: Table) -> dict[str, Table]:
    """N:N navigation properties, as ``metadata.MANY_TO_MANY`` declares them."""
    if table.logical == "role":
        return {"roleprivileges_association": PRIVILEGE, "systemuserroles_association": TABLES["systemusers"]}
    if table.logical == "systemuser":
        return {"systemuserroles_association": TABLES["roles"]}
    if table.logical == "privilege":
        return {"roleprivileges_association": TABLES["roles"]}
    return {}


def _organization_id(store: Store) -> str:
    return next(iter(store.table("organization")), "")


def _defaults(table: Table, who: Principal) -> Row:
    row: Row = {prop: None for prop in table.readable}
    for column in table.columns:
        if column.kind == "bool":
            row[column.prop] = False
    if "statecode" in table.by_prop:
        row.update(statecode=0, statuscode=1)
    if "_ownerid_value" in table.by_prop:
        row.update(
            {
                "_ownerid_value": who.id,
                "_ownerid_value@lt": "systemuser",
                "_owningbusinessunit_value": who.business_unit,
            }
        )
    if "_organizationid_value" in table.by_prop:
        row["_organizationid_value"] = None
    defaults_by_table: dict[str, Row] = {
        "mailbox": {
            "incomingemaildeliverymethod": 2,
            "outgoingemaildeliverymethod": 2,
            "actdeliverymethod": 2,
            "emailrouteraccessapproval": 0,
            "enabledforincomingemail": True,
            "enabledforoutgoingemail": True,
            "enabledforact": True,
            "incomingemailstatus": 0,
            "outgoingemailstatus": 0,
            "actstatus": 0,
            "mailboxstatus": 0,
            "testemailconfigurationretrycount": 0,
            "processingstatecode": 0,
            "postponetestemailconfigurationuntil": "1900-01-01T00:00:00Z",
        },
        "emailserverprofile": {
            "servertype": 0,
            "usesamesettingsforoutgoingconnections": True,
            "usedefaulttenantid": True,
            "incomingcredentialretrieval": 2,
            "outgoingcredentialretrieval": 2,
        },
        "role": {"isinherited": 1, "componentstate": 0},
    }
    row.update(defaults_by_table.get(table.logical, {}))
    return row


def _new_role_links(store: Store, row: Row, record_id: str) -> Row:
    """A created role is the root copy of its business unit (the root unit when none is bound)."""
    unit = row.get("_businessunitid_value") or next(
        (u for u, r in store.table("businessunit").items() if r.get("_parentbusinessunitid_value") is None),
        None,
    )
    managed = {
        "Value": True,
        "CanBeChanged": True,
        "ManagedPropertyLogicalName": "iscustomizableanddeletable",
    }
    return {
        "_businessunitid_value": unit,
        "_parentroleid_value": None,
        "_parentrootroleid_value": record_id,
        "organizationid": _organization_id(store),  # a plain Uniqueidentifier on role [doc]
        "ismanaged": False,
        "iscustomizable": row.get("iscustomizable") or managed,
        "canbedeleted": row.get("canbedeleted") or {**managed, "ManagedPropertyLogicalName": "canbedeleted"},
    }
