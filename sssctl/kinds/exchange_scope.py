"""``exchange_scope.<key>``: restrict the app to one mail-enabled security group in Exchange.

Without it, an app holding ``full_access_as_app`` (or Graph ``Mail.*``) can read every
mailbox in the tenant. The restriction is an Exchange *application access policy*
(``RestrictAccess``, scoped to the group in ``app_registrations.<key>.mailbox_scope``),
managed through the Exchange admin API. The app ends up with exactly one such policy: a
policy for another group is replaced (the new one is created first, so the app is never
unrestricted in between).

The scope also owns the app's tenant-wide consent of its mailbox permissions
(:mod:`sssctl.kinds._control5.consent`): it is granted in the same change, once the
policy exists, so no moment passes with the consent unnarrowed. Under ``method = "rbac"``
the scope is planned by :mod:`sssctl.kinds._control5.rbac_scope`; switching back from it
creates the policy and the consent first and removes the RBAC objects sssctl made last.

The plan states plainly whether the app is scoped, and checks the live policy with
``Test-ApplicationAccessPolicy`` against a member of the group and, when one can be found,
a mailbox outside it. Without an Exchange client the address is *unknown*, never an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from sssctl.clients.errors import ClientError
from sssctl.config.model import Desired, MailboxScope
from sssctl.engine.kind import NOTE, Applied, Context, KindDefaults, KindSpec, Observed, Privilege
from sssctl.engine.plan import Action, Change
from sssctl.kinds import _control5 as c5
from sssctl.kinds import _grants
from sssctl.kinds._control5 import consent, ews, rbac, rbac_scope
from sssctl.kinds._shared import READ_PROFILES
from sssctl.kinds.handoffs import AppIds, RetireAfterCanary

log = structlog.get_logger(__name__)

NAME = "exchange_scope"
ACCESS_RIGHT = "RestrictAccess"
UNSCOPED = "unscoped: can read every mailbox"
NO_ACCESS = "no mailbox access yet"
NO_EXCHANGE = "no Exchange admin API configured (SSSCTL_EXCHANGE_URL)"
MAX_CHECKS = 10  # Test-ApplicationAccessPolicy calls per plan, at most
MEMBER_SCAN = 200  # synced mailboxes looked at to find some outside the group
_SCOPE_FIELDS = ("ScopeName", "ScopeIdentity", "ScopeIdentityRaw", "PolicyScopeGroupId", "ScopeEmailAddress")


def _key(address: str) -> str:
    return c5.key_of_address(address, NAME)


def _any_rbac(desired: Desired) -> bool:
    scopes = [a.mailbox_scope for a in desired.app_registrations.values()]
    return any(scope is not None and scope.rbac for scope in scopes)


def _scope_of(desired: Desired, key: str) -> MailboxScope | None:
    app = desired.app_registrations.get(key)
    return app.mailbox_scope if app is not None else None


def _group_of(desired: Desired, key: str) -> str | None:
    """The group of an access policy (an RBAC scope is planned by :mod:`rbac_scope`)."""
    scope = _scope_of(desired, key)
    return scope.group if scope is not None and not scope.rbac else None


def _recorded_rbac(recorded: Mapping[str, Any] | None) -> bool:
    return ((recorded or {}).get("managed") or {}).get("method") == "rbac"


def _known(recorded: Mapping[str, Any] | None) -> dict[str, str]:
    """``{scope id: group as the user wrote it}`` for the policy sssctl created.

    Exchange shows a policy's scope by group name and GUID, not by the address the config
    uses, so the GUID recorded at creation is what ties the two together.
    """
    entry = recorded or {}
    scope_id = (entry.get("fingerprints") or {}).get("scope_id")
    group = (entry.get("managed") or {}).get("group")
    return {str(scope_id).lower(): str(group)} if scope_id and isinstance(group, str) else {}


def _matches(policy: Mapping[str, Any], group: str, known: Mapping[str, str]) -> bool:
    wanted = group.strip().lower()
    if known.get(str(policy.get("ScopeIdentityRaw") or "").lower(), "").strip().lower() == wanted:
        return True
    names = {str(policy.get(f) or "").strip().lower() for f in _SCOPE_FIELDS}
    return wanted in names or ("@" in wanted and wanted.split("@", 1)[0] in names)


def _scope_label(policy: Mapping[str, Any], known: Mapping[str, str]) -> str:
    recorded = known.get(str(policy.get("ScopeIdentityRaw") or "").lower())
    if recorded:
        return recorded
    for field in ("ScopeEmailAddress", "PolicyScopeGroupId", "ScopeName", "ScopeIdentity"):
        if policy.get(field):
            return str(policy[field])
    return str(policy.get("Identity"))


def _policies(ctx: Context, app_id: str) -> list[dict[str, Any]]:
    """The app's RestrictAccess policies (other apps' and DenyAccess policies are not ours)."""
    rows = ctx.exchange.invoke("Get-ApplicationAccessPolicy", {}) if ctx.exchange else []
    mine: list[dict[str, Any]] = []
    for row in rows:
        ids = row.get("AppId")
        app_ids = ids if isinstance(ids, list) else [ids]
        if any(str(i or "").lower() == app_id for i in app_ids) and row.get("AccessRight") == ACCESS_RIGHT:
            mine.append(dict(row))
    return mine


def _candidates(ctx: Context, group: str | None) -> list[str]:
    """Mailboxes to test: one member of the group if Exchange lists them, then synced
    Dataverse mailboxes outside it (those are the ones a working scope must deny)."""
    members: list[str] = []
    try:
        asked = {"Identity": group}
        rows = ctx.exchange.invoke("Get-DistributionGroupMember", asked) if ctx.exchange and group else []
        members = [str(r["PrimarySmtpAddress"]).lower() for r in rows if r.get("PrimarySmtpAddress")]
    except ClientError:
        pass  # not every admin endpoint offers the cmdlet; Dataverse still names real mailboxes
    synced: list[str] = []
    try:
        rows = list(ctx.dataverse.query("mailboxes", select=["emailaddress"], top=MEMBER_SCAN))
        synced = [str(r["emailaddress"]).lower() for r in rows if r.get("emailaddress")]
    except ClientError:
        pass
    inside = set(members)
    return list(dict.fromkeys(members[:1] + [a for a in synced if a not in inside]))


def _check(ctx: Context, app_id: str, group: str) -> str:
    """What Exchange decides for one granted and one denied mailbox (best effort, read-only)."""
    verdicts: dict[str, str] = {}
    for mailbox in _candidates(ctx, group)[:MAX_CHECKS]:
        try:
            rows = (
                ctx.exchange.invoke("Test-ApplicationAccessPolicy", {"Identity": mailbox, "AppId": app_id})
                if ctx.exchange
                else []
            )
        except ClientError:
            continue
        verdict = str(rows[0].get("AccessCheckResult")) if rows else "no answer"
        verdicts.setdefault(verdict, mailbox)
        if {"Granted", "Denied"} <= set(verdicts):
            break
    if not verdicts:
        return "no mailbox found to check"
    return "; ".join(f"{verdict} for {mailbox}" for verdict, mailbox in sorted(verdicts.items()))


def _census(ctx: Context) -> Observed:
    """Access policies of the apps behind the custom profiles that exist (export)."""
    objects: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if ctx.exchange is None:
        return Observed(objects={})
    for found in c5.census_profiles(ctx).values():
        key, app = found.get("key"), found.get("app")
        if key is None or app is None:
            continue
        try:
            objects[c5.scope_address(key)] = {"policies": _policies(ctx, str(app["appId"]).lower())}
        except (ClientError, RuntimeError) as exc:
            errors[c5.scope_address(key)] = f"mailbox scope could not be read: {exc}"
    return Observed(objects=objects, errors=errors)


class ExchangeScopeKind(KindDefaults):
    spec = KindSpec(
        name=NAME,
        prefix="exchange_scope",
        after=("app_registration",),
        services=frozenset({"graph", "exchange", "dataverse"}),
        privileges=(
            Privilege("prvReadMailbox", "find mailboxes to check the scope on", only_if=_any_rbac),
            Privilege("prvWriteMailbox", "Test & Enable one mailbox before an access policy gives way to "
                      "RBAC", only_if=_any_rbac),
            Privilege(READ_PROFILES.name, READ_PROFILES.reason, only_if=_any_rbac),
        ),
        grants=(_grants.READ_APPS, *_grants.ACCESS_POLICY, *_grants.APP_RBAC,
                _grants.consent("grant the app's mailbox consent once its scope exists, or remove it once "
                                "RBAC replaces it", _grants.scope_consents)),
        adopts_compliant=False,
    )

    def addresses(self, desired: Desired) -> list[str]:
        return [c5.scope_address(k) for k, a in sorted(desired.app_registrations.items()) if a.mailbox_scope]

    def read(self, ctx: Context) -> Observed:
        if ctx.census:
            return _census(ctx)
        recorded = {a: e for a, e in ctx.state.items() if e.get("kind") == NAME}
        keys = sorted({_key(a) for a in self.addresses(ctx.desired)} | {_key(a) for a in recorded})
        objects: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for key in keys:
            address = c5.scope_address(key)
            if ctx.exchange is None:
                why = ctx.unavailable.get("exchange") or NO_EXCHANGE
                errors[address] = f"{why}; the mailbox scope of the app cannot be checked"
                continue
            try:
                objects[address] = self._read_one(ctx, key, recorded.get(address))
            except (ClientError, RuntimeError, LookupError, ValueError) as exc:
                errors[address] = f"mailbox scope could not be read: {exc}"
        return Observed(objects=objects, errors=errors, recorded=recorded)

    def _read_one(self, ctx: Context, key: str, recorded: Mapping[str, Any] | None) -> dict[str, Any]:
        app = c5.read_app(ctx, key)
        scope = _scope_of(ctx.desired, key)
        if scope is not None and scope.rbac:
            app_id = str(app["appId"]).lower() if app else None
            policies = _policies(ctx, app_id) if app_id else []
            return rbac_scope.read(ctx, key, app_id, scope, candidates=_candidates, policies=policies)
        owned = _owned_consent(ctx, key)
        if app is None:
            return {"app_id": None, "policies": [], "check": None, **owned}
        app_id = str(app["appId"]).lower()
        policies = _policies(ctx, app_id)
        found: dict[str, Any] = {"app_id": app_id, "policies": policies, "check": None}
        if _recorded_rbac(recorded):    # RBAC objects sssctl made: torn down, or left behind last
            found.update(rbac.read_objects(ctx, key, app_id).to_dict())
        if scope is None and _recorded_rbac(recorded):
            return found
        group = _group_of(ctx.desired, key) or ((recorded or {}).get("managed") or {}).get("group")
        found["check"] = _check(ctx, app_id, str(group)) if policies and group else None
        if owned:
            found.update(owned, consent=consent.live(ctx, app_id))
        return found

    def diff(self, desired: Desired, observed: Observed) -> list[Change]:
        keys = sorted({_key(a) for a in self.addresses(desired)} | {_key(a) for a in observed.recorded})
        return [self._diff_one(desired, observed, key) for key in keys]

    def _diff_one(self, desired: Desired, observed: Observed, key: str) -> Change:
        address = c5.scope_address(key)
        if address in observed.errors:
            return Change(address, Action.UNKNOWN, None, None, observed.errors[address])
        found = observed.objects.get(address) or {}
        policies = found.get("policies") or []
        known = _known(observed.recorded.get(address))
        before = _before(policies, known)
        group = _group_of(desired, key)
        detail: dict[str, Any] = {"key": key, "app_id": found.get("app_id")}
        scope = _scope_of(desired, key)
        if scope is not None and scope.rbac:
            app = desired.app_registrations[key]
            roles = rbac.roles_for(app.permissions)
            group = _scope_label(policies[0], known) if len(policies) == 1 else None
            profiled = any(p.app_registration == key for p in desired.custom_profiles.values())
            return rbac_scope.diff(address, found, key, scope, roles=roles, detail=detail, policy_group=group,
                                   profiled=profiled)
        if scope is None and _recorded_rbac(observed.recorded.get(address)):
            return _rbac_teardown(address, found, observed.recorded.get(address), detail)
        checked = f" (checked: {found['check']})" if found.get("check") else ""
        if group is None:
            recorded = observed.recorded.get(address)
            original = (recorded or {}).get("original")
            if recorded is None:
                return Change(address, Action.NOOP, before, before, "not managed", detail=detail)
            if original is None or not original.get("group"):
                if not policies:
                    return Change(
                        address,
                        Action.NOOP,
                        before,
                        before,
                        "no policy left to remove",
                        detail=detail, forget=True,
                    )
                return Change(
                    address,
                    Action.DELETE,
                    before,
                    None,
                    "no longer in the config: remove the access policy sssctl created, after the custom "
                    "profile using the app is gone",
                    detail=detail,
                )
            group = str(original["group"])
        return _diff_policy(address, found, group, known, detail, checked=checked)

    def apply(self, ctx: Context, change: Change) -> Applied:
        if ctx.exchange is None:
            raise RuntimeError("no Exchange admin API configured (SSSCTL_EXCHANGE_URL)")
        key = str(change.detail["key"])
        app_id = _app_id(ctx, key, change.detail.get("app_id"))
        if change.detail.get("method") == "rbac":
            return _apply_rbac(ctx, change, key, app_id)
        policies = _policies(ctx, app_id)
        writes = 0
        if change.action is Action.DELETE:
            for policy in policies:
                ctx.exchange.invoke("Remove-ApplicationAccessPolicy", {"Identity": policy["Identity"]})
                writes += 1
            return Applied(change.address, managed=None, writes=writes, message="access policy removed")
        group = str(change.detail["group"])
        known = _known(ctx.state.get(change.address))
        kept, writes = _ensure_policy(ctx, key, app_id, group, policies=policies, known=known)
        for policy in policies:
            if policy is not kept and not _matches(policy, group, known):
                ctx.exchange.invoke("Remove-ApplicationAccessPolicy", {"Identity": policy["Identity"]})
                writes += 1
        # Only now that the policy narrows it is the tenant-wide consent safe to grant.
        writes += consent.grant(ctx, app_id, change.detail.get("grant") or [])
        revoke = list(change.detail.get("revoke") or [])
        if revoke and change.detail.get("retire_after_canary") and _profiled(ctx, key):
            ctx.handoffs.put(key, RetireAfterCanary(tuple(revoke)))
        else:
            writes += consent.revoke(ctx, revoke, why="no longer in permissions")
        if change.detail.get("leave_rbac"):
            writes += rbac_scope.remove(ctx, key, app_id)
        log.info("exchange_scope.applied", address=change.address, writes=writes)
        scope_id = str(kept.get("ScopeIdentityRaw") or "")
        return Applied(
            change.address,
            managed=dict(change.after or {}),
            fingerprints={"scope_id": scope_id} if scope_id else {},
            writes=writes,
            message=f"scoped to {group}",
        )

    def describe(self, observed: Observed) -> dict[str, Any]:
        """The group an app is restricted to, inside its ``[app_registrations.<key>]`` table."""
        apps: dict[str, Any] = {}
        for address, found in sorted(observed.objects.items()):
            policies = (found or {}).get("policies") or []
            if len(policies) == 1:
                apps[_key(address)] = {"mailbox_scope": {"group": _scope_label(policies[0], {})}}
            elif policies:
                groups = ", ".join(sorted(_scope_label(p, {}) for p in policies))
                apps[_key(address)] = {NOTE: [f"Restricted by {len(policies)} access policies ({groups}); "
                                              "format v1 names one group, so none is exported."]}
        return {"app_registrations": apps} if apps else {}



def _before(policies: Sequence[Mapping[str, Any]], known: Mapping[str, str],
            have: Sequence[Mapping[str, str]] | None = None) -> dict[str, Any]:
    """The scope as the plan shows it; no policy at all is said plainly, not left blank.

    ``have`` is the live mailbox consent when this scope owns it: an app without a policy
    and without that consent reaches no mailbox yet, which is not "unscoped".
    """
    shown: dict[str, Any] = {} if have is None else {"consent": consent.names(have)}
    if not policies:
        scope = NO_ACCESS if have is not None and not have else UNSCOPED
        return {"scope": scope, "group": None, **shown}
    groups = sorted(_scope_label(p, known) for p in policies)
    if len(groups) == 1:
        return {"scope": f"scoped to {groups[0]}", "group": groups[0], **shown}
    return {"scope": "scoped to " + ", ".join(groups), "group": groups, **shown}


def _owned_consent(ctx: Context, key: str) -> dict[str, Any]:
    """The mailbox permissions an access-policy scope consents, once its policy exists."""
    if _group_of(ctx.desired, key) is None:
        return {}
    permissions = ctx.desired.app_registrations[key].permissions
    return {"consent": [], "wanted_consent": consent.wanted(ctx, permissions)}


def _swaps_transport(revoked: Sequence[Mapping[str, str]], want: Sequence[Mapping[str, str]]) -> bool:
    """The grants move the app from one way into mailboxes to another (EWS -> Graph).

    Judged on what goes, not on what is held: after a failed canary the old and new grants
    are held together, and the old must still wait for a pass."""
    new, gone = ews.transport(consent.names(want)), ews.transport(consent.names(revoked))
    return new is not None and gone is not None and gone != new


def _profiled(ctx: Context, key: str) -> bool:
    return any(p.app_registration == key for p in ctx.desired.custom_profiles.values())


def _has_rbac_objects(found: Mapping[str, Any]) -> bool:
    return bool(found.get("pointer") or found.get("scope") or found.get("assignments"))


def _diff_policy(address: str, found: Mapping[str, Any], group: str, known: Mapping[str, str],
                 detail: dict[str, Any], *, checked: str) -> Change:
    """One policy for the group first, then the mailbox consent it narrows, then RBAC leftovers."""
    policies = found.get("policies") or []
    owns = "wanted_consent" in found
    have, want = found.get("consent") or [], found.get("wanted_consent") or []
    before = _before(policies, known, have if owns else None)
    if not policies and _has_rbac_objects(found):
        before["scope"] = "scoped by RBAC, to be replaced by an application access policy"
    after: dict[str, Any] = {"scope": f"scoped to {group}", "group": group}
    steps: list[str] = []
    if not policies:
        steps.append(f"{before['scope']}; restrict it to {group}")
    elif not (len(policies) == 1 and _matches(policies[0], group, known)):
        steps.append(f"replace the access policy: scope it to {group}")
    if owns:
        after["consent"] = consent.names(want)
        detail.update(grant=consent.missing(want, have), revoke=consent.unasked(want, have))
        if detail["grant"]:
            granted = ", ".join(consent.names(detail["grant"]))
            steps.append(f"then grant the tenant-wide consent of {granted}, which the policy narrows")
        if detail["revoke"]:
            revoked = ", ".join(consent.names(detail["revoke"]))
            if _swaps_transport(detail["revoke"], want):
                detail["retire_after_canary"] = True
                steps.append(f"revoke the tenant-wide consent of {revoked} only after the canary passed over "
                             "the new grants (a failure leaves the old path working)")
            else:
                steps.append(f"revoke the tenant-wide consent of {revoked} (not in permissions)")
    if _has_rbac_objects(found):
        detail["leave_rbac"] = True
        steps.append("remove the RBAC role assignments, management scope and service principal pointer "
                     "sssctl made, last")
    detail["group"] = group
    if not steps:
        return Change(address, Action.NOOP, before, after, f"scoped to {group}{checked}", detail=detail)
    action = Action.CREATE if not policies and not _has_rbac_objects(found) else Action.UPDATE
    elevation = consent.elevation(consent.names(detail.get("grant") or []),
                                  consent.names(detail.get("revoke") or []))
    return Change(address, action, before, after, "; ".join(steps), detail=detail, elevation=elevation)


def _ensure_policy(ctx: Context, key: str, app_id: str, group: str, *, policies: Sequence[Mapping[str, Any]],
                   known: Mapping[str, str]) -> tuple[Mapping[str, Any], int]:
    """The app's policy for the group, created when missing: (that policy, writes)."""
    kept = next((p for p in policies if _matches(p, group, known)), None)
    if kept is not None:
        return kept, 0
    created = rbac.invoke(ctx, "New-ApplicationAccessPolicy", {
        "AppId": app_id,
        "PolicyScopeGroupId": group,
        "AccessRight": ACCESS_RIGHT,
        "Description": f"sssctl app_registration.{key}",
    })
    return (created[0] if created else {}), 1


