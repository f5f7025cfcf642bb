"""The engine's side of the command line: run a command, print its result, pick the exit code.

The command line only parses flags into the requests of :mod:`sssctl.app.requests` and
calls these functions; everything that decides what a
user sees (error wording, progress, summaries, confirmation) lives here so it can be
tested without a terminal.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

import click

from sssctl import exitcodes
from sssctl.app import confirm as approval
from sssctl.app import interrupts, runner, targeting
from sssctl.app.requests import ApplyRequest, AuditRequest, DestroyRequest, Limits, PlanRequest, ShowRequest
from sssctl.clients.errors import AuthError
from sssctl.config.errors import ConfigError
from sssctl.engine import planfile
from sssctl.engine.applier import ApplyReport, is_forget
from sssctl.engine.errors import EngineError, NotConfirmed, PlanRefused
from sssctl.engine.plan import Change, Plan
from sssctl.engine.render import jsonplan, markdown, text
from sssctl.state.backend import Backend
from sssctl.state.errors import LockHeld, StateError

if TYPE_CHECKING:
    from sssctl.app.pauses import PauseNotices
    from sssctl.clients.http import RequestStats


@dataclass
class Output:
    """Where and how to print: stdout for results, stderr for progress and errors."""

    color: bool = False
    verbose: int = 0
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)

    def echo(self, message: str = "", *, nl: bool = True) -> None:
        click.echo(message, file=self.out, nl=nl, color=self.color)

    def warn(self, message: str) -> None:
        click.echo(message, file=self.err, color=self.color)


def render_plan(p: Plan, fmt: str, *, environment_name: str, color: bool) -> str:
    if fmt == "json":
        return jsonplan.render(p, environment_name=environment_name)
    if fmt == "markdown":
        return markdown.render(p, environment_name=environment_name)
    return text.render(p, color=color)


# --- errors at the boundary ---------------------------------------------------------------

def describe_error(exc: BaseException) -> tuple[str, int]:
    """The message and exit code for an error that reached the command line."""
    if isinstance(exc, LockHeld):
        return f"Error: {exc}", exitcodes.LOCKED
    if isinstance(exc, EngineError):
        return f"Error: {exc}", exc.exit_code
    if isinstance(exc, StateError):
        return f"Error: {exc}", exitcodes.ERROR
    if isinstance(exc, ConfigError):
        lines = [f"Error: the configuration is not valid ({len(exc.findings)} problem(s)):"]
        lines += [f"  {f.render()}" for f in exc.findings]
        return "\n".join(lines), exitcodes.ERROR
    message = f"Error: {type(exc).__name__}: {exc}" if not str(exc) else f"Error: {exc}"
    if isinstance(exc, AuthError) and exc.remedy:
        message += f"\n  What to do: {exc.remedy}"
    return message, exitcodes.ERROR


def guarded(output: Output, action: Callable[[], int]) -> int:
    """Run a command body; known failures become a message and an exit code, never a traceback."""
    try:
        return action()
    except interrupts.AbortedAtOnce:
        output.warn(f"\n{interrupts.SECOND_PRESS}")
        return exitcodes.INTERRUPTED
    except KeyboardInterrupt:
        output.warn(f"\n{interrupts.OUTSIDE_WRITES}")
        return exitcodes.INTERRUPTED
    except Exception as exc:
        if output.verbose >= 2:
            output.warn("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        message, code = describe_error(exc)
        output.warn(message)
        return code


# --- progress -----------------------------------------------------------------------------

class Progress:
    """One overwritten status line on stderr, only when stderr is a terminal.

    Kinds report from reader threads, hence the lock; :meth:`clear` wipes the line
    before results are printed, so a plan never starts mid-line after "read mailboxes".
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self._lock = threading.Lock()
        self._shown = False

    @property
    def live(self) -> bool:
        return self.enabled

    def _show(self, line: str) -> None:
        if self.enabled:
            with self._lock:
                self.stream.write(f"\r\x1b[K{line}")
                self.stream.flush()
                self._shown = bool(line)

    def kind_step(self, label: str, done: int, total: int | None) -> None:
        of = f"/{total}" if total is not None else ""
        self._show(f"{label} {done}{of} ...")

    def change_done(self, done: int, total: int, change: Change) -> None:
        self._show(f"apply {done}/{total} {change.address} ...")

    def paused(self, text: str, seconds: float) -> None:
        if seconds > 0:
            self._show(f"{text} ...")

    def clear(self) -> None:
        if self._shown:
            self._show("")

    def close(self) -> None:
        self.clear()


