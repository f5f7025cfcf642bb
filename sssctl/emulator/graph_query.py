"""Query options and the error type Graph's v1.0 routes share (``graph`` and ``graph_directory``).

``$select`` is checked against the properties Graph's metadata declares (``graph_schema``);
``$top`` takes 1 to 999 and pages continue with an opaque ``$skiptoken``; the context URL
names a projection (``#applications(displayName)``), as Graph does.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from sssctl.emulator.graph_schema import DECLARED

MAX_TOP = 999
DEFAULT_TOP = 100


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, details: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def _selection(request: Request, entity_type: str) -> list[str] | None:
    """The ``$select`` names, each one a property ``entity_type`` declares (graph_schema)."""
    raw = request.query_params.get("$select")
    names = [s.strip() for s in raw.split(",") if s.strip()] if raw else None
    for name in names or ():
        if name != "*" and name not in DECLARED[entity_type]:
            raise GraphError(
                400,
                "BadRequest",
                "Parsing OData Select and Expand failed: Could not find a property named "
                f"'{name}' on type 'microsoft.graph.{entity_type}'.",
            )
    return names


def _projection(selected: list[str] | None) -> str:
    """The context URL names a projection as both services do: ``#applications(displayName)``."""
    return f"({','.join(selected)})" if selected else ""


def _select(data: dict[str, Any], selected: list[str] | None) -> dict[str, Any]:
    if not selected:
        return data
    return {k: v for k, v in data.items() if k in selected or k.startswith("@odata")}


def _top(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_TOP
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_TOP:
        raise GraphError(
            400,
            "Request_BadRequest",
            f"Invalid page size specified: '{raw}'. Must be between 1 and {MAX_TOP} inclusive.",
        )
    return int(raw)


def _skip(raw: str | None) -> int:
    if raw is None:
        return 0
    if not raw.startswith("X") or not raw[1:].isdigit():
        raise GraphError(
            400, "Request_BadRequest", "The specified page token value has expired or is invalid."
        )
    return int(raw[1:])
