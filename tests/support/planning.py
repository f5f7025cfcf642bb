"""The one way kind tests plan: read every kind, diff it, and (when asked) run the guards.

The engine's planner does more (concurrent reads, targets, ordering, fail-closed
skipping); kind tests want the plain loop over a few real kinds with a fake client, and
the readings the guards are handed, so they share this instead of writing it again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sssctl.config.model import Desired
from sssctl.engine.kind import Context, Kind, Observed
from sssctl.engine.plan import Change


def plan(kinds: Sequence[Kind], ctx: Context, want: Desired) -> tuple[list[Change], dict[str, Observed]]:
    """Every kind's changes towards ``want``, in order, and each kind's reading by name."""
    observed: dict[str, Observed] = {}
    changes: list[Change] = []
    for kind in kinds:
        observed[kind.name] = kind.read(ctx)
        changes += kind.diff(want, observed[kind.name])
    return changes, observed


def refusals(kinds: Sequence[Kind], ctx: Context, changes: Sequence[Change],
             observed: Mapping[str, Observed]) -> list[str]:
    """What the kinds' guards refuse in the whole plan, kind by kind."""
    return [r for kind in kinds for r in kind.guard(ctx, changes, observed)]
