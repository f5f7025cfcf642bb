"""Secrets never reach a log line, whatever the renderer, even at debug level."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import structlog

from sssctl.logging import (
    REDACTED,
    LoggingSetupError,
    color_wanted,
    configure_logging,
    redact_text,
    redacting,
    redaction_processor,
    register_secret,
)

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2NvbnRvc28ifQ.c2lnbmF0dXJlLXZhbHVl"
CLIENT_SECRET = "Zx8Q~registered.secret-value_42"
FILE_SECRET = "from-a-secret-file-9f8e7d"


def _emit(log_format: str) -> str:
    stream = io.StringIO()
    configure_logging(log_format=log_format, verbose=2, color=False, stream=stream)
    register_secret(CLIENT_SECRET)
    log = structlog.get_logger("test")
    log.debug("token.acquired", access_token=JWT, token_source="msal", expires_in=3599)
    log.debug("http.request", method="GET", headers={"Authorization": f"Bearer {JWT}", "Accept": "json"})
    log.debug("http.retry", detail=f"server said: Authorization: Bearer {JWT}")
    log.debug("auth.config", client_secret=CLIENT_SECRET, password="p@ss-word-1", secretText="s3cr3tText!")
    log.debug("echo", note=f"the app said {CLIENT_SECRET} back", items=[CLIENT_SECRET, "ok"])
    log.info(f"event text with {CLIENT_SECRET} inside")
    try:
        raise RuntimeError(f"boom with {CLIENT_SECRET}")
    except RuntimeError:
        log.exception("apply.failed")
    return stream.getvalue()


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_no_secret_survives_rendering(log_format: str) -> None:
    output = _emit(log_format)
    for secret in (JWT, CLIENT_SECRET, "p@ss-word-1", "s3cr3tText!"):
        assert secret not in output
    assert REDACTED in output
    # what is not secret is kept, so logs stay useful
    assert "token.acquired" in output and "msal" in output and "3599" in output and "Accept" in output


def test_json_lines_keep_structure_and_mask_values() -> None:
    lines = [json.loads(line) for line in _emit("json").splitlines() if line.strip()]
    by_event = {line["event"]: line for line in lines}
    assert by_event["token.acquired"]["access_token"] == REDACTED
    assert by_event["token.acquired"]["token_source"] == "msal"
    assert by_event["http.request"]["headers"] == {"Authorization": REDACTED, "Accept": "json"}
    assert by_event["auth.config"]["client_secret"] == REDACTED
    assert by_event["echo"]["items"] == [REDACTED, "ok"]
    assert by_event["echo"]["note"] == f"the app said {REDACTED} back"
    assert by_event["apply.failed"]["level"] == "error"
    assert CLIENT_SECRET not in by_event["apply.failed"]["exception"]


def test_processor_masks_bearer_tokens_and_jwts_in_free_text() -> None:
    event = redaction_processor(None, "debug", {"event": "x", "message": f"Bearer abc.def-123 and {JWT}"})
    assert event["message"] == f"Bearer {REDACTED} and {REDACTED}"


def test_authorization_header_copied_into_text_is_masked_whatever_the_scheme() -> None:
    assert redact_text("Authorization: Basic dXNlcjpwYXNzd29yZA==") == f"Authorization: {REDACTED}"
    assert redact_text(f"-H 'authorization: Bearer {JWT}'") == f"-H 'authorization: {REDACTED}'"
    assert redact_text("Authorization=raw-token-123") == f"Authorization={REDACTED}"


def test_registered_file_secret_is_masked_wherever_it_appears() -> None:
    register_secret(FILE_SECRET)
    assert FILE_SECRET not in redact_text(f"url?key={FILE_SECRET}&x=1")


def test_short_values_are_not_registered_to_avoid_masking_everything() -> None:
    register_secret("abc")
    register_secret(None)
    assert redact_text("abc def") == "abc def"


def test_redacting_stream_masks_what_is_written_and_delegates_the_rest() -> None:
    register_secret(CLIENT_SECRET)
    target = io.StringIO()
    stream = redacting(target)
    assert stream.write(f"Error: the server echoed {CLIENT_SECRET} and Bearer {JWT}\n") > 0
    stream.flush()
    assert CLIENT_SECRET not in target.getvalue() and JWT not in target.getvalue()
    assert target.getvalue().count(REDACTED) == 2
    assert stream.isatty() is False


def test_error_lines_the_cli_prints_are_redacted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sssctl.app import commands
    from sssctl.cli import cli

    register_secret(CLIENT_SECRET)

    def echoing_server(*_: object, **__: object) -> int:
        raise RuntimeError(f"Exchange said: parameter 'AppSecret' with value '{CLIENT_SECRET}' is invalid")

    monkeypatch.setattr(commands, "cmd_plan", echoing_server)
    config = tmp_path / "sssctl.toml"
    config.write_text("version = 1\n")
    result = CliRunner().invoke(cli, ["plan", "-c", str(config)])
    assert result.exit_code == 1
    assert "Error: Exchange said" in result.output
    assert CLIENT_SECRET not in result.output and REDACTED in result.output


# --- configuration: format, level, file and colour like TF_LOG / TF_LOG_PATH / NO_COLOR -----------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _configured(environ: dict[str, str], **kwargs: object) -> tuple[str, str]:
    stream = io.StringIO()
    chosen = configure_logging(stream=stream, environ=environ, **kwargs)  # type: ignore[arg-type]
    log = structlog.get_logger("test")
    log.debug("debug.event")
    log.info("info.event")
    log.warning("warning.event", detail="x")
    return chosen, stream.getvalue()


def test_console_is_the_default_even_without_a_terminal() -> None:
    chosen, output = _configured({})
    assert chosen == "console" and "warning.event" in output and not output.lstrip().startswith("{")


def test_json_only_when_asked_by_flag_or_environment() -> None:
    assert _configured({"SSSCTL_LOG_FORMAT": "json"})[0] == "json"
    assert _configured({"SSSCTL_LOG_FORMAT": "json"}, log_format="console")[0] == "console"
    assert json.loads(_configured({}, log_format="json")[1].splitlines()[0])["event"] == "warning.event"


@pytest.mark.parametrize(("level", "shown", "hidden"), [
    ("debug", ["debug.event", "info.event"], []),
    ("INFO", ["info.event"], ["debug.event"]),
    ("warning", ["warning.event"], ["info.event"]),
])
def test_sssctl_log_sets_the_level(level: str, shown: list[str], hidden: list[str]) -> None:
    output = _configured({"SSSCTL_LOG": level})[1]
    assert all(e in output for e in shown) and not any(e in output for e in hidden)


def test_verbose_flags_win_over_sssctl_log() -> None:
    assert "debug.event" in _configured({"SSSCTL_LOG": "warning"}, verbose=2)[1]


@pytest.mark.parametrize("environ", [{"SSSCTL_LOG": "loud"}, {"SSSCTL_LOG_FORMAT": "xml"}])
def test_a_bad_setting_names_the_variable_and_the_choices(environ: dict[str, str]) -> None:
    with pytest.raises(LoggingSetupError) as caught:
        _configured(environ)
    name = next(iter(environ))
    assert name in str(caught.value) and "unset it" in str(caught.value)


def test_sssctl_log_path_appends_to_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "sssctl.log"
    register_secret(CLIENT_SECRET)
    for run in ("first.run", "second.run"):
        configure_logging(environ={"SSSCTL_LOG_PATH": str(path)})
        structlog.get_logger("test").warning(run, secret_text=CLIENT_SECRET)
    text = path.read_text()
    assert text.index("first.run") < text.index("second.run") and CLIENT_SECRET not in text
    assert path.stat().st_mode & 0o077 == 0


def test_an_unwritable_log_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LoggingSetupError, match=r"SSSCTL_LOG_PATH=.*cannot open it"):
        configure_logging(environ={"SSSCTL_LOG_PATH": str(tmp_path / "missing" / "x.log")})


@pytest.mark.parametrize(("mode", "environ", "tty", "expected"), [
    ("auto", {}, True, True),
    ("auto", {}, False, False),
    ("auto", {"NO_COLOR": "1"}, True, False),
    ("auto", {"FORCE_COLOR": "1"}, False, True),
    ("auto", {"FORCE_COLOR": "0"}, False, False),
    ("auto", {"NO_COLOR": "1", "FORCE_COLOR": "1"}, False, False),
    ("always", {"NO_COLOR": "1"}, False, True),
    ("never", {"FORCE_COLOR": "1"}, True, False),
])
def test_colour_follows_flag_then_no_color_then_force_color_then_terminal(
        mode: str, environ: dict[str, str], tty: bool, expected: bool) -> None:
    stream = _Terminal() if tty else io.StringIO()
    assert color_wanted(mode, stream, environ) is expected
