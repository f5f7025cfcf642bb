"""``server_profile.default``: the built-in "Microsoft Exchange Online" profile, on or off.

The profile is identified once — by its id recorded in state, else by its well-known name,
else as the org's default profile at first sight — because a later plan may well have
moved the org default elsewhere.

Deactivating it while it is still the org default, or while mailboxes still use it,
silently stops their synchronization, so :meth:`guard` refuses that unless the same plan
first moves them (a ``mailbox_defaults`` change to another profile and a ``mailboxes``
revert covering every mailbox on it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from sssctl.config.model import Desired
from sssctl.engine.kind import (
    Applied,
    AuditCheck,
    Context,
    Finding,
    KindDefaults,
    KindSpec,
    Observed,
    Privilege,
    Rule,
)
from sssctl.engine.plan import Action, Change
from sssctl.kinds._defaults_reads import live_defaults
from sssctl.kinds._mailbox_scan import queue_ids, synchronizes, synchronizing_on
from sssctl.kinds._shared import (
    PAGE_SIZE,
    READ_PROFILES,
    READ_QUEUES,
    WRITE_PROFILES,
    default_profile_id,
    etag_of,
    profile_by_id,
    read_organization,
)
from sssctl.kinds.handoffs import BuiltinProfile, MailboxMoves

log = structlog.get_logger(__name__)

ADDRESS = "server_profile.default"
BUILTIN = "builtin"   # the key of its BuiltinProfile hand-off


def mailboxes_using(ctx: Context, profile_id: str) -> int:
    """Mailboxes that synchronize through the profile (some delivery method is not none).

    Counted by streaming ids page by page: ``$count`` stops at 5,000. When the mailboxes
    kind's pass over the table already sees every such mailbox, its count is used.
    """
    shared = synchronizing_on(ctx, profile_id)
    if shared is not None:
        return shared
    queues = queue_ids(ctx)
    rows = ctx.dataverse.query(
        "mailboxes",
        select=[
            "mailboxid",
            "incomingemaildeliverymethod",
            "outgoingemaildeliverymethod",
            "actdeliverymethod",
            "_regardingobjectid_value",
        ],
        filter=f"_emailserverprofile_value eq {profile_id}",
        page_size=PAGE_SIZE,
    )
    return sum(
        1
        for row in rows
        if synchronizes(row, str(row.get("_regardingobjectid_value") or "").lower() not in queues)
    )


def _identified(ctx: Context, profile_id: str | None, observed: Observed) -> Observed:
    """Hand the other kinds which profile is the built-in one, once it is known for sure."""
    ctx.handoffs.put(BUILTIN, BuiltinProfile(profile_id))
    return observed


def stops_sync(methods: Mapping[str, Any]) -> bool:
    """Every delivery method none: nothing synchronizes through any profile."""
    return all(
        methods.get(f) == "none" for f in ("incoming_email", "outgoing_email", "appointments_contacts_tasks")
    )


FIRST_PARTY_MAILBOXES = "mailboxes synchronize through the first-party Exchange Online profile"


def mailboxes_on_it(observed: Observed) -> list[Finding]:
    """Mailboxes still synchronizing through the built-in profile, as :meth:`read` counted them."""
    count = int(observed.extra.get("mailboxes_on_profile") or 0)
    if not count:
        return []
    return [Finding("high", "mailboxes", FIRST_PARTY_MAILBOXES, f"{count} mailbox(es) on it")]


AUDIT_CHECKS = (
    AuditCheck(
        "high", "the first-party Exchange Online profile is active: Dataverse's own app can reach "
        "every mailbox",
        Rule("SSS001", "DefaultProfileActive", "The first-party Exchange Online profile is active",
             "The built-in 'Microsoft Exchange Online' server profile is active, so Dataverse's own "
             "first-party app can synchronize every mailbox that uses it.",
             "Move mailboxes to a custom profile using your own app registration (Control 5), then set "
             "`[server_profiles.default] active = false` and run `sssctl apply`."),
        address=ADDRESS, config_key=("server_profiles", "default"),
    ),
    AuditCheck(
        "high", FIRST_PARTY_MAILBOXES,
        Rule("SSS002", "MailboxesOnFirstPartyProfile", "Mailboxes synchronize through the "
             "first-party profile",
             "Mailboxes still use the built-in Exchange Online profile, which relies on the "
             "first-party trust.",
             "Set `[mailbox_defaults] server_profile` to your custom profile and `[mailboxes] enforce = "
             "\"defaults\"`, then run `sssctl apply`."),
        config_key=("mailboxes",), observe=mailboxes_on_it,
    ),
)


class DefaultProfileKind(KindDefaults):
    spec = KindSpec(
        name="server_profile_default",
        checks=AUDIT_CHECKS,
        prefix=ADDRESS,
        after=("mailbox_defaults", "mailboxes"),
        privileges=(READ_PROFILES, WRITE_PROFILES, READ_QUEUES,
                    Privilege("prvReadMailbox", "find mailboxes that still synchronize through it")),
    )

    def addresses(self, desired: Desired) -> list[str]:
        return [ADDRESS] if desired.default_profile is not None else []

    def read(self, ctx: Context) -> Observed:
        recorded = {a: e for a, e in ctx.state.items() if a == ADDRESS}
        if ctx.desired.default_profile is None and not recorded:
            return _identified(ctx, None, Observed(objects={}))
        organization = read_organization(ctx)
        profile_id = default_profile_id(ctx, organization)
        if profile_id is None:
            return _identified(ctx, None, Observed(objects={ADDRESS: None}, recorded=recorded))
        row = profile_by_id(ctx, profile_id)
        if row is None:
            return _identified(ctx, None, Observed(objects={ADDRESS: None}, recorded=recorded))
        custom = {name.lower() for name in ctx.desired.custom_profiles}
        if str(row.get("name") or "").lower() in custom:
            # Found only through the org default, which already points at a profile this
            # config manages as custom: that is not the built-in one, so touch nothing.
            why = (
                f"cannot identify the built-in profile: the organization default is {row.get('name')!r}, "
                "a custom profile of this config, and no profile is named 'Microsoft Exchange Online'"
            )
            return Observed(objects={}, errors={ADDRESS: why}, recorded=recorded)
        active = int(row.get("statecode") or 0) == 0
        extra: dict[str, Any] = {
            "org_default_id": organization.get("_defaultemailserverprofileid_value"),
            "profile_id": profile_id,
        }
        wanted = ctx.desired.default_profile
        if active and wanted is not None and not wanted.active:
            extra["mailboxes_on_profile"] = mailboxes_using(ctx, profile_id)
            extra["org_defaults"] = live_defaults(ctx)[0]
        live = {"id": profile_id, "name": row.get("name"), "active": active}
        return _identified(ctx, profile_id, Observed(
            objects={ADDRESS: live}, etags={ADDRESS: etag_of(row)}, recorded=recorded, extra=extra
        ))

    def diff(self, desired: Desired, observed: Observed) -> list[Change]:
        if ADDRESS in observed.errors:
            return [Change(ADDRESS, Action.UNKNOWN, None, None, observed.errors[ADDRESS])]
        if ADDRESS not in observed.objects:
            return []
        live = observed.objects[ADDRESS]
        if desired.default_profile is not None:
            wanted, restore = desired.default_profile.active, False
        elif ADDRESS in observed.recorded:
            original = observed.recorded[ADDRESS].get("original") or {}
            if original.get("active") is None:
                return [
                    Change(ADDRESS, Action.NOOP, None, None, "no longer managed", forget=True)
                ]
            wanted, restore = bool(original["active"]), True
        else:
            return []
        if live is None:
            reason = "the built-in Microsoft Exchange Online profile does not exist in this environment"
            if restore:
                return [Change(ADDRESS, Action.NOOP, None, None, reason, forget=True)]
            return [Change(ADDRESS, Action.UNKNOWN, None, {"active": wanted}, reason)]
        before = {"name": live["name"], "active": live["active"]}
        after = {"name": live["name"], "active": wanted}
        if live["active"] == wanted:
            reason = "no longer managed; already original" if restore else "already in that state"
            return [
                Change(
                    ADDRESS, Action.NOOP, before, after, reason, forget=restore
                )
            ]
        reason = "activate" if wanted else "deactivate"
        if restore:
            reason = f"no longer managed: {reason} (its original state)"
        detail = {"id": live["id"]}
        return [Change(ADDRESS, Action.UPDATE, before, after, reason, observed.etags.get(ADDRESS), detail,
                       restore=restore)]

    def apply(self, ctx: Context, change: Change) -> Applied:
        active = bool((change.after or {})["active"])
        body = {"statecode": 0, "statuscode": 1} if active else {"statecode": 1, "statuscode": 2}
        profile_id = str(change.detail["id"])
        ctx.dataverse.update("emailserverprofiles", profile_id, body, if_match=change.etag)
        log.info("server_profile_default.written", active=active)
        if change.restore:
            return Applied(ADDRESS, managed=None, writes=1, message="restored")
        managed = {"id": profile_id, "name": (change.after or {}).get("name"), "active": active}
        return Applied(ADDRESS, managed=managed, writes=1, message="activated" if active else "deactivated")

    def describe(self, observed: Observed) -> dict[str, Any]:
        live = observed.objects.get(ADDRESS)
        if not live or "active" not in live:
            return {}
        return {"server_profiles": {"default": {"active": bool(live["active"])}}}

    def guard(self, ctx: Context, changes: Sequence[Change], observed: Mapping[str, Observed]) -> list[str]:
        mine = next((c for c in changes if c.address == ADDRESS), None)
        if mine is None or mine.action is not Action.UPDATE or (mine.after or {}).get("active", True):
            return []
        reading = observed.get(self.name)
        extra = reading.extra if reading is not None else {}
        return deactivation_refusals(mine, changes, extra, ctx.handoffs.get(MailboxMoves, "mailboxes"))


def deactivation_refusals(mine: Change, changes: Sequence[Change], extra: Mapping[str, Any],
                          moves: MailboxMoves | None) -> list[str]:
    """Deactivating is safe once nothing synchronizes through the profile after this plan.

    A profile stops mattering to a mailbox when the plan moves the mailbox to another
    profile or sets all its delivery methods to none (the mailbox policy hands over how
    far its revert reaches); the same holds for the org default (which new mailboxes
    inherit).
    """
    profile_id = str(mine.detail.get("id", "")).lower()
    name = str((mine.before or {}).get("name") or "Microsoft Exchange Online")
    refusals = []
    if str(extra.get("org_default_id") or "").lower() == profile_id and not _defaults_leave(
        name, changes, extra
    ):
        refusals.append(
            f"{ADDRESS}: {name!r} is still the organization's default profile for new mailboxes; set "
            "[mailbox_defaults] server_profile to another profile (or every delivery method to none) "
            "in the same plan before deactivating it"
        )
    using = int(extra.get("mailboxes_on_profile") or 0)
    moved = _mailboxes_leaving(profile_id, name, changes, moves)
    if using > moved:
        refusals.append(
            f"{ADDRESS}: {using - moved} of {using} mailboxes still synchronize through {name!r} after "
            'this plan; [mailboxes] enforce = "defaults" must cover them (check scope and exclude) and '
            "[mailbox_defaults] must name another profile or set every delivery method to none"
        )
    return refusals


def _defaults_leave(name: str, changes: Sequence[Change], extra: Mapping[str, Any]) -> bool:
    resulting = dict(extra.get("org_defaults") or {})
    change = next((c for c in changes if c.address == "mailbox_defaults"), None)
    if change is not None and change.action is Action.UPDATE:
        resulting.update(change.after or {})
    profile = str(resulting.get("server_profile") or name)
    return profile.lower() != name.lower() or stops_sync(resulting)


def _mailboxes_leaving(profile_id: str, name: str, changes: Sequence[Change],
                       moves: MailboxMoves | None) -> int:
    change = next((c for c in changes if c.address == "mailboxes"), None)
    if change is None or change.action is not Action.UPDATE or moves is None:
        return 0
    target = (moves.to_profile or "").lower()
    if (target and target != name.lower()) or moves.stops_sync:
        return int(moves.reverted.get(profile_id, 0))
    return 0


KIND = DefaultProfileKind()
