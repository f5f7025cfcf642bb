"""Control 5 as the audit sees it: every active profile besides the built-in one must sign
in with an app that Exchange restricts to some mailboxes.

An own-app profile is the hardened posture only when its app is scoped: an app holding
``full_access_as_app`` without an Exchange *application access policy* (``RestrictAccess``)
reads every mailbox in the tenant, which is no better than the first-party trust it
replaced. So for each active custom profile the audit reads the app it signs in with
(``oauthclientid``, the app's appId) and that app's policies. Inactive profiles synchronize
nothing and are not judged. What cannot be read is reported as such, never as compliant.

RBAC for Applications scopes an app too, but only when the app holds no tenant-wide Entra
ID consent of a mailbox permission: grants are additive, so such a consent without an
access policy narrowing it voids every RBAC scope (the app is reported unscoped).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sssctl.clients.errors import ClientError
from sssctl.engine.kind import Context
from sssctl.kinds._control5 import consent, ews, rbac
from sssctl.kinds._control5.rbac import get_one, invoke

OWN_APP = "audit_own_app_profiles"     # their entry in the audit's reading
RESTRICT_ACCESS = "RestrictAccess"
PROFILE_COLUMNS = ("emailserverprofileid", "name", "statecode", "oauthclientid")


@dataclass(frozen=True)
class OwnAppProfile:
    """One active custom profile and what Exchange says about its app."""

    address: str
    app_id: str | None            # None: the profile signs in without an app registration
    scoped_to: tuple[str, ...]    # the groups its RestrictAccess policies name, or its RBAC scopes
    unreadable: str | None = None  # why the scope could not be checked
    voided_by: tuple[str, ...] = ()  # tenant-wide mailbox consents that void its RBAC scope


def address_of(name: str) -> str:
    return f'server_profile.custom["{name}"]'


def read_own_app_profiles(ctx: Context, builtin_id: str | None) -> list[OwnAppProfile]:
    """Every active profile other than the built-in one, with its app's mailbox scope."""
    rows = [row for row in ctx.dataverse.query("emailserverprofiles", select=list(PROFILE_COLUMNS))
            if _is_custom_and_active(row, builtin_id)]
    if not any(_app_id(row) for row in rows):
        return [OwnAppProfile(address_of(str(row.get("name"))), None, ()) for row in rows]
    try:
        policies = _restrict_policies(ctx)
    except (ClientError, RuntimeError) as exc:
        why = f"the mailbox scope of its app could not be read from Exchange: {exc}"
        return [_judged(row, [], why) for row in rows]
    judged = [_judged(row, policies, None) for row in rows]
    try:
        return [_with_rbac(ctx, profile) for profile in judged]
    except (ClientError, RuntimeError) as exc:
        why = f"the RBAC scope or Entra ID consent of its app could not be read: {exc}"
        return [dataclasses.replace(p, unreadable=why) if p.app_id and not p.scoped_to else p for p in judged]


def _with_rbac(ctx: Context, profile: OwnAppProfile) -> OwnAppProfile:
    """An app without an access policy may still be scoped by RBAC, unless a consent voids it."""
    if profile.app_id is None or profile.scoped_to or profile.unreadable:
        return profile
    if get_one(ctx, "Get-ServicePrincipal", profile.app_id) is None:
        return profile
    assignments = invoke(ctx, "Get-ManagementRoleAssignment", {"RoleAssignee": profile.app_id})
    scopes = tuple(sorted({str(a.get("CustomResourceScope") or a.get("RecipientAdministrativeUnitScope")
                               or "the whole organization") for a in assignments}))
    if not scopes:
        return profile
    if ctx.graph is None:
        raise RuntimeError(ctx.unavailable.get("graph") or "no Microsoft Graph configured")
    voiding = tuple(consent.names(consent.live(ctx, profile.app_id)))
    if voiding:
        return dataclasses.replace(profile, voided_by=voiding)
    if "the whole organization" in scopes:
        return profile
    return dataclasses.replace(profile, scoped_to=tuple(f"RBAC scope {s}" for s in scopes))


def _is_custom_and_active(row: Mapping[str, Any], builtin_id: str | None) -> bool:
    profile_id = str(row.get("emailserverprofileid") or "").lower()
    return profile_id != str(builtin_id or "").lower() and row.get("statecode") == 0


