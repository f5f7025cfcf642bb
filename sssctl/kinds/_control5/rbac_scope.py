"""``exchange_scope.<key>`` under ``method = "rbac"``: read, plan and converge in safe order.

The order inside one change is what keeps the app scoped at every moment and lets a
migration from an application access policy happen in one plan: (1) the Exchange pointer
to the app's service principal, (2) the management scope, (3) one role assignment per
mailbox permission, (4) verification with ``Test-ServicePrincipalAuthorization`` on the
canary mailbox, then (5) the tenant-wide Entra ID consent of mailbox permissions is
removed, (6) in a migration, one in-scope mailbox already on the app's profile is put
through Test & Enable, now that RBAC alone reaches it (the migration's canary: if it
fails, the consent is granted again, narrowed by the policy as before), and (7) only
then the old access policy goes. A step that fails stops the change, so the old policy
and consent stay in place. While a new assignment has not taken effect
(see :data:`rbac.PROPAGATION`), the consent is kept if an access policy still narrows
it, and the plan says "pending" instead of reporting drift until the configured grace
has passed.

A change of transport (EWS -> Graph: ``Application EWS.AccessAsApp`` replaced by the Graph
mailbox roles) of an app an own-app profile signs in with keeps the old assignment in step
(3): it is handed to the canary (:class:`~sssctl.kinds.handoffs.RetireAfterCanary`), which
removes it for Test & Enable over the new roles alone and keeps it gone after a pass, or
makes it again after a failure, so the old path stays. A new assignment takes 30 minutes to
2 hours to take effect (:data:`rbac.PROPAGATION`), and a removal may lag likewise (not
documented either way): in a real tenant a canary run at once may fail on new roles not yet
in effect, which only delays the swap, and one made again may not work at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import structlog

from sssctl.clients.errors import ClientError
from sssctl.config.model import MailboxScope
from sssctl.engine.kind import Context
from sssctl.engine.plan import Action, Change
from sssctl.kinds import _test_enable as te
from sssctl.kinds._control5 import consent, rbac
from sssctl.kinds._control5.graph import require_graph
from sssctl.kinds._control5.names import iso, now, odata_string
from sssctl.kinds._shared import profiles_named
from sssctl.kinds.handoffs import RetireAfterCanary

log = structlog.get_logger(__name__)

MAX_CHECKS = 10  # Test-ServicePrincipalAuthorization calls per plan, at most
PROBE_CANDIDATES = 50  # mailboxes on the profile looked at for the migration's canary
Candidates = Callable[[Context, str | None], list[str]]


def verdicts(ctx: Context, app_id: str, scope: MailboxScope, candidates: Candidates) -> dict[str, str | None]:
    """One mailbox the app reaches (the canary when configured) and one it must not."""
    found: dict[str, str | None] = {"inside": None, "outside": None, "canary": scope.canary}
    tested = [scope.canary] if scope.canary else []
    for mailbox in [*tested, *candidates(ctx, scope.group)][:MAX_CHECKS]:
        try:
            granted = rbac.test_access(ctx, app_id, mailbox)
        except ClientError:
            continue
        slot = "inside" if granted else "outside"
        found[slot] = found[slot] or mailbox
        if mailbox == scope.canary and not granted:
            break  # the canary is the mailbox that must work; another one granted proves nothing
        if found["inside"] and found["outside"]:
            break
    return found


def read(ctx: Context, key: str, app_id: str | None, scope: MailboxScope, *, candidates: Candidates,
         policies: list[dict[str, Any]]) -> dict[str, Any]:
    if app_id is None:
        return {"method": "rbac", "app_id": None, "filter": rbac.recipient_filter(ctx, scope),
                "now": now(ctx)}
    reading = rbac.read_objects(ctx, key, app_id)
    checked = verdicts(ctx, app_id, scope, candidates) if reading.assignments else None
    return {
        "method": "rbac", "app_id": app_id, **reading.to_dict(), "policies": policies,
        "consent": consent.live(ctx, app_id), "filter": rbac.recipient_filter(ctx, scope),
        "check": checked, "now": now(ctx),
    }


def _current(found: Mapping[str, Any], target: str, policy_group: str | None) -> dict[str, Any]:
    """How the app is scoped now, plainly: a tenant-wide consent without a policy voids any scope.

    The policy's group is kept: as the first ``before`` it becomes the state's ``original``,
    which ``destroy`` puts back.
    """
    granted = consent.names(found.get("consent") or [])
    if granted and not found.get("policies"):
        return {"scope": f"unscoped: tenant-wide consent of {', '.join(granted)} reaches every mailbox, "
                         "whatever the Exchange scope says", "method": None}
    if found.get("policies"):
        return {"scope": "scoped by an application access policy", "method": "access_policy",
                "group": policy_group}
    if found.get("assignments"):
        return {"scope": f"scoped to {target} by RBAC", "method": "rbac"}
    return {"scope": "no mailbox access", "method": None}


def _steps(found: Mapping[str, Any], key: str, scope: MailboxScope, roles: Sequence[str], *,
           profiled: bool) -> list[str]:
    steps = []
    if not found.get("pointer"):
        steps.append("create the Exchange service principal pointer")
    live_scope = found.get("scope")
    if found.get("filter") and (live_scope is None or live_scope.get("RecipientFilter") != found["filter"]):
        steps.append(f"{'update' if live_scope else 'create'} management scope {rbac.scope_name(key)!r}")
    assignments = found.get("assignments") or []
    missing = [r for r in roles if not any(a.get("Role") == r and rbac.assignment_matches(a, key, scope)
                                           for a in assignments)]
    if missing:
        steps.append("assign " + ", ".join(missing))
    extra = [a for a in assignments
             if a.get("Role") not in roles or not rbac.assignment_matches(a, key, scope)]
    later = {str(a.get("Name")) for a in rbac.retired_by_swap(assignments, roles)} if profiled else set()
    now_gone = [str(a.get("Name")) for a in extra if str(a.get("Name")) not in later]
    if now_gone:
        steps.append("remove role assignment " + ", ".join(now_gone))
    if later:
        steps.append(f"remove role assignment {', '.join(sorted(later))} only after the canary passed over "
                     "the new grants (a failure leaves the old path working)")
    if found.get("consent"):
        names = ", ".join(sorted(c["name"] for c in found["consent"]))
        steps.append(f"remove the tenant-wide consent of {names} (it voids the scope)")
    if found.get("policies") and found.get("consent"):
        steps.append("Test & Enable one mailbox already on the profile through RBAC alone (if it fails, "
                     "the consent comes back and the policy stays)")
    if found.get("policies"):
        steps.append("remove the application access policy, last")
    return steps


def _elevation(found: Mapping[str, Any], roles: Sequence[str], key: str, scope: MailboxScope) -> str:
    """Giving the app a mailbox role is Exchange role management; removing consent is tier 0 too."""
    assignments = found.get("assignments") or []
    missing = [r for r in roles if not any(a.get("Role") == r and rbac.assignment_matches(a, key, scope)
                                           for a in assignments)]
    parts = [consent.elevation([], [c["name"] for c in found.get("consent") or []])]
    if missing:
        parts.insert(0, f"assign {', '.join(missing)} (New-ManagementRoleAssignment is Exchange role "
                        "management)")
    return "; ".join(p for p in parts if p)


def diff(address: str, found: Mapping[str, Any], key: str, scope: MailboxScope, *, roles: Sequence[str],
         detail: dict[str, Any], policy_group: str | None = None, profiled: bool = False) -> Change:
    """``profiled``: an own-app profile signs in with the app, so its canary can prove a
    change of transport before the old role assignments go."""
    before = _current(found, scope.target, policy_group)
    after = {"scope": f"scoped to {scope.target} by RBAC", "method": "rbac", "roles": list(roles)}
    before = {**before, "roles": sorted({str(a.get("Role")) for a in found.get("assignments") or []})}
    detail.update({"method": "rbac", "roles": list(roles)})
    steps = _steps(found, key, scope, roles, profiled=profiled)
    if profiled and rbac.retired_by_swap(found.get("assignments") or [], roles):
        detail["retire_after_canary"] = True
    if steps:
        action = Action.CREATE if not found.get("pointer") and not found.get("policies") else Action.UPDATE
        reason = "; ".join(steps) + f", in that order ({rbac.PROPAGATION})"
        return Change(address, action, before, after, reason, detail=detail,
                      elevation=_elevation(found, roles, key, scope))
    check = found.get("check") or {}
    if check.get("inside"):
        tail = f"; denied for {check['outside']}" if check.get("outside") else ""
        return Change(address, Action.NOOP, before, after,
                      f"scoped to {scope.target} by RBAC (checked: granted for {check['inside']}{tail})",
                      detail=detail)
    made = rbac.created_at(found.get("assignments") or [])
    deadline = (made or 0.0) + scope.propagation_minutes * 60
    if made is not None and float(found.get("now") or 0.0) < deadline:
        return Change(address, Action.NOOP, before, after,
                      f"pending: the role assignments made at {iso(made)} are not in effect yet; Exchange "
                      f"takes up to 2 hours, drift only after {iso(deadline)}", detail=detail, pending=True)
    detail["recreate"] = True
    return Change(address, Action.UPDATE, before, after,
                  f"the role assignments are not in effect {scope.propagation_minutes} minutes after they "
                  "were made (no in-scope mailbox is granted): re-create them", detail=detail,
                  elevation="re-create the app's mailbox role assignments (New-ManagementRoleAssignment is "
                            "Exchange role management)")


# --- apply ----------------------------------------------------------------------------------


def _ensure_pointer(ctx: Context, app_id: str, display_name: str) -> int:
    if rbac.get_one(ctx, "Get-ServicePrincipal", app_id) is not None:
        return 0
    graph = require_graph(ctx)
    sp = graph.get(f"servicePrincipals(appId={odata_string(app_id)})", wait_for_replication=True)
    rbac.invoke(ctx, "New-ServicePrincipal", {"AppId": app_id, "ObjectId": str(sp["id"]),
                                              "DisplayName": display_name})
    return 1


def _ensure_scope(ctx: Context, key: str, wanted: str | None) -> int:
    if wanted is None:
        return 0
    live = rbac.get_one(ctx, "Get-ManagementScope", rbac.scope_name(key))
    if live is None:
        rbac.invoke(ctx, "New-ManagementScope",
                    {"Name": rbac.scope_name(key), "RecipientRestrictionFilter": wanted})
        return 1
    if live.get("RecipientFilter") != wanted:
        rbac.invoke(ctx, "Set-ManagementScope", {"Identity": rbac.scope_name(key),
                                                 "RecipientRestrictionFilter": wanted})
        return 1
    return 0


def _ensure_assignments(ctx: Context, key: str, app_id: str, scope: MailboxScope, *, roles: Sequence[str],
                        recreate: bool, spare: bool = False) -> tuple[int, list[dict[str, Any]]]:
    """New assignments first, then the ones no longer wanted: never a moment with fewer grants
    than the config asks (and a wider one goes only after the narrow one exists). With
    ``spare``, the old way in of a change of transport stays, and is answered, for the canary
    to remove once it passed. Answers (writes, spared assignments)."""
    live = rbac.invoke(ctx, "Get-ManagementRoleAssignment", {"RoleAssignee": app_id})
    keep = [] if recreate else [a for a in live
                                if rbac.assignment_matches(a, key, scope) and a.get("Role") in roles]
    writes = 0
    for role in roles:
        if any(a.get("Role") == role for a in keep):
            continue
        name = rbac.assignment_name(key, role)
        if any(a.get("Name") == name for a in live):
            rbac.invoke(ctx, "Remove-ManagementRoleAssignment", {"Identity": name})
            writes += 1
        where = ({"RecipientAdministrativeUnitScope": scope.administrative_unit} if scope.administrative_unit
                 else {"CustomResourceScope": rbac.scope_name(key)})
        rbac.invoke(ctx, "New-ManagementRoleAssignment", {"Name": name, "App": app_id, "Role": role, **where})
        writes += 1
    made = {rbac.assignment_name(key, r) for r in roles}
    spared = rbac.retired_by_swap(live, roles) if spare else []
    for assignment in live:
        if assignment.get("Name") not in made and assignment not in keep and assignment not in spared:
            rbac.invoke(ctx, "Remove-ManagementRoleAssignment", {"Identity": assignment["Name"]})
            writes += 1
    return writes, spared


def apply(ctx: Context, key: str, app_id: str, scope: MailboxScope, *, detail: Mapping[str, Any],
          candidates: Candidates, display_name: str) -> tuple[int, str]:
    """Steps (1)..(7) of the module docstring; answers (writes, what happened)."""
    made_pointer = _ensure_pointer(ctx, app_id, display_name)
    try:
        writes = made_pointer + _ensure_scope(ctx, key, rbac.recipient_filter(ctx, scope))
        roles = list(detail.get("roles") or [])
        written, spared = _ensure_assignments(ctx, key, app_id, scope, roles=roles,
                                              recreate=bool(detail.get("recreate")),
                                              spare=bool(detail.get("retire_after_canary")))
        writes += written
        if spared:
            ctx.handoffs.put(key, RetireAfterCanary(assignments=tuple(spared)))
    except Exception:
        if made_pointer:
            _drop_unused_pointer(ctx, key, app_id)
        raise
    return _finish(ctx, key, app_id, scope, writes, roles=roles, candidates=candidates)


def _drop_unused_pointer(ctx: Context, key: str, app_id: str) -> None:
    """A run that made the Exchange pointer and failed before any role assignment used it takes
    the pointer (and a scope it made) away again: the state records nothing for a failed
    change, so nothing else would ever know to remove them."""
    try:
        if rbac.invoke(ctx, "Get-ManagementRoleAssignment", {"RoleAssignee": app_id}):
            return      # in use: the next run's read finds it and carries on (or tears it down)
        if rbac.get_one(ctx, "Get-ManagementScope", rbac.scope_name(key)) is not None:
            rbac.invoke(ctx, "Remove-ManagementScope", {"Identity": rbac.scope_name(key)})
        rbac.invoke(ctx, "Remove-ServicePrincipal", {"Identity": app_id})
        log.info("rbac.pointer_removed_after_failure", app_id=app_id)
    except ClientError as exc:
        log.warning("rbac.pointer_left_after_failure", app_id=app_id, error=str(exc))


def _finish(ctx: Context, key: str, app_id: str, scope: MailboxScope, writes: int, *, roles: Sequence[str],
            candidates: Candidates) -> tuple[int, str]:
    check = verdicts(ctx, app_id, scope, candidates) if roles else {"inside": None}
    policies = [p for p in rbac.invoke(ctx, "Get-ApplicationAccessPolicy", {})
                if str(p.get("AppId") or "").lower() == app_id and p.get("AccessRight") == "RestrictAccess"]
    granted = consent.live(ctx, app_id)
    if check.get("inside") is None and policies:
        return writes, (f"pending: role assignments made, not in effect yet ({rbac.PROPAGATION}); the "
                        "tenant-wide consent and the access policy stay until they are, apply again then")
    writes += consent.revoke(ctx, granted, why="rbac scope in effect")
    if policies and granted:
        writes += _prove_or_roll_back(ctx, key, app_id, scope, granted)
    for policy in policies:
        rbac.invoke(ctx, "Remove-ApplicationAccessPolicy", {"Identity": policy["Identity"]})
        writes += 1
    state = f"verified on {check['inside']}" if check.get("inside") else f"pending ({rbac.PROPAGATION})"
    return writes, f"scoped to {scope.target} by RBAC, {state}"


def _profile_ids(ctx: Context, key: str) -> list[str]:
    names = [n for n, p in ctx.desired.custom_profiles.items() if p.app_registration == key]
    rows = [profiles_named(ctx, n) for n in names]
    return [str(found[0]["emailserverprofileid"]) for found in rows if len(found) == 1]


def _probe_target(ctx: Context, app_id: str, scope: MailboxScope,
                  on_profile: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The canary if it is on the profile, else the first mailbox there that RBAC covers."""
    canary = (scope.canary or "").lower()
    named = [r for r in on_profile if canary and str(r.get("emailaddress")).lower() == canary]
    if named:
        return named[0]
    for row in on_profile[:MAX_CHECKS]:
        if row.get("emailaddress") and rbac.test_access(ctx, app_id, str(row["emailaddress"])):
            return row
    return None


