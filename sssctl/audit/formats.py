"""Audit findings for people (table), job summaries (Markdown) and code scanning (SARIF)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from sssctl.audit import sarif
from sssctl.audit.checks import Declared, Finding, render_table

FORMATS = ("table", "json", "markdown", "sarif")
_BADGE = {"high": "🔴 high", "medium": "🟠 medium", "low": "🟡 low", "unknown": "⚪ unknown"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(findings: Sequence[Finding], declared: Declared) -> str:
    if not findings:
        return "### sssctl audit\n\n**No findings: the environment meets the hardened baseline.**\n"
    lines = ["### sssctl audit", "", f"**{len(findings)} finding(s)**", "",
             "| Severity | Rule | Check | Finding | Live |", "|---|---|---|---|---|"]
    rules = sarif.rules_of(declared)
    for f in findings:
        rule = sarif.rule_for(f, rules)
        lines.append(f"| {_BADGE.get(f.severity, f.severity)} | `{rule.id}` | `{_cell(f.address)}` "
                     f"| {_cell(f.summary)} | {_cell(f.evidence)} |")
    lines += ["", "<details><summary>Remedies</summary>", ""]
    for rule in dict.fromkeys(sarif.rule_for(f, rules) for f in findings):
        lines.append(f"- `{rule.id}` {rule.short}: {rule.remedy}")
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def render(findings: Sequence[Finding], fmt: str, *, declared: Declared, config_path: Path) -> str:
    if fmt == "markdown":
        return render_markdown(findings, declared)
    if fmt == "sarif":
        document = sarif.to_document(findings, declared=declared, config_path=config_path)
        return json.dumps(document, indent=2) + "\n"
    return render_table(findings)