def _rbac_teardown(address: str, found: Mapping[str, Any], recorded: Mapping[str, Any] | None,
                   detail: dict[str, Any]) -> Change:
    """The RBAC scope left the config: put back the access policy found before, if there was
    one, then remove what sssctl made (after the profile using it)."""
    detail["method"] = "rbac"
    original = (recorded or {}).get("original") or {}
    if original.get("method") == "access_policy" and original.get("group"):
        detail["restore_group"] = str(original["group"])
    before = {"scope": "scoped by RBAC" if _has_rbac_objects(found) else "no RBAC objects left",
              "method": "rbac"}
    if not _has_rbac_objects(found):
        return Change(address, Action.NOOP, before, before, "no RBAC objects left to remove",
                      detail=detail, forget=True)
    reason = ("no longer in the config: remove the role assignments, management scope and service "
              "principal pointer sssctl created")
    if detail.get("restore_group"):
        reason = (f"no longer in the config: put back the application access policy found before (scoped "
                  f"to {detail['restore_group']}), then remove the role assignments, management scope and "
                  "service principal pointer sssctl created")
    return Change(address, Action.DELETE, before, None, reason, detail=detail)


def _apply_rbac(ctx: Context, change: Change, key: str, app_id: str) -> Applied:
    if change.action is Action.DELETE:
        writes = 0
        if change.detail.get("restore_group"):
            group = str(change.detail["restore_group"])
            _, writes = _ensure_policy(ctx, key, app_id, group, policies=_policies(ctx, app_id), known={})
        writes += rbac_scope.remove(ctx, key, app_id)
        return Applied(change.address, managed=None, writes=writes, message="RBAC scope removed")
    app = ctx.desired.app_registrations[key]
    scope = app.mailbox_scope
    assert scope is not None  # planned from it
    writes, message = rbac_scope.apply(ctx, key, app_id, scope, detail=change.detail, candidates=_candidates,
                                       display_name=app.display_name)
    log.info("exchange_scope.applied", address=change.address, writes=writes, method="rbac")
    return Applied(change.address, managed=dict(change.after or {}), writes=writes, message=message)


def _app_id(ctx: Context, key: str, planned: str | None) -> str:
    """The app's id now; on destroy the app may already be gone, so the planned id serves."""
    known = ctx.handoffs.get(AppIds, key)
    if known:
        return known.app_id.lower()
    app = c5.read_app(ctx, key)
    if app is None and planned:
        return planned.lower()
    if app is None:
        raise LookupError(f"app registration {key!r} does not exist; apply its change first")
    return str(app["appId"]).lower()


KIND = ExchangeScopeKind()
