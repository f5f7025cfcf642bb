"""Run one command for every member of a fleet, a bounded number of environments at once.

Members run in threads of this process, not in child processes: a member's work is
waiting on HTTPS, and what a run needs is process-global anyway (the logging redaction
registry every member adds its secrets to, the structlog configuration, and Ctrl-C,
which Python delivers to the main thread only). Each member is one ordinary
``runner.session`` with its own config, clients, state backend and lock, so one
member's failure is caught and reported as its result and never touches the others.
The main thread owns SIGINT: the first Ctrl-C sets one stop event that every member's
applier checks between changes, and members not started yet are not started.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sssctl import exitcodes
from sssctl.app import interrupts, runner
from sssctl.app.commands import describe_error, plan_exit_code
from sssctl.app.requests import Limits
from sssctl.audit.checks import Declared, Finding
from sssctl.config.model import Desired
from sssctl.engine import planfile
from sssctl.engine.applier import ApplyReport
from sssctl.engine.errors import EngineError, PlanRefused
from sssctl.engine.plan import Plan
from sssctl.engine.render.common import counts
from sssctl.fleet.file import Fleet, Member

# Most severe first: an interrupted or failed member outweighs a held lock, which outweighs
# an incomplete read, audit findings, pending changes and success.
SEVERITY = (exitcodes.INTERRUPTED, exitcodes.ERROR, exitcodes.LOCKED, exitcodes.INCOMPLETE,
            exitcodes.FINDINGS, exitcodes.CHANGES_PRESENT, exitcodes.OK)
MANIFEST = "fleet-plan.json"


def most_severe(codes: Sequence[int]) -> int:
    """The fleet's exit code: the worst of its members' (OK for an empty fleet)."""
    return min(codes, key=lambda code: SEVERITY.index(code) if code in SEVERITY else 1,
               default=exitcodes.OK)


@dataclass
class MemberResult:
    member: str
    environment: str = ""
    exit_code: int = exitcodes.OK
    plan: Plan | None = None
    report: ApplyReport | None = None
    error: str | None = None
    refused: int = 0
    detail: str = ""               # what the command prints for this member besides a plan
    data: dict[str, Any] = field(default_factory=dict)   # JSON extras (audit findings)
    findings: tuple[Finding, ...] | None = None   # an audit's, None for every other command
    config: Path | None = None
    declared: Declared | None = None              # the audit checks the member's kinds declare

    @property
    def changes(self) -> int:
        return len(self.plan.actionable) if self.plan else 0

    @property
    def unknown(self) -> int:
        return counts(self.plan)["unknown"] if self.plan else 0


@dataclass
class FleetRun:
    """What every member shares: where they run and how many at once."""

    environ: Mapping[str, str]
    parallel: int = 4
    limits: Limits = field(default_factory=Limits)   # each member's requests in flight, deadline, lock wait
    services: runner.Services | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    say: Callable[[str], None] = lambda message: None

    def member_services(self, member: Member) -> runner.Services:
        base = self.services or runner.default_services()
        return dataclasses.replace(base, load_config=with_overrides(base.load_config, member))

    def open(self, member: Member, command: str, config: Path | None = None, *, allow_lockout: bool = False,
             lock: bool = True, every_service: bool = False) -> AbstractContextManager[runner.Session]:
        opts = runner.RunOptions(config or member.config, self.environ, command, allow_lockout=allow_lockout,
                                 parallelism=self.limits.parallelism, timeout=self.limits.timeout,
                                 lock_timeout=self.limits.lock_timeout,
                                 lock=lock, every_service=every_service)
        return runner.session(opts, self.member_services(member))


def with_overrides(load: Callable[[Path, Mapping[str, str]], Desired],
                   member: Member) -> Callable[[Path, Mapping[str, str]], Desired]:
    """The member's ``url`` and ``name`` win over the config file and over ``SSSCTL_URL``."""

    def load_member(path: Path, environ: Mapping[str, str]) -> Desired:
        if member.url:
            environ = {**environ, "SSSCTL_URL": member.url}
        desired = load(path, environ)
        if member.environment_name:
            environment = dataclasses.replace(desired.environment, name=member.environment_name)
            desired = dataclasses.replace(desired, environment=environment)
        return desired

    return load_member


MemberTask = Callable[[FleetRun, Member], MemberResult]


def run_all(fleet_run: FleetRun, members: Sequence[Member], task: MemberTask) -> list[MemberResult]:
    """Every member's result, in fleet order, however the threads finished."""
    with (ThreadPoolExecutor(max_workers=max(1, fleet_run.parallel), thread_name_prefix="fleet") as pool,
          interrupts.graceful(fleet_run.stop, fleet_run.say)):
        futures = [pool.submit(_guarded, fleet_run, member, task) for member in members]
        return [f.result() for f in futures]


def _guarded(fleet_run: FleetRun, member: Member, task: MemberTask) -> MemberResult:
    if fleet_run.stop.is_set():
        return MemberResult(member.name, exit_code=exitcodes.INTERRUPTED, error="not started (interrupted)")
    try:
        result = task(fleet_run, member)
    except Exception as exc:  # one member's failure is its result, never the fleet's crash
        message, code = describe_error(exc)
        refused = len(exc.refusals) if isinstance(exc, PlanRefused) else 0
        fleet_run.say(f"{member.name}: failed (exit {code})")
        return MemberResult(member.name, exit_code=code, error=message.removeprefix("Error: "),
                            refused=refused)
    fleet_run.say(f"{member.name}: {outcome_word(result)}")
    return result


