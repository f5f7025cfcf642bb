"""``sssctl watch``: continuous enforcement, one cycle after another.

A cycle is a plan and an apply restricted to what ``[watch] revert`` names, nothing
else: the kinds read with the same server-side filters as a plan (so an idle cycle
transfers only the drifted rows, normally none), and the reverts go through the same
applier as ``apply`` (same guards, same fail-closed ordering, same state checkpoints).
Three rules keep it from doing harm without review:

1. Only updates are reverted. A change that would create or delete something (a
   profile, an app, a scope) is reported and left to a reviewed ``apply``; so are the
   kinds that do nothing else, which ``[watch]`` refuses outright.
2. An unknown read is never drift. A kind that could not be read this cycle reverts
   nothing, and neither does any kind that must run after it.
3. Only the leader writes. Replicas elect one through a lock of the state's own kind
   and place (a lock file beside the snapshot, or a lease on a blob beside it; see
   :func:`leadership_backend`): whoever holds it leads; the others retry each interval
   and take over once it is free or stale (a dead holder's lease expires within one
   lease period). A leader that finds its lock gone stops writing at once. The state
   lock itself is taken only around a cycle's writes, so a reviewed ``apply`` still
   gets its turn; a cycle that finds it held defers its reverts to the next.

Who and when: before reverting, each aggregate kind reads ``modifiedby``/``modifiedon``
of the drifted rows (at most 50 per change), so every revert names the row, its old and
new values, the user who changed it, when, and how long the drift lasted. That goes to
the structured log (``watch.reverted``), the state (a short ``history`` per address)
and the notifications (:mod:`sssctl.app.watch_notify`).

Faults (429, 5xx, dropped connections, a sign-in outage) end a cycle, never the
process: the next cycle is delayed (doubling up to ten intervals) and catches up by
reading afresh. Memory stays flat because nothing accumulates across cycles: each
cycle's context, reads and row spools are dropped when it ends.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import structlog

from sssctl.app import runner
from sssctl.app.requests import MAX_PARALLELISM
from sssctl.config.errors import ConfigError
from sssctl.config.model import Desired, WatchPolicy
from sssctl.engine.applier import Applier, ApplyReport
from sssctl.engine.errors import PlanRefused
from sssctl.engine.kind import Context
from sssctl.engine.plan import Action, Change
from sssctl.engine.planner import compute_changes, error_text
from sssctl.engine.registry import Registry
from sssctl.state.backend import Backend
from sssctl.state.errors import LockHeld
from sssctl.state.factory import snapshot_name
from sssctl.state.store import StateStore

from . import watch_notify
from .interrupts import SignalRelay
from .watch_http import EnvironmentMetrics, Health, Listener, WatchMetrics

if TYPE_CHECKING:
    from sssctl.clients.dataverse import WhoAmI
    from sssctl.clients.session import Clients

log = structlog.get_logger(__name__)

# Small tables the kinds read only to know what "compliant" means (the organization's
# defaults, the profiles, which mailboxes are queues', which users are disabled or
# applications). An idle cycle reuses them for a few cycles, so it costs one filtered
# read per watched kind; a cycle that finds drift plans again from fresh reads before it
# writes anything, so no write ever rests on a cached answer.
CONTEXT_READS = ("organization", "emailserverprofiles", "queues", "skipped_users", "whoami")
CONTEXT_CYCLES = 10         # cycles a context answer is reused before it is read again
ROWS_PER_CHANGE = 50        # rows named per reverted change (the count says how many there were)
MAX_BACKOFF_INTERVALS = 10  # after failures, cycles are at most this many intervals apart
STOP_GRACE_SECONDS = 8.0    # SIGTERM: writes in flight get this long before the process leaves


@runtime_checkable
class NamesDriftedRows(Protocol):
    """A kind that can say, per drifted row, what changed, who changed it and when."""

    def drifted_rows(self, ctx: Context, change: Change, limit: int) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class WatchRequest:
    config_path: Path
    environ: Mapping[str, str]
    listen: tuple[str, int] | None = None
    max_cycles: int | None = None   # leave after this many cycles as leader (one-shot runs, tests)
    parallelism: int = MAX_PARALLELISM


@dataclass
class CycleResult:
    ok: bool
    reverted: int = 0
    failed: int = 0
    requests: int = 0
    event: dict[str, Any] | None = None
    unknown: int = 0    # reads or reverts left unknown (a reply that could not be used)

    @property
    def outcome(self) -> str:
        """``ok``; ``unknown`` when all that went wrong is unknown; else ``failed``.

        A cycle that ended early (guard, exception) counts none of either, so it failed.
        """
        if self.ok:
            return "ok"
        return "unknown" if self.unknown and not self.failed else "failed"


def utc_iso(moment: float | None = None) -> str:
    stamp = datetime.fromtimestamp(time.time() if moment is None else moment, timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _seconds_since(iso: Any, now: float) -> float | None:
    if not isinstance(iso, str) or not iso:
        return None
    try:
        then = datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
    return round(max(0.0, now - then), 3)


def watched_kinds(registry: Registry, policy: WatchPolicy) -> tuple[Registry, list[str]]:
    """The kinds ``revert`` names (by kind or address) and the address targets, if any."""
    names: set[str] = set()
    addresses: list[str] = []
    for item in policy.revert:
        kind = registry.get(item) or registry.get(registry.kind_of(item) or "")
        if kind is None:
            continue
        names.add(kind.spec.name)
        if item not in (kind.spec.name, kind.spec.prefix):
            addresses.append(item)
    targets = list(policy.revert) if addresses else []
    return registry.only(names), targets


def leadership_backend(desired: Desired, environ: Mapping[str, str]) -> Backend:
    """The lock that elects the leader: the state lock of a sibling snapshot, ``<name>.watch``.

    Same place, same kind of lock as the state's (the lock file beside it, or a lease on a
    blob beside it in the same container), but not the state lock itself: the leader holds
    it for as long as it leads, while the state lock is taken only around a cycle's writes,
    so a reviewed ``apply`` of the same environment still gets its turn between cycles.
    """
    name = f"{snapshot_name(desired)}.watch"
    key = desired.state.key
    state = dataclasses.replace(desired.state, key=f"{key}.watch" if key else None)
    environment = dataclasses.replace(desired.environment, name=name)
    return runner.backend_for(dataclasses.replace(desired, state=state, environment=environment), environ)


def revertible(changes: Sequence[Change], registry: Registry) -> tuple[list[Change], list[Change], list[str]]:
    """(reverts, reported, blocked kinds): only updates, and none behind an unknown read."""
    unknown = {c.kind for c in changes if c.action is Action.UNKNOWN}
    blocked = {k.spec.name for k in registry
               if k.spec.name in unknown or registry.blockers(k.spec.name) & unknown}
    reverts: list[Change] = []
    reported: list[Change] = []
    for change in changes:
        if change.action is Action.UPDATE and not (change.restore or change.forget):
            (reported if change.kind in blocked else reverts).append(change)
        elif change.report_only or change.action in (Action.CREATE, Action.DELETE) or change.restore:
            reported.append(change)
    return reverts, reported, sorted(blocked)


class Watch:
    """One environment watched: election, cycles, health and metrics, stop and reload."""

    def __init__(self, request: WatchRequest, services: runner.Services | None = None,
                 *, label: str | None = None, metrics: WatchMetrics | None = None) -> None:
        self.request = request
        self.services = services or runner.default_services()
        self.desired: Desired = self.services.load_config(request.config_path, request.environ)
        self.kinds = self.services.load_kinds()
        self.label = label or self.desired.environment.name or request.config_path.stem
        self.metrics = EnvironmentMetrics(metrics or WatchMetrics(), self.label)
        self.health = Health(self.desired.watch.interval_seconds)
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._reload = False
        self.current_context: Context | None = None
        self._requests_seen = 0
        self._throttled_seen = 0
        self.cycles = 0
        self.listener: Listener | None = None
        self.context_answers: dict[tuple[str, str], Any] = {}
        self._context_age = 0
        self.outcomes: collections.Counter[str] = collections.Counter()  # cycles by outcome

    @property
    def policy(self) -> WatchPolicy:
        return self.desired.watch

    # -- control from outside (signal handlers, tests) ------------------------------------
    def stop(self) -> None:
        """SIGTERM: finish the writes in flight (the applier starts nothing new), then leave."""
        self.stopping.set()
        if self.current_context is not None:
            self.current_context.stop.set()
        self._wake.set()

    def reload(self) -> None:
        """SIGHUP: read the config again before the next cycle; a bad one keeps the old."""
        self._reload = True
        self._wake.set()

    def _sleep(self, seconds: float) -> None:
        self._wake.wait(max(0.0, seconds))
        self._wake.clear()

    def _apply_reload(self) -> None:
        if not self._reload:
            return
        self._reload = False
        try:
            fresh = self.services.load_config(self.request.config_path, self.request.environ)
        except ConfigError as exc:
            problems = [f.render() for f in exc.findings]
            log.error("watch.reload.refused", config=str(self.request.config_path), problems=problems,
                      keeping="the configuration loaded before")
            return
        except Exception as exc:
            log.error("watch.reload.refused", config=str(self.request.config_path), error=error_text(exc),
                      keeping="the configuration loaded before")
            return
        self.desired = fresh
        self.health.interval = fresh.watch.interval_seconds
        log.info("watch.reloaded", config=str(self.request.config_path), digest=fresh.digest,
                 revert=list(fresh.watch.revert), interval_seconds=fresh.watch.interval_seconds)

    # -- the process --------------------------------------------------------------------------
    def run(self) -> int:
        with ExitStack() as stack:
            if self.request.listen is not None:
                self.listener = Listener(*self.request.listen, self.health.report, self.metrics.all)
                self.listener.start()
                stack.callback(self.listener.close)
                log.info("watch.listening", address="{}:{}".format(*self.listener.address))
            backoff = 0
            while not self.stopping.is_set():
                try:
                    with self.signed_in() as (clients, who):
                        backoff = 0
                        self._elect_and_lead(clients, who)
                except Exception as exc:  # sign-in outage, state store unreachable, ...
                    backoff += 1
                    self._failed("session", error_text(exc))
                    self._sleep(self._delay(backoff))
                if self._done():
                    break
        log.info("watch.stopped", environment=self.label, cycles=self.cycles, ok=self.outcomes["ok"],
                 unknown=self.outcomes["unknown"], failed=self.outcomes["failed"])
        return 0

    def _done(self) -> bool:
        return self.request.max_cycles is not None and self.cycles >= self.request.max_cycles

    def _delay(self, failures: int) -> float:
        interval = self.policy.interval_seconds
        return float(min(interval * (2 ** max(0, failures - 1)), interval * MAX_BACKOFF_INTERVALS))

    @contextmanager
    def signed_in(self) -> Iterator[tuple[Clients, WhoAmI]]:
        desired = self.desired
        needs = self.kinds.needs(desired)
        with self.services.open_clients(desired, need_graph=needs.graph, need_exchange=needs.exchange,
                                        environ=self.request.environ, missing_ok=True,
                                        max_concurrency=self.request.parallelism) as clients:
            self._requests_seen, self._throttled_seen = clients.stats.total, clients.stats.throttled
            who = clients.dataverse.whoami()
            yield clients, who

    def _elect_and_lead(self, clients: Clients, who: WhoAmI) -> None:
        leadership = leadership_backend(self.desired, self.request.environ)
        url = str(clients.dataverse.org_url or self.desired.environment.url or "")
        while not self.stopping.is_set() and not self._done():
            self._apply_reload()
            try:
                lock_id = leadership.lock("watch")
            except LockHeld as held:
                self.metrics.leader.set(0)
                self.health.standing_by()
                log.info("watch.standby", environment=self.label, leader=str(held).split(". ")[0])
                self._sleep(self.policy.interval_seconds)
                continue
            try:
                self._lead(clients, who, leadership, lock_id, url)
            finally:
                self.metrics.leader.set(0)
                self.health.leading = False
                leadership.unlock(lock_id)

    def _lead(self, clients: Clients, who: WhoAmI, leadership: Backend, lock_id: str, url: str) -> None:
        backend = runner.backend_for(self.desired, self.request.environ)
        self.metrics.leader.set(1)
        self.health.leading = True
        log.info("watch.leading", environment=self.label, state=backend.describe(),
                 revert=list(self.policy.revert), interval_seconds=self.policy.interval_seconds)
        failures = 0
        while not self.stopping.is_set() and not self._done():
            if self._reload:
                self._apply_reload()
                self._context_age = CONTEXT_CYCLES  # the config changed: nothing cached still applies
            if not leadership.holds(lock_id):
                log.error("watch.leadership.lost", environment=self.label,
                          reason="the leader lock is no longer ours; another replica may lead")
                return
            started = time.monotonic()
            mail = (watch_notify.UserMail(clients.dataverse, self.policy.email_from, who.user_id)
                    if self.policy.email_user and self.policy.email_from else None)
            # The state is read each cycle: a reviewed apply may have written it in between.
            store = StateStore(backend, backend.read(), url=url, organization_id=who.organization_id,
                               name=backend.name)
            result = self.cycle(clients, who, store, mail)
            self.cycles += 1
            failures = 0 if result.ok else failures + 1
            if self.stopping.is_set() or self._done():
                return
            wait = self.policy.interval_seconds if result.ok else self._delay(failures)
            self._sleep(wait - (time.monotonic() - started) if result.ok else wait)

    # -- one cycle ---------------------------------------------------------------------------
    def cycle(self, clients: Clients, who: WhoAmI, store: StateStore,
              mail: watch_notify.UserMail | None = None) -> CycleResult:
        started_wall, started = time.time(), time.monotonic()
        watched, targets = watched_kinds(self.kinds, self.policy)
        session = _Cycle(self, clients, who, store)
        try:
            result = self._cycle(session, watched, targets=targets, started_wall=started_wall, mail=mail)
        except Exception as exc:  # a read or write fault: this cycle failed, the process goes on
            self._failed("cycle", error_text(exc))
            result = CycleResult(ok=False)
        finally:
            self._keep_context(session)
            self.current_context = None
            self._count_requests(clients)
            self.metrics.cycle_seconds.observe(time.monotonic() - started)
        if result.ok:
            self.health.succeeded()
            self.metrics.last_success.set(time.time())
        self.outcomes[result.outcome] += 1
        self.metrics.cycle(result.outcome).inc()
        log.info("watch.cycle.done", environment=self.label, ok=result.ok, outcome=result.outcome,
                 reverted=result.reverted, failed=result.failed, unknown=result.unknown,
                 duration_ms=round((time.monotonic() - started) * 1000))
        return result

    def _keep_context(self, session: _Cycle) -> None:
        """Keep this cycle's small-table answers for the next, unless it wrote (then read afresh)."""
        if session.wrote or session.ctx is None:
            self.context_answers, self._context_age = {}, 0
            return
        if session.fresh:
            self.context_answers, self._context_age = session.ctx.reads.loaded(CONTEXT_READS), 0
        self._context_age += 1

    def _count_requests(self, clients: Clients) -> None:
        total, throttled = clients.stats.total, clients.stats.throttled
        self.metrics.requests.inc(max(0, total - self._requests_seen))
        self.metrics.throttled.inc(max(0, throttled - self._throttled_seen))
        self._requests_seen, self._throttled_seen = total, throttled

    def _failed(self, where: str, error: str) -> None:
        log.warning("watch.cycle.failed", environment=self.label, stage=where, error=error)
        self.metrics.failed(where).inc()
        self.health.failed(f"{where}: {error}")

    def _plan(self, ctx: Context, watched: Registry, targets: list[str]) -> list[Change] | None:
        try:
            changes, _ = compute_changes(watched, ctx, targets=targets)
        except PlanRefused as refused:
            for reason in refused.refusals:
                log.error("watch.guard.refused", environment=self.label, reason=reason)
            self._failed("guard", "; ".join(refused.refusals))
            return None
        return changes

    def _cycle(self, session: _Cycle, watched: Registry, *, targets: list[str], started_wall: float,
               mail: watch_notify.UserMail | None) -> CycleResult:
        ctx = session.context(carried=self._context_age < CONTEXT_CYCLES)
        changes = self._plan(ctx, watched, targets)
        if changes is None:
            return CycleResult(ok=False)
        reverts, _, _ = revertible(changes, watched)
        if not reverts:
            return self._report(changes, watched, [])
        # Drift: take the state lock for the writes, then plan again from fresh reads of
        # everything (state included), so no write rests on a cached or pre-lock answer.
        try:
            state_lock = session.store.backend.lock("watch")
        except LockHeld as held:
            log.info("watch.revert.deferred", environment=self.label, reason=str(held).split(". ")[0])
            return CycleResult(ok=True)
        try:
            session.store = session.reread()
            ctx = session.context(carried=False)
            changes = self._plan(ctx, watched, targets)
            if changes is None:
                return CycleResult(ok=False)
            reverts, reported, blocked = revertible(changes, watched)
            reads = self._report(changes, watched, reverts)
            if not reverts:
                return reads
            rows = {c.address: self._rows_of(ctx, c) for c in reverts}
            session.wrote = True
            applier = Applier(watched, ctx, session.store, parallelism=max(1, self.request.parallelism))
            report = applier.run(reverts)
            event, applied, failed, unknown = self._settle(report, rows, session, started_wall=started_wall,
                                                           reported=reported, blocked=blocked)
        finally:
            session.store.backend.unlock(state_lock)
        self._notify(event, mail, started_wall)
        return CycleResult(ok=report.ok and reads.ok, reverted=applied, failed=failed, event=event,
                           unknown=unknown + reads.unknown)

    def _report(self, changes: Sequence[Change], watched: Registry, reverts: Sequence[Change]) -> CycleResult:
        """Log and count unknown reads, reported drift and drift to revert; ok unless a read failed."""
        _, reported, _ = revertible(changes, watched)
        unknown = [c for c in changes if c.action is Action.UNKNOWN]
        for change in unknown:
            log.warning("watch.read.unknown", environment=self.label, address=change.address,
                        reason=change.reason)
            self.metrics.unknown(change.kind).inc()
        if unknown:
            self.health.failed("; ".join(f"{c.address} {c.reason}" for c in unknown))
        for change in reported:
            log.warning("watch.drift.reported", environment=self.label, address=change.address,
                        action=change.action.value, reason=change.reason)
        for change in reverts:
            self.metrics.drift_seen(change.kind).inc()
        return CycleResult(ok=not unknown, unknown=len(unknown))

    def _settle(self, report: ApplyReport, rows: Mapping[str, list[dict[str, Any]]], session: _Cycle, *,
                started_wall: float, reported: Sequence[Change],
                blocked: Sequence[str]) -> tuple[dict[str, Any], int, int, int]:
        """Log, count and record every outcome; the cycle's event, rows reverted, changes
        failed and changes unknown (their answer could not be used, or what they wait on)."""
        reverted_at = time.time()
        entries: list[dict[str, Any]] = []
        failed: list[dict[str, str]] = []
        unknown: list[dict[str, str]] = []
        notes: dict[str, dict[str, Any]] = {}
        for outcome in report.outcomes:
            change = outcome.change
            named = rows.get(change.address, [])
            for row in named:
                row["drift_seconds"] = _seconds_since(row.get("changed_on"), reverted_at)
            count = _count_of(change)
            entries.append({"address": change.address, "kind": change.kind, "status": outcome.status,
                            "count": count, "rows": named})
            if outcome.status == "unknown" or (outcome.status == "skipped" and outcome.after_unknown):
                unknown.append({"address": change.address, "reason": outcome.message or outcome.status})
                self.metrics.unknown(change.kind).inc()
                log.warning("watch.revert.unknown", environment=self.label, address=change.address,
                            status=outcome.status, reason=outcome.message)
                continue
            if outcome.status != "applied":
                failed.append({"address": change.address, "error": outcome.message or outcome.status})
                self.metrics.failed(change.kind).inc()
                log.error("watch.revert.failed", environment=self.label, address=change.address,
                          status=outcome.status, error=outcome.message)
                continue
            self.metrics.reverted(change.kind).inc(count)
            for row in named:
                author = row.get("changed_by") or {}
                log.info("watch.reverted", environment=self.label, address=change.address, row=row["row"],
                         name=row["name"], old=row["old"], new=row["new"],
                         changed_by=author.get("upn") or author.get("id"), changed_on=row.get("changed_on"),
                         drift_seconds=row.get("drift_seconds"))
            notes[change.address] = {"reverted_at": utc_iso(reverted_at), "count": count, "rows": named[:5]}
        if notes:
            try:
                session.store.note_history(notes)
            except Exception as exc:
                self._failed("state", error_text(exc))
        event: dict[str, Any] = {
            "schema": watch_notify.SCHEMA, "environment": self.label,
            "organization_id": session.who.organization_id, "cycle": self.cycles + 1,
            "started_at": utc_iso(started_wall), "finished_at": utc_iso(),
            "reverted": entries, "failed": failed, "unknown": unknown,
            "reported": [{"address": c.address, "reason": c.reason} for c in reported],
            "blocked_by_unknown_reads": list(blocked),
        }
        applied = sum(int(e["count"]) for e in entries if e["status"] == "applied")
        return event, applied, len(failed), len(unknown)

    def _rows_of(self, ctx: Context, change: Change) -> list[dict[str, Any]]:
        kind = self.kinds.get(change.kind or "")
        if isinstance(kind, NamesDriftedRows):
            try:
                return kind.drifted_rows(ctx, change, ROWS_PER_CHANGE)
            except Exception as exc:  # naming the author is worth a read, never a missed revert
                log.warning("watch.authors.unread", address=change.address, error=error_text(exc))
                return []
        return [{"row": change.address, "name": change.address, "old": dict(change.before or {}),
                 "new": dict(change.after or {}), "changed_by": None, "changed_on": None}]

    def _notify(self, event: Mapping[str, Any], mail: watch_notify.UserMail | None,
                started_wall: float) -> None:
        if not (self.policy.webhook or mail):
            return
        budget = max(2.0, self.policy.interval_seconds - (time.time() - started_wall))
        delivery = watch_notify.notify(self.policy, event, mail=mail, deadline=time.monotonic() + budget)
        if delivery.failed:
            self.metrics.notify_failed.inc(delivery.failed)
        log.info("watch.notified", environment=self.label, sent=delivery.sent, failed=delivery.failed)


