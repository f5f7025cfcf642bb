"""What the two aggregate kinds (``mailboxes``, ``user_settings``) share.

Each is one address standing for thousands of rows: the server finds the rows that
differ, the plan shows counts and a sample, apply reverts exactly the planned rows in
``$batch`` chunks guarded by each row's ETag, and state keeps counts and a digest of the
ids, never one entry per row. Keeping that cycle in one place means a fix to conflict
reporting or progress reaches both kinds at once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import structlog

from sssctl.clients.dataverse import BatchOperation, BatchResult
from sssctl.clients.errors import ClientError, MalformedReply, PreconditionFailed
from sssctl.clients.models import GUID_PATTERN
from sssctl.clients.models.dataverse import batch_status_ok
from sssctl.engine.kind import Applied, Context, Observed
from sssctl.engine.plan import Action, Change
from sssctl.engine.spool import Rows, RowSpool
from sssctl.errors import WriteOutcomeUnknown
from sssctl.kinds._shared import LOST, PAGE_SIZE, etag_of, report, send_in_batches

log = structlog.get_logger(__name__)

SAMPLE_SIZE = 10    # rows named in plans and refusals
# Operations per $batch request, chosen for wall time, not request count. Each operation
# costs the service server time (about 10 ms for a mailbox PATCH) and a batch runs its
# operations one after another, so a 1,000-operation batch holds one of the 52 concurrent
# slots for 10 s and the writes finish in rounds of ten seconds. With 100 operations a
# batch takes about a second, every slot stays busy, and the last round ends close to the
# floor (writes x 10 ms / 52). Measured on W1 (bench/w1.py: 24,397 writes, floor about
# 6 s): 1,000 -> 21.8 s, 250 -> 14.3 s, 100 -> 8.1 s, 50 -> 7.0 s, 25 -> 9.4 s (the
# client's own work per request starts to show). Each batch in flight also holds its
# operations, encoded body and answer: at 52 in flight, 50 operations instead of 100
# keep the peak memory about 10 MiB lower. 50 doubles the requests of 100, which stays
# far inside the service's 6,000 per user per 5 minutes (97,525 writes: 1,951 requests).
BATCH_SIZE = 50
# A smaller write is spread over every slot the cap allows, down to this many rows per
# batch. In full batches, 2,400 writes are 48 half-second batches, and concurrency,
# starting at the environment's hint (4), needs three rounds to reach them all; at 24
# rows the rounds last half as long and the ramp is over sooner. The number of requests
# stays bounded by the cap, so the request budget is not at stake.
MIN_BATCH_SIZE = 10
_DIGEST_MODULUS = 2 ** 256
_GUID = re.compile(GUID_PATTERN)


def batch_size(rows: int, width: int) -> int:
    """Rows per ``$batch``: ``BATCH_SIZE``, or fewer when that leaves slots without a batch."""
    return min(BATCH_SIZE, max(MIN_BATCH_SIZE, math.ceil(rows / max(1, width))))


def digest(ids: Iterable[str]) -> str:
    """Which rows were written, in 64 characters: state must not grow with the table."""
    written = WrittenIds()
    for row_id in ids:
        written.append(row_id)
    return written.digest()


def reading(ctx: Context, label: str, count: int) -> None:
    """Progress while streaming rows: a tick per page, not per row."""
    if count % PAGE_SIZE == 0:
        report(ctx, label, count, None)


def read_aggregate(
    ctx: Context, address: str, *, managed: bool, what: str, scan: Callable[[], tuple[Any, Mapping[str, Any]]]
) -> Observed:
    """The kind's reading: ``scan()`` gives (found, extra); a failure makes the address unknown.

    When the config no longer manages the address but state remembers it, an empty
    object stands in so the diff can offer to forget it.
    """
    recorded = {a: e for a, e in ctx.state.items() if a == address}
    if not managed:
        return Observed(objects={address: {}} if recorded else {}, recorded=recorded)
    try:
        found, extra = scan()
    except Exception as exc:
        log.warning(f"{address}.read.failed", error=str(exc))
        return Observed(objects={}, errors={address: f"could not read {what}: {exc}"}, recorded=recorded)
    return Observed(objects={address: found}, recorded=recorded, extra=extra)


def settled_without_rows(
    address: str, observed: Observed, *, managed: bool, let_go: str
) -> list[Change] | None:
    """The diff when no row needs comparing: unreadable, unmanaged or not found.

    ``None`` means the rows decide. ``let_go`` tells the user what happens to the rows
    when the policy leaves the config (nothing: they keep their current values).
    """
    if address in observed.errors:
        return [Change(address, Action.UNKNOWN, None, None, observed.errors[address])]
    if not managed:
        if address in observed.recorded:
            return [Change(address, Action.NOOP, None, None, let_go, forget=True)]
        return []
    if observed.objects.get(address) is None:
        return []
    return None




class UnreadRows:
    """Rows that failed their reply model but still say which object they are.

    Each such row is one object whose values are unknown: it becomes an ``unknown``
    change of its own (``mailboxes["<id>"]``), named in the plan, while the other rows are
    planned as usual. The plan is still incomplete (exit 3), and an incomplete plan is
    never applied, so the unknown object is never written and nothing waits on a guess.
    A row that does not give a usable id, or more than :data:`SAMPLE_SIZE` bad rows, fails
    the read as a whole: that is no longer one bad row but an answer not to be trusted.
    ``skip`` says whether a row is none of this kind's business (an excluded mailbox, a
    disabled user), judged only from the row's own well-formed columns.
    """

    def __init__(self, id_column: str, *, name: Callable[[Mapping[str, Any]], str | None] = lambda row: None,
                 skip: Callable[[Mapping[str, Any]], bool] = lambda row: False) -> None:
        self.id_column, self.name, self.skip = id_column, name, skip
        self.rows: list[dict[str, str]] = []

    def __call__(self, row: Any, problem: MalformedReply) -> None:
        row_id = row.get(self.id_column) if isinstance(row, Mapping) else None
        if not isinstance(row_id, str) or not _GUID.match(row_id):
            raise problem
        if self.skip(row):
            return
        name = self.name(row)
        self.rows.append({"id": row_id.lower(), "name": name if isinstance(name, str) and name.strip()
                          else row_id.lower(), "why": str(problem)})
        if len(self.rows) > SAMPLE_SIZE:
            named = ", ".join(r["name"] for r in self.rows[:3])
            raise MalformedReply(f"{len(self.rows)} or more rows failed their reply model ({named}, ...); "
                                 f"the answer as a whole is not trusted. First: {problem}",
                                 service="dataverse")


def unread_changes(address: str, found: Mapping[str, Any], what: str) -> list[Change]:
    """One ``unknown`` change per row :class:`UnreadRows` kept, addressed by the row's id."""
    return [Change(f'{address}["{row["id"]}"]', Action.UNKNOWN, None, None,
                   f"could not read {what} {row['name']}: {row['why']}") for row in found.get("unread") or []]


