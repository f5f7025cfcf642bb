"""``canary["<profile>"]``: one mailbox proves an own-app profile before any other moves.

An own-app profile can be refused by Exchange for reasons no configuration read shows for
sure: the tenant's EWS gate (blocked for unset tenants since 2026-10-01, an allow list of
app IDs whose changes take up to 24 hours, EWS shut down on 2027-04-01), a mailbox closed
to EWS, RBAC's undocumented limits (no AutoDiscover; server-side sync with an RBAC role
and no Entra consent, reference identity-surface §2.2). So under every scope method, and
without a scope, one mailbox (``mailbox_scope.canary``, else the first approved mailbox
Exchange says the app may reach) is moved onto the profile and Test & Enable'd before
anything else moves. The mailbox defaults and the mailbox policy declare that they run
after this kind, and the default profile's deactivation after them, so a failed canary
skips them all (fail closed): no other mailbox moves, the built-in profile stays active,
the canary goes back to the profile it had, and the run says why in the user's words
(:mod:`sssctl.kinds._control5.ews` reads which gate refused). A canary that passed stays
on the profile; a later plan tests it again only when its status is no longer a success.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any

import structlog

from sssctl.clients.errors import ClientError
from sssctl.config.model import Desired, MailboxScope
from sssctl.engine.kind import Applied, Context, KindDefaults, KindSpec, Observed, Privilege
from sssctl.engine.plan import Action, Change
from sssctl.kinds import _grants
from sssctl.kinds import _test_enable as te
from sssctl.kinds._control5 import consent, ews, rbac
from sssctl.kinds._control5.graph import read_app
from sssctl.kinds._control5.names import iso
from sssctl.kinds._shared import READ_PROFILES, etag_of, profile_id_now, profiles_named
from sssctl.kinds.handoffs import AppIds, CanaryPlacements, MailboxVersions, RetireAfterCanary

log = structlog.get_logger(__name__)

PREFIX = "canary"
MAX_TESTS = 50                   # Exchange authorization tests at most, when no canary is named


def address_of(profile: str) -> str:
    return f"{PREFIX}[{json.dumps(profile)}]"


def canaried(desired: Desired) -> dict[str, tuple[str, MailboxScope | None]]:
    """Profile name -> (app key, scope or None) for every own-app profile."""
    found: dict[str, tuple[str, MailboxScope | None]] = {}
    for name, profile in desired.custom_profiles.items():
        app = desired.app_registrations.get(profile.app_registration)
        if app is not None:
            found[name] = (profile.app_registration, app.mailbox_scope)
    return found


def _recorded_mailbox(ctx: Context, address: str) -> str | None:
    managed = (ctx.state.get(address) or {}).get("managed") or {}
    return str(managed["mailbox"]) if managed.get("mailbox") else None


class CanaryKind(KindDefaults):
    spec = KindSpec(
        name="canary",
        prefix=PREFIX,
        after=("server_profile_custom", "ews_admission"),
        services=frozenset({"dataverse", "graph", "exchange"}),
        privileges=(READ_PROFILES, Privilege("prvReadMailbox", "read mailboxes"),
                    Privilege("prvWriteMailbox", "move the canary mailbox and test it")),
        grants=(_grants.READ_APPS, *_grants.cmdlets(
            "Test-ServicePrincipalAuthorization", "find a mailbox the app may reach", "plan",
            only_if=_grants.rbac_scoped, source=_grants.APP_RBAC_DOC),
            *_grants.cmdlets("Test-ApplicationAccessPolicy", "find a mailbox the app may reach", "apply",
                             only_if=_grants.access_policy_scoped),
            *_grants.EWS_READ,
            _grants.consent("prove a change of transport over the new grants alone, and put the old ones "
                            "back if it fails", _grants.scope_consents)),
        adopts_compliant=False,   # a mailbox that happens to be on the profile proves nothing
    )

    def addresses(self, desired: Desired) -> list[str]:
        return [address_of(name) for name in canaried(desired)]

    def read(self, ctx: Context) -> Observed:
        objects: dict[str, Mapping[str, Any] | None] = {}
        errors: dict[str, str] = {}
        etags: dict[str, str | None] = {}
        wanted = {address_of(name): (name, scope) for name, (_, scope) in canaried(ctx.desired).items()}
        for address, entry in ctx.state.items():
            managed = entry.get("managed") or {}
            if address.startswith(f"{PREFIX}[") and address not in wanted and managed.get("profile"):
                wanted[address] = (str(managed["profile"]), None)
        for address, (name, scope) in wanted.items():
            mailbox = (scope.canary if scope else None) or _recorded_mailbox(ctx, address)
            try:
                profiles = profiles_named(ctx, name)
                row = te.mailbox_by_address(ctx, mailbox) if mailbox else None
            except ClientError as exc:
                errors[address] = f"could not read the canary: {exc}"
                continue
            profile_id = str(profiles[0]["emailserverprofileid"]).lower() if len(profiles) == 1 else None
            current = str((row or {}).get("_emailserverprofile_value") or "").lower()
            on_profile = bool(profile_id) and current == profile_id
            managed = (ctx.state.get(address) or {}).get("managed") or {}
            objects[address] = {
                "mailbox": mailbox,
                "on_profile": on_profile,
                "test": "passed" if on_profile and row and te.passed(row) else "not run",
                "profile": name,
                "mailbox_id": str((row or {}).get("mailboxid") or "") or None,
                # Every own-app profile before Graph support went over EWS.
                "transport": managed.get("transport") or "ews",
                "now": ews.exchange_now(ctx),
            }
            etags[address] = etag_of(row)
        ctx.handoffs.put(PREFIX, CanaryPlacements(on_profile={
            address: str(found["profile"]) for address, found in objects.items()
            if found and found["on_profile"] and found["mailbox_id"]}))
        return Observed(objects=objects, errors=errors, etags=etags)

    def diff(self, desired: Desired, observed: Observed) -> list[Change]:
        changes: list[Change] = []
        wanted = canaried(desired)
        for name, (key, _) in wanted.items():
            address = address_of(name)
            if address in observed.errors:
                changes.append(Change(address, Action.UNKNOWN, None, None, observed.errors[address]))
                continue
            live = dict(observed.objects.get(address) or {})
            before = {"mailbox": live.get("mailbox") or "(the first in-scope mailbox, chosen at apply)",
                      "test": live.get("test", "not run")}
            after = {"test": "passed"}
            path = ews.transport(desired.app_registrations[key].permissions)
            was = live.get("transport") or "ews"
            moving = live.get("test") == "passed" and path is not None and was != path
            note = _ews_note(live) if path == "ews" else ""
            if live.get("test") == "passed" and not moving:
                changes.append(Change(address, Action.NOOP, before, {**before, **after},
                                      "the canary mailbox synchronizes through the profile" + note,
                                      notice=bool(note)))
                continue
            reason = ("move one in-scope mailbox onto the profile and run Test & Enable before any other "
                      "mailbox moves; if it fails, nothing else moves")
            if moving:
                reason = (f"the app moves from {was} to {path}: test the canary mailbox "
                          "over the new grants before the old ones are removed; if it fails, they stay")
            reason += note
            detail = {"profile": name, "app_key": key, "mailbox": live.get("mailbox")}
            changes.append(Change(address, Action.UPDATE, before, after, reason, None, detail))
        kept = {address_of(name) for name in wanted}
        for address, found in sorted(observed.objects.items()):
            if address not in kept and found is not None:
                changes.append(_stand_down(address, found, observed.etags.get(address)))
        return changes

    def apply(self, ctx: Context, change: Change) -> Applied:
        if change.action is Action.DELETE:
            return _put_back_recorded(ctx, change)
        name, key = str(change.detail["profile"]), str(change.detail["app_key"])
        profile_id = profile_id_now(ctx, name)
        app_id = _app_id(ctx, key)
        scope = canaried(ctx.desired).get(name, (key, None))[1]
        named = str(change.detail.get("mailbox") or "")
        row = te.mailbox_by_address(ctx, named) if named else _choose(ctx, app_id, scope)
        if row is None:
            raise LookupError(f"the canary mailbox {named} does not exist in Dataverse; "
                              "fix mailbox_scope.canary")
        mailbox = str(row["emailaddress"])
        previous = row.get("_emailserverprofile_value")
        # A change of transport is proven over the new grants alone: the old ones go for the
        # seconds of the test and come back at once if it fails (as the RBAC migration does).
        retire = ctx.handoffs.get(RetireAfterCanary, key)
        if retire is not None:
            _retire(ctx, retire)
        tested = te.test_on(ctx, row, profile_id)
        if not te.passed(tested):
            if retire is not None:
                _restore(ctx, app_id, retire, row, profile_id)
            writes = 1 + _put_back(ctx, str(row["mailboxid"]), previous)
            raise CanaryFailed(
                f"{_why(ctx, key, app_id, mailbox)}. The canary mailbox {mailbox} failed Test & Enable on "
                f"profile {name!r}, so no other mailbox was moved, the built-in profile stays as it is "
                f"and {mailbox} is back on the profile it had ({writes} writes); run apply again once "
                "that is fixed"
            )
        produced = etag_of(tested)
        if produced:
            versions = ctx.handoffs.setdefault("mailboxes", MailboxVersions())
            versions.produced[str(row["mailboxid"]).lower()] = produced
        log.info("canary.passed", profile=name, mailbox=mailbox)
        managed = {"mailbox": mailbox, "profile": name, "test": "passed", "previous": previous,
                   "transport": ews.transport(ctx.desired.app_registrations[key].permissions)}
        return Applied(change.address, managed=managed, writes=1, message=f"{mailbox} passed Test & Enable")


def _ews_note(live: Mapping[str, Any]) -> str:
    """What an EWS profile depends on, said in every plan until the shutdown (not only when
    something moves): the date and how many days are left, as the service's clock has it."""
    moment = live.get("now")
    left = ews.days_left(float(moment)) if isinstance(moment, (int, float)) else None
    days = f", in {left} days" if left is not None and left >= 0 else ""
    return (f"; note: the profile depends on EWS, which Exchange Online shuts down on 2027-04-01{days} "
            "(configs/hardened-graph.toml shows the Graph path)")


