"""structlog set-up and the redaction processor every event passes through.

Redaction works on three levels, because any one alone leaks sooner or later:
keys whose names mean "secret" are dropped; strings that look like bearer tokens or JWTs
are masked; and every secret value sssctl resolved or received at run time is registered
with :func:`register_secret` and masked wherever it appears, whatever the key.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO, cast

import structlog

REDACTED = "[redacted]"

_SENSITIVE_KEY = re.compile(
    r"(secret|password|passphrase|token|authorization|assertion|private_key|credential_value|secrettext|cookie)",
    re.IGNORECASE,
)
_ALLOWED_KEYS = frozenset(
    {"token_source", "token_cache", "secret_fingerprint", "secret_hint", "secret_key_id"}
)
# "Authorization: Basic ..." or any other scheme copied into free text (error bodies, curl lines)
_AUTH_HEADER = re.compile(r"(?i)\b(authorization\s*[:=]\s*)[^\s'\"]+(?:\s+[A-Za-z0-9\-._~+/]+=*)?")
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]+=*")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")

_known_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret value so that it is masked in every later log event."""
    if value and len(value) >= 6:
        with _lock:
            _known_secrets.add(value)


def redact_text(text: str) -> str:
    """Mask bearer tokens, JWTs and registered secrets inside free text."""
    text = _AUTH_HEADER.sub(r"\g<1>" + REDACTED, text)
    text = _BEARER.sub("Bearer " + REDACTED, text)
    text = _JWT.sub(REDACTED, text)
    with _lock:
        secrets = sorted(_known_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class _RedactingStream:
    """Writes through to ``stream`` with :func:`redact_text` applied; all else is delegated."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact_text(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def redacting(stream: TextIO) -> TextIO:
    """``stream`` with every write redacted like a log event.

    Results and ``Error:`` lines quote what servers answered (error messages, names, echoed
    request bodies), so they get the same masking as logs: a secret a server echoes back,
    or a token it quotes, never reaches the terminal or a CI log.
    """
    return cast(TextIO, _RedactingStream(stream))


def redact_value(key: str, value: Any) -> Any:
    if key.lower() not in _ALLOWED_KEYS and _SENSITIVE_KEY.search(key):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(key, v) for v in value]
    return value


def redaction_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: applied to every event before rendering."""
    return {key: redact_value(key, value) for key, value in event_dict.items()}


LOG_FORMATS = ("console", "json")
# SSSCTL_LOG takes TF_LOG's words; trace and warn are accepted as their nearest levels.
_LEVELS = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
           "warning": logging.WARNING, "error": logging.ERROR}
COLOR_MODES = ("auto", "always", "never")


class LoggingSetupError(ValueError):
    """A logging or colour setting that cannot be honoured; the message says which and how to fix it."""


def color_wanted(mode: str, stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """``--color`` beats the environment; then NO_COLOR (no-color.org), then FORCE_COLOR, then the stream.

    FORCE_COLOR is for CI logs that render ANSI although they are not terminals; like
    Node and Python tools, ``FORCE_COLOR=0`` does not force anything.
    """
    env = os.environ if environ is None else environ
    if mode not in COLOR_MODES:
        raise LoggingSetupError(f"--color={mode} is not one of {', '.join(COLOR_MODES)}")
    if mode != "auto":
        return mode == "always"
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR", "") not in ("", "0"):
        return True
    return stream.isatty()


def _format_of(log_format: str | None, env: Mapping[str, str]) -> str:
    chosen = (log_format or env.get("SSSCTL_LOG_FORMAT") or "console").strip().lower()
    if chosen not in LOG_FORMATS:
        raise LoggingSetupError(
            f"SSSCTL_LOG_FORMAT={chosen!r} is not a log format: use console or json (or unset it)"
        )
    return chosen


def _level_of(verbose: int, env: Mapping[str, str]) -> int:
    if verbose > 0:
        return logging.INFO if verbose == 1 else logging.DEBUG
    word = env.get("SSSCTL_LOG", "").strip().lower()
    if not word:
        return logging.WARNING
    if word not in _LEVELS:
        raise LoggingSetupError(
            f"SSSCTL_LOG={word!r} is not a log level: use debug, info or warning (or unset it)"
        )
    return _LEVELS[word]


def _log_file(path: str) -> TextIO:
    """Append, like TF_LOG_PATH; created private because debug logs describe the tenant."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return open(fd, "a", encoding="utf-8", buffering=1)  # lives as long as the process
    except OSError as exc:
        raise LoggingSetupError(
            f"SSSCTL_LOG_PATH={path}: cannot open it for appending ({exc.strerror}); "
            "name a writable file, or unset SSSCTL_LOG_PATH to log on stderr"
        ) from None


def configure_logging(
    *, log_format: str | None = None, verbose: int = 0, color: bool | None = None,
    stream: TextIO | None = None, environ: Mapping[str, str] | None = None,
) -> str:
    """Configure structlog once per process; returns the format actually chosen.

    Logs go to stderr, so that stdout stays clean for plans and JSON output, or to
    ``SSSCTL_LOG_PATH``. Human console lines are the default everywhere, CI included: JSON
    lines interleaved with a plan are unreadable, so they come only when asked for
    (``--log-format json`` or ``SSSCTL_LOG_FORMAT=json``). ``-v``/``-vv`` win over
    ``SSSCTL_LOG``. ``color=None`` decides from NO_COLOR, FORCE_COLOR and the stream.
    """
    env = os.environ if environ is None else environ
    chosen = _format_of(log_format, env)
    level = _level_of(verbose, env)
    path = env.get("SSSCTL_LOG_PATH", "").strip()
    out = stream if stream is not None else _log_file(path) if path else sys.stderr
    renderer: Any
    if chosen == "json":
        renderer = structlog.processors.JSONRenderer(sort_keys=True)
    else:
        colors = color_wanted("auto", out, env) if color is None else color
        renderer = structlog.dev.ConsoleRenderer(colors=colors)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redaction_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    return chosen
