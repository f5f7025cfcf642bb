"""``mailboxes``: keep existing mailboxes on the org defaults (one aggregate resource).

Drift is found by the server: a ``$filter`` selects only mailboxes whose delivery methods
or profile differ from the defaults *as they will be after this plan* (the desired
``mailbox_defaults`` where set, else the live ones), so 50,000 conforming mailboxes cost
no transfer. Queue mailboxes never carry ACT (reference §4.1): a queue row selected only
because of its ACT value is dropped after reading. Users vs queues is decided by the
mailbox's regarding id against the (small) queue table, which works whether or not the
service returns lookup annotations.

The plan shows counts and a sample, never every row; ``detail`` keeps ids and ETags so
apply reverts exactly what was planned, each PATCH guarded by that row's ETag. State keeps
counts and a digest of the reverted ids, not one entry per mailbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import islice
from typing import Any

import structlog

from sssctl.clients.dataverse import BatchOperation
from sssctl.config.model import Desired
from sssctl.engine.kind import LIVE, NOTE, Applied, Context, KindDefaults, KindSpec, Observed, Privilege
from sssctl.engine.plan import Action, Change
from sssctl.engine.spool import Rows
from sssctl.kinds._control5 import leaving_profiles
from sssctl.kinds._mailbox_scan import (
    ADDRESS,
    COLUMNS,
    ROW_ADDRESS,
    ROW_ETAG,
    ROW_ID,
    ROW_KIND,
    ROW_PROFILE,
    census,
    drift_reasons,
    enforced,
    let_go_scan,
    reverts,
    shared_scan,
    summary,
)
from sssctl.kinds._provenance import author_of, authored_rows
from sssctl.kinds._rows import (
    Verdict,
    judge,
    read_aggregate,
    rows_after_lost_answer,
    settled_without_rows,
    unread_changes,
    write_rows,
)
from sssctl.kinds._shared import (
    ACT,
    INCOMING_EMAIL,
    OUTGOING_EMAIL,
    READ_QUEUES,
    batch_operation,
    label_of,
    profile_id_now,
    profile_name,
    read_profiles,
    rows_by_id,
)
from sssctl.kinds.handoffs import MailboxMoves, MailboxVersions

log = structlog.get_logger(__name__)


def _hand_over(ctx: Context, target: Mapping[str, Any], found: Mapping[str, Any]) -> None:
    """Tell the profiles' guards how far the revert reaches (:class:`MailboxMoves`)."""
    methods = (target["incoming"], target["outgoing"], target["act"])
    ctx.handoffs.put(ADDRESS, MailboxMoves(
        to_profile=str(target["profile_name"]) if target["profile_name"] else None,
        stops_sync=methods == (INCOMING_EMAIL["none"], OUTGOING_EMAIL["none"], ACT["none"]),
        reverted=dict(found.get("moved_from") or {}),
        leaving=dict(found.get("leaving") or {}),
    ))


def _etag_of(row: list[Any], ours: MailboxVersions | None) -> str | None:
    """The planned ETag, or the one our own earlier write of the row produced (the canary's)."""
    if ours is not None and str(row[ROW_ID]).lower() in ours.produced:
        return ours.produced[str(row[ROW_ID]).lower()]
    return str(row[ROW_ETAG]) if row[ROW_ETAG] else None


def _recheck(ctx: Context, rows: list[list[Any]], detail: Mapping[str, Any], profile_id: str | None,
             ours: MailboxVersions | None) -> list[Verdict]:
    """Rows of a chunk whose answer was lost, read back by id and judged (:func:`judge`).

    A row took effect when it no longer differs from what the change writes, judged as the
    scan judges drift (queue mailboxes have no ACT); the resend is guarded by the ETag the
    write was, the planned one or the one our canary's write produced.
    """
    target = {key: detail.get(key) for key in ("incoming", "outgoing", "act", "profile_name")}
    target["profile_id"] = profile_id.lower() if profile_id else None
    live = rows_by_id(ctx, "mailboxes", "mailboxid", (str(row[ROW_ID]) for row in rows), COLUMNS[1:],
                      per_query=len(rows))

    def guards(row: list[Any]) -> set[str]:
        produced = ours.produced.get(str(row[ROW_ID]).lower()) if ours is not None else None
        return {str(etag) for etag in (row[ROW_ETAG], produced) if etag}

    return judge(rows, live, row_id=lambda row: str(row[ROW_ID]), guards=guards,
                 holds=lambda row, found: not drift_reasons(found, row[ROW_KIND] == "user", target))


