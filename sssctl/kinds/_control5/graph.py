"""Reads from Microsoft Graph that the Control 5 kinds share (the app, resource service principals)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import structlog

from sssctl.clients.errors import GraphNotFound
from sssctl.engine.kind import Context
from sssctl.kinds._control5.names import app_path, odata_string

if TYPE_CHECKING:
    from sssctl.clients.graph import GraphClient


log = structlog.get_logger(__name__)


def require_graph(ctx: Context) -> GraphClient:
    if ctx.graph is None:
        why = ctx.unavailable.get("graph")
        raise RuntimeError(f"no Microsoft Graph client ({why})" if why
                           else "no Microsoft Graph client: app registrations need Graph access")
    return ctx.graph


def get_or_none(graph: GraphClient, path: str, **kw: Any) -> dict[str, Any] | None:
    try:
        found = graph.get(path, **kw)
    except GraphNotFound:
        return None
    return dict(found) if found else None


def read_app(ctx: Context, key: str, *, expected: bool = False) -> dict[str, Any] | None:
    """The app by uniqueName; ``expected`` waits out replication of one created moments ago.

    Three kinds read the same app while planning: they share one answer (copies of it).
    """
    if expected:
        return get_or_none(require_graph(ctx), app_path(ctx.desired, key), wait_for_replication=True)
    path = app_path(ctx.desired, key)
    found = ctx.reads.get(f"app:{key}", lambda: get_or_none(require_graph(ctx), path))
    return copy.deepcopy(found)


def read_resource(ctx: Context, resource_app_id: str) -> dict[str, Any] | None:
    """A resource's service principal with its app roles, read once per run."""
    path = f"servicePrincipals(appId={odata_string(resource_app_id)})"
    return _resource(ctx, path, f"resource:{resource_app_id.lower()}")


def read_resource_by_id(ctx: Context, sp_id: str) -> dict[str, Any] | None:
    """A resource service principal by object id (consent points at it that way)."""
    return _resource(ctx, f"servicePrincipals/{sp_id}", f"resource-sp:{sp_id.lower()}")


def _resource(ctx: Context, path: str, key: str) -> dict[str, Any] | None:
    """One resource service principal, filed under both its appId and its object id."""

    def load() -> dict[str, Any] | None:
        found = get_or_none(require_graph(ctx), path)
        if found is not None:
            ctx.reads.put(f"resource:{str(found.get('appId', '')).lower()}", found)
            ctx.reads.put(f"resource-sp:{str(found.get('id', '')).lower()}", found)
        return found

    found = ctx.reads.get(key, load, lifetime="run")
    return dict(found) if found else None