class _Cycle:
    """One cycle's clients, state and context; the context may be rebuilt with fresh reads."""

    def __init__(self, watch: Watch, clients: Clients, who: WhoAmI, store: StateStore) -> None:
        self.watch, self.clients, self.who, self.store = watch, clients, who, store
        self.ctx: Context | None = None
        self.fresh = False
        self.wrote = False

    def reread(self) -> StateStore:
        """The state as stored now (read under the lock, before writing)."""
        backend = self.store.backend
        return StateStore(backend, backend.read(), url=str(self.store.snapshot.environment.get("url") or ""),
                          organization_id=self.who.organization_id, name=backend.name)

    def context(self, *, carried: bool) -> Context:
        watch, clients = self.watch, self.clients
        ctx = Context(desired=watch.desired, dataverse=clients.dataverse, graph=clients.graph,
                      exchange=clients.exchange, state=self.store.live_view(), whoami=self.who,
                      parallelism=max(1, watch.request.parallelism), unavailable=dict(clients.unavailable))
        ctx.reads.share()
        reuse = carried and bool(watch.context_answers)
        if reuse:
            for (lifetime, key), value in watch.context_answers.items():
                ctx.reads.put(key, value, lifetime="run" if lifetime == "run" else "plan")
        self.fresh = not reuse
        self.ctx = ctx
        watch.current_context = ctx
        return ctx


