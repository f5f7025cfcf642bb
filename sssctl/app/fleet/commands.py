"""The fleet side of the command line: run a command over the members, print, pick the exit code."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

from sssctl import exitcodes
from sssctl.app.commands import Output
from sssctl.app.fleet import render
from sssctl.app.fleet.run import (
    FleetRun,
    MemberResult,
    MemberTask,
    apply_saved_task,
    apply_task,
    audit_task,
    most_severe,
    plan_task,
    read_manifest,
    run_all,
    validate_task,
    write_manifest,
)
from sssctl.app.requests import FleetRequest, MatrixFormat, Severity
from sssctl.engine.errors import EngineError
from sssctl.fleet import file as fleet_file
from sssctl.fleet import matrix


def _run(output: Output, fleet: fleet_file.Fleet, names: Sequence[str], task: MemberTask, *,
         environ: Mapping[str, str], req: FleetRequest) -> tuple[int, list[MemberResult]]:
    members, parallel, fmt = fleet.select(names), req.parallel, req.fmt
    fleet_run = FleetRun(environ, parallel=parallel, limits=req.limits, say=output.warn)
    output.warn(f"sssctl fleet: {len(members)} member(s), up to {parallel} at once.")
    results = run_all(fleet_run, members, task)
    output.echo(render.render(results, fmt, color=output.color), nl=False)
    return most_severe([r.exit_code for r in results]), results


def cmd_validate(output: Output, req: FleetRequest, *, environ: Mapping[str, str]) -> int:
    fleet = fleet_file.load(req.fleet_file)
    code, _ = _run(output, fleet, req.members, validate_task, environ=environ,
                   req=dataclasses.replace(req, parallel=1))
    return code


def cmd_plan(output: Output, req: FleetRequest, *, environ: Mapping[str, str], detailed: bool,
             refresh_only: bool = False, out_dir: Path | None = None, allow_lockout: bool = False) -> int:
    fleet = fleet_file.load(req.fleet_file)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    task = plan_task(detailed=detailed, refresh_only=refresh_only, out_dir=out_dir,
                     allow_lockout=allow_lockout)
    code, results = _run(output, fleet, req.members, task, environ=environ, req=req)
    if out_dir is not None:
        saved = [fleet.member(r.member) for r in results if r.plan is not None]
        write_manifest(out_dir, fleet, saved)
        output.warn(f"Saved {len(saved)} plan(s) in {out_dir}. Apply exactly these changes with: "
                    f"sssctl fleet apply {out_dir}")
    return code


def cmd_apply(output: Output, req: FleetRequest, *, environ: Mapping[str, str], auto_approve: bool,
              allow_lockout: bool) -> int:
    """``fleet apply FLEETFILE --auto-approve`` or ``fleet apply DIR`` (saved plans, reviewed).

    ``req.limits.parallelism`` is each member's own cap on requests in flight.
    """
    target, names = req.fleet_file, req.members
    if target.is_dir():
        fleet_path, recorded = read_manifest(target)
        fleet = fleet_file.load(fleet_path)
        wanted = [n for n in recorded if n in names] if names else recorded
        missing = sorted(set(names) - set(recorded))
        if missing:
            raise EngineError(f"no saved plan for member(s) {', '.join(missing)} in {target}")
        task = apply_saved_task(target, allow_lockout=allow_lockout)
        code, _ = _run(output, fleet, wanted, task, environ=environ, req=req)
        return code
    if not auto_approve:
        raise EngineError("a fleet is applied either from reviewed plans (`sssctl fleet plan FLEETFILE "
                          "--out DIR`, then `sssctl fleet apply DIR`) or with --auto-approve")
    fleet = fleet_file.load(target)
    task = apply_task(allow_lockout=allow_lockout)
    code, _ = _run(output, fleet, names, task, environ=environ, req=req)
    return code


def cmd_audit(output: Output, req: FleetRequest, *, environ: Mapping[str, str],
              fail_on: Severity | None) -> int:
    fleet = fleet_file.load(req.fleet_file)
    code, _ = _run(output, fleet, req.members, audit_task(fail_on=fail_on), environ=environ, req=req)
    return code


def cmd_matrix(output: Output, fleet_path: Path, names: Sequence[str], *, fmt: MatrixFormat) -> int:
    fleet = fleet_file.load(fleet_path)
    output.echo(matrix.render(fleet, fleet.select(names), fmt), nl=False)
    return exitcodes.OK
