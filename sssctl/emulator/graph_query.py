"""Query options and the error type Graph's v1.0 routes share (``graph`` and ``graph_directory``).

``$select`` is checked against the properties Graph's metadata declares (``graph_schema``);
``$top`` takes 1 to 999 and pages continue with an opaque ``$skiptoken``; the context URL
names a projection (``#applications(displayName)``), as Graph does.

Counting and searching directory objects (applications, service principals, users, groups
and their relationships) need ``ConsistencyLevel: eventual``: "Advanced query capabilities on
Microsoft Entra ID objects", section "Error handling for advanced queries on directory
objects" (https://learn.microsoft.com/graph/aad-advanced-queries): without the header the
``/$count`` segment is an error, ``?$count=true`` is *silently ignored*, ``$search`` is an error.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from sssctl.emulator.graph_schema import DECLARED
from sssctl.emulator.graph_types import TYPES

MAX_TOP = 999
DEFAULT_TOP = 100


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, details: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def eventual(request: Request) -> bool:
    return (request.headers.get("consistencylevel") or "").strip().lower() == "eventual"


def counted(request: Request) -> bool:
    """``$count=true`` is honoured only with the header; without it Graph ignores it [doc]."""
    return eventual(request) and (request.query_params.get("$count") or "").lower() == "true"


def require_eventual_for_count(request: Request) -> None:
    if not eventual(request):
        raise GraphError(400, "Request_BadRequest", "$count is not currently supported.")


def require_eventual_for_search(request: Request) -> None:
    if not eventual(request):
        raise GraphError(
            400,
            "Request_UnsupportedQuery",
            "Request with $search query parameter only works through MSGraph with a special request "
            "header: 'ConsistencyLevel: eventual'",
        )


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


def _select(
    data: dict[str, Any], selected: list[str] | None, entity_type: str | None = None
) -> dict[str, Any]:
    """The selected properties; with ``entity_type`` (or the item's ``@odata.type``), a selected
    property the item does not hold comes back empty, as Graph answers it: ``[]`` for a
    collection (``Nullable="false"`` in the metadata), ``null`` otherwise. A navigation
    property is not filled."""
    if not selected or "*" in selected:
        return data
    out = {k: v for k, v in data.items() if k in selected or k.startswith("@odata")}
    kind = entity_type or str(data.get("@odata.type") or "").removeprefix("#microsoft.graph.")
    declared = TYPES.get(kind, {})
    for name in selected:
        if name not in out and name in declared and (kind, name) not in _STREAMS:
            out[name] = [] if declared[name].startswith("Collection(") else None
    return out


# ``application.logo`` is an ``Edm.Stream``: read at ``/applications/{id}/logo``, never inline.
_STREAMS = frozenset({("application", "logo")})


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
