"""Exchange RBAC for Applications: what ``mailbox_scope.method = "rbac"`` reads and writes.

Under RBAC an app reaches mailboxes through an Exchange *application role* assigned to an
Exchange pointer to its service principal, scoped by a management scope or an
administrative unit, and through nothing else: a tenant-wide Entra ID consent of a
mailbox permission is additive and voids the scope ("these permission grants are
independent of the unscoped grants in Microsoft Entra ID"). The permission -> role table
is Microsoft's "Supported Application Roles" list in
https://learn.microsoft.com/exchange/permissions-exo/application-rbac.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sssctl.clients.errors import ClientError, ServiceError
from sssctl.config.model import MailboxScope
from sssctl.engine.kind import Context
from sssctl.kinds._control5 import ews
from sssctl.kinds._control5.names import parse_time

# Entra ID application permission (as written in `permissions`, lower-cased) -> the
# Exchange application role that grants the same access, scoped.
APPLICATION_ROLES: Mapping[str, str] = {
    "exchange:full_access_as_app": "Application EWS.AccessAsApp",
    "graph:mail.read": "Application Mail.Read",
    "graph:mail.readbasic": "Application Mail.ReadBasic",
    "graph:mail.readbasic.all": "Application Mail.ReadBasic",
    "graph:mail.readwrite": "Application Mail.ReadWrite",
    "graph:mail.send": "Application Mail.Send",
    "graph:mailboxsettings.read": "Application MailboxSettings.Read",
    "graph:mailboxsettings.readwrite": "Application MailboxSettings.ReadWrite",
    "graph:calendars.read": "Application Calendars.Read",
    "graph:calendars.readwrite": "Application Calendars.ReadWrite",
    "graph:contacts.read": "Application Contacts.Read",
    "graph:contacts.readwrite": "Application Contacts.ReadWrite",
}
PROPAGATION = "Exchange documents 30 minutes to 2 hours before a role assignment takes effect"


def is_mailbox_permission(name: str) -> bool:
    """A permission that opens mailbox contents tenant-wide when consented in Entra ID."""
    return name.strip().lower() in APPLICATION_ROLES


def roles_for(permissions: Sequence[str]) -> list[str]:
    """The application roles the config's mailbox permissions map to, sorted, once each."""
    return sorted({APPLICATION_ROLES[p.strip().lower()] for p in permissions if is_mailbox_permission(p)})


def transport_of(roles: Sequence[str]) -> str | None:
    """How the roles let server-side sync into a mailbox: ``graph``, ``ews`` or None (as
    :func:`ews.transport` says it for the permissions they grant)."""
    held = set(roles)
    return ews.transport([p for p, role in APPLICATION_ROLES.items() if role in held])


def retired_by_swap(assignments: Sequence[Mapping[str, Any]], roles: Sequence[str]) -> list[dict[str, Any]]:
    """The assignments no longer wanted that carry the old way into mailboxes when the roles
    move the app from one to the other (EWS -> Graph): they go only after the canary passed
    over the new ones. Judged on what goes, not on what is held, so a run after a failed
    canary (old and new held together) still keeps the old until a pass."""
    new = transport_of(roles)
    old = [dict(a) for a in assignments if a.get("Role") not in roles]
    gone = transport_of([str(a.get("Role")) for a in old])
    return old if new is not None and gone is not None and gone != new else []


def remove_assignments(ctx: Context, assignments: Sequence[Mapping[str, Any]]) -> int:
    """Remove role assignments by name; one already gone is what we want."""
    for assignment in assignments:
        try:
            invoke(ctx, "Remove-ManagementRoleAssignment", {"Identity": assignment["Name"]})
        except ClientError as exc:
            if not _absent(exc):
                raise
    return len(assignments)


