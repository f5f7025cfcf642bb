"""A small stand-in for a resource kind, so the engine is tested on its own.

``FakeKind`` keeps a live world in a dict (address -> managed values) and behaves the way
the kinds contract asks: reads desired + recorded addresses, diffs into CREATE/UPDATE/
NOOP and restore changes, applies with an ETag check, returns ``Applied``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sssctl.clients.errors import PreconditionFailed
from sssctl.config.model import Desired
from sssctl.engine.kind import Applied, Context, KindSpec, Observed
from sssctl.engine.plan import Action, Change
from sssctl.kinds import load_kinds

ORG_ID = "d7671e2c-0000-4a6b-9c3d-1e2f3a4b5c6d"
URL = "https://contoso.crm.dynamics.com"

Wanted = Callable[[Desired], dict[str, dict[str, Any]]]


def org_settings_wanted(desired: Desired) -> dict[str, dict[str, Any]]:
    return {f"org_setting.{k}": {"value": v} for k, v in desired.org_settings.items()}


def approval_wanted(desired: Desired) -> dict[str, dict[str, Any]]:
    if desired.approval is None:
        return {}
    a = desired.approval
    values = {"require_for_users": a.require_for_users, "require_for_queues": a.require_for_queues}
    return {"approval": values}


@dataclass
class FakeKind:
    name: str
    wanted: Wanted
    live: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    fail_read: str | None = None
    refusals: Sequence[str] = ()
    apply_errors: dict[str, Exception] = field(default_factory=dict)
    apply_hook: Callable[[Change], None] | None = None
    applied: list[str] = field(default_factory=list)
    read_barrier: threading.Barrier | None = None
    after: tuple[str, ...] = ()
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def spec(self) -> KindSpec:
        """The real kind's address prefix and audit checks, with the dependencies this test declares."""
        real = {k.spec.name: k.spec for k in load_kinds()}[self.name]
        return KindSpec(name=self.name, prefix=real.prefix, after=self.after, checks=real.checks)

    def addresses(self, desired: Desired) -> list[str]:
        return sorted(self.wanted(desired))

    def read(self, ctx: Context) -> Observed:
        if self.read_barrier is not None:
            self.read_barrier.wait(timeout=5)
        if self.fail_read:
            raise RuntimeError(self.fail_read)
        recorded = {a: e for a, e in ctx.state.items() if e.get("kind") == self.name}
        wanted = set(self.addresses(ctx.desired)) | set(recorded)
        return Observed(
            objects={a: dict(self.live[a]) if a in self.live else None for a in wanted},
            etags={a: f'W/"{self.versions.get(a, 1)}"' for a in wanted},
            recorded=recorded,
        )

    def diff(self, desired: Desired, observed: Observed) -> list[Change]:
        changes: list[Change] = []
        wanted = self.wanted(desired)
        for address in sorted(wanted):
            before, after = observed.objects.get(address), wanted[address]
            etag = observed.etags.get(address)
            if before is None:
                changes.append(Change(address, Action.CREATE, None, after, "does not exist", etag))
            elif dict(before) != after:
                changes.append(Change(address, Action.UPDATE, before, after, "differs", etag))
            else:
                changes.append(Change(address, Action.NOOP, before, after, "", etag))
        for address, entry in sorted(observed.recorded.items()):
            if address in wanted:
                continue
            original, before = entry.get("original"), observed.objects.get(address)
            etag = observed.etags.get(address)
            if original is None:
                changes.append(Change(address, Action.DELETE, before, None, "created by sssctl", etag))
            else:
                changes.append(Change(address, Action.UPDATE, before, original, "restore original", etag))
        return changes

    def apply(self, ctx: Context, change: Change) -> Applied:
        if self.apply_hook:
            self.apply_hook(change)
        if change.address in self.apply_errors:
            raise self.apply_errors[change.address]
        with self._lock:
            if change.etag and change.etag != f'W/"{self.versions.get(change.address, 1)}"':
                raise PreconditionFailed("version mismatch", status=412)
            self.versions[change.address] = self.versions.get(change.address, 1) + 1
            self.applied.append(change.address)
            restoring = change.address not in self.wanted(ctx.desired)
            if change.action is Action.DELETE:
                self.live.pop(change.address, None)
            else:
                self.live[change.address] = dict(change.after or {})
        managed = None if restoring else dict(change.after or {})
        return Applied(change.address, managed=managed, fingerprints={}, writes=1, message="done")

    def describe(self, observed: Observed) -> dict[str, Any]:
        return {a: o for a, o in observed.objects.items() if o is not None}

    def guard(self, ctx: Context, changes: Sequence[Change], observed: Mapping[str, Observed]) -> list[str]:
        return list(self.refusals)

    def touch(self, address: str, values: dict[str, Any]) -> None:
        """Someone edits the object outside sssctl: new values, new version."""
        self.live[address] = values
        self.versions[address] = self.versions.get(address, 1) + 1
