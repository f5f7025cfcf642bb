"""Control 5 as the audit sees it: every active profile besides the built-in one must sign
in with an app that Exchange restricts to some mailboxes.

The custom-profile kind declares this check (:data:`AUDIT_CHECK`, a ``survey``: it reads
after every kind has read, and only in ``sssctl audit``). Which profile is the built-in
one comes from the default-profile kind through its :class:`BuiltinProfile` hand-off.

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
from sssctl.engine.kind import AuditCheck, Context, Finding, Rule
from sssctl.kinds._control5 import consent, ews, rbac
from sssctl.kinds._control5.rbac import get_one, invoke
from sssctl.kinds.handoffs import BuiltinProfile

UNSCOPED_APP = "its app is not restricted by an Exchange application access policy: it can read every mailbox"
NO_OWN_APP = "an active profile that does not sign in with an app of yours: no mailbox scope can limit it"
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


def survey(ctx: Context) -> list[Finding]:
    """Active custom profiles whose app is unscoped, or that use no app of yours.

    A scoped own app is the hardened posture of Control 5, so it yields nothing. What
    could not be read is an ``unknown`` finding, never a clean one.
    """
    return [finding for profile in _profiles(ctx) for finding in _findings(profile)]


def _profiles(ctx: Context) -> list[OwnAppProfile]:
    """Read once per run: the EWS readiness check judges the same profiles."""
    return ctx.reads.get("audit:own_app_profiles", lambda: _read_profiles(ctx), lifetime="run")


def _read_profiles(ctx: Context) -> list[OwnAppProfile]:
    builtin = ctx.handoffs.get(BuiltinProfile, "builtin")
    if builtin is None:
        why = "the built-in profile was not read, so it cannot be told apart from custom ones"
        return [OwnAppProfile(address_of("*"), None, (), unreadable=why)]
    try:
        return read_own_app_profiles(ctx, builtin.profile_id)
    except ClientError as exc:
        return [OwnAppProfile(address_of("*"), None, (), unreadable=f"could not be read: {exc}")]


def _config_key(address: str) -> tuple[str, ...]:
    """Where the config governs a custom profile's finding: under ``[server_profiles]``."""
    if not address.startswith("server_profile."):
        return ()
    return ("server_profiles", address.removeprefix("server_profile."))


def _findings(profile: OwnAppProfile) -> list[Finding]:
    key = _config_key(profile.address)
    if profile.unreadable is not None:
        return [Finding("unknown", profile.address, "could not be checked", profile.unreadable,
                        config_key=key)]
    if profile.app_id is None:
        return [Finding("high", profile.address, NO_OWN_APP, "no OAuth client id", config_key=key)]
    if profile.voided_by:
        evidence = (f"app {profile.app_id}: tenant-wide consent of {', '.join(profile.voided_by)} "
                    "voids its RBAC scope (grants are additive)")
        return [Finding("high", profile.address, UNSCOPED_APP, evidence, config_key=key)]
    if not profile.scoped_to:
        evidence = f"app {profile.app_id}: no RestrictAccess policy and no RBAC scope"
        return [Finding("high", profile.address, UNSCOPED_APP, evidence, config_key=key)]
    return []


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


# --- EWS readiness ------------------------------------------------------------------------

EWS_BLOCKED = "its app signs in over EWS and Exchange refuses EWS for it today: synchronization stops"
EWS_SUNSET = "its app signs in over EWS, which Exchange Online shuts down on 2027-04-01"
EWS_NO_PERMISSION = "its app holds neither full_access_as_app (EWS) nor the Graph mailbox permissions"


def ews_survey(ctx: Context) -> list[Finding]:
    """Own-app profiles that depend on EWS: high when Exchange refuses the app today (or
    EWS is already shut down), medium while it still works, with the days left."""
    try:
        readiness = read_ews_readiness(ctx, _profiles(ctx))
    except ClientError as exc:
        readiness = [EwsReadiness(address_of("*"), "?", None, (), 0, unreadable=f"could not be read: {exc}")]
    found: list[Finding] = []
    for item in readiness:
        if item.unreadable is not None:
            found.append(Finding("unknown", item.address, "could not be checked", item.unreadable,
                                 config_key=_config_key(item.address)))
        elif item.transport is None:
            found.append(Finding("high", item.address, EWS_NO_PERMISSION, f"app {item.app_id}"))
        elif item.transport == "ews" and item.refusals:
            found.append(Finding("high", item.address, EWS_BLOCKED,
                                 f"app {item.app_id}: {'; '.join(item.refusals)}"))
        elif item.transport == "ews":
            extra = f"; {item.user_agent}" if item.user_agent else ""
            evidence = f"app {item.app_id}: admitted today, {max(item.days_left, 0)} days left{extra}"
            found.append(Finding("medium", item.address, EWS_SUNSET, evidence))
    return found


AUDIT_CHECKS = (
    # No SARIF rule of its own: its findings fall under the generic "differs from the baseline".
    AuditCheck("high", UNSCOPED_APP, survey=survey),
    AuditCheck(
        "high", EWS_BLOCKED,
        Rule("SSS010", "OwnAppProfileDependsOnEws", "An own-app profile depends on EWS",
             "The custom server profile signs in as your app over Exchange Web Services. Exchange Online "
             "blocks EWS for tenants that never set EwsEnabled since 2026-10-01, admits only the apps on "
             "EWSAllowedAppIDs where EWS is restricted, and shuts EWS down for everyone on 2027-04-01 "
             "(MC1227454). When Exchange refuses the app, synchronization through the profile stops.",
             "Give the app Microsoft Graph mailbox permissions instead of full_access_as_app (see "
             "configs/hardened-graph.toml) and run `sssctl apply`; until then keep it admitted with "
             "`ews = \"allow\"` on its `[app_registrations.<key>]` (and `ews_enabled = true` if EWS is off "
             "for the tenant)."),
        survey=ews_survey,
    ),
)