def _count_of(change: Change) -> int:
    rows = (change.detail or {}).get("rows") if isinstance(change.detail, Mapping) else None
    return len(rows) if rows is not None else 1  # rows: a list or a spool, both sized


class Controlled(Protocol):
    """What signals act on: one watcher, or a fleet's watchers together."""

    request: WatchRequest

    def stop(self) -> None: ...

    def reload(self) -> None: ...


def install_signal_handlers(watch: Controlled) -> None:
    """SIGTERM and SIGINT stop after the writes in flight; SIGHUP reloads the config.

    Every applied change is already checkpointed in the state, so leaving is only a matter
    of letting the change being written finish: after ``STOP_GRACE_SECONDS`` the process
    leaves anyway (exit 0; the state holds every change whose answer came back, and the
    next leader reads afresh), which keeps it inside the ten seconds orchestrators give
    before SIGKILL. Must be called from the main thread (Python's rule for signals). The
    work runs on a relay thread, not in the handler: logging and stopping take locks the
    interrupted main thread may hold (see :class:`~sssctl.app.interrupts.SignalRelay`).
    """
    def act(signum: int) -> None:
        if hasattr(signal, "SIGHUP") and signum == signal.SIGHUP:
            log.info("watch.reload.asked", config=str(watch.request.config_path))
            watch.reload()
            return
        log.info("watch.stopping", signal=signal.Signals(signum).name, grace_seconds=STOP_GRACE_SECONDS)
        watch.stop()
        timer = threading.Timer(STOP_GRACE_SECONDS, _leave_now)
        timer.daemon = True
        timer.start()

    relay = SignalRelay(act, name="watch-signals")   # lives as long as the process
    signal.signal(signal.SIGTERM, relay.handler)
    signal.signal(signal.SIGINT, relay.handler)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, relay.handler)


def _leave_now() -> None:
    log.warning("watch.stop.forced", reason=f"writes still in flight after {STOP_GRACE_SECONDS:g} s")
    os._exit(0)


def run_watch(request: WatchRequest, *, install_signals: Callable[[Watch], None] | None = None,
              services: runner.Services | None = None) -> int:
    """Build the watcher, let the caller hook signals to it, run until stopped."""
    watch = Watch(request, services)
    if install_signals is not None:
        install_signals(watch)
    return watch.run()


__all__ = ["Controlled", "CycleResult", "NamesDriftedRows", "Watch", "WatchRequest",
           "install_signal_handlers", "run_watch"]