def outcome_word(result: MemberResult) -> str:
    if result.error:
        return f"failed (exit {result.exit_code})"
    if result.findings is not None:
        return f"{len(result.findings)} finding(s)" if result.findings else "no findings"
    if result.report is not None:
        return "applied" if result.report.ok else "apply incomplete"
    if result.plan is not None:
        return f"{result.changes} to change" if result.changes else "no changes"
    return "ok"


# --- the member tasks ---------------------------------------------------------------------

def validate_task(fleet_run: FleetRun, member: Member) -> MemberResult:
    desired = fleet_run.member_services(member).load_config(member.config, fleet_run.environ)
    return MemberResult(member.name, environment=desired.environment.name or "", detail="valid")


def plan_task(*, detailed: bool, refresh_only: bool = False, out_dir: Path | None = None,
              allow_lockout: bool = False) -> MemberTask:
    def task(fleet_run: FleetRun, member: Member) -> MemberResult:
        command = "refresh" if refresh_only else "plan"
        with fleet_run.open(member, command, allow_lockout=allow_lockout) as s:
            p = runner.refresh(s) if refresh_only else runner.plan(s)
        if out_dir is not None:
            planfile.save(plan_path(out_dir, member), p, environment_name=s.environment_name,
                          config_path=member.config)
        return MemberResult(member.name, s.environment_name, plan_exit_code(p, detailed=detailed), plan=p)

    return task


def apply_task(*, allow_lockout: bool = False) -> MemberTask:
    """Plan and apply at once (``--auto-approve``): the fleet's confirmation was the flag."""

    def task(fleet_run: FleetRun, member: Member) -> MemberResult:
        with fleet_run.open(member, "apply", allow_lockout=allow_lockout) as s:
            s.ctx.stop = fleet_run.stop
            p = runner.plan(s)
            report = runner.execute(s, p)
        return applied(member, s.environment_name, p, report)

    return task


def apply_saved_task(plan_dir: Path, *, allow_lockout: bool = False) -> MemberTask:
    def task(fleet_run: FleetRun, member: Member) -> MemberResult:
        saved = planfile.load(plan_path(plan_dir, member))
        with fleet_run.open(member, "apply", config=saved.config_file, allow_lockout=allow_lockout) as s:
            s.ctx.stop = fleet_run.stop
            report = runner.apply_saved(s, saved)
        return applied(member, s.environment_name, saved.plan, report)

    return task


def applied(member: Member, environment: str, p: Plan, report: ApplyReport) -> MemberResult:
    refused = report.count("refused")
    code = report.exit_code
    problems = [f"{o.change.address} {'was refused' if o.status == 'refused' else 'failed'}: {o.message}"
                for o in report.outcomes if o.status in ("refused", "failed")]
    # an unknown is not a failure of the member (exit 3, not 1): said in its detail instead
    unknown = [f"Unknown: {o.change.address}: {o.message}" for o in report.outcomes if o.status == "unknown"]
    return MemberResult(member.name, environment, code, plan=p, report=report, refused=refused,
                        error="; ".join(problems) or None, detail="\n".join([report.summary(), *unknown]))


def audit_task(*, fail_on: str | None) -> MemberTask:
    def task(fleet_run: FleetRun, member: Member) -> MemberResult:
        from sssctl.audit.checks import audit, fails, render_table, rows_of

        with fleet_run.open(member, "audit", lock=False, every_service=True) as s:
            audited = audit(s.kinds, s.ctx, s.desired)
        findings = audited.findings
        code = exitcodes.FINDINGS if fails(findings, fail_on) else exitcodes.OK
        return MemberResult(member.name, s.environment_name, code, detail=render_table(findings),
                            data={"findings": rows_of(findings)}, findings=tuple(findings),
                            config=member.config, declared=audited.declared)

    return task


# --- saved fleet plans --------------------------------------------------------------------

def plan_path(plan_dir: Path, member: Member) -> Path:
    return plan_dir / f"{member.name}.plan.json"


def write_manifest(plan_dir: Path, fleet: Fleet, members: Sequence[Member]) -> None:
    """Names the fleet file (relative, so the directory moves with a checkout) and the members."""
    document = {"format_version": 1, "fleet": planfile.relative_config_path(fleet.path, plan_dir / MANIFEST),
                "members": [m.name for m in members]}
    (plan_dir / MANIFEST).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def read_manifest(plan_dir: Path) -> tuple[Path, list[str]]:
    """The fleet file and members a ``fleet plan --out DIR`` recorded; untrusted, so checked."""
    path = plan_dir / MANIFEST
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EngineError(f"{path}: not a saved fleet plan ({exc}); write one with "
                          "`sssctl fleet plan FLEETFILE --out DIR`") from None
    fleet_file, members = (document.get("fleet"), document.get("members")) if isinstance(document, dict) \
        else (None, None)
    if (not isinstance(fleet_file, str) or not isinstance(members, list)
            or not all(isinstance(m, str) for m in members) or document.get("format_version") != 1):
        raise EngineError(f"{path}: malformed saved fleet plan (expected format_version 1, fleet, members); "
                          "write it again with `sssctl fleet plan FLEETFILE --out DIR`")
    return plan_dir / fleet_file, list(members)
