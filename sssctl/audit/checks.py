"""Posture checks: where the live environment falls short of the hardened baseline.

The kinds declare the checks (``spec.checks``, see :mod:`sssctl.engine.checks`); this
module turns them into findings and names no kind. Each difference between live values
and :func:`sssctl.audit.baseline.baseline` at a declared address is one finding with that
check's severity and summary; ``observe`` and ``survey`` checks add their own. Objects
that could not be read are findings too (severity ``unknown``): an audit that silently
skipped them would read as a clean bill of health.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sssctl.audit.baseline import baseline, probe, stamped
from sssctl.config.model import Desired
from sssctl.engine.checks import AuditCheck, Finding, Rule
from sssctl.engine.kind import Context, Kind
from sssctl.engine.plan import Action, Change
from sssctl.engine.planner import Reading
from sssctl.engine.render.common import field_rows, spell

__all__ = ["Audit", "Declared", "Finding", "audit", "fails", "findings_of", "render_table", "rows_of"]

SEVERITY_ORDER = ("high", "medium", "low")
UNDECLARED = ("low", "differs from the hardened baseline")   # a difference no check names


@dataclass(frozen=True)
class Declared:
    """Every audit check the kinds of a run declare, with the name of the kind declaring it."""

    checks: tuple[tuple[str, AuditCheck], ...] = ()

    @classmethod
    def of(cls, kinds: Iterable[Kind]) -> Declared:
        return cls(tuple((kind.name, check) for kind in kinds for check in kind.spec.checks))

    def at(self, address: str) -> AuditCheck | None:
        return next((check for _, check in self.checks if check.address == address), None)

    def rules(self) -> list[tuple[Rule, str]]:
        """Each declared SARIF rule once, by id, with its check's severity."""
        found = {check.rule.id: (check.rule, check.severity) for _, check in self.checks if check.rule}
        return [found[rule_id] for rule_id in sorted(found)]


@dataclass(frozen=True)
class Audit:
    findings: list[Finding]
    declared: Declared


def audit(kinds: Iterable[Kind], ctx: Context, desired: Desired) -> Audit:
    """``sssctl audit`` for one environment: read, judge against the hardened baseline, rank."""
    kinds = list(kinds)
    declared = Declared.of(kinds)
    probed = probe(kinds, ctx, baseline(desired, keep_user_values=False))
    return Audit(findings_of(declared, probed.changes, probed.reading, probed.surveyed), declared)


_NOT_EVIDENCE = frozenset({"sample"})   # aggregates' sample rows: the plan shows them, a table cannot
_EVIDENCE_WIDTH = 80


def _short(text: str) -> str:
    return text if len(text) <= _EVIDENCE_WIDTH else text[: _EVIDENCE_WIDTH - 1] + "…"


def findings_of(declared: Declared, changes: Sequence[Change], reading: Reading | None = None,
                surveyed: Sequence[Finding] = ()) -> list[Finding]:
    found: list[Finding] = []
    if reading is not None:
        for kind, declaring in declared.checks:
            observed = reading.observed.get(kind)
            if declaring.observe is not None and observed is not None:
                found += [stamped(finding, declaring) for finding in declaring.observe(observed)]
    found += surveyed
    for change in changes:
        check = declared.at(change.address)
        if change.action is Action.UNKNOWN:
            finding = Finding("unknown", change.address, "could not be checked", change.reason)
        elif change.action in (Action.UPDATE, Action.CREATE, Action.DELETE):
            evidence = "; ".join(
                f"{name} is {_short(spell(before))}" for name, before, _ in field_rows(change)
                if name not in _NOT_EVIDENCE and before is not None
            )
            severity, summary = (check.severity, check.summary) if check else UNDECLARED
            finding = Finding(severity, change.address, summary, evidence or change.reason)
        else:
            continue
        found.append(stamped(finding, check) if check else finding)
    rank = {s: i for i, s in enumerate(("unknown", *SEVERITY_ORDER))}
    return sorted(found, key=lambda f: (rank.get(f.severity, 9), f.address))


def rows_of(findings: Sequence[Finding]) -> list[dict[str, str]]:
    """The findings as ``--json`` prints them (format 1.0)."""
    return [{"severity": f.severity, "check": f.address, "finding": f.summary, "live": f.evidence}
            for f in findings]


def fails(findings: Sequence[Finding], threshold: str | None) -> bool:
    """``--fail-on``: any finding at ``threshold`` or more severe (unknown counts as high)."""
    if threshold is None:
        return False
    limit = SEVERITY_ORDER.index(threshold)
    return any(SEVERITY_ORDER.index("high" if f.severity == "unknown" else f.severity) <= limit
               for f in findings)


def render_table(findings: Sequence[Finding], columns: int | None = None) -> str:
    """One row per finding; on a terminal (or given ``columns``) FINDING and LIVE wrap so a row
    fits the width, piped or in a CI log every row stays one line for grep."""
    if not findings:
        return "No findings: the environment meets the hardened baseline.\n"
    rows: list[tuple[str, ...]] = [("SEVERITY", "CHECK", "FINDING", "LIVE")]
    rows += [(f.severity, f.address, f.summary, f.evidence) for f in findings]
    if columns is None and sys.stdout.isatty():
        columns = shutil.get_terminal_size().columns
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    fixed = widths[0] + widths[1] + 6
    if columns and fixed + widths[2] + max(len(r[3]) for r in rows) > columns:
        room = max(40, columns - fixed)
        widths[2] = min(widths[2], max(16, room * 2 // 5))
        live = max(16, room - widths[2])
        wrapped = [[[r[0]], [r[1]], textwrap.wrap(r[2], widths[2]) or [""], textwrap.wrap(r[3], live) or [""]]
                   for r in rows]
        rows = [tuple(cell[i] if i < len(cell) else "" for cell in row)
                for row in wrapped for i in range(max(map(len, row)))]
    lines = ["  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(r)).rstrip()
             for r in rows]
    counts = {s: sum(1 for f in findings if f.severity == s) for s in ("high", "medium", "low", "unknown")}
    tally = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    return "\n".join([*lines, "", f"Audit: {len(findings)} finding(s): {tally}."]) + "\n"