class Reporter(Protocol):
    """What a run tells the person waiting: :class:`Progress`, or the CLI's ``RunProgress``."""

    @property
    def live(self) -> bool: ...     # one overwritten line on a terminal, not lines of their own

    def kind_step(self, label: str, done: int, total: int | None) -> None: ...

    def change_done(self, done: int, total: int, change: Change) -> None: ...

    def paused(self, text: str, seconds: float) -> None: ...   # a wait a service asked for (pauses.py)

    def clear(self) -> None: ...

    def close(self) -> None: ...


# --- commands -----------------------------------------------------------------------------

@dataclass
class Invocation:
    config_path: Path
    environ: Mapping[str, str]
    output: Output
    limits: Limits = field(default_factory=Limits)
    services: runner.Services | None = None
    progress: Reporter = field(init=False)
    pauses: PauseNotices | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.progress = Progress(self.output.err)

    def options(self, command: str, *, allow_lockout: bool = False, lock: bool = True,
                every_service: bool = False, elevated: bool = False) -> runner.RunOptions:
        from sssctl.app.pauses import PauseNotices  # the HTTP layer only when a command talks to a service

        limits = self.limits
        self.pauses = PauseNotices(self.progress, live=self.progress.live)
        return runner.RunOptions(self.config_path, self.environ, command, allow_lockout=allow_lockout,
                                 parallelism=limits.parallelism, timeout=limits.timeout,
                                 lock_timeout=limits.lock_timeout, progress=self.progress.kind_step,
                                 on_pause=self.pauses, lock=lock, every_service=every_service,
                                 elevated=elevated)

    def announce(self, sentence: str) -> None:
        """A sentence for the person at the keyboard, on its own line, never glued to progress."""
        self._settle_progress()
        self.output.warn(f"\n{sentence}")

    def show(self, rendered: str) -> None:
        """Print a result on stdout, after wiping any progress line."""
        self._settle_progress()
        self.output.echo(rendered, nl=False)

    def _settle_progress(self) -> None:
        """Say the pauses only counted so far, then wipe the live line."""
        if self.pauses is not None:
            self.pauses.flush()
        self.progress.clear()

    def open(self, command: str, *, allow_lockout: bool = False, lock: bool = True,
             every_service: bool = False, elevated: bool = False) -> AbstractContextManager[runner.Session]:
        options = self.options(command, allow_lockout=allow_lockout, lock=lock, every_service=every_service,
                               elevated=elevated)
        return runner.session(options, self.services or runner.default_services())


def plan_exit_code(p: Plan, *, detailed: bool) -> int:
    if p.unknown:
        return exitcodes.INCOMPLETE
    if detailed and (p.actionable or (p.refresh_only and p.changes)):
        return exitcodes.CHANGES_PRESENT
    return exitcodes.OK


def cmd_plan(inv: Invocation, req: PlanRequest) -> int:
    """``plan``; ``req.destroy`` plans what ``sssctl destroy`` would do, to review and save it."""
    targets, out = req.targets, req.out
    if out is not None:
        planfile.check_writable(out)
    if req.destroy and req.refresh_only:
        raise EngineError("--destroy and --refresh-only cannot be combined")
    with inv.open("plan", allow_lockout=req.allow_lockout) as s:
        try:
            if req.destroy:
                p = runner.destroy_plan(s, targets=targets)
            else:
                p = (runner.refresh(s, targets=targets) if req.refresh_only
                     else runner.plan(s, targets=targets))
        except PlanRefused as exc:
            exc.environment_name = s.environment_name
            raise
        targeting.review(p, targets, inv.output.warn)
    inv.show(render_plan(p, req.fmt, environment_name=s.environment_name, color=inv.output.color))
    if out is not None:
        planfile.save(out, p, environment_name=s.environment_name, config_path=inv.config_path,
                      targets=targets)
        inv.output.warn(f"Saved the plan to {out}. Apply exactly these changes with: sssctl apply {out}")
    return plan_exit_code(p, detailed=req.detailed)


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def confirm_on_tty(auto_approve: bool, verb: str = "Apply") -> Callable[[Plan], bool]:
    def confirm(p: Plan) -> bool:
        if auto_approve:
            return True
        if not stdin_is_terminal():
            raise NotConfirmed(
                "stdin is not a terminal, so sssctl cannot ask for confirmation; "
                "use --auto-approve, or save a plan with `sssctl plan --out FILE` and apply that file"
            )
        count = len(p.actionable)
        return approval.approved(f"{verb} this change?" if count == 1 else f"{verb} these {count} changes?")

    return confirm