def _stand_down(address: str, live: Mapping[str, Any], etag: str | None) -> Change:
    """The profile no longer wants a canary (destroy, or the profile left the config): the
    canary mailbox goes back to the profile it had, so the profile can be removed."""
    if not live.get("on_profile"):
        return Change(address, Action.NOOP, dict(live), None,
                      "the canary mailbox is no longer on the profile; sssctl stops tracking it", etag,
                      {"mailbox_id": None}, forget=True)
    return Change(address, Action.DELETE, {"mailbox": live.get("mailbox"), "test": live.get("test")}, None,
                  "put the canary mailbox back on the profile it had before, so the profile can go",
                  etag, {"mailbox_id": live.get("mailbox_id"), "profile": live.get("profile")})


def _put_back_recorded(ctx: Context, change: Change) -> Applied:
    """Read the mailbox again: the mailbox policy's own tear-down may have moved it back
    already, in which case there is nothing left to do (and nothing to overwrite)."""
    managed = (ctx.state.get(change.address) or {}).get("managed") or {}
    mailbox_id, previous = change.detail.get("mailbox_id"), managed.get("previous")
    if not mailbox_id:
        return Applied(change.address, managed=None, message="canary no longer tracked")
    row = ctx.dataverse.get("mailboxes", str(mailbox_id), select=te.MAILBOX_COLUMNS) or {}
    ours = profile_id_now(ctx, str(change.detail.get("profile") or managed.get("profile") or ""))
    if str(row.get("_emailserverprofile_value") or "").lower() != str(ours).lower():
        return Applied(change.address, managed=None, message="canary mailbox already off the profile")
    if not previous:
        raise LookupError(f"{change.address}: the profile the canary mailbox had before is not recorded; "
                          "move the mailbox to another profile by hand, then run again")
    ctx.dataverse.update("mailboxes", str(mailbox_id),
                         {"emailserverprofile@odata.bind": f"/emailserverprofiles({previous})"},
                         if_match=etag_of(row))
    return Applied(change.address, managed=None, writes=1, message="canary mailbox put back")


