"""Reading error answers the same way for every service (code, message, request id)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import httpx

from sssctl.clients.errors import MalformedReply

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

REQUEST_ID_HEADERS = (
    "REQ_ID", "x-ms-service-request-id", "request-id", "x-ms-request-id", "client-request-id",
)


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The id support asks for; services disagree on the header name."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in REQUEST_ID_HEADERS:
        value = lowered.get(name.lower())
        if value:
            return value
    return None


def json_or_none(text: str) -> Any:
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def error_parts(body: Any, fallback: str) -> tuple[str | None, str, str | None]:
    """(code, message, request id from the body) of an ``{"error": {...}}`` envelope."""
    if not isinstance(body, Mapping) or not isinstance(body.get("error"), Mapping):
        return None, fallback, None
    error = body["error"]
    code = error.get("code") or None
    message = str(error.get("message") or fallback)
    inner = error.get("innerError") or error.get("innererror") or {}
    request_id = inner.get("request-id") if isinstance(inner, Mapping) else None
    return (str(code) if code is not None else None), message, request_id


def describe_status(response: httpx.Response) -> str:
    """``HTTP 403 Forbidden: <start of a non-JSON body>``; some services answer with NUL bytes."""
    text = "".join(ch for ch in response.text[:400] if ch.isprintable()).strip()
    snippet = text[:200] if text and not text.startswith("{") else ""
    status = f"HTTP {response.status_code} {response.reason_phrase}".strip()
    return status + (f": {snippet}" if snippet else "")


# -- shapes of successful answers --------------------------------------------------------------
def json_body(response: httpx.Response, *, service: str, what: str) -> Any:
    """The parsed JSON body; anything else (HTML, empty, truncated) is a :class:`MalformedReply`."""
    try:
        if not response.content.strip():
            raise ValueError("the body is empty")
        # Parsed from bytes: response.text would keep a decoded copy of every page alive.
        return json.loads(response.content)
    except ValueError as exc:
        raise MalformedReply(
            f"{service}: {what} answered HTTP {response.status_code} without the JSON it must send "
            f"({_content_type(response)}: {exc}); the answer was not used",
            service=service,
        ) from exc


def json_object(response: httpx.Response, *, service: str, what: str) -> dict[str, Any]:
    body = json_body(response, service=service, what=what)
    if not isinstance(body, dict):
        raise MalformedReply(f"{service}: {what} answered a JSON {type(body).__name__}, not an object",
                             service=service)
    return body


def collection_page(response: httpx.Response, *, service: str, what: str) -> dict[str, Any]:
    """One page of an OData collection: an object whose ``value`` is a list of objects."""
    page = json_object(response, service=service, what=what)
    rows = page.get("value")
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        shown = type(rows).__name__ if not isinstance(rows, list) else "a list holding non-objects"
        raise MalformedReply(f"{service}: {what} answered a collection whose 'value' is {shown}, "
                             "not a list of objects", service=service)
    return page


def require_guid(value: Any, *, service: str, what: str) -> str:
    """``value`` as a GUID string; ids go into URLs, so nothing else is accepted."""
    if isinstance(value, str) and GUID.match(value):
        return value
    raise MalformedReply(f"{service}: {what} is not a GUID: {str(value)[:60]!r}", service=service)


def _content_type(response: httpx.Response) -> str:
    return response.headers.get("Content-Type") or "no content type"