def report_apply(inv: Invocation, report: ApplyReport, stats: RequestStats | None) -> int:
    out = inv.output
    out.echo("")
    for o in report.outcomes:
        suffix = f" ({o.writes} write{'s' if o.writes != 1 else ''})" if o.writes else ""
        message = f": {o.message}" if o.message and o.status != "applied" else ""
        out.echo(f"  {o.change.action.value} {o.change.address}: {o.status}{suffix}{message}")
    out.echo(report.summary())
    if stats is not None:
        out.echo(
            f"HTTP requests this run: {stats.total} "
            f"({stats.writes} writing, a $batch counting once; "
            f"{stats.retries} retried, {stats.throttled} throttled)."
        )
    problems = [o for o in report.outcomes if o.status in ("refused", "failed")]
    for o in problems:
        verb = "was refused" if o.status == "refused" else "failed"
        out.warn(f"Error: {o.change.address} {verb}: {o.message}")
    for o in report.outcomes:
        if o.status == "unknown":
            out.warn(f"Unknown: {o.change.address}: {o.message}; the next plan reads it back")
    if report.interrupted:
        out.warn("Stopped: the changes listed as applied are saved in the state; "
                 "run apply again to finish.")
    return report.exit_code


def cmd_apply(inv: Invocation, req: ApplyRequest) -> int:
    progress, plan_file, targets = inv.progress, req.plan_file, req.targets
    if req.elevated:
        if plan_file is not None:
            raise EngineError("--elevated plans afresh; it cannot apply a saved plan")
        return _apply_elevated(inv, req)
    if plan_file is not None:
        if targets:
            raise EngineError("--target cannot be combined with a saved plan; pass --target to `sssctl plan`")
        saved = planfile.load(plan_file)
        if not req.config_given:
            inv.config_path = _config_of(saved, plan_file)
        with (inv.open("apply", allow_lockout=req.allow_lockout) as s,
              interrupts.graceful(s.ctx.stop, inv.announce)):
            report = runner.apply_saved(s, saved, on_progress=progress.change_done)
    else:
        with inv.open("apply", allow_lockout=req.allow_lockout) as s:
            p = runner.plan(s, targets=targets)
            targeting.review(p, targets, inv.output.warn)
            inv.show(text.render(p, color=inv.output.color))
            if _nothing_to_do(p):
                runner.adopt_compliant(s, p)
                return exitcodes.OK
            with interrupts.graceful(s.ctx.stop, inv.announce):
                report = runner.apply_interactive(s, p, confirm=confirm_on_tty(req.auto_approve),
                                                  on_progress=progress.change_done)
    progress.clear()
    return report_apply(inv, report, s.clients.stats)


def _apply_elevated(inv: Invocation, req: ApplyRequest) -> int:
    """Only the changes needing a tier-0 right, signed in as whoever runs this (an administrator)."""
    with inv.open("apply", allow_lockout=req.allow_lockout, elevated=True) as s:
        p = runner.plan(s, targets=req.targets)
        targeting.review(p, req.targets, inv.output.warn)
        needed = tuple(c for c in p.changes if c.elevation and c.writes)
        if not needed:
            inv.show(text.render(p, color=inv.output.color))
            inv.output.echo("Nothing needs elevation: the standing apply identity can apply this plan.")
            return exitcodes.OK
        only = dataclasses.replace(p, changes=needed)
        inv.show(text.render(only, color=inv.output.color))
        with interrupts.graceful(s.ctx.stop, inv.announce):
            report = runner.apply_interactive(s, p, confirm=lambda _: confirm_on_tty(req.auto_approve)(only),
                                              on_progress=inv.progress.change_done)
    inv.progress.clear()
    return report_apply(inv, report, s.clients.stats)


def _config_of(saved: planfile.SavedPlan, plan_file: Path) -> Path:
    """The config the plan names, found beside the plan file as it was when the plan was made."""
    if not saved.config_file.is_file():
        raise EngineError(
            f"the plan names the config {saved.config_path} (relative to {plan_file.parent}), which is not "
            f"there ({saved.config_file}); pass the same config with -c FILE"
        )
    return saved.config_file


def _nothing_to_do(p: Plan) -> bool:
    return not p.actionable and not p.unknown and not any(is_forget(c) for c in p.changes)