def _retire(ctx: Context, retire: RetireAfterCanary) -> None:
    """Take the old grants away for the test (consents, or RBAC role assignments)."""
    if retire.revoke:
        consent.revoke(ctx, list(retire.revoke), why="the canary proves the new grants alone")
    if retire.assignments:
        rbac.remove_assignments(ctx, retire.assignments)
        log.info("canary.old_roles_removed", roles=[a.get("Role") for a in retire.assignments])


def _restore(ctx: Context, app_id: str, retire: RetireAfterCanary, row: Mapping[str, Any],
             profile_id: str) -> None:
    """Give the old grants back after a failed test of the new ones, and test the canary once
    more, best effort, so a mailbox that was already on the profile synchronizes as before."""
    consent.grant(ctx, app_id, [dict(g) for g in retire.revoke])
    rbac.restore_assignments(ctx, app_id, retire.assignments)
    if str(row.get("_emailserverprofile_value") or "").lower() == str(profile_id).lower():
        with contextlib.suppress(ClientError):   # the grants are what matter; the next plan sees the rest
            te.test_on(ctx, te.mailbox_by_address(ctx, str(row["emailaddress"])) or row, profile_id)


class CanaryFailed(te.TestEnableFailed):
    """Test & Enable failed on the canary: everything that would follow it is skipped."""


def _put_back(ctx: Context, mailbox_id: str, previous: Any) -> int:
    """Return the canary to the profile it had, so a failed test leaves nothing moved."""
    if not previous:
        return 0
    ctx.dataverse.update("mailboxes", mailbox_id,
                         {"emailserverprofile@odata.bind": f"/emailserverprofiles({previous})"})
    return 1