def _migration_canary(ctx: Context, key: str, app_id: str,
                      scope: MailboxScope) -> tuple[Mapping[str, Any], str] | None:
    """(mailbox, profile id): one in-scope mailbox already on the app's profile; None when no
    mailbox is there yet (the canary kind then goes first, before any mailbox moves)."""
    for profile_id in _profile_ids(ctx, key):
        row = _probe_target(ctx, app_id, scope, te.mailboxes_on(ctx, profile_id, PROBE_CANDIDATES))
        if row is not None:
            return row, profile_id
    return None


def _prove_or_roll_back(ctx: Context, key: str, app_id: str, scope: MailboxScope,
                        granted: Sequence[consent.Grant]) -> int:
    """The migration's canary, between the consent (removed) and the policy (still there):
    Test & Enable through RBAC alone. If it fails, the consent comes back, narrowed by the
    policy as before, the mailbox is tested again so it synchronizes as before, and the
    change fails, so the policy stays and nothing after it runs. Writes made."""
    try:
        found = _migration_canary(ctx, key, app_id, scope)
        if found is None:
            return 0
        row, profile_id = found
        if te.passed(te.test_on(ctx, row, profile_id)):
            log.info("rbac.proved", mailbox=row["emailaddress"])
            return 1
        failed = f"{row['emailaddress']} failed Test & Enable through RBAC alone"
    except (ClientError, LookupError) as exc:
        found, failed = None, f"the canary could not be run ({exc})"
    consent.grant(ctx, app_id, granted)
    if found is not None:
        with contextlib.suppress(ClientError):   # best effort: the consent is what matters
            te.test_on(ctx, te.mailbox_by_address(ctx, str(found[0]["emailaddress"])) or found[0], found[1])
    raise te.TestEnableFailed(
        f"the migration to RBAC stopped before removing the access policy: {failed}. The tenant-wide "
        "consent is granted again and the access policy kept, so the app reaches its mailboxes as before; "
        "check that server-side sync accepts the app with RBAC alone (and no AutoDiscover), then run "
        "apply again")


def remove(ctx: Context, key: str, app_id: str) -> int:
    """Tear down what sssctl made for the app: its assignments, its scope, the pointer."""
    writes = 0
    if rbac.get_one(ctx, "Get-ServicePrincipal", app_id) is not None:
        for assignment in rbac.invoke(ctx, "Get-ManagementRoleAssignment", {"RoleAssignee": app_id}):
            if str(assignment.get("Name", "")).startswith(rbac.scope_name(key) + " "):
                rbac.invoke(ctx, "Remove-ManagementRoleAssignment", {"Identity": assignment["Name"]})
                writes += 1
    if rbac.get_one(ctx, "Get-ManagementScope", rbac.scope_name(key)) is not None:
        rbac.invoke(ctx, "Remove-ManagementScope", {"Identity": rbac.scope_name(key)})
        writes += 1
    pointer = rbac.get_one(ctx, "Get-ServicePrincipal", app_id)
    if pointer is not None and not rbac.invoke(ctx, "Get-ManagementRoleAssignment", {"RoleAssignee": app_id}):
        rbac.invoke(ctx, "Remove-ServicePrincipal", {"Identity": app_id})
        writes += 1
    return writes

