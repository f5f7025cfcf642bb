from __future__ import annotations

import io

from sssctl import exitcodes
from sssctl.app.commands import Output, Progress, describe_error, guarded
from sssctl.clients.errors import AuthError
from sssctl.config.errors import ConfigError, Finding
from sssctl.engine.errors import PlanIncomplete
from sssctl.engine.plan import Action, Change
from sssctl.state.errors import LockHeld, StateCorrupt


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_one_rewritten_line_on_a_terminal_only() -> None:
    tty = Terminal()
    progress = Progress(tty)
    progress.change_done(3, 12, Change("mailboxes", Action.UPDATE, None, None, ""))
    progress.kind_step("mailboxes: reverted", 500, 2000)
    progress.clear()
    assert "\rapply 3/12 mailboxes ..." in tty.getvalue().replace("\x1b[K", "")
    assert "mailboxes: reverted 500/2000 ..." in tty.getvalue()
    pipe = io.StringIO()
    Progress(pipe).change_done(1, 2, Change("approval", Action.UPDATE, None, None, ""))
    assert pipe.getvalue() == ""


def test_errors_map_to_their_exit_codes_and_say_what_to_do() -> None:
    assert describe_error(LockHeld("held", holder={}))[1] == exitcodes.LOCKED
    assert describe_error(PlanIncomplete("x"))[1] == exitcodes.INCOMPLETE
    assert describe_error(StateCorrupt("bad"))[1] == exitcodes.ERROR
    message, code = describe_error(AuthError("wrong secret", remedy="create a new client secret"))
    assert code == exitcodes.ERROR and "What to do: create a new client secret" in message
    finding = Finding("c.toml", "org_settings.Foo", "unknown setting", line=3, suggestion="Food")
    message, _ = describe_error(ConfigError([finding]))
    assert 'c.toml:3: org_settings.Foo: unknown setting (did you mean "Food"?)' in message


def test_guarded_prints_no_traceback_unless_very_verbose() -> None:
    def boom() -> int:
        raise RuntimeError("disk full")

    quiet = Output(err=io.StringIO())
    assert guarded(quiet, boom) == exitcodes.ERROR
    assert quiet.err.getvalue() == "Error: disk full\n"  # type: ignore[attr-defined]
    loud = Output(verbose=2, err=io.StringIO())
    guarded(loud, boom)
    assert "Traceback" in loud.err.getvalue()  # type: ignore[attr-defined]


def test_results_never_start_on_a_progress_line() -> None:
    from pathlib import Path

    from sssctl.app.commands import Invocation

    err, out = Terminal(), io.StringIO()
    inv = Invocation(Path("x.toml"), {}, Output(out=out, err=err))
    inv.progress.kind_step("read mailboxes", 5000, None)
    inv.show("No changes.\n")
    assert err.getvalue().endswith("\r\x1b[K") and out.getvalue() == "No changes.\n"
