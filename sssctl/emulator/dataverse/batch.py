"""``$batch``: multipart/mixed parsing, change sets, Content-ID references (reference §1.9).

Change sets are atomic: every operation runs inside one store transaction and a failure
anywhere undoes the operations before it. As in OData, a failed change set answers with
the single failing response instead of one response per operation. Without
``Prefer: odata.continue-on-error`` processing stops at the first failure and the outer
status becomes that failure's status, with that one error part as the body.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qsl, unquote, urlsplit

from .errors import INVALID_ARGUMENT, MAX_BATCH_URL, DataverseFault, bad_request, url_too_long
from .messages import API_PATH, ApiRequest, ApiResponse, fault_response, header_fields
from .store import Store

MAX_OPERATIONS = 1000
CRLF = "\r\n"


@dataclass
class Part:
    headers: dict[str, str]
    body: str
    children: list[Part] = field(default_factory=list)  # operations of a change set

    @property
    def is_changeset(self) -> bool:
        return self.headers.get("content-type", "").lower().startswith("multipart/mixed")


@dataclass
class Operation:
    method: str
    url: str
    headers: dict[str, str]
    body: str
    content_id: str | None


def boundary_of(content_type: str | None) -> str:
    match = re.search(r'boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', content_type or "", re.IGNORECASE)
    if not content_type or not content_type.lower().startswith("multipart/mixed") or match is None:
        raise bad_request("A $batch request needs 'Content-Type: multipart/mixed; boundary=<boundary>'.")
    return match.group(1) or match.group(2)


def _headers_and_body(text: str) -> tuple[dict[str, str], str]:
    head, _, body = text.partition("\n\n")
    if not _ and not head.strip():
        return {}, ""
    lines: list[tuple[str, str]] = []
    for line in head.split("\n"):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise bad_request(f"The batch part header line '{line.strip()}' is not 'Name: value'.")
        lines.append((name.strip(), value.strip()))
    return header_fields(lines), body


def parse_multipart(body: str, boundary: str) -> list[Part]:
    """Parts of a multipart/mixed body; CRLF or LF line ends, nested change sets included."""
    text = "\n" + body.replace("\r\n", "\n")
    delimiter = "\n--" + boundary
    pieces = text.split(delimiter)
    if len(pieces) < 2:
        raise bad_request(f"The batch body does not contain the boundary '{boundary}'.")
    parts: list[Part] = []
    closed = False
    for piece in pieces[1:]:
        if piece.startswith("--"):
            closed = True
            break
        _, _, rest = piece.partition("\n")  # drop transport padding after the delimiter
        headers, content = _headers_and_body(rest)
        part = Part(headers, content)
        if part.is_changeset:
            part.children = parse_multipart(content, boundary_of(headers.get("content-type")))
            if any(child.is_changeset for child in part.children):
                raise bad_request("Change sets cannot be nested.")
        parts.append(part)
    if not closed:
        raise bad_request(f"The batch body is not closed with '--{boundary}--'.")
    return parts


def parse_operation(part: Part) -> Operation:
    content_type = part.headers.get("content-type", "").lower()
    if not content_type.startswith("application/http"):
        raise bad_request(f"A batch part must have 'Content-Type: application/http', not '{content_type}'.")
    head, _, body = part.body.partition("\n")
    request_line = head.strip().split()
    if len(request_line) != 3 or not request_line[2].startswith("HTTP/"):
        raise bad_request(f"The batch request line '{head.strip()}' is not 'METHOD URL HTTP/1.1'.")
    headers, content = _headers_and_body(body)
    return Operation(
        request_line[0].upper(),
        request_line[1],
        headers,
        content.rstrip("\n"),
        part.headers.get("content-id"),
    )


def api_request(operation: Operation, content_ids: dict[str, str]) -> ApiRequest:
    """The Web API request an operation's URL names: absolute, server-relative or Content-ID."""
    parts = urlsplit(operation.url)
    path = unquote(parts.path)
    marker = f"{API_PATH}/"
    if marker in path:
        path = path.split(marker, 1)[1]
    elif path.startswith("/") or parts.scheme:
        raise bad_request(f"The batch operation URL '{operation.url}' is not below /{API_PATH}/.")
    params = parse_qsl(parts.query, keep_blank_values=True)
    return ApiRequest(
        operation.method, path, params, operation.headers, operation.body.encode(), content_ids, inner=True
    )


def count_operations(parts: list[Part]) -> int:
    return sum(len(p.children) if p.is_changeset else 1 for p in parts)


class _ChangeSetFailed(Exception):
    def __init__(self, response: ApiResponse, content_id: str | None) -> None:
        super().__init__("change set failed")
        self.response = response
        self.content_id = content_id


