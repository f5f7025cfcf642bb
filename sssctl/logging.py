"""structlog set-up and the redaction processor every event passes through.

Redaction works on three levels, because any one alone leaks sooner or later:
keys whose names mean "secret" are dropped; strings that look like bearer tokens or JWTs
are masked; and every secret value sssctl resolved or received at run time is registered
with :func:`register_secret` and masked wherever it appears, whatever the key.
"""

from __future__ import annotations

import logging
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


def configure_logging(
    *, log_format: str | None = None, verbose: int = 0, color: bool = True, stream: TextIO | None = None
) -> str:
    """Configure structlog once per process; returns the format actually chosen.

    Logs always go to stderr so that stdout stays clean for plans and JSON output.
    """
    out = stream if stream is not None else sys.stderr
    chosen = log_format or ("console" if out.isatty() else "json")
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    renderer: Any
    if chosen == "json":
        renderer = structlog.processors.JSONRenderer(sort_keys=True)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=color and out.isatty())
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
