"""``approval``: the organization flags that make only approved mailboxes synchronize.

Only the keys present in ``[approval]`` are managed; the other flag is left alone so
two layered configs can own one flag each.
"""

from __future__ import annotations

from typing import Any

import structlog

from sssctl.config.model import Approval, Desired
from sssctl.engine.kind import Applied, AuditCheck, Context, KindDefaults, KindSpec, Observed, Rule
from sssctl.engine.plan import Action, Change
from sssctl.kinds._shared import (
    READ_ORGANIZATION,
    WRITE_ORGANIZATION,
    as_bool,
    etag_of,
    read_organization,
    write_organization,
)

log = structlog.get_logger(__name__)

ADDRESS = "approval"
COLUMNS = {
    "require_for_users": "requireapprovalforuseremail",
    "require_for_queues": "requireapprovalforqueueemail",
}


def managed_fields(approval: Approval | None) -> dict[str, bool]:
    if approval is None:
        return {}
    values = {
        "require_for_users": approval.require_for_users,
        "require_for_queues": approval.require_for_queues,
    }
    return {field: value for field, value in values.items() if value is not None}


AUDIT_CHECKS = (
    AuditCheck(
        "medium", "mailboxes synchronize without an administrator's approval",
        Rule("SSS005", "ApprovalNotRequired", "Mailboxes synchronize without approval",
             "The organization does not require an administrator to approve user or queue mailboxes.",
             "Set `[approval] require_for_users = true` and `require_for_queues = true`, then "
             "`sssctl apply`."),
        address="approval", config_key=("approval",),
    ),
)


class ApprovalKind(KindDefaults):
    spec = KindSpec(
        name="approval",
        checks=AUDIT_CHECKS,
        prefix=ADDRESS,
        privileges=(READ_ORGANIZATION, WRITE_ORGANIZATION),
    )

    def addresses(self, desired: Desired) -> list[str]:
        return [ADDRESS] if managed_fields(desired.approval) else []

    def read(self, ctx: Context) -> Observed:
        recorded = {a: e for a, e in ctx.state.items() if a == ADDRESS}
        if not managed_fields(ctx.desired.approval) and not recorded:
            return Observed(objects={})
        organization = read_organization(ctx)
        live = {field: as_bool(organization.get(column)) for field, column in COLUMNS.items()}
        return Observed(
            objects={ADDRESS: live},
            etags={ADDRESS: etag_of(organization)},
            recorded=recorded,
            extra={"organization_id": organization.get("organizationid")},
        )

    def diff(self, desired: Desired, observed: Observed) -> list[Change]:
        wanted = managed_fields(desired.approval)
        if ADDRESS in observed.errors:
            return [Change(ADDRESS, Action.UNKNOWN, None, None, observed.errors[ADDRESS])]
        live = observed.objects.get(ADDRESS)
        if live is None:
            return []
        detail = {"organization_id": observed.extra.get("organization_id")}
        etag = observed.etags.get(ADDRESS)
        if wanted:
            before = {field: live.get(field) for field in wanted}
            if before == wanted:
                return [Change(ADDRESS, Action.NOOP, before, wanted, "already set")]
            return [
                Change(ADDRESS, Action.UPDATE, before, wanted, "approval requirement differs", etag, detail)
            ]
        if ADDRESS not in observed.recorded:
            return []
        original = {
            field: value
            for field, value in (observed.recorded[ADDRESS].get("original") or {}).items()
            if field in COLUMNS and value is not None
        }
        before = {field: live.get(field) for field in original}
        if before == original:
            return [
                Change(
                    ADDRESS,
                    Action.NOOP,
                    before,
                    original,
                    "no longer managed; already original",
                    forget=True,
                )
            ]
        return [
            Change(
                ADDRESS,
                Action.UPDATE,
                before,
                original,
                "no longer managed: restore the original values",
                etag,
                detail,
                restore=True,
            )
        ]

    def apply(self, ctx: Context, change: Change) -> Applied:
        after = dict(change.after or {})
        body = {COLUMNS[field]: bool(value) for field, value in after.items()}
        write_organization(ctx, str(change.detail["organization_id"]), body, change.etag)
        log.info("approval.written", fields=sorted(after))
        managed = None if change.restore else after
        return Applied(ADDRESS, managed=managed, writes=1, message="updated")

    def describe(self, observed: Observed) -> dict[str, Any]:
        live = observed.objects.get(ADDRESS) or {}
        section = {k: v for k, v in live.items() if v is not None}
        return {"approval": section} if section else {}



KIND = ApprovalKind()