class WrittenIds:
    """How many rows were written, and which (as a digest), kept as the answers come.

    Nothing per row is kept: neither a list of ids nor a buffer of them. A list pins the
    memory of every chunk its strings were decoded with, and a growing buffer leaves a
    trail of freed, ever larger copies the allocator does not give back; either way a
    run's memory grew with the rows written. The digest is the sum, modulo 2**256, of each
    lower-cased id's SHA-256: independent of the order the answers arrive in, computed in
    one pass. It identifies the set of rows written for a human comparing two runs; it is
    not a security check.
    """

    def __init__(self) -> None:
        self._sum = 0
        self._count = 0

    def append(self, row_id: str) -> None:
        hashed = hashlib.sha256(row_id.lower().encode("utf-8")).digest()
        self._sum = (self._sum + int.from_bytes(hashed, "big")) % _DIGEST_MODULUS
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def digest(self) -> str:
        return f"{self._sum:064x}"


@dataclass
class Outcome:
    """How the planned rows fared: written, changed by someone else since the plan, or failed."""

    written: WrittenIds = field(default_factory=WrittenIds)
    conflicts: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    unsent: int = 0     # rows never sent because the run was asked to stop
    lost: int = 0       # rows whose answer was lost: a fresh read settles them

    def applied(self, address: str, managed: Mapping[str, Any], *, done: str, total: int) -> Applied:
        """What state records: everything written, and whether the run stopped part-way."""
        if self.unsent:
            message = f"stopped: {done} ({total} planned); run apply again to finish the rest"
            return Applied(address, managed=managed, writes=total - self.unsent, message=message,
                           complete=False)
        return Applied(address, managed=managed, writes=total, message=done)

    def refusal(self, done: str) -> str:
        """``done`` says what was written, e.g. ``"reverted 12 mailboxes"``."""
        parts = [done]
        if self.conflicts:
            parts.append(
                f"{len(self.conflicts)} changed since plan and were left alone "
                f"({', '.join(sorted(self.conflicts)[:SAMPLE_SIZE])}); run plan again"
            )
        if self.failures:
            parts.append(f"{len(self.failures)} failed ({'; '.join(self.failures[:SAMPLE_SIZE])})")
        return "; ".join(parts)

    def raise_unless_clean(self, done: str) -> None:
        """Any row not written fails the change, so its kind counts as not applied.

        Rows whose answer was lost come first: the engine reads them back and decides each
        (:func:`rows_after_lost_answer`), conflicts included. Then rows the service
        refused for any other reason (a 403, a 400, a 5xx left after retries) fail the
        change as :class:`RowsFailed`; only when every unwritten row was changed since the
        plan is it the 412 the service answered (``refused``: run plan again).
        """
        if self.lost:
            raise WriteOutcomeUnknown(f"{done}; the answers for {self.lost} rows were lost")
        if self.failures:
            raise RowsFailed(self.refusal(done))
        if self.conflicts:
            raise PreconditionFailed(self.refusal(done), status=412)