def _app_id(ctx: Context, key: str) -> str:
    known = ctx.handoffs.get(AppIds, key)
    app = known.app_id if known else str((read_app(ctx, key) or {}).get("appId") or "")
    if not app:
        raise LookupError(f"app registration {key!r} does not exist yet; its change must apply first")
    return app


def _choose(ctx: Context, app: str, scope: MailboxScope | None) -> dict[str, Any]:
    """An approved mailbox Exchange says the app may reach, searched over the whole scope:
    its row as the search read it, which the test then writes under (one read fewer).

    For a group scope the group's members (every page) are matched against approved
    Dataverse mailboxes (every page) before Exchange is asked about any; for a filter or
    an administrative unit, approved mailboxes are tested one by one, up to
    :data:`MAX_TESTS`. Only the first :data:`MAX_TESTS` answers of Exchange are waited for,
    never the first 50 mailboxes of the table: a large organisation's scope may start late.
    """
    members: set[str] | None = None
    if scope is not None and scope.group and ctx.exchange is not None:
        asked = {"Identity": scope.group, "ResultSize": "Unlimited"}
        rows = rbac.invoke(ctx, "Get-DistributionGroupMember", asked)
        members = {str(r["PrimarySmtpAddress"]).lower() for r in rows if r.get("PrimarySmtpAddress")}
    tested = 0
    for row in ctx.dataverse.query("mailboxes", select=te.MAILBOX_COLUMNS,
                                   filter="emailrouteraccessapproval eq 1"):
        address = str(row.get("emailaddress") or "")
        if not address or (members is not None and address.lower() not in members):
            continue
        if scope is None:
            return dict(row)
        tested += 1
        if _in_scope(ctx, scope, app, address):
            return dict(row)
        if tested >= MAX_TESTS:
            break
    where = f"the {len(members)} members of {scope.group}" if members is not None and scope else "the scope"
    raise LookupError(f"no approved mailbox among {where} is one Exchange lets the app reach "
                      f"({tested} tested); name one with mailbox_scope.canary")


def _in_scope(ctx: Context, scope: MailboxScope, app: str, address: str) -> bool:
    if scope.rbac:
        return rbac.test_access(ctx, app, address)
    rows = rbac.invoke(ctx, "Test-ApplicationAccessPolicy", {"Identity": address, "AppId": app})
    return any(str(r.get("AccessCheckResult")) == "Granted" for r in rows)


def _why(ctx: Context, key: str, app_id: str, mailbox: str) -> str:
    """What refused the app, read back from Exchange, in the user's words; never a guess
    presented as fact: what cannot be read is said to be unknown."""
    app = ctx.desired.app_registrations[key]
    path = ews.transport(app.permissions)
    try:
        if path == "graph":
            return (f"Exchange refused app {app_id} over Microsoft Graph for {mailbox}: check that the app "
                    f"holds {', '.join(ews.GRAPH_SYNC)} and that its mailbox scope reaches the mailbox")
        settings = ews.read_settings(ctx)
        moment = ews.exchange_now(ctx)
        reasons = ews.refusals(settings, app_id, moment)
        if not reasons and ews.mailbox_closed(ctx, mailbox):
            reasons = [f"EWS is turned off for mailbox {mailbox} (Set-CASMailbox -EwsEnabled $false)"]
        warning = ews.user_agent_warning(settings)
    except (ClientError, ews.MalformedEwsSettings, RuntimeError) as exc:
        return (f"Exchange refused app {app_id} for {mailbox}, and its EWS settings could not be read to "
                f"say why ({exc})")
    if reasons:
        advice = _ews_advice(ctx, key, moment)
        return f"Exchange refused EWS for app {app_id}: {'; '.join(reasons)}{advice}"
    if warning:
        return f"Exchange refused app {app_id} for {mailbox}: {warning}"
    scope = app.mailbox_scope
    hint = ("check that the app's RBAC role assignment covers the mailbox and that the profile does not "
            "use AutoDiscover" if scope is not None and scope.rbac else
            "check that the app's consent and mailbox scope reach the mailbox")
    return f"Exchange admits app {app_id} to EWS, yet Test & Enable failed for {mailbox}: {hint}"


def _ews_advice(ctx: Context, key: str, moment: float) -> str:
    if moment >= ews.SHUTDOWN:
        return ""
    managed = (ctx.state.get(f"ews_admission.{key}") or {}).get("managed") or {}
    changed = managed.get("changed_at")
    if isinstance(changed, (int, float)) and moment < changed + ews.PROPAGATION_SECONDS:
        return (f"; the list change made at {iso(changed)} may not have taken effect yet (Exchange takes up "
                "to 24 hours): wait and run apply again")
    return f"; add `ews = \"allow\"` to [app_registrations.{key}] (and `ews_enabled = true` if EWS is off)"


KIND = CanaryKind()
