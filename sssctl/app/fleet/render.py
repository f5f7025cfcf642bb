"""How a fleet run reads: one summary table, then each member's own output.

Members keep the renderers of a single run (text, Terraform-shaped JSON, pull-request
Markdown), so a member's section reads exactly like ``sssctl plan`` for that environment.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sssctl.app.fleet.run import MemberResult, most_severe, outcome_word
from sssctl.audit import formats, sarif
from sssctl.audit.checks import Declared, Finding
from sssctl.engine.render import jsonplan, markdown, text

COLUMNS = ("member", "environment", "changes", "unknown", "refused", "result")
# an audit changes nothing: its table counts findings by severity instead
SEVERITIES = ("high", "medium", "low", "unknown")
AUDIT_COLUMNS = ("member", "environment", *SEVERITIES, "result")


def _is_audit(results: Sequence[MemberResult]) -> bool:
    return any(r.findings is not None for r in results)


def _columns(results: Sequence[MemberResult]) -> tuple[str, ...]:
    return AUDIT_COLUMNS if _is_audit(results) else COLUMNS


def _by_severity(findings: Sequence[Finding]) -> dict[str, int]:
    return {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES}


def _row(r: MemberResult, audit: bool = False) -> tuple[str, ...]:
    if audit:
        if r.findings is None:
            return (r.member, r.environment or "-", *("-" for _ in SEVERITIES), outcome_word(r))
        counted = _by_severity(r.findings)
        return (r.member, r.environment or "-", *(str(counted[s]) for s in SEVERITIES), outcome_word(r))
    return (r.member, r.environment or "-", str(r.changes), str(r.unknown), str(r.refused),
            outcome_word(r))


def _tally(results: Sequence[MemberResult]) -> str:
    failed = sum(1 for r in results if r.error)
    code = most_severe([r.exit_code for r in results])
    if _is_audit(results):
        counted = _by_severity([f for r in results for f in r.findings or ()])
        found = ", ".join(f"{n} {s}" for s, n in counted.items())
        with_findings = sum(1 for r in results if r.findings)
        return (f"Fleet: {len(results)} member(s), findings: {found} ({with_findings} member(s) with "
                f"findings), {failed} failed; exit code {code}.")
    changed = sum(1 for r in results if r.changes and not r.error)
    return f"Fleet: {len(results)} member(s), {changed} with changes, {failed} failed; exit code {code}."


def render_text(results: Sequence[MemberResult], *, color: bool = False) -> str:
    columns = _columns(results)
    rows = [columns, *(_row(r, _is_audit(results)) for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
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
    columns = _columns(results)
    lines = ["## sssctl fleet", "", f"**{_tally(results)}**", "",
             "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in _row(r, _is_audit(results))) + " |"
              for r in results]
    for r in results:
        lines += ["", f"<details><summary><code>{r.member}</code>: {outcome_word(r)}</summary>", ""]
        if r.plan is not None:
            lines.append(markdown.render(r.plan, environment_name=r.environment or r.member).rstrip("\n"))
        if r.findings is not None:
            lines.append(formats.render_markdown(r.findings, r.declared or Declared()).rstrip("\n"))
        if r.error:
            lines += ["", "```text", r.error, "```"]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def render_sarif(results: Sequence[MemberResult]) -> str:
    """One SARIF log for the fleet: each member's findings located in its own config."""
    audited = [sarif.Audited(r.findings, r.config, r.member) for r in results
               if r.findings is not None and r.config is not None]
    declared = next((r.declared for r in results if r.declared is not None), Declared())
    return json.dumps(sarif.document_of(audited, declared=declared), indent=2) + "\n"


def render(results: Sequence[MemberResult], fmt: str, *, color: bool = False) -> str:
    if fmt == "sarif":
        return render_sarif(results)
    if fmt == "json":
        return render_json(results)
    if fmt == "markdown":
        return render_markdown(results)
    return render_text(results, color=color)
