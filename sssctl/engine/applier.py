"""Carry out a plan: kinds in safe order, checkpointing the state after every change.

Kinds with no dependency either way build up alongside the safe sequence (see
:class:`Applier`). Within one kind changes run one at a time: several ``org_setting``
changes, for instance, all write the one organization row and must not race each other's
If-Match; a kind whose rows are many (mailboxes, users) sends them in ``$batch`` chunks
inside its one change instead. A change
refused (edited since the plan read it) or failing is reported and never retried; one
whose answer failed its reply model, or was cut off at the size cap, is *unknown* (the
request may have taken effect, but nothing was decided from that answer, so the next plan
reads the object back and the run exits 3, not 1); the
kinds that declared they run after its kind, transitively, are skipped and listed with
the reason (fail closed: the custom profile is never used while its app is unscoped),
the others still apply.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from itertools import groupby
from typing import Literal

import structlog

from sssctl import exitcodes
from sssctl.clients.errors import MalformedReply, ReplyTooLarge
from sssctl.engine.adoption import adoptable
from sssctl.engine.kind import Applied, Context, Kind
from sssctl.engine.plan import Action, Change
from sssctl.engine.planner import error_text, tears_down
from sssctl.engine.reconcile import apply_settling_lost_answers
from sssctl.engine.registry import Registry, registry_of
from sssctl.errors import ChangedSinceRead
from sssctl.state.store import StateStore

log = structlog.get_logger(__name__)

def is_forget(change: Change) -> bool:
    """An address sssctl stops managing: nothing to write, only to drop from state."""
    return change.action is Action.NOOP and change.forget


@dataclass(frozen=True)
class Outcome:
    change: Change
    status: str   # applied | forgotten | stopped | refused | failed | unknown | skipped | not started
    message: str = ""
    writes: int = 0
    # skipped only because a kind it needs is unknown (not failed): no error of its own
    after_unknown: bool = False


@dataclass
class ApplyReport:
    outcomes: list[Outcome] = field(default_factory=list)
    interrupted: bool = False

    def count(self, status: str, action: Action | None = None) -> int:
        return sum(
            1 for o in self.outcomes
            if o.status == status and (action is None or o.change.action is action)
        )

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(o.status in ("applied", "forgotten") for o in self.outcomes)

    @property
    def writes(self) -> int:
        return sum(o.writes for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        """ARCHITECTURE §7 for an apply: 130 interrupted, 1 anything failed or refused,
        3 when what did not apply is only unknown (a reply failed its model) and what was
        skipped because of it, 0 when everything applied."""
        if self.interrupted:
            return exitcodes.INTERRUPTED
        if self.ok:
            return exitcodes.OK
        excused = all(o.status in ("applied", "forgotten", "unknown") or
                      (o.status == "skipped" and o.after_unknown) for o in self.outcomes)
        return exitcodes.INCOMPLETE if excused else exitcodes.ERROR

    def summary(self) -> str:
        # "complete" only when every change went through; a failure or refusal is not complete
        head = ("Apply interrupted" if self.interrupted
                else "Apply complete" if self.ok else "Apply finished with errors")
        parts = [
            f"{self.count('applied', Action.UPDATE)} changed",
            f"{self.count('applied', Action.CREATE)} created",
            f"{self.count('applied', Action.DELETE)} destroyed",
            f"{self.count('refused')} refused",
        ]
        extra = ("forgotten", "stopped", "failed", "unknown", "skipped", "not started")
        parts += [f"{n} {s}" for s in extra if (n := self.count(s))]
        return f"{head}: {', '.join(parts)}."


Progress = Callable[[int, int, Change], None]


@dataclass
class _Tier:
    """One kind's consecutive changes in one direction, applied one at a time."""

    kind: str
    down: bool
    pending: list[Change]
    running: int = 0

    @property
    def finished(self) -> bool:
        return not self.pending and not self.running