class RowsFailed(Exception):
    """Some rows of an aggregate change were refused for a reason other than a changed row."""


class Verdict(Enum):
    """What a read-back says of one row whose write's answer was lost."""

    RESEND = "resend"           # still the version the write was guarded with: it did not take effect
    IN_EFFECT = "in_effect"     # holds what the write sets: it took effect
    CHANGED = "changed"         # gone, or other values under another version: someone else's doing


# Reads a lost chunk's rows back and judges each (:func:`judge`); raises when it cannot read.
Recheck = Callable[[list[Any]], list[Verdict]]


def judge(
    rows: list[Any], live: Mapping[str, Mapping[str, Any]], *, row_id: Callable[[list[Any]], str],
    guards: Callable[[list[Any]], set[str]], holds: Callable[[list[Any], Mapping[str, Any]], bool],
) -> list[Verdict]:
    """Per row of a chunk whose answer was lost, what the read-back ``live`` (by lower-case id) shows.

    Decided only from what was read, never guessed: the row's ETag is one the write was
    guarded with (``guards``: the planned one, or one our own earlier write produced), so
    the write did not take effect and is sent again; else its values are what the write
    sets (``holds``, the kind's own comparison), so it took effect; else it is gone or was
    changed to other values by someone else, and is left alone. A row written without a
    version (``If-Match: *``) has no ETag to compare: unless it holds the values, it is
    sent again, as its first write was, unguarded.
    """
    verdicts = []
    for row in rows:
        found = live.get(row_id(row).lower())
        expected = guards(row)
        if found is None:
            verdicts.append(Verdict.CHANGED)
        elif expected and etag_of(found) in expected:
            verdicts.append(Verdict.RESEND)
        elif holds(row, found):
            verdicts.append(Verdict.IN_EFFECT)
        else:
            verdicts.append(Verdict.CHANGED if expected else Verdict.RESEND)
    return verdicts


