"""Dataverse Web API v9.2: records, paged queries, functions, actions and ``$batch``.

Callers name entity sets and keys; this module owns the OData headers, paging through
``@odata.nextLink``, ETags, multipart batches and turning error answers into the exception
tree of :mod:`sssctl.clients.errors`.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from sssctl.clients.errors import (
    DataverseError,
    MalformedReply,
    NotFound,
    PreconditionFailed,
    PrivilegeDenied,
    Throttled,
    ValidationFailed,
)
from sssctl.clients.http import HttpService, check_same_origin, encode_query, parse_retry_after
from sssctl.clients.models import dataverse as models
from sssctl.clients.paging import PageGuard
from sssctl.clients.responses import (
    collection_page,
    describe_status,
    error_parts,
    json_body,
    json_object,
    json_or_none,
    request_id_of,
    require_guid,
)

Record = dict[str, Any]

API_PATH = "/api/data/v9.2/"
MAX_PAGE_SIZE = 5000
MAX_BATCH = 1000
NOT_EXECUTED = 424  # status given to batch operations the server never ran (or rolled back)

ODATA_HEADERS = {
    "Accept": "application/json",
    "OData-MaxVersion": "4.0",
    "OData-Version": "4.0",
}

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ENTITY_ID = re.compile(r"\(([^()]*)\)\s*$")


def etag_of(record: Mapping[str, Any]) -> str | None:
    """The record's ETag as the server sent it (``W/"123"``), for a later ``If-Match``."""
    value = record.get("@odata.etag")
    return str(value) if value is not None else None


def odata_string(text: str) -> str:
    """A quoted OData string literal; single quotes are doubled so values cannot break out."""
    return "'" + text.replace("'", "''") + "'"


