"""How a fleet run reads: one summary table, then each member's own output.

Members keep the renderers of a single run (text, Terraform-shaped JSON, pull-request
Markdown), so a member's section reads exactly like ``sssctl plan`` for that environment.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sssctl.app.fleet.run import MemberResult, most_severe, outcome_word
from sssctl.engine.render import jsonplan, markdown, text

COLUMNS = ("member", "environment", "changes", "unknown", "refused", "result")


def _row(r: MemberResult) -> tuple[str, ...]:
    return (r.member, r.environment or "-", str(r.changes), str(r.unknown), str(r.refused),
            outcome_word(r))


def _tally(results: Sequence[MemberResult]) -> str:
    failed = sum(1 for r in results if r.error)
    changed = sum(1 for r in results if r.changes and not r.error)
    return (f"Fleet: {len(results)} member(s), {changed} with changes, {failed} failed; "
            f"exit code {most_severe([r.exit_code for r in results])}.")


def render_text(results: Sequence[MemberResult], *, color: bool = False) -> str:
    rows = [COLUMNS, *(_row(r) for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines += ["", _tally(results)]
    for r in results:
        lines += ["", f"=== {r.member} ({r.environment or 'environment not reached'}) ==="]
        lines += _member_text(r, color=color)
    return "\n".join(lines) + "\n"


def _member_text(r: MemberResult, *, color: bool) -> list[str]:
    lines: list[str] = []
    if r.plan is not None and r.report is None:
        lines.append(text.render(r.plan, color=color).rstrip("\n"))
    if r.detail:
        lines.append(r.detail.rstrip("\n"))
    if r.error:
        lines.append(f"Error: {r.error}")
    return lines


def render_json(results: Sequence[MemberResult]) -> str:
    members = [_member_json(r) for r in results]
    document = {"format_version": "1.0", "exit_code": most_severe([r.exit_code for r in results]),
                "members": members}
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def _member_json(r: MemberResult) -> dict[str, Any]:
    out: dict[str, Any] = {"member": r.member, "environment": r.environment or None, "exit_code": r.exit_code,
                           "result": outcome_word(r), "changes": r.changes, "unknown": r.unknown,
                           "refused": r.refused, "error": r.error}
    if r.plan is not None:
        out["plan"] = jsonplan.to_document(r.plan, environment_name=r.environment)
    if r.report is not None:
        outcomes = [{"address": o.change.address, "status": o.status, "message": o.message}
                    for o in r.report.outcomes]
        out["apply"] = {"summary": r.report.summary(), "outcomes": outcomes}
    out.update(r.data)
    return out


def render_markdown(results: Sequence[MemberResult]) -> str:
    """One pull-request comment for the whole fleet: the table, then each plan folded away."""
    lines = ["## sssctl fleet", "", f"**{_tally(results)}**", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in _row(r)) + " |" for r in results]
    for r in results:
        lines += ["", f"<details><summary><code>{r.member}</code>: {outcome_word(r)}</summary>", ""]
        if r.plan is not None:
            lines.append(markdown.render(r.plan, environment_name=r.environment or r.member).rstrip("\n"))
        if r.error:
            lines += ["", "```text", r.error, "```"]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def render(results: Sequence[MemberResult], fmt: str, *, color: bool = False) -> str:
    if fmt == "json":
        return render_json(results)
    if fmt == "markdown":
        return render_markdown(results)
    return render_text(results, color=color)
