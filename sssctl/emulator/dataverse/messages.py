"""The Web API's request and response values, and the faults a URL or body earns.

Both the HTTP layer and ``$batch`` build :class:`ApiRequest` objects and read back
:class:`ApiResponse` objects, so an operation behaves the same inside or outside a batch.
This module knows nothing of tables or rules: only the OData message surface.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import NOT_SUPPORTED, ODATA_URI_PROBLEM, DataverseFault, bad_request
from .schema import Table

API_PATH = "api/data/v9.2"
JSON_TYPE = "application/json; odata.metadata=minimal"
SEGMENT = re.compile(r"^(?P<name>[$\w.]+)(?:\((?P<key>.*)\))?$")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


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


def no_content() -> ApiResponse:
    """204 with no body, the answer of a write that returns nothing."""
    return ApiResponse(204, [("OData-Version", "4.0")])


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
    match = SEGMENT.match(segments[0])
    name = match.group("name") if match else segments[0]
    if len(segments) > 1 and segments[1].startswith("Microsoft.Dynamics.CRM."):
        return segments[1].split(".")[-1].split("(")[0]
    return name


def record_key(key: str) -> str:
    """The GUID of a ``set(<key>)`` segment; alternate keys are not defined on any served table."""
    text = key.strip()
    if _GUID.fullmatch(text):
        return text.lower()
    raise DataverseFault(
        400,
        ODATA_URI_PROBLEM,
        f"Bad Request - Error in query syntax: the key '{key}' is not a "
        "GUID (alternate keys are not defined on this table).",
    )


def not_allowed(method: str, what: str) -> DataverseFault:
    return DataverseFault(
        405, ODATA_URI_PROBLEM, f"The HTTP method '{method.upper()}' is not allowed on '{what}'."
    )


def unsupported(verb: str, table: Table) -> DataverseFault:
    return DataverseFault(
        405, NOT_SUPPORTED, f"The '{verb}' method does not support entities of type '{table.logical}'."
    )


def json_body(request: ApiRequest) -> dict[str, Any]:
    if not request.body.strip():
        return {}
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


def content_id(request: ApiRequest, reference: str) -> str:
    path = request.content_ids.get(reference)
    if path is None:
        raise bad_request(f"Content-ID Reference: '{reference}' does not exist in the batch context.")
    return path


def aliases(request: ApiRequest) -> dict[str, str]:
    """The query string's parameter aliases (``@p1=...``)."""
    return {k: v for k, v in request.params if k.startswith("@")}
