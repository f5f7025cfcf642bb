"""The one way tests apply changes: the real :class:`~sssctl.engine.applier.Applier`.

Kind tests plan by calling ``read`` and ``diff`` themselves, but applying goes through
the engine so that forgetting, dependencies, state checkpoints and refusals follow the
same rules as ``sssctl apply``. ``state`` is the test's dict of state entries, updated
in place; a failed change is raised again so a test can expect it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sssctl.engine.applier import Applier, Outcome
from sssctl.engine.kind import Context, Kind
from sssctl.engine.plan import Change
from sssctl.engine.planner import order
from sssctl.engine.registry import Registry
from sssctl.state.model import Snapshot
from sssctl.state.store import StateStore

URL = "https://contoso.crm.dynamics.com"
ORGANIZATION = "00000000-0000-0000-0000-00000000a11c"


class MemoryBackend:
    """A state backend that keeps the snapshot in memory (one test, one process)."""

    name = "test"
    location = None  # no place a breadcrumb could name
    breadcrumb = None

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None
        self.previous: Snapshot | None = None

    def describe(self) -> str:
        return "memory"

    def read(self) -> Snapshot | None:
        return self.snapshot

    def read_previous(self) -> Snapshot | None:
        return self.previous

    def write(self, snapshot: Snapshot, *, replaces: Snapshot | None) -> None:
        if replaces is not None and self.snapshot is not None and replaces.serial != self.snapshot.serial:
            raise AssertionError("a write must replace the snapshot it read")
        self.previous, self.snapshot = self.snapshot, snapshot

    def lock(self, command: str) -> str:
        return "memory-lock"

    def holds(self, lock_id: str) -> bool:
        return lock_id == "memory-lock"

    def unlock(self, lock_id: str) -> None:
        return None

    def force_unlock(self, lock_id: str) -> Mapping[str, Any]:
        return {}


class ChangeFailed(Exception):
    """A change the applier reported as failed or refused, raised for the test to see."""


def apply_changes(kinds: Sequence[Kind], ctx: Context, changes: Sequence[Change],
                  state: dict[str, dict[str, Any]], *,
                  after_each: Callable[[Change], None] | None = None) -> list[Outcome]:
    """Apply ``changes`` in safe order with the real applier; ``state`` follows every checkpoint.

    ``after_each`` runs once a change is recorded (raise from it to simulate a crash).
    """
    registry = Registry(tuple(kinds))
    snapshot = Snapshot.new(url=URL, organization_id=ORGANIZATION, name="test").with_resources(
        state, url=URL, organization_id=ORGANIZATION)
    store = StateStore(MemoryBackend(), snapshot, url=URL, organization_id=ORGANIZATION, name="test")
    ctx.state = store.live_view()

    def progress(done: int, total: int, change: Change) -> None:
        state.clear()
        state.update({a: dict(e) for a, e in store.resources.items()})
        if after_each is not None:
            after_each(change)

    owned = [c if c.kind else _with_kind(registry, c) for c in changes]
    applier = Applier(registry, ctx, store, parallelism=ctx.parallelism, on_progress=progress)
    report = applier.run(order(registry, owned))
    state.clear()
    state.update({a: dict(e) for a, e in store.resources.items()})
    failed = [o for o in report.outcomes if o.status in ("failed", "refused")]
    if failed:
        raise ChangeFailed("; ".join(f"{o.change.address}: {o.message}" for o in failed))
    return report.outcomes


def _with_kind(registry: Registry, change: Change) -> Change:
    from dataclasses import replace

    return replace(change, kind=registry.kind_of(change.address) or "")