def _app_id(row: Mapping[str, Any]) -> str | None:
    value = row.get("oauthclientid")
    return str(value).strip().lower() if isinstance(value, str) and value.strip() else None


def _restrict_policies(ctx: Context) -> list[Mapping[str, Any]]:
    if ctx.exchange is None:
        why = ctx.unavailable.get("exchange") or "no Exchange admin API configured (SSSCTL_EXCHANGE_URL)"
        raise RuntimeError(why)
    return [row for row in ctx.exchange.invoke("Get-ApplicationAccessPolicy", {})
            if row.get("AccessRight") == RESTRICT_ACCESS]


def _judged(row: Mapping[str, Any], policies: Sequence[Mapping[str, Any]], why: str | None) -> OwnAppProfile:
    address, app_id = address_of(str(row.get("name"))), _app_id(row)
    if app_id is None:
        return OwnAppProfile(address, None, ())
    if why is not None:
        return OwnAppProfile(address, app_id, (), unreadable=why)
    groups = tuple(sorted({_scope_name(p) for p in policies if app_id in _app_ids(p)}))
    return OwnAppProfile(address, app_id, groups)


def _app_ids(policy: Mapping[str, Any]) -> set[str]:
    value = policy.get("AppId")
    values = value if isinstance(value, list) else [value]
    return {str(v).strip().lower() for v in values if v}


def _scope_name(policy: Mapping[str, Any]) -> str:
    for field in ("ScopeName", "PolicyScopeGroupId", "ScopeIdentity", "Identity"):
        if policy.get(field):
            return str(policy[field])
    return "a group"


EWS_READINESS = "audit_ews_readiness"   # its entry in the audit's reading


@dataclass(frozen=True)
class EwsReadiness:
    """What an active own-app profile depends on as Exchange retires EWS (see
    :mod:`sssctl.kinds._control5.ews` for the dates and sources)."""

    address: str                  # ews_readiness["<profile>"]
    app_id: str
    transport: str | None         # graph | ews | None (neither permission set is held)
    refusals: tuple[str, ...]     # why Exchange refuses EWS for the app now; () when admitted
    days_left: int                # until EWS in Exchange Online is shut down
    user_agent: str | None = None  # the user-agent gate that may still block it
    unreadable: str | None = None


def readiness_address(profile_address: str) -> str:
    return "ews_readiness" + profile_address[len("server_profile.custom"):]


def read_ews_readiness(ctx: Context, profiles: Sequence[OwnAppProfile]) -> list[EwsReadiness]:
    """Per active own-app profile: the transport its app's grants give it, and whether the
    tenant's EWS gate admits the app today."""
    apps = [p for p in profiles if p.app_id and not p.unreadable]
    if not apps:
        return []
    try:
        settings = ews.read_settings(ctx)
    except (ClientError, ews.MalformedEwsSettings, RuntimeError) as exc:
        return [EwsReadiness(readiness_address(p.address), str(p.app_id), None, (), 0,
                             unreadable=f"the tenant's EWS settings could not be read: {exc}") for p in apps]
    moment = ews.exchange_now(ctx)
    found = []
    for profile in apps:
        app_id = str(profile.app_id)
        try:
            held = _held_permissions(ctx, app_id)
        except (ClientError, RuntimeError) as exc:
            found.append(EwsReadiness(readiness_address(profile.address), app_id, None, (), 0,
                                      unreadable=f"the app's permissions could not be read: {exc}"))
            continue
        path = ews.transport(held)
        refused = tuple(ews.refusals(settings, app_id, moment)) if path == "ews" else ()
        warning = ews.user_agent_warning(settings) if path == "ews" else None
        found.append(EwsReadiness(readiness_address(profile.address), app_id, path, refused,
                                  ews.days_left(moment), warning))
    return found


def _held_permissions(ctx: Context, app_id: str) -> list[str]:
    """Entra consents plus RBAC application roles, as permission names (``graph:mail.readwrite``)."""
    names = [g["name"] for g in consent.live(ctx, app_id)] if ctx.graph is not None else []
    if get_one(ctx, "Get-ServicePrincipal", app_id) is not None:
        assignments = invoke(ctx, "Get-ManagementRoleAssignment", {"RoleAssignee": app_id})
        roles = {str(a.get("Role")) for a in assignments}
        names += [permission for permission, role in rbac.APPLICATION_ROLES.items() if role in roles]
    return names