def odata_literal(value: Any) -> str:
    """An OData literal for ``$filter`` or function parameters.

    GUIDs (``uuid.UUID`` or GUID-shaped strings) are written bare, as Dataverse expects for
    ids and ``_x_value`` lookups; use :func:`odata_string` to force a quoted string.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        return value if _GUID.match(value) else odata_string(value)
    raise TypeError(f"no OData literal for {type(value).__name__}")


def id_from_entity_id(entity_id: str | None) -> str | None:
    """The key inside ``.../mailboxes(<id>)`` as returned in ``OData-EntityId``."""
    if not entity_id:
        return None
    match = _ENTITY_ID.search(entity_id)
    return match.group(1) if match else None


@dataclass(frozen=True)
class WhoAmI:
    user_id: str
    business_unit_id: str
    organization_id: str


@dataclass(frozen=True)
class BatchOperation:
    method: str
    url: str                                   # relative to the Web API root, e.g. "mailboxes(<id>)"
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content_id: str | None = None


@dataclass(frozen=True)
class BatchResult:
    operation: BatchOperation
    status: int
    body: Any
    headers: Mapping[str, str]
    error: DataverseError | None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def created_id(self) -> str | None:
        return id_from_entity_id(self.headers.get("OData-EntityId") or self.headers.get("Location"))


_STATUS_ERRORS: dict[int, type[DataverseError]] = {
    400: ValidationFailed,
    403: PrivilegeDenied,
    404: NotFound,
    412: PreconditionFailed,
    429: Throttled,
}


def dataverse_error(
    status: int, body: Any, headers: Mapping[str, str], *, method: str, url: str, fallback: str
) -> DataverseError:
    """Map one error answer to its meaning, keeping code, message and request id."""
    code, message, body_request_id = error_parts(body, fallback)
    kind = _STATUS_ERRORS.get(status, DataverseError)
    request_id = request_id_of(headers) or body_request_id
    if status == 401:
        message = f"the access token was refused: {message}"
    kwargs: dict[str, Any] = {
        "status": status, "code": code, "request_id": request_id, "method": method, "url": url,
    }
    if kind is Throttled:
        return Throttled(message, retry_after=parse_retry_after(headers.get("Retry-After")), **kwargs)
    return kind(message, **kwargs)


class DataverseClient:
    """Typed access to one environment's Web API; thread-safe (the HTTP layer is)."""

    def __init__(self, org_url: str, http: HttpService) -> None:
        self.org_url = org_url.rstrip("/")
        self.api_url = self.org_url + API_PATH
        self.http = http
        self._building = threading.Condition()
        self._built = 0

    def allowed_in_flight(self) -> int | None:
        """How many requests the shared limiter lets be under way now; None without a limiter."""
        limiter = self.http.limiter
        return None if limiter is None else limiter.allowed

    def rows_per_batch(self, planned: int) -> int:
        """``planned`` operations per ``$batch``, or twice as many while the number of
        requests is limited.

        A ``$batch`` counts once against the number-of-requests limit whatever it holds
        (reference §1.11), and while that limit refuses, every request pauses for its
        Retry-After: twice the operations per request move twice the rows through each
        pause, at the same execution time per operation. Without such a refusal the planned
        size stays: a bigger batch holds its slot longer, so the ramp to full concurrency
        and the last round of a bulk write take longer.
        """
        limiter = self.http.limiter
        if limiter is None or not limiter.requests_limited():
            return planned
        return min(MAX_BATCH, 2 * planned)

    def reserve_batch(self, stop: threading.Event) -> bool:
        """Wait until one more ``$batch`` may be built and sent; False if ``stop`` is set meanwhile.

        A built batch holds its rows, operations and encoded body. Across every caller
        at once, only one more is built than the limiter lets fly; more would only wait
        for a slot, holding memory. Pair with :meth:`release_batch` once it is answered.
        """
        with self._building:
            while (allowed := self.allowed_in_flight()) is not None and self._built > allowed:
                if stop.is_set():
                    return False
                self._building.wait(timeout=0.5)  # woken by every answer; the timeout sees a stop
            self._built += 1
            return True

    def release_batch(self) -> None:
        with self._building:
            self._built = max(0, self._built - 1)
            self._building.notify_all()

    # -- plumbing ---------------------------------------------------------------------------
    def _url(self, relative: str) -> str:
        return relative if relative.startswith("https://") else self.api_url + relative.lstrip("/")

    def _send(
        self,
        method: str,
        relative: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        target: str | None = None,
    ) -> httpx.Response:
        url = self._url(relative) + encode_query(params)
        merged = dict(ODATA_HEADERS)
        content: bytes | None = None
        if body is not None:
            merged["Content-Type"] = "application/json"
            content = json.dumps(body).encode("utf-8")
        merged.update(headers or {})
        response = self.http.request(method, url, content=content, headers=merged, target=target)
        if response.status_code >= 400:
            raise dataverse_error(
                response.status_code, json_or_none(response.text), response.headers,
                method=method, url=url.split("?", 1)[0], fallback=describe_status(response),
            )
        return response

    @staticmethod
    def _record_path(entity_set: str, key: str) -> str:
        return f"{entity_set}({key})"

    # -- reads ------------------------------------------------------------------------------
    def whoami(self) -> WhoAmI:
        response = self._send("GET", "WhoAmI", target="WhoAmI")
        try:
            data = json_object(response, service="dataverse", what="WhoAmI")
            missing = ", ".join(k for k in ("UserId", "BusinessUnitId", "OrganizationId") if k not in data)
        except MalformedReply as exc:
            data, missing = {}, f"JSON ({exc})"
        if missing:
            raise DataverseError(
                f"WhoAmI answered without {missing}; is environment.url a Dataverse environment?",
                status=response.status_code, method="GET", url=self.api_url + "WhoAmI",
            )
        models.check_function("WhoAmI", data)
        return WhoAmI(str(data["UserId"]), str(data["BusinessUnitId"]), str(data["OrganizationId"]))

    def get(
        self, entity_set: str, key: str, *, select: Sequence[str] | None = None, expand: str | None = None
    ) -> Record:
        params = _query_params(select=select, expand=expand)
        response = self._send("GET", self._record_path(entity_set, key), params=params, target=entity_set)
        record: Record = json_object(response, service="dataverse", what=f"GET {entity_set}")
        models.check_row(record, select, call=f"GET {entity_set}({key})")
        if "@odata.etag" not in record and response.headers.get("ETag"):
            record["@odata.etag"] = response.headers["ETag"]
        return record

    def query(
        self,
        entity_set: str,
        *,
        select: Sequence[str] | None = None,
        filter: str | None = None,
        orderby: str | None = None,
        expand: str | None = None,
        top: int | None = None,
        page_size: int = MAX_PAGE_SIZE,
        malformed_row: Callable[[Any, MalformedReply], None] | None = None,
    ) -> Iterator[Record]:
        """Rows one page at a time: only the current page is ever held in memory.

        ``$top`` and ``odata.maxpagesize`` are not combined, because Dataverse then ignores
        ``$top``; with ``top`` the page size header is left out.

        A row that fails its model fails the page, unless ``malformed_row`` is given: for a
        caller whose rows are separate objects, it receives each such row (and why) instead
        of it being yielded, and raises if the read as a whole must fail after all (when the
        row does not even say which object it is).
        """
        page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        params = _query_params(select=select, filter=filter, orderby=orderby, expand=expand, top=top)
        headers = {} if top is not None else {"Prefer": f"odata.maxpagesize={page_size}"}
        url: str | None = entity_set
        guard = PageGuard("dataverse", entity_set, self._url(entity_set) + encode_query(params))
        yielded = 0
        first = True
        while url is not None:
            response = self._send("GET", url, params=params if first else None, headers=headers,
                                  target=entity_set)
            first = False
            page = collection_page(response, service="dataverse", what=f"GET {entity_set}")
            del response  # hold one page, not its raw text as well, while the caller iterates
            url = guard.next_url(page)  # checked before any row is used: a bad page yields nothing
            if malformed_row is None:
                models.check_row_page(page["value"], select, call=f"GET {entity_set}")
            for index, row in enumerate(page["value"]):
                if malformed_row is not None:
                    try:
                        models.check_row(row, select, call=f"GET {entity_set} (row {index + 1} of its page)")
                    except MalformedReply as exc:
                        malformed_row(row, exc)
                        continue
                yield row
                yielded += 1
                if top is not None and yielded >= top:
                    return
            del page

    # -- writes -----------------------------------------------------------------------------
    def create(self, entity_set: str, body: Mapping[str, Any]) -> str:
        response = self._send("POST", entity_set, body=body, target=entity_set)
        entity_id = response.headers.get("OData-EntityId") or response.headers.get("Location")
        if entity_id:
            # Never followed, but an address elsewhere means the answer is not this service's.
            check_same_origin(entity_id, self.api_url, service="dataverse",
                              what=f"the address of the record created in {entity_set}")
            return require_guid(id_from_entity_id(entity_id), service="dataverse",
                                what=f"the id of the record created in {entity_set}")
        payload = json_or_none(response.text)
        new_id = next((str(v) for k, v in payload.items() if k.endswith("id") and _GUID.match(str(v))),
                      None) if isinstance(payload, dict) else None
        if new_id is None:
            raise DataverseError(f"create in {entity_set} returned no record id",
                                 status=response.status_code, method="POST", url=self._url(entity_set))
        return new_id

    def update(
        self,
        entity_set: str,
        key: str,
        body: Mapping[str, Any],
        *,
        if_match: str | None = None,
        returning: Sequence[str] | None = None,
    ) -> Record | None:
        """Update an existing record; never creates one (``If-Match: *`` without an ETag).

        With ``returning`` the answer is the updated record with those columns and its new
        ETag (``Prefer: return=representation``): the version this write produced, in the
        same request, instead of a second read that another writer could slip in front of.
        """
        headers = {"If-Match": if_match or "*"}
        params = None
        if returning is not None:
            headers["Prefer"] = "return=representation"
            params = {"$select": ",".join(returning)}
        response = self._send("PATCH", self._record_path(entity_set, key), params=params, body=body,
                              headers=headers, target=entity_set)
        if returning is None:
            return None
        if response.status_code != 200:
            return None  # a server that ignored the preference: the caller reads the record itself
        record = json_object(response, service="dataverse", what=f"PATCH {entity_set}")
        models.check_row(record, returning, call=f"PATCH {entity_set}({key})")
        return record

    def delete(self, entity_set: str, key: str, *, if_match: str | None = None) -> None:
        headers = {"If-Match": if_match} if if_match else {}
        self._send("DELETE", self._record_path(entity_set, key), headers=headers, target=entity_set)

    def associate(self, entity_set: str, key: str, navigation: str, target_set: str, target_key: str) -> None:
        """Link two records through a collection-valued navigation property (``$ref``)."""
        body = {"@odata.id": self._url(f"{target_set}({target_key})")}
        self._send("POST", f"{self._record_path(entity_set, key)}/{navigation}/$ref", body=body,
                   target=entity_set)

    def disassociate(self, entity_set: str, key: str, navigation: str, target_key: str) -> None:
        self._send("DELETE", f"{self._record_path(entity_set, key)}/{navigation}({target_key})/$ref",
                   target=entity_set)

    # -- functions and actions ----------------------------------------------------------------
    def action(
        self, name: str, body: Mapping[str, Any] | None = None, *, bound: tuple[str, str] | None = None
    ) -> Any:
        path = _operation_path(name, bound)
        return _optional_json(self._send("POST", path, body=dict(body or {}), target=name), name)

    def function(
        self, name: str, params: Mapping[str, Any] | None = None, *, bound: tuple[str, str] | None = None
    ) -> Any:
        """Call a function; GUID-shaped string parameters are passed as Edm.Guid."""
        arguments = ",".join(f"{key}={odata_literal(value)}" for key, value in (params or {}).items())
        path = _operation_path(name, bound) + f"({arguments})"
        answer = _optional_json(self._send("GET", path, target=name), name)
        models.check_function(name, answer)
        return answer

    # -- $batch -----------------------------------------------------------------------------
    def batch(
        self,
        operations: Sequence[BatchOperation],
        *,
        atomic: bool = False,
        continue_on_error: bool = False,
        max_per_batch: int = MAX_BATCH,
    ) -> list[BatchResult]:
        """Run operations in ``$batch`` requests of at most ``max_per_batch``; results in input order.

        With ``atomic`` each chunk is one change set (all or nothing per chunk, not across
        chunks). A failing operation never raises: its :class:`BatchResult` carries the error,
        and operations the server did not run carry a "not executed" error.
        """
        size = max(1, min(max_per_batch, MAX_BATCH))
        results: list[BatchResult] = []
        stopped = False
        for start in range(0, len(operations), size):
            chunk = list(operations[start:start + size])
            if stopped:
                results.extend(_not_run(op, "an operation of an earlier batch failed", self.api_url)
                               for op in chunk)
                continue
            answers = self._batch_chunk(chunk, atomic=atomic, continue_on_error=continue_on_error)
            results.extend(answers)
            stopped = not continue_on_error and any(not r.ok for r in answers)
        return results

    def _batch_chunk(
        self, chunk: list[BatchOperation], *, atomic: bool, continue_on_error: bool
    ) -> list[BatchResult]:
        if atomic and any(op.method.upper() == "GET" for op in chunk):
            raise ValueError("GET cannot be part of an atomic batch (change sets allow writes only)")
        # Every part carries a Content-ID so that an answer holding only the failing part
        # can still be matched to its operation.
        content_ids = [op.content_id or str(i + 1) for i, op in enumerate(chunk)]
        boundary = f"batch_{uuid.uuid4()}"
        body = encode_batch(chunk, boundary, api_url=self.api_url, content_ids=content_ids, atomic=atomic)
        headers = {**ODATA_HEADERS, "Content-Type": f"multipart/mixed; boundary={boundary}"}
        if continue_on_error:
            headers["Prefer"] = "odata.continue-on-error"
        url = self.api_url + "$batch"
        response = self.http.request("POST", url, content=body, headers=headers, target="$batch")
        content_type = response.headers.get("Content-Type", "")
        if "multipart/" not in content_type:
            if response.status_code >= 400:
                raise dataverse_error(
                    response.status_code, json_or_none(response.text), response.headers,
                    method="POST", url=url, fallback=describe_status(response),
                )
            raise DataverseError(f"$batch answered {content_type or 'no content type'}, not multipart",
                                 status=response.status_code, method="POST", url=url)
        parts = decode_batch_response(response.content, content_type)
        return match_batch_results(chunk, content_ids, parts, atomic=atomic, url=url)


