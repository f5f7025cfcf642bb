"""Permission names (``exchange:full_access_as_app``) resolved against resources' appRoles at run time."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from sssctl.clients.errors import GraphError
from sssctl.engine.kind import Context
from sssctl.kinds._control5.graph import read_resource

if TYPE_CHECKING:
    pass


log = structlog.get_logger(__name__)


SIGN_IN_AUDIENCE = "AzureADMyOrg"
# Resource applications by the short names users write in `permissions`. These are the
# well-known appIds of the resource *applications*; the role ids inside them are always
# resolved at run time from the resource service principal's appRoles.
RESOURCE_ALIASES: Mapping[str, str] = {
    "exchange": "00000002-0000-0ff1-ce00-000000000000",
    "graph": "00000003-0000-0000-c000-000000000000",
}
_ALIAS_OF = {app_id: alias for alias, app_id in RESOURCE_ALIASES.items()}
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Graph answers that only mean "the directory has not replicated the new object yet".
_DUPLICATE_ASSIGNMENT = "already exists"




@dataclass(frozen=True)
class Permission:
    """One application permission, by name and by the ids Graph needs."""

    name: str  # "exchange:full_access_as_app"
    resource_app_id: str
    resource_sp_id: str
    role_id: str


class PermissionError_(ValueError):
    """A permission name in the config that the resource does not offer."""


def split_permission(name: str) -> tuple[str, str]:
    """``"exchange:full_access_as_app"`` -> (resource appId, role value)."""
    resource, sep, value = name.partition(":")
    resource = resource.strip()
    if not sep or not value.strip():
        raise PermissionError_(
            f"permission {name!r} must look like '<resource>:<role>', e.g. 'exchange:full_access_as_app'"
        )
    if resource.lower() in RESOURCE_ALIASES:
        return RESOURCE_ALIASES[resource.lower()], value.strip()
    if _GUID.match(resource):
        return resource.lower(), value.strip()
    raise PermissionError_(
        f"permission {name!r}: unknown resource {resource!r}; use "
        f"{', '.join(sorted(RESOURCE_ALIASES))} or the resource application's appId (a GUID)"
    )


def permission_name(resource_app_id: str, value: str) -> str:
    return f"{_ALIAS_OF.get(resource_app_id.lower(), resource_app_id.lower())}:{value}"


def application_roles(resource: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        role
        for role in resource.get("appRoles") or []
        if "Application" in (role.get("allowedMemberTypes") or []) and role.get("isEnabled", True)
    ]


def resolve_permission(name: str, resource: Mapping[str, Any] | None, resource_app_id: str) -> Permission:
    _, value = split_permission(name)
    if resource is None:
        raise PermissionError_(
            f"permission {name!r}: the resource application {resource_app_id} has no service "
            "principal in this tenant"
        )
    roles = application_roles(resource)
    exact = [r for r in roles if r.get("value") == value] or [
        r for r in roles if str(r.get("value", "")).lower() == value.lower()
    ]
    if not exact:
        values = sorted(str(r.get("value")) for r in roles)
        close = difflib.get_close_matches(value, values, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        label = resource.get("displayName") or resource_app_id
        raise PermissionError_(
            f"permission {name!r} is not an application role of {label}.{hint} "
            f"Available: {', '.join(values) or '(none)'}"
        )
    role = exact[0]
    return Permission(
        name=permission_name(resource_app_id, str(role["value"])),
        resource_app_id=resource_app_id,
        resource_sp_id=str(resource["id"]),
        role_id=str(role["id"]),
    )


def resolve_permissions(ctx: Context, names: Iterable[str]) -> list[Permission]:
    """Resolve every name, or raise one error listing every bad name."""
    resolved: list[Permission] = []
    problems: list[str] = []
    for name in names:
        try:
            resource_app_id, _ = split_permission(name)
            resolved.append(resolve_permission(name, read_resource(ctx, resource_app_id), resource_app_id))
        except PermissionError_ as exc:
            problems.append(str(exc))
    if problems:
        raise PermissionError_("; ".join(problems))
    return sorted(resolved, key=lambda p: p.name)


def role_name(ctx: Context, resource_app_id: str, role_id: str) -> str:
    """A live role id back to its name; unknown ids stay visible as ids."""
    resource = read_resource(ctx, resource_app_id)
    for role in (resource or {}).get("appRoles") or []:
        if str(role.get("id", "")).lower() == role_id.lower():
            return permission_name(resource_app_id, str(role.get("value")))
    return permission_name(resource_app_id, role_id)


def required_resource_access(permissions: Sequence[Permission]) -> list[dict[str, Any]]:
    """Graph's ``requiredResourceAccess``, grouped by resource (it is replaced wholesale)."""
    by_resource: dict[str, list[dict[str, str]]] = {}
    for perm in permissions:
        by_resource.setdefault(perm.resource_app_id, []).append({"id": perm.role_id, "type": "Role"})
    return [
        {"resourceAppId": app_id, "resourceAccess": access} for app_id, access in sorted(by_resource.items())
    ]


def declared_permissions(ctx: Context, app: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    for entry in app.get("requiredResourceAccess") or []:
        resource_app_id = str(entry.get("resourceAppId", "")).lower()
        for access in entry.get("resourceAccess") or []:
            if access.get("type", "Role") == "Role":
                names.append(role_name(ctx, resource_app_id, str(access.get("id"))))
    return sorted(names)


def is_duplicate_assignment(exc: GraphError) -> bool:
    return exc.status == 400 and _DUPLICATE_ASSIGNMENT in str(exc).lower()
