"""The pull-request plan: a summary, a table of changes, and the details folded away."""

from __future__ import annotations

from collections.abc import Sequence

from sssctl.engine.plan import Action, Change, Plan
from sssctl.engine.render.common import field_rows, sample_of, sides, spell, summary_line, visible
from sssctl.engine.render.text import INCOMPLETE_NOTE


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _detail(change: Change) -> list[str]:
    lines = [f"#### `{change.address}`", "", "```diff"]
    for name, before, after in field_rows(change):
        has_before, has_after = sides(change, name)
        if change.action is Action.UPDATE and has_before != has_after:
            lines.append(f"  {name}: {spell(before if has_before else after)}")  # context line
            continue
        if change.action is not Action.CREATE:
            lines.append(f"- {name}: {spell(before)}")
        if change.action is not Action.DELETE:
            lines.append(f"+ {name}: {spell(after)}")
    sample = sample_of(change)
    if sample:
        lines.append(f"  sample: {', '.join(sample[:10])}")
    lines += ["```", ""]
    return lines


def render(plan: Plan, *, environment_name: str) -> str:
    title = "drift report" if plan.refresh_only else "plan"
    lines = [f"### sssctl {title} for `{environment_name}`", "", f"**{summary_line(plan)}**", ""]
    if plan.unknown:
        lines += [f"> [!WARNING]\n> {INCOMPLETE_NOTE}", ""]
    elevated = [c.address for c in plan.changes if c.elevation and c.writes]
    if elevated:
        lines += [f"> [!IMPORTANT]\n> Needs elevation: {', '.join(f'`{a}`' for a in elevated)}. A standard "
                  "apply skips these and what depends on them; an administrator applies them with "
                  "`sssctl apply --elevated`.", ""]
    changes = visible(plan)
    if not changes:
        return "\n".join(lines)
    lines += ["| | Address | Action | Reason |", "|---|---|---|---|"]
    for c in changes:
        reason = _cell(c.reason) + (f" **Needs elevation:** {_cell(c.elevation)}" if c.elevation else "")
        lines.append(f"| `{c.action.value}` | `{_cell(c.address)}` | {c.action.word} | {reason} |")
    lines += ["", "<details><summary>Details</summary>", ""]
    for change in changes:
        lines += _detail(change)
    lines += ["</details>", ""]
    return "\n".join(lines)


def render_refused(refusals: Sequence[str], *, environment_name: str | None = None) -> str:
    """A refused plan still gets its comment, so reviewers see why nothing can be applied."""
    where = f" for `{environment_name}`" if environment_name else ""
    lines = [f"### sssctl plan{where}", "", "**The plan is refused: nothing can be applied.**", ""]
    lines += [f"- {_cell(reason)}" for reason in refusals]
    lines += ["", "Change the configuration (or the environment) so these checks pass, then plan again.", ""]
    return "\n".join(lines)


def render_errored(error: str, *, environment_name: str | None = None) -> str:
    """A plan that could not be made: the comment says so and why, instead of nothing."""
    where = f" for `{environment_name}`" if environment_name else ""
    return "\n".join([f"### sssctl plan{where}", "", "**No plan could be made: nothing can be applied.**", "",
                      "```text", error, "```", ""])