# -- query and path helpers -------------------------------------------------------------------
def _optional_json(response: httpx.Response, name: str) -> Any:
    """None for an action that answers 204 or nothing; otherwise the body must be JSON."""
    if response.status_code == 204 or not response.content.strip():
        return None
    return json_body(response, service="dataverse", what=name)


def _query_params(
    *,
    select: Sequence[str] | None = None,
    filter: str | None = None,
    orderby: str | None = None,
    expand: str | None = None,
    top: int | None = None,
) -> dict[str, str]:
    params: dict[str, str] = {}
    if select:
        params["$select"] = ",".join(select)
    if filter:
        params["$filter"] = filter
    if orderby:
        params["$orderby"] = orderby
    if expand:
        params["$expand"] = expand
    if top is not None:
        params["$top"] = str(top)
    return params


def _operation_path(name: str, bound: tuple[str, str] | None) -> str:
    if bound is None:
        return name
    entity_set, key = bound
    qualified = name if "." in name else f"Microsoft.Dynamics.CRM.{name}"
    return f"{entity_set}({key})/{qualified}"


# -- multipart encoding/decoding ----------------------------------------------------------------
CRLF = "\r\n"


def _encode_request(op: BatchOperation, api_url: str, content_id: str | None) -> str:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id is not None:
        lines.append(f"Content-ID: {content_id}")
    url = op.url if op.url.startswith(("https://", "$")) else api_url + op.url.lstrip("/")
    lines += ["", f"{op.method.upper()} {url} HTTP/1.1", "Accept: application/json"]
    if op.body is not None:
        lines.append("Content-Type: application/json; type=entry")
    lines += [f"{name}: {value}" for name, value in op.headers.items()]
    lines.append("")
    lines.append(json.dumps(op.body) if op.body is not None else "")
    return CRLF.join(lines)


