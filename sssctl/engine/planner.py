"""From live readings to an ordered, guarded list of changes.

Reads run concurrently, one thread per kind: they are independent and mostly waiting on
the network. A kind whose read fails does not stop the plan; its addresses become
``unknown`` with the error as the reason, because a guess would be worse than a gap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import structlog

from sssctl.config.model import Desired
from sssctl.engine.addresses import select
from sssctl.engine.errors import PlanRefused
from sssctl.engine.kind import Context, Kind, Observed
from sssctl.engine.plan import Action, Change
from sssctl.engine.registry import Registry, registry_of

log = structlog.get_logger(__name__)


@dataclass
class Reading:
    """What every kind found: ``observed`` by kind name, ``failures`` where a read raised."""

    observed: dict[str, Observed] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


def error_text(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


def recorded_of(kind: str, state: Mapping[str, Mapping[str, object]]) -> dict[str, Mapping[str, object]]:
    return {a: e for a, e in state.items() if e.get("kind") == kind}


def read_all(kinds: Sequence[Kind], ctx: Context) -> Reading:
    reading = Reading()
    if not kinds:
        return reading
    with ThreadPoolExecutor(max_workers=len(kinds), thread_name_prefix="read") as pool:
        futures = {kind.name: pool.submit(kind.read, ctx) for kind in kinds}
        for name, future in futures.items():
            try:
                reading.observed[name] = future.result()
            except Exception as exc:
                log.warning("plan.read.failed", kind=name, error=error_text(exc))
                reading.failures[name] = error_text(exc)
    return reading


def _unknown(kind: str, addresses: set[str], why: str) -> list[Change]:
    return [Change(a, Action.UNKNOWN, None, None, why, kind=kind) for a in sorted(addresses)]


def _stamped(kind: Kind, changes: Sequence[Change]) -> list[Change]:
    """The changes a kind produced, each carrying that kind's name for the engine."""
    return [dataclasses.replace(c, kind=kind.name) for c in changes]


def _addresses_of(kind: Kind, desired: Desired, state: Mapping[str, Mapping[str, object]]) -> set[str]:
    try:
        managed = set(kind.addresses(desired))
    except Exception:
        managed = set()
    return managed | set(recorded_of(kind.name, state))


def diff_all(kinds: Sequence[Kind], desired: Desired, reading: Reading,
             state: Mapping[str, Mapping[str, object]]) -> list[Change]:
    changes: list[Change] = []
    for kind in kinds:
        if kind.name in reading.failures:
            why = f"could not be read: {reading.failures[kind.name]}"
            changes.extend(_unknown(kind.name, _addresses_of(kind, desired, state), why))
            continue
        try:
            changes.extend(_stamped(kind, kind.diff(desired, reading.observed[kind.name])))
        except Exception as exc:
            log.warning("plan.diff.failed", kind=kind.name, error=error_text(exc))
            why = f"could not be compared: {error_text(exc)}"
            changes.extend(_unknown(kind.name, _addresses_of(kind, desired, state), why))
    return changes


def tears_down(change: Change) -> bool:
    """Whether a change undoes what the config no longer asks for (delete, restore, forget)."""
    return change.action is Action.DELETE or change.restore or change.forget


def order(registry: Registry, changes: Sequence[Change], *, reverse: bool = False) -> list[Change]:
    """Safe kind order from the registry; the kind's own order inside a kind.

    Tearing down runs the sequence backwards, as building it up runs it forwards: the
    default profile comes back and mailbox defaults move off the custom profile before
    that profile, and then its app registration, are removed. A plan that does both (a
    switch from one config to another) builds first, then tears down backwards, so
    mailboxes have left a profile before it, its secret and its app go. ``reverse``
    (destroy) tears everything down.
    """
    def key(pair: tuple[int, Change]) -> tuple[bool, int, int]:
        down = reverse or tears_down(pair[1])
        return down, (-1 if down else 1) * registry.rank_of(pair[1].kind), pair[0]

    return [change for _, change in sorted(enumerate(changes), key=key)]


def run_guards(kinds: Sequence[Kind], ctx: Context, changes: Sequence[Change], reading: Reading) -> list[str]:
    observed = {k.name: reading.observed.get(k.name, Observed(objects={})) for k in kinds}
    refusals: list[str] = []
    for kind in kinds:
        try:
            refusals.extend(kind.guard(ctx, changes, observed))
        except Exception as exc:
            refusals.append(f"{kind.name}: the safety check itself failed ({error_text(exc)})")
    return refusals


def compute_changes(kinds: Registry | Sequence[Kind], ctx: Context, *, targets: Sequence[str] = (),
                    reverse: bool = False) -> tuple[list[Change], Reading]:
    """Read, diff against ``ctx.desired``, filter by target, order and guard.

    Raises :class:`PlanRefused`. ``destroy`` hands in a context whose desired state is
    empty, so every recorded address gets its restore change, and ``reverse=True``.
    """
    registry = registry_of(kinds)
    reading = read_all(registry.kinds, ctx)
    changes = diff_all(registry.kinds, ctx.desired, reading, ctx.state)
    chosen = select((c.address for c in changes), targets)
    ordered = order(registry, [c for c in changes if c.address in chosen], reverse=reverse)
    refusals = run_guards(registry.kinds, ctx, ordered, reading)
    if refusals:
        raise PlanRefused(refusals)
    return ordered, reading
