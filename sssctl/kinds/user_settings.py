"""``user_settings``: every user's incoming email filtering method (one aggregate resource).

The server selects only the users that differ (``incomingemailfilteringmethod ne <v>``).
Disabled users and application users are left alone: they do not track email, and
touching them only costs writes. They are found with one small ``systemusers`` query
(``isdisabled eq true or applicationid ne null``, typically a few rows) rather than a
join. State keeps counts and a digest, never one entry per user.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from itertools import islice
from typing import Any

import structlog

from sssctl.clients.dataverse import BatchOperation
from sssctl.config.model import Desired
from sssctl.engine.kind import (
    LIVE,
    NOTE,
    Applied,
    AuditCheck,
    Context,
    KindDefaults,
    KindSpec,
    Observed,
    Privilege,
    Rule,
)
from sssctl.engine.plan import Action, Change
from sssctl.engine.spool import Rows, RowSpool
from sssctl.kinds._provenance import author_of, authored_rows
from sssctl.kinds._rows import (
    SAMPLE_SIZE,
    UnreadRows,
    Verdict,
    judge,
    read_aggregate,
    reading,
    rows_after_lost_answer,
    settled_without_rows,
    unread_changes,
    write_rows,
)
from sssctl.kinds._shared import (
    INCOMING_FILTERING,
    PAGE_SIZE,
    batch_operation,
    chunks,
    label_of,
    rows_by_id,
)

log = structlog.get_logger(__name__)

ADDRESS = "user_settings"


def is_managed(desired: Desired) -> bool:
    return desired.user_settings is not None and desired.user_settings.incoming_email_filtering is not None


def skipped_users(ctx: Context) -> dict[str, str]:
    """Disabled and application users: id -> a name for messages."""
    rows = ctx.dataverse.query(
        "systemusers",
        select=["systemuserid", "domainname"],
        filter="isdisabled eq true or applicationid ne null",
        page_size=PAGE_SIZE,
    )
    return {str(r["systemuserid"]).lower(): str(r.get("domainname") or r["systemuserid"]) for r in rows}


def scan(ctx: Context, value: int | None) -> dict[str, Any]:
    """Users whose filtering differs from ``value``; ``None`` (export) reads every user."""
    skipped = ctx.reads.get("skipped_users", lambda: skipped_users(ctx))
    by_current: dict[str, int] = {}
    rows = RowSpool()
    unread = UnreadRows("systemuserid", skip=lambda row: str(row["systemuserid"]).lower() in skipped)
    for row in ctx.dataverse.query(
        "usersettingscollection",
        select=["systemuserid", "incomingemailfilteringmethod"],
        filter=None if value is None else f"incomingemailfilteringmethod ne {value}",
        page_size=PAGE_SIZE, malformed_row=unread,
    ):
        user_id = str(row["systemuserid"])
        if user_id.lower() in skipped:
            continue
        label = label_of(INCOMING_FILTERING, row.get("incomingemailfilteringmethod")) or "unset"
        by_current[label] = by_current.get(label, 0) + 1
        rows.append([user_id, row.get("@odata.etag")])
        reading(ctx, "read user settings", len(rows))
    return {"rows": rows, "by_current": dict(sorted(by_current.items())), "sample": sample_names(ctx, rows),
            "unread": unread.rows}


def sample_names(ctx: Context, rows: Rows) -> list[str]:
    """Sign-in names of the first few users, for the plan (one small query, not one per user)."""
    ids = heapq.nsmallest(SAMPLE_SIZE, (str(r[0]) for r in rows))
    names = user_names(ctx, ids)
    return sorted(names.get(i.lower(), i) for i in ids)


def user_names(ctx: Context, ids: Sequence[str]) -> dict[str, str]:
    """Sign-in names by lower-case user id, a query per 25 users."""
    names: dict[str, str] = {}
    for part in chunks(ids, 25):
        found = ctx.dataverse.query(
            "systemusers",
            select=["systemuserid", "domainname"],
            filter=" or ".join(f"systemuserid eq {i}" for i in part),
        )
        names.update({str(r["systemuserid"]).lower(): str(r.get("domainname") or r["systemuserid"])
                      for r in found})
    return names


def describe_distribution(by_current: Mapping[str, int]) -> dict[str, Any]:
    """The filtering method when every user has the same one; comments only when they differ.

    An export must plan with no changes against the environment it came from: writing the
    most common method would have the plan set every other user to it. When users differ
    the setting is left out (the comment says how they are spread and what setting it
    would do), and the counts stay under ``LIVE`` for ``diff`` to compare.
    """
    usable = {label: n for label, n in by_current.items() if label in INCOMING_FILTERING}
    if not usable:
        return {}
    total = sum(by_current.values())
    section: dict[str, Any] = {LIVE: {"distribution": dict(by_current)}}
    if len(by_current) == 1:
        section["incoming_email_filtering"] = next(iter(usable))
        return {"user_settings": section}
    chosen = max(sorted(usable), key=lambda label: usable[label])
    shares = ", ".join(f"{label} {n}" for label, n in sorted(by_current.items(), key=lambda p: -p[1]))
    section[NOTE] = [
        f"Users differ ({total} users: {shares}), so incoming_email_filtering is left out.",
        f'incoming_email_filtering = "{chosen}" (the most common) would set the other '
        f"{total - by_current[chosen]} users to it.",
    ]
    return {"user_settings": section}


def _recheck(ctx: Context, rows: list[list[Any]], value: int) -> list[Verdict]:
    """Users of a chunk whose answer was lost, read back by id and judged (:func:`judge`).

    A user took effect when the filtering method is the value written; the resend is
    guarded by the planned ETag.
    """
    live = rows_by_id(ctx, "usersettingscollection", "systemuserid", (str(row[0]) for row in rows),
                      ["incomingemailfilteringmethod"], per_query=len(rows))
    return judge(rows, live, row_id=lambda row: str(row[0]),
                 guards=lambda row: {str(row[1])} if row[1] else set(),
                 holds=lambda row, found: found.get("incomingemailfilteringmethod") == value)


AUDIT_CHECKS = (
    AuditCheck(
        "medium", "some users track all email (or more than email-enabled records)",
        Rule("SSS007", "UsersTrackAllEmail", "Some users track all email",
             "Users' incoming-email filtering tracks more than email from email-enabled records.",
             "Set `[user_settings] incoming_email_filtering = \"email_enabled_records\"` and run "
             "`sssctl apply`."),
        address="user_settings", config_key=("user_settings",),
    ),
)


class UserSettingsKind(KindDefaults):
    spec = KindSpec(
        name="user_settings",
        checks=AUDIT_CHECKS,
        prefix=ADDRESS,
        privileges=(Privilege("prvReadUserSettings", "read user settings"),
                    Privilege("prvReadUser", "skip disabled and application users"),
                    Privilege("prvWriteUserSettings", "update user settings")),
    )

    def addresses(self, desired: Desired) -> list[str]:
        return [ADDRESS] if is_managed(desired) else []

    def read(self, ctx: Context) -> Observed:
        policy = ctx.desired.user_settings
        wanted = policy.incoming_email_filtering if policy else None

        def scan_once() -> tuple[dict[str, Any], dict[str, Any]]:
            if ctx.census:
                return scan(ctx, None), {"census": True}
            return scan(ctx, INCOMING_FILTERING[str(wanted)]), {}

        managed = wanted is not None or ctx.census
        return read_aggregate(ctx, ADDRESS, managed=managed, what="user settings", scan=scan_once)

    def diff(self, desired: Desired, observed: Observed) -> list[Change]:
        """The policy's change over the rows read, and an unknown one per user not read."""
        changes = self._diff(desired, observed)
        found = observed.objects.get(ADDRESS)
        return changes + unread_changes(ADDRESS, found, "the settings of user") if found else changes

    def _diff(self, desired: Desired, observed: Observed) -> list[Change]:
        let_go = "no longer managed; users keep their current settings"
        early = settled_without_rows(ADDRESS, observed, managed=is_managed(desired), let_go=let_go)
        policy, found = desired.user_settings, observed.objects.get(ADDRESS)
        wanted = policy.incoming_email_filtering if policy else None
        if early is not None or wanted is None or found is None:
            return early or []
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
        reason = f"set email filtering of {len(rows)} users"
        return [Change(ADDRESS, Action.UPDATE, before, after, reason, None, detail)]

    def after_lost_answer(self, ctx: Context, planned: Change, fresh: Change) -> tuple[Change, list[str]]:
        return rows_after_lost_answer(planned, fresh, name=lambda row: str(row[0]))

    def apply(self, ctx: Context, change: Change) -> Applied:
        rows: Rows = change.detail["rows"]  # streamed from the plan's spool (or a saved plan's list)
        value = int(change.detail["value"])

        def operation(row: list[Any]) -> BatchOperation:
            user_id, etag = row
            return batch_operation(
                "PATCH",
                f"usersettingscollection({user_id})",
                {"incomingemailfilteringmethod": value},
                {"If-Match": str(etag) if etag else "*"},
            )

        outcome = write_rows(
            ctx, rows, operation, label="update user settings",
            row_id=lambda row: str(row[0]), row_name=lambda row: str(row[0]),
            recheck=lambda chunk: _recheck(ctx, chunk, value),
        )
        updated = outcome.written
        log.info("user_settings.updated", updated=len(updated), conflicts=len(outcome.conflicts),
                 failed=len(outcome.failures))
        outcome.raise_unless_clean(f"updated {len(updated)} users")
        managed = {
            "incoming_email_filtering": change.detail["label"],
            "updated": len(updated),
            "digest": updated.digest(),
        }
        return outcome.applied(ADDRESS, managed, done=f"updated {len(updated)} users", total=len(rows))

    def drifted_rows(self, ctx: Context, change: Change, limit: int) -> list[dict[str, Any]]:
        """The first ``limit`` planned users as drift records (read before the revert)."""
        ids = [str(row[0]) for row in islice(change.detail["rows"], limit)]
        found = authored_rows(ctx, "usersettingscollection", "systemuserid", ids,
                              select=["incomingemailfilteringmethod"])
        names = user_names(ctx, ids)
        records = []
        for user_id in ids:
            live = found.get(user_id.lower())
            if live is None:
                continue
            old = label_of(INCOMING_FILTERING, live.get("incomingemailfilteringmethod")) or "unset"
            records.append({"row": user_id, "name": names.get(user_id.lower(), user_id),
                            "old": {"incoming_email_filtering": old},
                            "new": {"incoming_email_filtering": change.detail["label"]}, **author_of(live)})
        return records

    def describe(self, observed: Observed) -> dict[str, Any]:
        """The most common filtering method; a comment gives the rest when users differ.

        Only a census (every user read) shows the whole distribution: a plan's reading
        holds just the users that differ, so it describes nothing.
        """
        found = observed.objects.get(ADDRESS)
        if not found or not observed.extra.get("census"):
            return {}
        return describe_distribution(found.get("by_current") or {})



KIND = UserSettingsKind()