def encode_batch(
    ops: Sequence[BatchOperation],
    boundary: str,
    *,
    api_url: str,
    content_ids: Sequence[str | None],
    atomic: bool,
) -> bytes:
    """The multipart/mixed body of one ``$batch`` request (atomic: one change set)."""
    out: list[str] = []
    if atomic:
        changeset = f"changeset_{uuid.uuid4()}"
        out += [f"--{boundary}", f"Content-Type: multipart/mixed; boundary={changeset}", ""]
        for op, cid in zip(ops, content_ids, strict=True):
            out += [f"--{changeset}", _encode_request(op, api_url, cid)]
        out.append(f"--{changeset}--")
    else:
        for op, cid in zip(ops, content_ids, strict=True):
            out += [f"--{boundary}", _encode_request(op, api_url, cid)]
    out.append(f"--{boundary}--")
    out.append("")
    return CRLF.join(out).encode("utf-8")


@dataclass(frozen=True)
class BatchPart:
    """One HTTP response inside a batch answer."""

    status: int
    headers: dict[str, str]
    body: Any
    content_id: str | None
    in_changeset: bool


def _boundary_of(content_type: str) -> str:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise ValueError(f"multipart content type without boundary: {content_type!r}")
    return match.group(1)


def _split_multipart(text: str, boundary: str) -> list[tuple[dict[str, str], str]]:
    delimiter = "--" + boundary
    sections = text.split(delimiter)
    parts: list[tuple[dict[str, str], str]] = []
    for raw in sections[1:]:
        if raw.startswith("--"):
            break
        section = raw[1:] if raw.startswith("\n") else raw
        head, _, content = section.partition("\n\n")
        if content.endswith("\n"):
            content = content[:-1]
        parts.append((_parse_headers(head.split("\n")), content))
    return parts


