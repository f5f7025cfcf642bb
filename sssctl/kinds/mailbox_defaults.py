"""``mailbox_defaults``: what new mailboxes get — ``organization.defaultemailsettings``
(three delivery methods) and ``defaultemailserverprofileid``.

The profile is compared by name, because a custom profile named here may only be created
earlier in the same apply; its id is resolved when the change is applied. The XML has no
server-side merge, so the whole string is rewritten, editing only the managed elements'
text.
"""

from __future__ import annotations

from typing import Any

import structlog

from sssctl.config.model import Desired
from sssctl.engine.kind import Applied, AuditCheck, Context, KindDefaults, KindSpec, Observed, Rule
from sssctl.engine.plan import Action, Change
from sssctl.kinds._defaults_reads import (
    ADDRESS,
    ELEMENTS,
    FIELDS,
    live_defaults,
    managed_fields,
    restored_fields,
    same,
    wanted_profile,
)
from sssctl.kinds._shared import (
    READ_ORGANIZATION,
    READ_PROFILES,
    WRITE_ORGANIZATION,
    profile_id_now,
    write_organization,
)
from sssctl.kinds._xml import XmlValueError, replace_elements

log = structlog.get_logger(__name__)


AUDIT_CHECKS = (
    AuditCheck(
        "low", "new mailboxes do not default to server-side synchronization",
        Rule("SSS008", "NewMailboxesNotOnServerSideSync", "New mailboxes do not default to server-side sync",
             "The organization's defaults for new mailboxes do not use server-side synchronization.",
             "Set the `[mailbox_defaults]` methods to \"server_side_sync\" and run `sssctl apply`."),
        address="mailbox_defaults", config_key=("mailbox_defaults",),
    ),
)


class MailboxDefaultsKind(KindDefaults):
    spec = KindSpec(
        name="mailbox_defaults",
        checks=AUDIT_CHECKS,
        prefix=ADDRESS,
        after=("server_profile_custom", "canary"),
        privileges=(READ_ORGANIZATION, WRITE_ORGANIZATION, READ_PROFILES),
    )

    def addresses(self, desired: Desired) -> list[str]:
        return [ADDRESS] if managed_fields(desired.mailbox_defaults) else []

    def read(self, ctx: Context) -> Observed:
        recorded = {a: e for a, e in ctx.state.items() if a == ADDRESS}
        if not managed_fields(ctx.desired.mailbox_defaults) and not recorded:
            return Observed(objects={})
        try:
            live, facts = live_defaults(ctx)
        except XmlValueError as exc:
            return Observed(objects={}, errors={ADDRESS: str(exc)}, recorded=recorded)
        return Observed(
            objects={ADDRESS: live}, etags={ADDRESS: facts["etag"]}, recorded=recorded, extra=facts
        )

    def diff(self, desired: Desired, observed: Observed) -> list[Change]:
        if ADDRESS in observed.errors:
            return [Change(ADDRESS, Action.UNKNOWN, None, None, observed.errors[ADDRESS])]
        live = observed.objects.get(ADDRESS)
        if live is None:
            return []
        wanted = managed_fields(desired.mailbox_defaults)
        restore = False
        returning: dict[str, Any] = {}
        if wanted:
            if "server_profile" in wanted:
                wanted["server_profile"] = wanted_profile(
                    wanted["server_profile"], observed.extra.get("builtin_name")
                )
            returning = restored_fields(desired, observed.recorded.get(ADDRESS))
            wanted.update(returning)
        elif ADDRESS in observed.recorded:
            original = observed.recorded[ADDRESS].get("original") or {}
            wanted = {f: v for f, v in original.items() if f in FIELDS and v is not None}
            restore = True
        else:
            return []
        before = {field: live.get(field) for field in wanted}
        differing = [field for field in wanted if not same(field, before[field], wanted[field])]
        if not differing:
            reason = "no longer managed; already original" if restore else "already set"
            return [
                Change(
                    ADDRESS, Action.NOOP, before, wanted, reason, forget=restore
                )
            ]
        return [self._update(observed, before, wanted, differing, restore, returning=sorted(returning))]

    def _update(
        self,
        observed: Observed,
        before: dict[str, Any],
        after: dict[str, Any],
        differing: list[str],
        restore: bool,
        *,
        returning: list[str],
    ) -> Change:
        elements = {
            ELEMENTS[field][0]: str(ELEMENTS[field][1][after[field]])
            for field in differing
            if field in ELEMENTS
        }
        detail: dict[str, Any] = {
            "organization_id": observed.extra.get("organization_id"),
        }
        if elements:
            detail["defaultemailsettings"] = replace_elements(observed.extra.get("xml"), elements)
        if "server_profile" in differing:
            detail["server_profile"] = after["server_profile"]
        reason = (
            "no longer managed: restore the original defaults" if restore else "org mailbox defaults differ"
        )
        if "server_profile" in differing and (restore or "server_profile" in returning):
            reason += (
                f"; new mailboxes go back to {after['server_profile']!r}, the profile they had before "
                f"sssctl, and leave {before.get('server_profile')!r}"
            )
        if returning:
            detail["no_longer_managed"] = returning
        return Change(ADDRESS, Action.UPDATE, before, after, reason, observed.etags.get(ADDRESS), detail,
                      restore=restore)

    def apply(self, ctx: Context, change: Change) -> Applied:
        body: dict[str, Any] = {}
        if "defaultemailsettings" in change.detail:
            body["defaultemailsettings"] = change.detail["defaultemailsettings"]
        if "server_profile" in change.detail:
            profile_id = profile_id_now(ctx, str(change.detail["server_profile"]))
            body["defaultemailserverprofileid@odata.bind"] = f"/emailserverprofiles({profile_id})"
        write_organization(ctx, str(change.detail["organization_id"]), body, change.etag)
        log.info("mailbox_defaults.written", fields=sorted(body))
        let_go = set(change.detail.get("no_longer_managed") or ())
        after = change.after or {}
        managed = None if change.restore else {k: v for k, v in after.items() if k not in let_go}
        return Applied(ADDRESS, managed=managed, writes=1, message="updated")

    def describe(self, observed: Observed) -> dict[str, Any]:
        """The org defaults; the built-in profile is called "default", as the config calls it."""
        live = observed.objects.get(ADDRESS)
        if not live:
            return {}
        section = {f: live[f] for f in FIELDS if live.get(f) is not None}
        builtin = str(observed.extra.get("builtin_name") or "").strip().lower()
        if builtin and str(section.get("server_profile", "")).strip().lower() == builtin:
            section["server_profile"] = "default"
        return {"mailbox_defaults": section} if section else {}



KIND = MailboxDefaultsKind()
