"""``sssctl diff A B`` and ``sssctl diff --fleet FLEETFILE``: read live sides, compare posture.

A side is a config file, or a fleet member (its overrides applied). Sides are read
concurrently with the fleet's runner, so a fleet diff costs one read per member.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sssctl import exitcodes
from sssctl.app import diff
from sssctl.app.commands import Output
from sssctl.app.export import assemble, read_live
from sssctl.app.fleet.run import FleetRun, MemberResult, run_all
from sssctl.app.requests import Limits, PlanFormat
from sssctl.fleet import file as fleet_file

Side = fleet_file.Member


def _read_task(fleet_run: FleetRun, member: Side) -> MemberResult:
    with fleet_run.open(member, "export", lock=False, every_service=True) as s:
        document, unread = assemble(s.desired, s.kinds, read_live(s.kinds, s.ctx))
    code = exitcodes.INCOMPLETE if unread else exitcodes.OK
    return MemberResult(member.name, s.environment_name, code, error="; ".join(unread) or None,
                        data={"document": document})


def sides_of(left: str, right: str, fleet: fleet_file.Fleet | None) -> list[Side]:
    """Members of the fleet when one is named, otherwise config files."""
    if fleet is not None:
        return [fleet.member(left), fleet.member(right)]
    return [Side(left, Path(left)), Side(right, Path(right))]


def cmd_diff(output: Output, left: str | None, right: str | None, *, fleet_path: Path | None,
             environ: Mapping[str, str], parallel: int, fmt: PlanFormat, limits: Limits | None = None) -> int:
    fleet = fleet_file.load(fleet_path) if fleet_path is not None else None
    if left is not None and right is not None:
        pairs_of = sides_of(left, right, fleet)
        baseline, others = pairs_of[0], pairs_of[1:]
    elif fleet is not None and left is None:
        baseline = fleet.member(fleet.baseline)
        others = [m for m in fleet.members if m.name != baseline.name]
    else:
        from sssctl.engine.errors import EngineError

        raise EngineError("name two configs (sssctl diff A.toml B.toml), two members with --fleet FLEETFILE, "
                          "or only --fleet FLEETFILE to compare every member with the baseline")
    fleet_run = FleetRun(environ, parallel=parallel, limits=limits or Limits(), say=output.warn)
    results = run_all(fleet_run, [baseline, *others], _read_task)
    return _report(output, results[0], results[1:], fmt)


def _report(output: Output, base: MemberResult, others: Sequence[MemberResult], fmt: str) -> int:
    unreadable = [r for r in (base, *others) if r.exit_code != exitcodes.OK]
    for r in unreadable:
        output.warn(f"Error: {r.member} could not be read completely: {r.error}")
    if base.exit_code not in (exitcodes.OK, exitcodes.INCOMPLETE) or "document" not in base.data:
        return exitcodes.INCOMPLETE
    comparisons = [diff.compare(base.member, base.data["document"], r.member, r.data["document"])
                   for r in others if "document" in r.data]
    output.echo(_render(comparisons, fmt), nl=False)
    if unreadable:
        return exitcodes.INCOMPLETE
    return exitcodes.OK if all(c.equal for c in comparisons) else exitcodes.CHANGES_PRESENT


def _render(comparisons: Sequence[diff.Comparison], fmt: str) -> str:
    if fmt == "json":
        document: dict[str, Any] = {"format_version": "1.0",
                                    "comparisons": [diff.to_json(c) for c in comparisons]}
        return json.dumps(document, indent=2) + "\n"
    render = diff.render_markdown if fmt == "markdown" else diff.render_text
    return "\n".join(render(c) for c in comparisons)
