"""Reading error answers the same way for every service (code, message, request id)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

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