def settle_lost_chunk(
    ctx: Context, rows: list[Any], lost: list[BatchResult], *, recheck: Recheck,
    operation: Callable[[list[Any]], BatchOperation], size: int,
) -> list[BatchResult]:
    """The answers for a chunk whose ``$batch`` answer was lost, settled by reading its rows back.

    Runs in the worker thread that sent the chunk, while the other chunks keep flowing:
    one GET for the chunk's rows (``recheck``), then one ``$batch`` for the rows whose
    write did not take effect, guarded by the same ETag. Rows that took effect answer as
    written, rows someone else changed as a 412 (named, left alone). Whatever this cannot
    settle keeps its :data:`~sssctl.kinds._shared.LOST` answer, and the engine's fresh read
    of the whole kind settles it after the bulk (:mod:`sssctl.engine.reconcile`): the read-back
    failing, the resend's answer lost again, or the resend refused with 412 (which may be
    the first attempt landing late rather than someone else's edit).
    """
    if ctx.stop.is_set():
        return lost
    try:
        verdicts = recheck(rows)
    except (ClientError, WriteOutcomeUnknown) as exc:
        log.info("apply.answer_lost.recheck_failed", rows=len(rows), error=str(exc))
        return lost
    answers = list(lost)
    for i, verdict in enumerate(verdicts):
        op = lost[i].operation
        if verdict is Verdict.IN_EFFECT:
            answers[i] = BatchResult(op, 204, None, {}, None)
        elif verdict is Verdict.CHANGED:
            refused = PreconditionFailed("gone or changed by someone else since the plan read it (read back "
                                         "after the answer to its write was lost)", status=412,
                                         method=op.method.upper(), url=op.url)
            answers[i] = BatchResult(op, 412, None, {}, refused)
    again = [i for i, verdict in enumerate(verdicts) if verdict is Verdict.RESEND]
    if again:
        try:
            resent = ctx.dataverse.batch([operation(rows[i]) for i in again], continue_on_error=True,
                                         max_per_batch=size)
        except (ClientError, WriteOutcomeUnknown) as exc:
            log.info("apply.answer_lost.resend_failed", rows=len(again), error=str(exc))
        else:
            for i, result in zip(again, resent, strict=True):
                answers[i] = lost[i] if int(result.status) in (LOST, 412) else result
    log.warning("apply.answer_lost.settled_in_place", rows=len(rows), resent=len(again),
                took_effect=verdicts.count(Verdict.IN_EFFECT),
                changed_by_others=verdicts.count(Verdict.CHANGED),
                still_unknown=sum(1 for a in answers if int(a.status) == LOST))
    return answers


def write_rows(
    ctx: Context,
    rows: Rows,
    operation: Callable[[list[Any]], BatchOperation],
    *,
    label: str,
    row_id: Callable[[list[Any]], str],
    row_name: Callable[[list[Any]], str],
    recheck: Recheck | None = None,
) -> Outcome:
    """Send one guarded PATCH per planned row (``--parallelism`` chunks at once) and sort the answers.

    With ``recheck`` a chunk whose answer is lost is settled at once by its own thread
    (:func:`settle_lost_chunk`); without it, or for what that leaves unknown, its rows
    count as lost and the engine settles them after every chunk is done.
    """
    outcome = Outcome()
    answered = 0
    size = batch_size(len(rows), ctx.parallelism)

    def on_lost(chunk: list[Any], lost: list[BatchResult]) -> list[BatchResult]:
        assert recheck is not None
        return settle_lost_chunk(ctx, chunk, lost, recheck=recheck, operation=operation, size=size)

    for row, result in send_in_batches(ctx, rows, operation, label=label, size=size,
                                       on_lost=on_lost if recheck is not None else None):
        answered += 1
        if result.error is None and 200 <= int(result.status) < 300:
            outcome.written.append(row_id(row))
        elif not batch_status_ok(int(result.status)):
            outcome.lost += 1
        elif isinstance(result.error, PreconditionFailed) or int(result.status) == 412:
            outcome.conflicts.append(row_name(row))
        else:
            outcome.failures.append(f"{row_name(row)}: {result.error or result.status}")
    outcome.unsent = len(rows) - answered
    return outcome


def rows_after_lost_answer(
    planned: Change, fresh: Change, *, name: Callable[[list[Any]], str],
    ours: Mapping[str, str] | None = None,
) -> tuple[Change, list[str]]:
    """Per planned row, after a lost answer: in effect, still as planned, or someone else's.

    Rows are ``[id, etag, ...]``. The fresh read lists only rows that still differ; a
    planned row it no longer lists took effect (recorded), one it lists with the ETag the
    plan read (or one our own earlier write produced, ``ours``) is sent again, and one
    with any other ETag was changed by someone else: named, and left alone.
    """
    live = {str(row[0]).lower(): row for row in fresh.detail.get("rows") or []}
    resend = RowSpool()
    others: list[str] = []
    for row in planned.detail.get("rows") or []:
        found = live.get(str(row[0]).lower())
        if found is None:
            continue
        row_id = str(row[0]).lower()
        expected = {str(row[1]), *([ours[row_id]] if ours and row_id in ours else [])}
        if str(found[1]) in expected:
            resend.append(found)
        else:
            others.append(name(found))
    return dataclasses.replace(fresh, detail={**fresh.detail, "rows": resend}), others
