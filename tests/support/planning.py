"""The one way kind tests plan: read every kind, diff it, and (when asked) run the guards.

The engine's planner does more (concurrent reads, targets, ordering, fail-closed
skipping); kind tests want the plain loop over a few real kinds with a fake client, and
the readings the guards are handed, so they share this instead of writing it again.

:func:`refusals` also holds every guard to the kind contract: it hands each guard the
plan with every other kind's ``detail`` and reading sealed, so a guard that reads them
fails the test instead of coupling two kinds (facts cross as typed hand-offs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NoReturn

from sssctl.config.model import Desired
from sssctl.engine.kind import Context, Kind, Observed
from sssctl.engine.plan import Change
from sssctl.kinds import load_kinds


def plan(kinds: Sequence[Kind], ctx: Context, want: Desired) -> tuple[list[Change], dict[str, Observed]]:
    """Every kind's changes towards ``want``, in order, and each kind's reading by name."""
    observed: dict[str, Observed] = {}
    changes: list[Change] = []
    for kind in kinds:
        observed[kind.name] = kind.read(ctx)
        changes += kind.diff(want, observed[kind.name])
    return changes, observed


class Sealed(Mapping[str, Any]):
    """Another kind's private data as a guard is handed it: any look inside fails the test."""

    def __init__(self, owner: str, what: str) -> None:
        self.owner, self.what = owner, what

    def _refuse(self, how: str) -> NoReturn:
        raise AssertionError(f"a guard {how} the {self.what} of {self.owner}, which belongs to that kind; "
                             "hand the fact over with a typed hand-off (sssctl.kinds.handoffs)")

    def __getitem__(self, key: str) -> Any:
        self._refuse(f"read {key!r} from")

    def __iter__(self) -> Iterator[str]:
        self._refuse("iterated")

    def __len__(self) -> int:  # noqa: PLE0303 (never returns: it refuses)
        self._refuse("measured")


def sealed_for(guard: str, changes: Sequence[Change], observed: Mapping[str, Observed],
               ) -> tuple[list[Change], dict[str, Observed]]:
    """The plan as kind ``guard`` may see it: its own changes and reading whole, only the
    public fields of everyone else's. Changes are stamped with their kind, as the planner does."""
    registry = load_kinds()
    stamped = [c if c.kind else dataclasses.replace(c, kind=registry.kind_of(c.address) or "")
               for c in changes]
    seen = [c if c.kind == guard else dataclasses.replace(c, detail=Sealed(c.kind or c.address, "detail"))
            for c in stamped]
    readings = {name: o if name == guard else Observed(
        objects=Sealed(name, "reading"), etags=Sealed(name, "ETags"), errors=Sealed(name, "read errors"),
        recorded=Sealed(name, "state entries"), extra=Sealed(name, "reading"))
        for name, o in observed.items()}
    return seen, readings


def refusals(kinds: Sequence[Kind], ctx: Context, changes: Sequence[Change],
             observed: Mapping[str, Observed]) -> list[str]:
    """What the kinds' guards refuse in the whole plan, kind by kind, each seeing only its own."""
    found: list[str] = []
    for kind in kinds:
        seen, readings = sealed_for(kind.name, changes, observed)
        found += kind.guard(ctx, seen, readings)
    return found

