"""A write whose answer was lost is settled in the same run: read again, then decide.

When the connection drops after a write left (or the resend of an If-Match write is
refused because the first attempt already changed the object), the service may or may
not have carried it out. Reporting that as "changed since the plan was read" would be
wrong, and a blind resend could duplicate an app, a secret or a policy. So the applier
reads the kind again, derives the address's change afresh from the same config, and:

* the fresh change is a no-op: the write took effect. It is recorded as applied, with
  the state's fingerprints kept (nothing new was learned about write-only values);
* the fresh change still writes, and either every value it concerns is what the plan
  read (nothing took effect) or the kind sends no If-Match (its apply converges from
  whatever is live, as a re-run would): it is applied once more, from the fresh read,
  so a half-made app or a partly sent ``$batch`` is finished, never created twice;
* otherwise someone else changed the values since the plan read them: refused, and
  nothing more is sent.

Kinds that stand for many rows (``$batch``) decide per row through
:meth:`~sssctl.engine.kind.KindDefaults.after_lost_answer`: a planned row the fresh read
no longer lists took effect, one listed with the ETag the plan read is sent again, one
listed with another ETag was changed by someone else and is refused by name.

Kinds that write rows in ``$batch`` chunks settle most lost answers themselves, at once
and chunk by chunk, from the thread that sent the chunk
(:func:`sssctl.kinds._rows.settle_lost_chunk`); only what that cannot settle (its read-back
failed, its resend's answer was lost too) reaches this read of the whole kind.

A lost answer during the resend is settled the same way, up to :data:`MAX_ROUNDS` times
in all (each round sends only what is not yet in effect, so rounds shrink); then the run
reports it and the next plan shows what is live.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import structlog

from sssctl.engine.kind import Applied, Context, Kind, ReadCache
from sssctl.engine.plan import Action, Change
from sssctl.engine.render.common import to_plain
from sssctl.errors import ChangedSinceRead, WriteOutcomeUnknown

log = structlog.get_logger(__name__)

MAX_ROUNDS = 4


def apply_settling_lost_answers(kind: Kind, ctx: Context, change: Change) -> Applied:
    """``kind.apply``, and when the answer was lost, a fresh read decides what happened."""
    try:
        return kind.apply(ctx, change)
    except WriteOutcomeUnknown as first:
        lost = first
    for round_ in range(1, MAX_ROUNDS + 1):
        log.warning("apply.answer_lost", address=change.address, error=str(lost), round=round_)
        try:
            return _settle(kind, ctx, change, lost)
        except WriteOutcomeUnknown as again:
            if round_ == MAX_ROUNDS or ctx.stop.is_set():
                raise
            lost = again
    raise AssertionError("unreachable")


def _settle(kind: Kind, ctx: Context, change: Change, lost: WriteOutcomeUnknown) -> Applied:
    fresh = _fresh_change(kind, ctx, change.address)
    if _took_effect(change, fresh):
        log.info("apply.answer_lost.took_effect", address=change.address)
        return _confirmed(ctx, change, fresh)
    assert fresh is not None      # _took_effect covers a change that is gone
    if fresh.writes and (_same_values(change.before, fresh.before) or change.etag is None):
        settle = getattr(kind, "after_lost_answer", None)
        resend, others = settle(ctx, change, fresh) if settle is not None else (fresh, [])
        log.info("apply.answer_lost.resent", address=change.address, changed_by_others=len(others))
        retried = kind.apply(ctx, dataclasses.replace(resend, kind=change.kind))
        if others:
            shown = ", ".join(others[:10]) + (f" and {len(others) - 10} more" if len(others) > 10 else "")
            raise ChangedSinceRead(
                f"the answer to the write was lost ({lost}); a fresh read shows {len(others)} of the planned "
                f"objects changed by someone else since the plan read them ({shown}): they were left "
                f"alone, the rest was settled ({retried.message})") from lost
        return dataclasses.replace(retried, writes=retried.writes + 1,
                                   message=f"{retried.message} (sent again after a lost answer)")
    raise ChangedSinceRead(
        f"the answer to the write was lost ({lost}), and a fresh read shows the values changed by "
        "someone else since the plan read them; nothing more was sent") from lost


def _fresh_change(kind: Kind, ctx: Context, address: str) -> Change | None:
    """The address's change derived afresh from one read of the kind, as a plan derives it.

    Nothing read before the lost answer is trusted (the run's cache is emptied), and the
    read-back shares its own answers the way a plan's reads do: the kind's helpers ask
    for the same small tables (profiles, queues) several times, and during apply each
    ask would otherwise be a request of its own, each one more chance of a 429 whose
    pause stops every request to the service. The shared answers live only for this
    read-back, so the resend and every later round read again.
    """
    ctx.reads.forget_everything()
    reads = ReadCache()
    reads.share()
    observed = kind.read(dataclasses.replace(ctx, reads=reads))
    return next((c for c in kind.diff(ctx.desired, observed) if c.address == address), None)


def _took_effect(change: Change, fresh: Change | None) -> bool:
    if fresh is None:       # the kind no longer derives anything: a delete or restore went through
        return change.action is Action.DELETE or change.restore
    if fresh.action is Action.UNKNOWN:
        raise RuntimeError(f"the answer to the write was lost and the object cannot be read again: "
                           f"{fresh.reason}")
    return fresh.action is Action.NOOP and not fresh.report_only


def _confirmed(ctx: Context, change: Change, fresh: Change | None) -> Applied:
    gone = change.action is Action.DELETE or change.restore or (fresh is not None and fresh.forget)
    recorded = ctx.state.get(change.address) or {}
    managed = None if gone else dict((fresh.after if fresh else None) or change.after or {})
    return Applied(change.address, managed=managed, fingerprints=dict(recorded.get("fingerprints") or {}),
                   writes=1, message="applied (its answer was lost; a fresh read shows it in effect)")


def _same_values(planned: Mapping[str, Any] | None, live: Mapping[str, Any] | None) -> bool:
    return bool(to_plain(planned) == to_plain(live))