class MailboxesKind(KindDefaults):
    spec = KindSpec(
        name="mailboxes",
        prefix=ADDRESS,
        after=("mailbox_defaults", "canary"),
        privileges=(Privilege("prvReadMailbox", "read mailboxes"), READ_QUEUES,
                    Privilege("prvWriteMailbox", "update mailboxes", only_if=reverts)),
    )

    def addresses(self, desired: Desired) -> list[str]:
        return [ADDRESS] if enforced(desired) else []

    def read(self, ctx: Context) -> Observed:
        def scan_once() -> tuple[dict[str, Any], dict[str, Any]]:
            target, found = shared_scan(ctx)
            _hand_over(ctx, target, found)
            return found, {"target": target}

        def let_go() -> tuple[dict[str, Any], dict[str, Any]]:
            found, extra = let_go_scan(ctx)
            _hand_over(ctx, extra["target"], found)
            return found, extra

        if ctx.census and not enforced(ctx.desired):
            return read_aggregate(ctx, ADDRESS, managed=True, what="mailboxes",
                                  scan=lambda: ({"census": census(ctx)}, {}))
        if not enforced(ctx.desired) and ADDRESS in ctx.state and leaving_profiles(ctx):
            return read_aggregate(ctx, ADDRESS, managed=True, what="mailboxes", scan=let_go)
        return read_aggregate(ctx, ADDRESS, managed=enforced(ctx.desired), what="mailboxes", scan=scan_once)

    def diff(self, desired: Desired, observed: Observed) -> list[Change]:
        """The policy's change over the rows read, and an unknown one per row that was not."""
        changes = self._diff(desired, observed)
        found = observed.objects.get(ADDRESS)
        return changes + unread_changes(ADDRESS, found, "mailbox") if found else changes

    def _diff(self, desired: Desired, observed: Observed) -> list[Change]:
        let_go = "no longer enforced; mailboxes keep their current settings"
        if "let_go" in observed.extra and ADDRESS not in observed.errors:
            return [self._leave(observed, let_go)]
        early = settled_without_rows(ADDRESS, observed, managed=enforced(desired), let_go=let_go)
        policy, found = desired.mailboxes, observed.objects.get(ADDRESS)
        if early is not None or policy is None or found is None:
            return early or []
        before = summary(found)
        target = observed.extra["target"]
        after = {"drifted": 0, "defaults": target["labels"], "scope": policy.scope}
        if before["drifted"] == 0:
            return [Change(ADDRESS, Action.NOOP, before, after, "every mailbox in scope is on the defaults")]
        if policy.enforce == "report":
            return [
                Change(
                    ADDRESS,
                    Action.NOOP,
                    before,
                    None,
                    f"report only: {before['drifted']} mailboxes differ from the defaults (not changed)",
                    report_only=True,
                    sample=tuple(before["sample"]),
                )
            ]
        detail = {
            "rows": found["rows"],
            "incoming": target["incoming"],
            "outgoing": target["outgoing"],
            "act": target["act"],
            "profile_name": target["profile_name"],
            "moved_from": found["moved_from"],
            "policy": {"enforce": policy.enforce, "scope": policy.scope, "exclude": sorted(policy.exclude)},
        }
        reason = f"revert {before['drifted']} mailboxes to the defaults"
        return [Change(ADDRESS, Action.UPDATE, before, after, reason, None, detail)]

    def _leave(self, observed: Observed, let_go: str) -> Change:
        """The policy's last change: move mailboxes off the profiles this plan deletes, then forget."""
        found = observed.objects.get(ADDRESS) or {}
        if not found.get("rows"):
            return Change(ADDRESS, Action.NOOP, None, None, let_go, forget=True)
        before = summary(found)
        target = observed.extra["target"]
        profiles = ", ".join(observed.extra["let_go"])
        reason = (
            f"no longer enforced: {before['drifted']} mailboxes on {profiles}, which this plan deletes, "
            f"move to {target['profile_name']!r} (the organization default after this plan) keeping "
            "their delivery methods; every other mailbox keeps its settings"
        )
        after = {"drifted": 0, "defaults": {"server_profile": target["profile_name"]}}
        detail = {"rows": found["rows"], "incoming": None, "outgoing": None, "act": None,
                  "profile_name": target["profile_name"], "moved_from": found.get("moved_from", {})}
        return Change(ADDRESS, Action.UPDATE, before, after, reason, None, detail, restore=True,
                      sample=tuple(before["sample"]))

    def apply(self, ctx: Context, change: Change) -> Applied:
        rows: Rows = change.detail["rows"]  # streamed from the plan's spool (or a saved plan's list)
        ours = ctx.handoffs.get(MailboxVersions, "mailboxes")
        profile_name = change.detail.get("profile_name")
        profile_id = profile_id_now(ctx, str(profile_name)) if profile_name else None
        outcome = write_rows(
            ctx,
            rows,
            lambda row: self._operation(row, change.detail, profile_id, _etag_of(row, ours)),
            label="revert mailboxes",
            row_id=lambda row: str(row[ROW_ID]),
            row_name=lambda row: str(row[ROW_ADDRESS]),
            recheck=lambda chunk: _recheck(ctx, chunk, change.detail, profile_id, ours),
        )
        reverted = outcome.written
        log.info("mailboxes.reverted", reverted=len(reverted), conflicts=len(outcome.conflicts),
                 failed=len(outcome.failures))
        outcome.raise_unless_clean(f"reverted {len(reverted)} mailboxes")
        if change.restore:
            return Applied(ADDRESS, managed=None, writes=len(rows),
                           message=f"moved {len(reverted)} mailboxes off the deleted profile")
        managed = {**change.detail["policy"], "reverted": len(reverted), "digest": reverted.digest()}
        return outcome.applied(ADDRESS, managed, done=f"reverted {len(reverted)} mailboxes", total=len(rows))

    def after_lost_answer(self, ctx: Context, planned: Change, fresh: Change) -> tuple[Change, list[str]]:
        ours = ctx.handoffs.get(MailboxVersions, "mailboxes")
        return rows_after_lost_answer(planned, fresh, name=lambda row: str(row[ROW_ADDRESS]),
                                      ours=ours.produced if ours else None)

    def _operation(self, row: list[Any], detail: Mapping[str, Any], profile_id: str | None,
                   etag: str | None) -> BatchOperation:
        body: dict[str, Any] = {}
        if detail.get("incoming") is not None:
            body["incomingemaildeliverymethod"] = detail["incoming"]
        if detail.get("outgoing") is not None:
            body["outgoingemaildeliverymethod"] = detail["outgoing"]
        if row[ROW_KIND] == "user" and detail.get("act") is not None:
            body["actdeliverymethod"] = detail["act"]
        if profile_id is not None:
            body["emailserverprofile@odata.bind"] = f"/emailserverprofiles({profile_id})"
            if row[ROW_PROFILE]:
                body["testemailconfigurationscheduled"] = True
        headers = {"If-Match": etag or "*"}
        return batch_operation("PATCH", f"mailboxes({row[ROW_ID]})", body, headers)

    def drifted_rows(self, ctx: Context, change: Change, limit: int) -> list[dict[str, Any]]:
        """The first ``limit`` planned rows as drift records: old and new values, who, when.

        Read before the revert (after it, ``modifiedby`` names sssctl). New values are the
        ones this change writes; a field already right is left out of both sides.
        """
        planned = list(islice(change.detail["rows"], limit))
        found = authored_rows(ctx, "mailboxes", "mailboxid", (str(r[ROW_ID]) for r in planned),
                              select=COLUMNS[1:])
        profiles = read_profiles(ctx)
        wanted = {"incoming_email": label_of(INCOMING_EMAIL, change.detail.get("incoming")),
                  "outgoing_email": label_of(OUTGOING_EMAIL, change.detail.get("outgoing")),
                  "appointments_contacts_tasks": label_of(ACT, change.detail.get("act")),
                  "server_profile": change.detail.get("profile_name")}
        records = []
        for row in planned:
            live = found.get(str(row[ROW_ID]).lower())
            if live is None:  # gone since the scan: nothing to say about it
                continue
            now = {"incoming_email": label_of(INCOMING_EMAIL, live.get("incomingemaildeliverymethod")),
                   "outgoing_email": label_of(OUTGOING_EMAIL, live.get("outgoingemaildeliverymethod")),
                   "appointments_contacts_tasks": label_of(ACT, live.get("actdeliverymethod")),
                   "server_profile": profile_name(profiles, live.get("_emailserverprofile_value"))}
            moved = [f for f, value in wanted.items()
                     if value is not None and str(now[f]).lower() != str(value).lower()
                     and (row[ROW_KIND] == "user" or f != "appointments_contacts_tasks")]  # queues: no ACT
            records.append({"row": str(row[ROW_ID]), "name": str(row[ROW_ADDRESS]),
                            "old": {f: now[f] for f in moved}, "new": {f: wanted[f] for f in moved},
                            **author_of(live)})
        return records

    def describe(self, observed: Observed) -> dict[str, Any]:
        """A report-only policy over the mailboxes that exist: exporting never proposes reverts."""
        found = observed.objects.get(ADDRESS) or {}
        kinds = found.get("census")
        if kinds is None:
            return {}
        scope = "all" if kinds["users"] and kinds["queues"] else "queues" if kinds["queues"] else "users"
        section: dict[str, Any] = {"enforce": "report", "scope": scope}
        section[NOTE] = ['"report" lists mailboxes that differ from the defaults; "defaults" reverts them.']
        section[LIVE] = {"distribution": kinds.get("distribution", {})}
        return {"mailboxes": section}



KIND = MailboxesKind()