def cmd_destroy(inv: Invocation, req: DestroyRequest) -> int:
    progress = inv.progress
    with inv.open("destroy") as s:
        p = runner.destroy_plan(s, targets=req.targets)
        inv.show(text.render(p, color=inv.output.color))
        if _nothing_to_do(p):
            return exitcodes.OK
        with interrupts.graceful(s.ctx.stop, inv.announce):
            report = runner.apply_interactive(s, p, confirm=confirm_on_tty(req.auto_approve, "Restore"),
                                              on_progress=progress.change_done, reverse=True)
    progress.clear()
    return report_apply(inv, report, s.clients.stats)


def cmd_show(inv: Invocation, req: ShowRequest) -> int:
    plan_file, fmt = req.plan_file, req.fmt
    if plan_file is not None:
        saved = planfile.load(plan_file)
        inv.output.echo(render_plan(saved.plan, fmt, environment_name=saved.environment_name,
                                    color=inv.output.color), nl=False)
        return exitcodes.OK
    backend = _backend(inv)
    snapshot = backend.read()
    if snapshot is None:
        inv.output.echo(f"No state yet ({backend.describe()} does not exist): nothing has been applied.")
        return exitcodes.OK
    if fmt == "json":
        inv.output.echo(json.dumps(snapshot.to_document(), indent=2, sort_keys=True))
        return exitcodes.OK
    inv.output.echo(f"# state {backend.describe()} (lineage {snapshot.lineage}, serial {snapshot.serial})")
    for address, entry in sorted(snapshot.resources.items()):
        inv.output.echo(f"{address}:")
        for key, value in (entry.get("managed") or {}).items():
            inv.output.echo(f"    {key} = {json.dumps(value, sort_keys=True)}")
        for key, value in (entry.get("fingerprints") or {}).items():
            inv.output.echo(f"    (fingerprint) {key} = {value}")
    return exitcodes.OK


def _backend(inv: Invocation) -> Backend:
    services = inv.services or runner.default_services()
    desired = services.load_config(inv.config_path, inv.environ)
    return runner.backend_for(desired, inv.environ)


def cmd_state_list(inv: Invocation) -> int:
    snapshot = _backend(inv).read()
    if snapshot is None or not snapshot.resources:
        inv.output.warn("No managed addresses in the state.")
    for address, entry in sorted((snapshot.resources if snapshot else {}).items()):
        inv.output.echo(f"{address}\t{entry.get('kind', '?')}\t{entry.get('updated_at', '')}")
    return exitcodes.OK


def cmd_state_show(inv: Invocation, address: str) -> int:
    backend = _backend(inv)
    snapshot = backend.read()
    entry = (snapshot.resources if snapshot else {}).get(address)
    if entry is None:
        raise StateError(
            f"{address} is not in the state {backend.describe()}; `sssctl state list` shows what is"
        )
    inv.output.echo(json.dumps(entry, indent=2, sort_keys=True))
    return exitcodes.OK


def cmd_state_unlock(inv: Invocation, lock_id: str) -> int:
    backend = _backend(inv)
    previous = backend.force_unlock(lock_id)
    holder = f"{previous.get('holder', '?')} (pid {previous.get('pid')})"
    inv.output.echo(f"Removed lock {lock_id} held by {holder}.")
    return exitcodes.OK


def cmd_export(inv: Invocation) -> int:
    from sssctl.app.export import export, read_live

    with inv.open("export", lock=False, every_service=True) as s:
        result = export(s.desired, s.kinds, read_live(s.kinds, s.ctx))
    inv.show(result.text)
    for why in result.unread:
        inv.output.warn(f"Warning: could not be read, so missing from the export: {why}")
    return exitcodes.INCOMPLETE if result.unread else exitcodes.OK


def cmd_audit(inv: Invocation, req: AuditRequest) -> int:
    from sssctl.audit import formats
    from sssctl.audit.checks import audit, fails, rows_of

    # Every service it can reach: an own-app profile is judged by its app's Exchange scope
    # even when this config does not manage Control 5.
    with inv.open("audit", lock=False, every_service=True) as s:
        result = audit(s.kinds, s.ctx, s.desired)
    findings = result.findings
    if req.fmt == "json":
        inv.show(json.dumps({"format_version": "1.0", "findings": rows_of(findings)}, indent=2) + "\n")
    else:
        inv.show(formats.render(findings, req.fmt, declared=result.declared, config_path=inv.config_path))
    return exitcodes.FINDINGS if fails(findings, req.fail_on) else exitcodes.OK
