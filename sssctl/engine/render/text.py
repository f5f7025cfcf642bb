"""The human plan: Terraform-like symbols, ``before -> after`` per field, then a summary."""

from __future__ import annotations

import click

from sssctl.engine.plan import Action, Change, Plan
from sssctl.engine.render.common import (
    field_rows,
    is_informational,
    sample_of,
    sides,
    spell,
    summary_line,
    visible,
)

_COLOURS = {Action.CREATE: "green", Action.UPDATE: "yellow", Action.DELETE: "red",
            Action.UNKNOWN: "magenta", Action.NOOP: "cyan"}
_SAMPLE_SHOWN = 10
INCOMPLETE_NOTE = (
    "Objects marked ? could not be read, so this plan is incomplete: apply will refuse it. "
    "Unknown is not drift; fix the reason shown and plan again."
)


def render_change(change: Change, *, color: bool) -> list[str]:
    def paint(text: str, **style: object) -> str:
        return click.style(text, **style) if color else text  # type: ignore[arg-type]

    symbol = paint(change.action.value, fg=_COLOURS[change.action], bold=True)
    lines = [f"  {symbol} {paint(change.address, bold=True)}"]
    for name, before, after in field_rows(change):
        if change.action is Action.CREATE:
            lines.append(f"      {name}: {spell(after)}")
        elif change.action is Action.DELETE:
            lines.append(f"      {name}: {spell(before)} -> (restored/removed)")
        else:
            lines.append(f"      {name}: {_transition(change, name, before, after)}")
    sample = sample_of(change)
    if sample:
        more = f" (+{len(sample) - _SAMPLE_SHOWN} more)" if len(sample) > _SAMPLE_SHOWN else ""
        lines.append(f"      sample: {', '.join(sample[:_SAMPLE_SHOWN])}{more}")
    if change.reason:
        lines.append(paint(f"      # {change.reason}", dim=True))
    if change.elevation:
        lines.append(paint(f"      ! needs elevation: {change.elevation}; a standard apply skips it and "
                           "what depends on it, `sssctl apply --elevated` (an administrator) applies it",
                           fg="yellow"))
    return lines


def _transition(change: Change, name: str, before: object, after: object) -> str:
    has_before, has_after = sides(change, name)
    if has_before and not has_after:
        return spell(before)
    if has_after and not has_before:
        return spell(after)
    return f"{spell(before)} -> {spell(after)}"


def render(plan: Plan, *, color: bool = False) -> str:
    changes = visible(plan)
    lines: list[str] = []
    if changes:
        if plan.refresh_only:
            intro = "Objects changed outside sssctl since it last applied them:"
        elif all(is_informational(c) for c in changes):
            intro = "Nothing to change; for your information:"
        else:
            intro = "sssctl will perform these actions:"
        lines += [intro, ""]
        for change in changes:
            lines += [*render_change(change, color=color), ""]
    summary = summary_line(plan)
    lines.append(click.style(summary, bold=True) if color else summary)
    if plan.unknown:
        lines.append(INCOMPLETE_NOTE)
    elevated = [c.address for c in plan.changes if c.elevation and c.writes]
    if elevated:
        lines.append(f"Needs elevation: {', '.join(elevated)} "
                     "(run `sssctl apply --elevated` as an administrator).")
    return "\n".join(lines) + "\n"
