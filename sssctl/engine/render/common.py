"""What every renderer agrees on: visible changes, field rows, value spelling, summary."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sssctl.engine.plan import Action, Change, Plan
from sssctl.engine.spool import RowSpool

NO_CHANGES = "No changes. The environment matches the configuration."
NO_DRIFT = "No drift. Live values match what sssctl last applied."


def is_informational(change: Change) -> bool:
    """A no-op that still has something to say: a policy in ``report`` mode, an address being
    forgotten, something waiting on the service (pending) or a notice (a coming deadline)."""
    return change.action is Action.NOOP and (change.report_only or change.forget or change.pending
                                             or change.notice)


def visible(plan: Plan) -> list[Change]:
    return [c for c in plan.changes if c.action is not Action.NOOP or is_informational(c)]


def counts(plan: Plan) -> dict[str, int]:
    tally = {"add": 0, "change": 0, "destroy": 0, "unknown": 0, "no_op": 0}
    key = {Action.CREATE: "add", Action.UPDATE: "change", Action.DELETE: "destroy",
           Action.UNKNOWN: "unknown", Action.NOOP: "no_op"}
    for change in plan.changes:
        tally[key[change.action]] += 1
    return tally


def summary_line(plan: Plan) -> str:
    tally = counts(plan)
    if plan.refresh_only:
        drifted = tally["add"] + tally["change"] + tally["destroy"]
        if not drifted and not tally["unknown"]:
            return NO_DRIFT
        tail = f", {tally['unknown']} unknown" if tally["unknown"] else ""
        return f"Drift: {drifted} managed object(s) differ from what sssctl last applied{tail}."
    if not plan.actionable and not plan.unknown:
        return NO_CHANGES
    tail = f", {tally['unknown']} unknown" if tally["unknown"] else ""
    return f"Plan: {tally['add']} to add, {tally['change']} to change, {tally['destroy']} to destroy{tail}."


def spell(value: Any) -> str:
    """A value as users write it in TOML: booleans lower case, lists bracketed, None as (none)."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(to_plain(value), ensure_ascii=False, sort_keys=True)


def to_plain(value: Any) -> Any:
    """Mappings as dicts and sequences as lists: what JSON holds and ``==`` compares fairly."""
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset | RowSpool):
        return [to_plain(v) for v in value]
    return value


def field_rows(change: Change) -> list[tuple[str, Any, Any]]:
    """``(field, before, after)`` for the fields this change touches, in the kind's order."""
    before = change.before or {}
    after = change.after or {}
    # a change with its own sample prints it once, on its own line, not also as a field
    keys = [k for k in dict.fromkeys([*before.keys(), *after.keys()])
            if not (k == "sample" and change.sample)]
    if change.action is Action.CREATE:
        return [(k, None, after.get(k)) for k in keys]
    if change.action is Action.DELETE:
        return [(k, before.get(k), None) for k in keys]
    changed = [k for k in keys if to_plain(before.get(k)) != to_plain(after.get(k))]
    return [(k, before.get(k), after.get(k)) for k in changed]


def sides(change: Change, name: str) -> tuple[bool, bool]:
    """Whether ``name`` appears before / after: a one-sided field is context, not a change.

    Aggregates describe the current drift (counts by reason, a sample) before and the
    target (defaults, scope) after; printing ``(none)`` for the missing side would read
    as if the plan erased or invented them.
    """
    return name in (change.before or {}), name in (change.after or {})


def sample_of(change: Change) -> list[str]:
    return [str(s) for s in change.sample]
