"""The tenant-wide Entra ID consent of mailbox permissions, which the mailbox scope owns.

Permissions are additive: an app holding a tenant-wide consent of a mailbox permission
(``exchange:full_access_as_app``, ``graph:Mail.ReadWrite``, ...) reaches every mailbox
unless an application access policy narrows it, and under RBAC for Applications the
consent voids the scope altogether. Granting it is therefore safe only *after* the policy
exists, and removing it only *after* the RBAC role assignments exist. So whenever an app
has a ``mailbox_scope``, ``exchange_scope.<key>`` grants and removes that consent inside
its own change, in that order, whichever method is configured (and switching between
them never opens a window); ``app_registration.<key>`` consents the other permissions
only. An app without a scope gets every permission consented by ``app_registration``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence

import structlog

from sssctl.clients.errors import GraphError, GraphNotFound
from sssctl.engine.kind import Context
from sssctl.kinds._control5 import rbac
from sssctl.kinds._control5.graph import get_or_none, read_resource_by_id, require_graph
from sssctl.kinds._control5.names import odata_string
from sssctl.kinds._control5.permissions import is_duplicate_assignment, resolve_permissions, role_name

log = structlog.get_logger(__name__)

Grant = dict[str, str]  # {"name", "resource_id", "role_id"} plus "id" for a live assignment


def live(ctx: Context, app_id: str) -> list[Grant]:
    """The app's tenant-wide consents of mailbox permissions, as Graph shows them now."""
    graph = require_graph(ctx)
    sp = get_or_none(graph, f"servicePrincipals(appId={odata_string(app_id)})")
    if sp is None:
        return []
    found = []
    for assignment in graph.list(f"servicePrincipals/{sp['id']}/appRoleAssignments"):
        resource = read_resource_by_id(ctx, str(assignment.get("resourceId")))
        if resource is None:
            continue
        name = role_name(ctx, str(resource["appId"]).lower(), str(assignment.get("appRoleId")))
        if rbac.is_mailbox_permission(name):
            found.append({"name": name, "id": str(assignment["id"]),
                          "resource_id": str(assignment["resourceId"]),
                          "role_id": str(assignment["appRoleId"])})
    return found


def wanted(ctx: Context, permissions: Sequence[str]) -> list[Grant]:
    """The mailbox permissions of the config, resolved to the ids a grant needs."""
    mailbox = [p for p in permissions if rbac.is_mailbox_permission(p)]
    return [{"name": p.name, "resource_id": p.resource_sp_id, "role_id": p.role_id}
            for p in resolve_permissions(ctx, mailbox)]


def _pair(grant: Mapping[str, str]) -> tuple[str, str]:
    return grant["resource_id"].lower(), grant["role_id"].lower()


def missing(want: Sequence[Grant], have: Sequence[Grant]) -> list[Grant]:
    held = {_pair(g) for g in have}
    return [g for g in want if _pair(g) not in held]


def unasked(want: Sequence[Grant], have: Sequence[Grant]) -> list[Grant]:
    asked = {_pair(g) for g in want}
    return [g for g in have if _pair(g) not in asked]


def names(grants: Sequence[Mapping[str, str]]) -> list[str]:
    return sorted(g["name"] for g in grants)


def elevation(granted: Sequence[str], revoked: Sequence[str]) -> str:
    """Why a change that grants or revokes tenant-wide consent needs AppRoleAssignment.ReadWrite.All."""
    parts = ([f"grant the tenant-wide consent of {', '.join(sorted(granted))}"] if granted else []) + \
        ([f"revoke the tenant-wide consent of {', '.join(sorted(revoked))}"] if revoked else [])
    if not parts:
        return ""
    return " and ".join(parts) + " (needs AppRoleAssignment.ReadWrite.All, a tier-0 right)"


def assign_role(ctx: Context, sp_id: str, resource_id: str, role_id: str) -> None:
    """Admin consent of one app role to a service principal; "already exists" is success
    (a retry, or a directory that had not replicated the first answer)."""
    body = {"principalId": sp_id, "resourceId": resource_id, "appRoleId": role_id}
    try:
        require_graph(ctx).post(f"servicePrincipals/{resource_id}/appRoleAssignedTo", body,
                                wait_for_replication=True)
    except GraphError as exc:
        if not is_duplicate_assignment(exc):
            raise


def grant(ctx: Context, app_id: str, grants: Sequence[Grant]) -> int:
    """Admin consent of each grant on the app's service principal."""
    if not grants:
        return 0
    sp = require_graph(ctx).get(f"servicePrincipals(appId={odata_string(app_id)})", wait_for_replication=True)
    for wanted_grant in grants:
        assign_role(ctx, str(sp["id"]), wanted_grant["resource_id"], wanted_grant["role_id"])
        log.info("consent.granted", permission=wanted_grant["name"], reason="mailbox scope in place")
    return len(grants)


def revoke(ctx: Context, grants: Sequence[Mapping[str, str]], *, why: str) -> int:
    graph = require_graph(ctx)
    for live_grant in grants:
        with contextlib.suppress(GraphNotFound):  # already gone is what we want
            graph.delete(f"servicePrincipals/{live_grant['resource_id']}/appRoleAssignedTo/{live_grant['id']}")
        log.info("consent.revoked", permission=live_grant["name"], reason=why)
    return len(grants)