class Applier:
    """Runs the tiers of a plan: each tier of the safe sequence once every kind it declared
    it runs after (``KindSpec.after``, transitively) has finished, while kinds that depend
    on nothing and that nothing depends on (user settings, organization settings, the
    approve privilege) build up alongside it from the start instead of waiting their turn.

    Two steps that need only the same earlier step (the EWS admission and the mailbox
    scope both need just the app registration) so run side by side: under throttling each
    step of the sequence costs its requests' Retry-After pauses, and steps waiting on
    nothing they need only lengthened the run. A failure still skips exactly the kinds
    that declared they need the failed one, as before. Tearing down, and destroy, stay
    strictly sequential, one tier after another. Outcomes are settled and the state
    written on the calling thread only."""

    def __init__(self, kinds: Registry | Sequence[Kind], ctx: Context, store: StateStore, *,
                 parallelism: int = 4, on_progress: Progress | None = None, reverse: bool = False,
                 elevation: Literal["held", "standard", "only"] = "held") -> None:
        self.registry = registry_of(kinds)
        self.ctx = ctx
        self.store = store
        self.parallelism = max(1, parallelism)
        self.on_progress = on_progress
        self.reverse = reverse
        self.elevation = elevation
        self.report = ApplyReport()
        self._failed_kinds: set[str] = set()
        self._unknown_kinds: set[str] = set()   # a subset of the failed ones: unknown, not failed
        self._total = 0

    def run(self, changes: Sequence[Change]) -> ApplyReport:
        self.ctx.reads.stop_sharing()  # what the plan read may be stale by now; apply reads afresh
        work = self._tiered([self._owned(c) for c in changes if c.writes or is_forget(c)])
        self._total = len(work)
        grouped = groupby(work, key=lambda c: (c.kind, self.reverse or tears_down(c)))
        tiers = [self._tier(kind, down, list(group)) for (kind, down), group in grouped]
        alongside = [t for t in tiers if self._independent(t)]
        sequence = deque(t for t in tiers if not self._independent(t))
        pool = ThreadPoolExecutor(max_workers=self.parallelism + len(alongside), thread_name_prefix="apply")
        aborted = False
        try:
            self._schedule(pool, alongside, sequence)
        except KeyboardInterrupt:
            aborted = True      # the second Ctrl-C: leave at once, the state is whole
            raise
        finally:
            # Waiting for in-flight requests is what the first Ctrl-C asked for, not the second.
            pool.shutdown(wait=not aborted, cancel_futures=True)
        if not self.reverse:
            adopt(self.registry, self.ctx, self.store, changes)
        log.info("apply.done", outcome=self.report.summary(), writes=self.report.writes)
        return self.report

    def _tiered(self, work: list[Change]) -> list[Change]:
        """Changes needing a tier-0 right (``Change.elevation``) and the identity applying.

        ``only`` (``apply --elevated``): just those. ``standard``: those are skipped with
        their reason and count as not applied, so every kind depending on theirs is skipped
        too (fail closed). ``held``: the identity holds the right, nothing is set apart.
        """
        if self.elevation == "only":
            return [c for c in work if c.elevation]
        if self.elevation == "held":
            return work
        for change in (c for c in work if c.elevation):
            self._mark([change], "skipped", f"needs elevation: {change.elevation}; an administrator "
                       "applies it with `sssctl apply --elevated`")
            self._block(change.kind)
            log.warning("apply.change.needs_elevation", address=change.address)
        return [c for c in work if not c.elevation]

    def _tier(self, kind: str, down: bool, changes: list[Change]) -> _Tier:
        return _Tier(kind, down, changes)

    def _independent(self, tier: _Tier) -> bool:
        """Building up a kind with no dependency either way: it may run beside the sequence."""
        if tier.down or not tier.kind:
            return False
        return not self.registry.blockers(tier.kind) and not self.registry.blockers(tier.kind, reverse=True)

    @property
    def stopping(self) -> bool:
        return self.report.interrupted or self.ctx.stop.is_set()

    def _schedule(self, pool: ThreadPoolExecutor, alongside: list[_Tier], sequence: deque[_Tier]) -> None:
        active = [t for t in alongside if self._admit(t)]
        started: list[_Tier] = []   # tiers of the sequence taken from it, finished or not
        running: dict[Future[tuple[Applied | None, float]], tuple[_Tier, Change]] = {}
        strict = self.reverse or any(t.down for t in sequence)
        while True:
            for tier in self._ready(sequence, started, strict=strict):
                sequence.remove(tier)
                started.append(tier)
                if self._admit(tier):
                    active.append(tier)
            for tier in active:
                if tier.pending and not tier.running and not self.stopping:
                    change = tier.pending.pop(0)
                    tier.running += 1
                    running[pool.submit(self._apply_one, change)] = (tier, change)
            if not running:
                if self.stopping:
                    self._stop_everything(active, sequence)
                if not sequence:
                    return
                continue
            try:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
            except KeyboardInterrupt:
                # Without the CLI's SIGINT handler (library use) the first Ctrl-C lands
                # here: treat it as the first press. A second one leaves at once.
                if self.ctx.stop.is_set():
                    raise
                log.warning("apply.interrupted", running=len(running))
                self.ctx.stop.set()
                continue
            for future in done:
                tier, change = running.pop(future)
                tier.running -= 1
                self._settle(tier.kind, change, future)
            active = [t for t in active if not t.finished]

    def _ready(self, sequence: deque[_Tier], started: list[_Tier], *, strict: bool) -> list[_Tier]:
        """Tiers of the sequence that may start now, in order.

        ``strict``: the next one, once every tier started before it has finished. Otherwise
        each tier none of whose needed kinds (nor its own, from an earlier tier) is still
        waiting ahead of it or unfinished. The first waiting tier has nothing ahead of it,
        so it starts once nothing started is unfinished: the run always moves on.
        """
        busy = {t.kind for t in started if not t.finished}
        if strict or not sequence:
            return [sequence[0]] if sequence and not busy else []
        ready: list[_Tier] = []
        ahead: set[str] = set()
        for tier in sequence:
            needs = self.registry.blockers(tier.kind) | {tier.kind}
            if needs & (busy | ahead):
                ahead.add(tier.kind)
                continue
            ready.append(tier)
            busy.add(tier.kind)
        return ready

    def _admit(self, tier: _Tier) -> bool:
        """Whether a tier may start: not after a stop, not when a kind it needs failed."""
        if self.stopping:
            self.report.interrupted = True
            self._mark(tier.pending, "not started", "interrupted before it started")
            tier.pending = []
            return False
        blocked = self.registry.blockers(tier.kind, reverse=tier.down) & self._failed_kinds
        if blocked:
            why = f"depends on {', '.join(sorted(blocked))}, which did not fully apply"
            after_unknown = blocked <= self._unknown_kinds
            self.report.outcomes.extend(Outcome(c, "skipped", why, after_unknown=after_unknown)
                                        for c in tier.pending)
            tier.pending = []
            self._block(tier.kind, unknown=after_unknown)
            return False
        return True

    def _stop_everything(self, active: list[_Tier], sequence: deque[_Tier]) -> None:
        self.report.interrupted = True
        for tier in [*active, *sequence]:
            self._mark(tier.pending, "not started", "interrupted before it started")
            tier.pending = []
        sequence.clear()

    def _owned(self, change: Change) -> Change:
        """The change with its kind: the planner stamps it; one built by hand is looked up."""
        if change.kind:
            return change
        return dataclasses.replace(change, kind=self.registry.kind_of(change.address) or "")

    def _mark(self, changes: Sequence[Change], status: str, message: str) -> None:
        self.report.outcomes.extend(Outcome(c, status, message) for c in changes)

    def _apply_one(self, change: Change) -> tuple[Applied | None, float]:
        started = time.monotonic()
        if is_forget(change):
            return None, 0.0
        kind = self.registry.get(change.kind)
        if kind is None:
            raise LookupError(f"no resource kind handles {change.address}")
        applied = apply_settling_lost_answers(kind, self.ctx, change)
        return applied, (time.monotonic() - started) * 1000

    def _settle(self, kind: str, change: Change, future: Future[tuple[Applied | None, float]]) -> None:
        try:
            applied, duration_ms = future.result()
        except ChangedSinceRead as exc:
            why = f"changed since the plan was read; not overwritten ({exc})"
            self._fail(kind, Outcome(change, "refused", why))
            return
        except (MalformedReply, ReplyTooLarge) as exc:
            # The answer could not be trusted (or was not read whole), so nothing was decided
            # from it: the object is unknown until read back (next plan), and its dependents
            # wait for that. A failure would claim the write did not happen; it may have.
            what = "was over the size cap" if isinstance(exc, ReplyTooLarge) else "failed its model"
            why = f"outcome unknown, the reply {what} ({error_text(exc)})"
            self._fail(kind, Outcome(change, "unknown", why))
            return
        except Exception as exc:
            self._fail(kind, Outcome(change, "failed", error_text(exc)))
            return
        if applied is None:
            self.store.record(change.address, kind=kind, managed=None, fingerprints={}, before=None)
            outcome = Outcome(change, "forgotten", "no longer managed")
        else:
            self.store.record(change.address, kind=kind, managed=applied.managed,
                              fingerprints=applied.fingerprints, before=change.before)
            status = "applied" if applied.complete else "stopped"
            outcome = Outcome(change, status, applied.message, applied.writes)
            if not applied.complete:
                self.report.interrupted = True
                self._block(kind)   # its dependents must not run on a half-done change
        log.info("apply.change.done", address=change.address, writes=outcome.writes,
                 duration_ms=round(duration_ms))
        self.report.outcomes.append(outcome)
        if self.on_progress:
            self.on_progress(len(self.report.outcomes), self._total, change)

    def _block(self, kind: str, *, unknown: bool = False) -> None:
        """Its dependents will be skipped; as *unknown* ones only while nothing of the kind
        (or of what it waited on) failed outright, since a failure outweighs an unknown."""
        if unknown and (kind not in self._failed_kinds or kind in self._unknown_kinds):
            self._unknown_kinds.add(kind)
        else:
            self._unknown_kinds.discard(kind)
        self._failed_kinds.add(kind)

    def _fail(self, kind: str, outcome: Outcome) -> None:
        log.warning("apply.change.failed", address=outcome.change.address, status=outcome.status)
        self._block(kind, unknown=outcome.status == "unknown")
        self.report.outcomes.append(outcome)


def adopt(registry: Registry, ctx: Context, store: StateStore, changes: Sequence[Change]) -> None:
    """Record the plan's compliant addresses the state does not know yet (see :mod:`adoption`)."""
    found = adoptable(registry, ctx.desired, changes, store.resources)
    if found:
        store.adopt({c.address: (c.kind or registry.kind_of(c.address) or "", c.after or {}, c.before)
                     for c in found})
        log.info("apply.adopted", addresses=len(found))
