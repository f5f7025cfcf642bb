"""How ``sssctl validate`` shows its results: one block per file for people, a flat list for tools."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sssctl.config.loader import Result


def render_text(results: Sequence[Result]) -> str:
    lines: list[str] = []
    for result in results:
        if result.desired is not None:
            lines.append(f"{result.path}: valid ({result.desired.digest[:19]}…)")
            continue
        count = len(result.findings)
        lines.append(f"{result.path}: invalid, {count} problem{'s' if count != 1 else ''}")
        lines.extend(f"  {finding.render()}" for finding in result.findings)
    return "\n".join(lines)


def render_json(results: Sequence[Result]) -> str:
    """Every finding of every file as ``{file, key_path, line, message, suggestion}``."""
    findings = [f.to_json() for result in results for f in result.findings]
    return json.dumps(findings, indent=2, ensure_ascii=False)