Handler = Callable[[ApiRequest], ApiResponse]


class BatchRunner:
    """Runs one ``$batch`` body against a handler and builds the multipart answer."""

    def __init__(self, store: Store, handler: Handler, on_operation: Callable[[], None]) -> None:
        self.store = store
        self.handler = handler
        self.on_operation = on_operation

    def run(self, content_type: str | None, body: bytes, continue_on_error: bool) -> tuple[int, str, bytes]:
        """Return (outer status, response content type, response body)."""
        try:
            parts = parse_multipart(body.decode("utf-8"), boundary_of(content_type))
        except UnicodeDecodeError as exc:
            raise bad_request("The batch body is not UTF-8 text.") from exc
        total = count_operations(parts)
        if total > MAX_OPERATIONS:
            raise DataverseFault(
                400,
                INVALID_ARGUMENT,
                f"The batch holds {total} requests; a batch may hold at most {MAX_OPERATIONS} requests.",
            )
        boundary = f"batchresponse_{uuid.uuid4()}"
        chunks: list[str] = []
        status = 200
        # One hold of the store for the whole batch, not one per operation: the handlers
        # take the (re-entrant) lock again at no cost. With 52 batches served at once, a
        # hand-over per operation left most worker threads queueing for the lock and
        # the interpreter, and a busy emulator answering later than the service would.
        with self.store.lock:
            for part in parts:
                chunk, failed = self._changeset(part) if part.is_changeset else self._single(part)
                if failed is not None and not continue_on_error:
                    return failed, f"multipart/mixed; boundary={boundary}", _close([chunk], boundary)
                chunks.append(chunk)
        return status, f"multipart/mixed; boundary={boundary}", _close(chunks, boundary)

    def _single(self, part: Part) -> tuple[str, int | None]:
        try:
            operation = parse_operation(part)
            response = self._execute(operation, {})
        except DataverseFault as fault:
            response = fault_response(fault)
            operation = None
        content_id = operation.content_id if operation else None
        return _http_part(response, content_id), (response.status if response.status >= 400 else None)

    def _changeset(self, part: Part) -> tuple[str, int | None]:
        content_ids: dict[str, str] = {}
        results: list[tuple[ApiResponse, str | None]] = []
        try:
            with self.store.atomic():
                for child in part.children:
                    results.append(self._changeset_operation(child, content_ids))
        except _ChangeSetFailed as failure:
            return _http_part(failure.response, failure.content_id), failure.response.status
        boundary = f"changesetresponse_{uuid.uuid4()}"
        inner = [_http_part(response, content_id) for response, content_id in results]
        body = _close(inner, boundary).decode()
        return f"Content-Type: multipart/mixed; boundary={boundary}{CRLF}{CRLF}{body}", None

    def _changeset_operation(
        self, child: Part, content_ids: dict[str, str]
    ) -> tuple[ApiResponse, str | None]:
        content_id = child.headers.get("content-id")
        try:
            operation = parse_operation(child)
            content_id = operation.content_id
            if operation.method == "GET":
                raise bad_request("GET requests are not allowed inside a change set; send them outside it.")
            response = self._execute(operation, content_ids)
        except DataverseFault as fault:
            raise _ChangeSetFailed(fault_response(fault), content_id) from fault
        if response.status >= 400:
            raise _ChangeSetFailed(response, content_id)
        if content_id and response.entity_path:
            content_ids[f"${content_id}"] = response.entity_path
        return response, content_id

    def _execute(self, operation: Operation, content_ids: dict[str, str]) -> ApiResponse:
        if len(operation.url) > MAX_BATCH_URL:
            raise url_too_long(len(operation.url), MAX_BATCH_URL)
        self.on_operation()
        return self.handler(api_request(operation, content_ids))


def _http_part(response: ApiResponse, content_id: str | None) -> str:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id:
        lines.append(f"Content-ID: {content_id}")
    reason = HTTPStatus(response.status).phrase
    lines += ["", f"HTTP/1.1 {response.status} {reason}"]
    lines += [f"{name}: {value}" for name, value in response.headers]
    if response.entity_path and not any(n.lower() == "location" for n, _ in response.headers):
        entity_id = next((v for n, v in response.headers if n == "OData-EntityId"), None)
        if entity_id and response.status == 204:
            lines.append(f"Location: {entity_id}")
    lines += ["", response.body.decode()]
    return CRLF.join(lines)


def _close(chunks: list[str], boundary: str) -> bytes:
    text = "".join(f"--{boundary}{CRLF}{chunk}{CRLF}" for chunk in chunks) + f"--{boundary}--{CRLF}"
    return text.encode()