def _parse_headers(lines: Sequence[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep and name.strip():
            headers[name.strip()] = value.strip()
    return headers


def _lookup(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def _parse_http_response(content: str, mime: Mapping[str, str], in_changeset: bool) -> BatchPart:
    head, _, body_text = content.partition("\n\n")
    lines = head.split("\n")
    status_line = lines[0].split(" ", 2)
    status = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else 0
    headers = _parse_headers(lines[1:])
    content_id = _lookup(mime, "Content-ID") or _lookup(headers, "Content-ID")
    return BatchPart(status, headers, json_or_none(body_text) if body_text.strip() else None,
                     content_id, in_changeset)


def decode_batch_response(content: bytes, content_type: str) -> list[BatchPart]:
    """Flatten a batch answer (including nested change set answers) into parts in order."""
    text = content.decode("utf-8").replace("\r\n", "\n")
    parts: list[BatchPart] = []
    for mime, part in _split_multipart(text, _boundary_of(content_type)):
        part_type = _lookup(mime, "Content-Type") or ""
        if part_type.startswith("multipart/"):
            for inner_mime, inner in _split_multipart(part, _boundary_of(part_type)):
                parts.append(_parse_http_response(inner, inner_mime, True))
        else:
            parts.append(_parse_http_response(part, mime, False))
    return parts


def _not_run(op: BatchOperation, why: str, api_url: str, *, verb: str = "not executed") -> BatchResult:
    error = DataverseError(f"{verb}: {why}", status=NOT_EXECUTED, method=op.method.upper(),
                           url=api_url + op.url)
    return BatchResult(op, NOT_EXECUTED, None, {}, error)


def match_batch_results(
    ops: Sequence[BatchOperation],
    content_ids: Sequence[str | None],
    parts: Sequence[BatchPart],
    *,
    atomic: bool,
    url: str,
) -> list[BatchResult]:
    """Pair answers with operations: by Content-ID where given, otherwise by position."""
    assigned: list[BatchPart | None] = [None] * len(ops)
    index_of = {cid: i for i, cid in enumerate(content_ids) if cid is not None}
    leftovers: list[BatchPart] = []
    for answer in parts:
        i = index_of.get(answer.content_id) if answer.content_id is not None else None
        if i is not None and assigned[i] is None:
            assigned[i] = answer
        else:
            leftovers.append(answer)
    remaining = iter(leftovers)
    for i in range(len(ops)):
        if assigned[i] is None:
            assigned[i] = next(remaining, None)
    failed = [i for i, part in enumerate(assigned) if part is not None and part.status >= 400]
    api_url = url.rsplit("$batch", 1)[0]
    culprit = (f"operation {failed[0] + 1} ({ops[failed[0]].method} {ops[failed[0]].url})" if failed
               else "an earlier operation")
    results: list[BatchResult] = []
    for i, (op, part) in enumerate(zip(ops, assigned, strict=True)):
        op_url = api_url + op.url
        if part is None and not atomic and failed and i < failed[0]:
            # Ran before the failure; the server returns only the failing part.
            results.append(BatchResult(op, 204, None, {}, None))
            continue
        if part is None or (atomic and failed and part.status < 400):
            verb = "rolled back" if atomic else "not executed"  # a change set is all or nothing
            results.append(_not_run(op, f"{culprit} in the same batch failed", api_url, verb=verb))
            continue
        error_or_none: DataverseError | None = None
        if not models.batch_status_ok(part.status):
            # No status line: whether this operation took effect is not known, so it is no success.
            error_or_none = DataverseError(
                "the $batch answer's part for this operation has no HTTP status; its outcome is unknown",
                status=part.status, method=op.method.upper(), url=op_url)
        elif part.status >= 400:
            error_or_none = dataverse_error(
                part.status, part.body, part.headers, method=op.method.upper(), url=op_url,
                fallback=f"HTTP {part.status}",
            )
        results.append(BatchResult(op, part.status, part.body, part.headers, error_or_none))
    return results
