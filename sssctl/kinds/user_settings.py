"""``user_settings``: every user's incoming email filtering method (one aggregate resource).

The server selects only the users that differ (``incomingemailfilteringmethod ne <v>``).
Disabled users and application users are left alone: they do not track email, and
touching them only costs writes. They are found with one small ``systemusers`` query
(``isdisabled eq true or applicationid ne null``, typically a few rows) rather than a
join. State keeps counts and a digest, never one entry per user.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from sssctl.clients.dataverse import BatchOperation
from sssctl.clients.errors import PreconditionFailed
from sssctl.config.model import Desired
from sssctl.engine.plan import Action, Change
from sssctl.kinds._shared import (
    INCOMING_FILTERING,
    PAGE_SIZE,
    batch_operation,
    label_of,
    report,
    send_in_batches,
)
from sssctl.kinds.base import Applied, Context, Observed
from sssctl.kinds.mailboxes import SAMPLE_SIZE, digest

log = structlog.get_logger(__name__)

ADDRESS = "user_settings"
BATCH_SIZE = 1000


def skipped_users(ctx: Context) -> dict[str, str]:
    """Disabled and application users: id -> a name for messages."""
    rows = ctx.dataverse.query(
        "systemusers",
        select=["systemuserid", "domainname"],
        filter="isdisabled eq true or applicationid ne null",
        page_size=PAGE_SIZE,
    )
    return {str(r["systemuserid"]).lower(): str(r.get("domainname") or r["systemuserid"]) for r in rows}


def scan(ctx: Context, value: int) -> dict[str, Any]:
    skipped = skipped_users(ctx)
    by_current: dict[str, int] = {}
    rows: list[list[Any]] = []
    for row in ctx.dataverse.query(
        "usersettingscollection",
        select=["systemuserid", "incomingemailfilteringmethod"],
        filter=f"incomingemailfilteringmethod ne {value}",
        page_size=PAGE_SIZE,
    ):
        user_id = str(row["systemuserid"])
        if user_id.lower() in skipped:
            continue
        label = label_of(INCOMING_FILTERING, row.get("incomingemailfilteringmethod")) or "unset"
        by_current[label] = by_current.get(label, 0) + 1
        rows.append([user_id, row.get("@odata.etag")])
        if len(rows) % PAGE_SIZE == 0:
            report(ctx, "read user settings", len(rows), None)
    return {"rows": rows, "by_current": dict(sorted(by_current.items())), "sample": sample_names(ctx, rows)}


def sample_names(ctx: Context, rows: list[list[Any]]) -> list[str]:
    """Sign-in names of the first few users, for the plan (one small query, not one per user)."""
    ids = sorted(str(r[0]) for r in rows)[:SAMPLE_SIZE]
    if not ids:
        return []
    found = ctx.dataverse.query(
        "systemusers",
        select=["systemuserid", "domainname"],
        filter=" or ".join(f"systemuserid eq {i}" for i in ids),
    )
    names = {str(r["systemuserid"]).lower(): str(r.get("domainname") or r["systemuserid"]) for r in found}
    return sorted(names.get(i.lower(), i) for i in ids)


class UserSettingsKind:
    name = "user_settings"

    def addresses(self, desired: Desired) -> list[str]:
        managed = desired.user_settings is not None and desired.user_settings.incoming_email_filtering
        return [ADDRESS] if managed else []

    def read(self, ctx: Context) -> Observed:
        recorded = {a: e for a, e in ctx.state.items() if a == ADDRESS}
        policy = ctx.desired.user_settings
        if policy is None or policy.incoming_email_filtering is None:
            return Observed(objects={ADDRESS: {}} if recorded else {}, recorded=recorded)
        try:
            found = scan(ctx, INCOMING_FILTERING[policy.incoming_email_filtering])
        except Exception as exc:
            log.warning("user_settings.read.failed", error=str(exc))
            return Observed(
                objects={}, errors={ADDRESS: f"could not read user settings: {exc}"}, recorded=recorded
            )
        return Observed(objects={ADDRESS: found}, recorded=recorded)

    def diff(self, desired: Desired, observed: Observed) -> list[Change]:
        if ADDRESS in observed.errors:
            return [Change(ADDRESS, Action.UNKNOWN, None, None, observed.errors[ADDRESS])]
        policy = desired.user_settings
        if policy is None or policy.incoming_email_filtering is None:
            if ADDRESS in observed.recorded:
                return [
                    Change(
                        ADDRESS,
                        Action.NOOP,
                        None,
                        None,
                        "no longer managed; users keep their current settings",
                        detail={"forget": True},
                    )
                ]
            return []
        found = observed.objects.get(ADDRESS)
        if found is None:
            return []
        wanted = policy.incoming_email_filtering
        rows = found["rows"]
        before = {
            "differing": len(rows),
            "by_current": found["by_current"],
            "sample": found.get("sample", []),
        }
        after = {"incoming_email_filtering": wanted, "differing": 0}
        if not rows:
            return [Change(ADDRESS, Action.NOOP, before, after, "every user already uses this filtering")]
        detail = {"rows": rows, "value": INCOMING_FILTERING[wanted], "label": wanted}
        return [
            Change(
                ADDRESS,
                Action.UPDATE,
                before,
                after,
                f"set email filtering of {len(rows)} users",
                None,
                detail,
            )
        ]

    def apply(self, ctx: Context, change: Change) -> Applied:
        if change.detail.get("forget"):
            return Applied(ADDRESS, managed=None, message="forgotten")
        rows = [list(r) for r in change.detail["rows"]]
        value = int(change.detail["value"])
        updated: list[str] = []
        problems: list[str] = []

        def operation(row: list[Any]) -> BatchOperation:
            user_id, etag = row
            return batch_operation(
                "PATCH",
                f"usersettingscollection({user_id})",
                {"incomingemailfilteringmethod": value},
                {"If-Match": str(etag) if etag else "*"},
            )

        for (user_id, _), result in send_in_batches(
            ctx, rows, operation, label="update user settings", size=BATCH_SIZE
        ):
            if result.error is None and 200 <= int(result.status) < 300:
                updated.append(user_id)
            else:
                problems.append(f"{user_id}: {result.error or result.status}")
        log.info("user_settings.updated", updated=len(updated), failed=len(problems))
        if problems:
            raise PreconditionFailed(
                f"updated {len(updated)} users; {len(problems)} were not updated "
                "(changed since plan or refused): " + "; ".join(problems[:SAMPLE_SIZE]) + "; run plan again",
                status=412,
            )
        managed = {
            "incoming_email_filtering": change.detail["label"],
            "updated": len(updated),
            "digest": digest(updated),
        }
        return Applied(ADDRESS, managed=managed, writes=len(rows), message=f"updated {len(updated)} users")

    def describe(self, observed: Observed) -> dict[str, Any]:
        found = observed.objects.get(ADDRESS) or {}
        return {"differing": len(found.get("rows", [])), "by_current": found.get("by_current", {})}

    def guard(self, ctx: Context, changes: Sequence[Change], observed: Mapping[str, Observed]) -> list[str]:
        return []


KIND = UserSettingsKind()