def restore_assignments(ctx: Context, app_id: str, assignments: Sequence[Mapping[str, Any]]) -> int:
    """Make again, with the same name, role and scope, assignments :func:`remove_assignments`
    took away (a failed canary puts the old path back)."""
    for assignment in assignments:
        where = ({"RecipientAdministrativeUnitScope": assignment["RecipientAdministrativeUnitScope"]}
                 if assignment.get("RecipientAdministrativeUnitScope")
                 else {"CustomResourceScope": assignment.get("CustomResourceScope")})
        invoke(ctx, "New-ManagementRoleAssignment", {"Name": assignment["Name"], "App": app_id,
                                                     "Role": assignment["Role"], **where})
    return len(assignments)


def scope_name(key: str) -> str:
    return f"sssctl {key}"


def assignment_name(key: str, role: str) -> str:
    return f"sssctl {key} {role}"


def _absent(exc: ClientError) -> bool:
    return isinstance(exc, ServiceError) and exc.status == 404


def invoke(ctx: Context, cmdlet: str, parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
    if ctx.exchange is None:
        raise RuntimeError("no Exchange admin API configured (SSSCTL_EXCHANGE_URL)")
    return ctx.exchange.invoke(cmdlet, dict(parameters))


def get_one(ctx: Context, cmdlet: str, identity: str) -> dict[str, Any] | None:
    """``Get-X -Identity``: None when Exchange says the object does not exist."""
    try:
        rows = invoke(ctx, cmdlet, {"Identity": identity})
    except ClientError as exc:
        if _absent(exc):
            return None
        raise
    return rows[0] if rows else None


def recipient_filter(ctx: Context, scope: MailboxScope) -> str | None:
    """The management scope's filter: a group by its distinguished name, or the user's filter;
    None for an administrative unit, which the assignment names directly (Microsoft's advice)."""
    if scope.filter:
        return scope.filter
    if not scope.group:
        return None
    found = get_one(ctx, "Get-Recipient", scope.group)
    if found is None or not found.get("DistinguishedName"):
        raise LookupError(f"group {scope.group!r} was not found in Exchange; check mailbox_scope.group")
    return f"MemberOfGroup -eq '{found['DistinguishedName']}'"


@dataclass(frozen=True)
class RbacReading:
    """The RBAC objects of one app as Exchange shows them."""

    pointer: dict[str, Any] | None
    scope: dict[str, Any] | None
    assignments: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"pointer": self.pointer, "scope": self.scope, "assignments": self.assignments}


def read_objects(ctx: Context, key: str, app_id: str) -> RbacReading:
    pointer = get_one(ctx, "Get-ServicePrincipal", app_id)
    scope = get_one(ctx, "Get-ManagementScope", scope_name(key))
    assignments = invoke(ctx, "Get-ManagementRoleAssignment", {"RoleAssignee": app_id}) if pointer else []
    return RbacReading(pointer, scope, [dict(a) for a in assignments])


def test_access(ctx: Context, app_id: str, mailbox: str) -> bool:
    """``Test-ServicePrincipalAuthorization``: does some assignment in effect cover the mailbox?"""
    rows = invoke(ctx, "Test-ServicePrincipalAuthorization", {"Identity": app_id, "Resource": mailbox})
    return any(row.get("InScope") is True or str(row.get("InScope")).lower() == "true" for row in rows)


def created_at(assignments: Sequence[Mapping[str, Any]]) -> float | None:
    """When the newest assignment was made (``WhenCreatedUTC``), for the propagation grace."""
    moments = [m for m in (parse_time(a.get("WhenCreatedUTC")) for a in assignments) if m is not None]
    return max(moments) if moments else None


def assignment_matches(assignment: Mapping[str, Any], key: str, scope: MailboxScope) -> bool:
    """Whether an existing assignment already scopes the way the config asks."""
    if scope.administrative_unit:
        unit = str(assignment.get("RecipientAdministrativeUnitScope") or "")
        return unit.lower() == scope.administrative_unit.lower() and not assignment.get("CustomResourceScope")
    return str(assignment.get("CustomResourceScope") or "") == scope_name(key)
