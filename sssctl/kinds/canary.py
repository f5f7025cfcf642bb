"""``canary["<profile>"]``: one mailbox proves an RBAC-scoped own-app profile before any other.

Microsoft documents that AutoDiscover cannot be used with RBAC application roles, and it
does not document server-side synchronization with an app that holds only an RBAC role
and no Entra consent (reference identity-surface §2.2). So under ``mailbox_scope.method =
"rbac"`` one in-scope mailbox (``mailbox_scope.canary``, else the first approved mailbox
Exchange says the app may reach) is moved onto the profile and Test & Enable'd before
anything else moves. The mailbox defaults and the mailbox policy declare that they run
after this kind, so a failed canary skips them (fail closed): no other mailbox moves, the
canary goes back to the profile it had, and the run says why. A canary that passed stays
on the profile; a later plan tests it again only when its status is no longer a success.

Under ``access_policy`` (the documented combination of Entra consent and an application
access policy) there is no canary: the profile works as Microsoft documents it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import structlog

from sssctl.clients.errors import ClientError
from sssctl.config.model import Desired, MailboxScope
from sssctl.engine.kind import Applied, Context, KindDefaults, KindSpec, Observed, Privilege
from sssctl.engine.plan import Action, Change
from sssctl.kinds import _test_enable as te
from sssctl.kinds._control5 import rbac
from sssctl.kinds._control5.graph import read_app
from sssctl.kinds._shared import READ_PROFILES, etag_of, profile_id_now, profiles_named
from sssctl.kinds.handoffs import AppIds, MailboxVersions

log = structlog.get_logger(__name__)

PREFIX = "canary"
MAX_TESTS = 50                   # Exchange authorization tests at most, when no canary is named


def address_of(profile: str) -> str:
    return f"{PREFIX}[{json.dumps(profile)}]"


def canaried(desired: Desired) -> dict[str, tuple[str, MailboxScope]]:
    """Profile name -> (app key, scope) for every own-app profile whose app is RBAC-scoped."""
    found: dict[str, tuple[str, MailboxScope]] = {}
    for name, profile in desired.custom_profiles.items():
        app = desired.app_registrations.get(profile.app_registration)
        if app is not None and app.mailbox_scope is not None and app.mailbox_scope.rbac:
            found[name] = (profile.app_registration, app.mailbox_scope)
    return found


def _recorded_mailbox(ctx: Context, address: str) -> str | None:
    managed = (ctx.state.get(address) or {}).get("managed") or {}
    return str(managed["mailbox"]) if managed.get("mailbox") else None


class CanaryKind(KindDefaults):
    spec = KindSpec(
        name="canary",
        prefix=PREFIX,
        after=("server_profile_custom",),
        services=frozenset({"dataverse", "graph", "exchange"}),
        privileges=(READ_PROFILES, Privilege("prvReadMailbox", "read mailboxes"),
                    Privilege("prvWriteMailbox", "move the canary mailbox and test it")),
        adopts_compliant=False,   # a mailbox that happens to be on the profile proves nothing
    )

    def addresses(self, desired: Desired) -> list[str]:
        return [address_of(name) for name in canaried(desired)]

    def read(self, ctx: Context) -> Observed:
        objects: dict[str, Mapping[str, Any] | None] = {}
        errors: dict[str, str] = {}
        etags: dict[str, str | None] = {}
        for name, (_, scope) in canaried(ctx.desired).items():
            address = address_of(name)
            mailbox = scope.canary or _recorded_mailbox(ctx, address)
            try:
                profiles = profiles_named(ctx, name)
                row = te.mailbox_by_address(ctx, mailbox) if mailbox else None
            except ClientError as exc:
                errors[address] = f"could not read the canary: {exc}"
                continue
            profile_id = str(profiles[0]["emailserverprofileid"]).lower() if len(profiles) == 1 else None
            current = str((row or {}).get("_emailserverprofile_value") or "").lower()
            on_profile = bool(profile_id) and current == profile_id
            objects[address] = {
                "mailbox": mailbox,
                "on_profile": on_profile,
                "test": "passed" if on_profile and row and te.passed(row) else "not run",
            }
            etags[address] = etag_of(row)
        return Observed(objects=objects, errors=errors, etags=etags)

    def diff(self, desired: Desired, observed: Observed) -> list[Change]:
        changes: list[Change] = []
        for name, (key, _) in canaried(desired).items():
            address = address_of(name)
            if address in observed.errors:
                changes.append(Change(address, Action.UNKNOWN, None, None, observed.errors[address]))
                continue
            live = dict(observed.objects.get(address) or {})
            before = {"mailbox": live.get("mailbox") or "(the first in-scope mailbox, chosen at apply)",
                      "test": live.get("test", "not run")}
            after = {"test": "passed"}
            if live.get("test") == "passed":
                changes.append(Change(address, Action.NOOP, before, {**before, **after},
                                      "the canary mailbox synchronizes through the profile"))
                continue
            reason = ("move one in-scope mailbox onto the profile and run Test & Enable before any other "
                      "mailbox moves; if it fails, nothing else moves")
            detail = {"profile": name, "app_key": key, "mailbox": live.get("mailbox")}
            changes.append(Change(address, Action.UPDATE, before, after, reason, None, detail))
        return changes

    def apply(self, ctx: Context, change: Change) -> Applied:
        name, key = str(change.detail["profile"]), str(change.detail["app_key"])
        profile_id = profile_id_now(ctx, name)
        scope = canaried(ctx.desired).get(name, (key, None))[1]
        mailbox = str(change.detail.get("mailbox") or "") or _choose(ctx, key, scope)
        row = te.mailbox_by_address(ctx, mailbox)
        if row is None:
            raise LookupError(f"the canary mailbox {mailbox} does not exist in Dataverse; "
                              "fix mailbox_scope.canary")
        previous = row.get("_emailserverprofile_value")
        tested = te.test_on(ctx, row, profile_id)
        if not te.passed(tested):
            writes = 1 + _put_back(ctx, str(row["mailboxid"]), previous)
            raise CanaryFailed(
                f"the canary mailbox {mailbox} failed Test & Enable on profile {name!r}, so no other "
                f"mailbox was moved and {mailbox} is back on the profile it had ({writes} writes). "
                "Check that the app's RBAC role assignment covers the mailbox and that the profile "
                "does not use AutoDiscover, then run apply again"
            )
        produced = etag_of(tested)
        if produced:
            versions = ctx.handoffs.setdefault("mailboxes", MailboxVersions())
            versions.produced[str(row["mailboxid"]).lower()] = produced
        log.info("canary.passed", profile=name, mailbox=mailbox)
        return Applied(change.address, managed={"mailbox": mailbox, "profile": name, "test": "passed"},
                       writes=1, message=f"{mailbox} passed Test & Enable")


class CanaryFailed(te.TestEnableFailed):
    """Test & Enable failed on the canary: everything that would follow it is skipped."""


def _put_back(ctx: Context, mailbox_id: str, previous: Any) -> int:
    """Return the canary to the profile it had, so a failed test leaves nothing moved."""
    if not previous:
        return 0
    ctx.dataverse.update("mailboxes", mailbox_id,
                         {"emailserverprofile@odata.bind": f"/emailserverprofiles({previous})"})
    return 1


def _choose(ctx: Context, key: str, scope: MailboxScope | None) -> str:
    """An approved mailbox Exchange says the app may reach, searched over the whole scope.

    For a group scope the group's members (every page) are matched against approved
    Dataverse mailboxes (every page) before Exchange is asked about any; for a filter or
    an administrative unit, approved mailboxes are tested one by one, up to
    :data:`MAX_TESTS`. Only the first :data:`MAX_TESTS` answers of Exchange are waited for,
    never the first 50 mailboxes of the table: a large organisation's scope may start late.
    """
    known = ctx.handoffs.get(AppIds, key)
    app = known.app_id if known else str((read_app(ctx, key) or {}).get("appId") or "")
    if not app:
        raise LookupError(f"app registration {key!r} does not exist yet; its change must apply first")
    members: set[str] | None = None
    if scope is not None and scope.group and ctx.exchange is not None:
        asked = {"Identity": scope.group, "ResultSize": "Unlimited"}
        rows = rbac.invoke(ctx, "Get-DistributionGroupMember", asked)
        members = {str(r["PrimarySmtpAddress"]).lower() for r in rows if r.get("PrimarySmtpAddress")}
    tested = 0
    for row in ctx.dataverse.query("mailboxes", select=["mailboxid", "emailaddress"],
                                   filter="emailrouteraccessapproval eq 1"):
        address = str(row.get("emailaddress") or "")
        if not address or (members is not None and address.lower() not in members):
            continue
        tested += 1
        if rbac.test_access(ctx, app, address):
            return address
        if tested >= MAX_TESTS:
            break
    where = f"the {len(members)} members of {scope.group}" if members is not None and scope else "the scope"
    raise LookupError(f"no approved mailbox among {where} is one Exchange lets the app reach "
                      f"({tested} tested); name one with mailbox_scope.canary")


KIND = CanaryKind()
