"""Retries: which failures are worth another attempt, how long to wait, and the budgets.

Replay rule, because a write that reached the server must not be done twice: GET, PUT,
DELETE and PATCH with ``If-Match`` may be replayed after any transient failure; POST and a
plain PATCH are replayed only when the server said "not processed" (429, 503) or when the
connection failed before the request was sent.
"""

from __future__ import annotations

import email.utils
import math
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

import httpx

RETRY_STATUSES = frozenset({429, 502, 503, 504})
NOT_PROCESSED_STATUSES = frozenset({429, 503})
REPLAYABLE_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})

Clock = Callable[[], float]
ResponseTest = Callable[[httpx.Response], bool]


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta seconds (fractional allowed) or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        current = datetime.now(timezone.utc).timestamp() if now is None else now
        return max(0.0, when.timestamp() - current)
    if math.isnan(seconds) or math.isinf(seconds) or seconds < 0:
        return None
    return seconds


@dataclass
class RetryPolicy:
    """Bounds on retrying: per request (attempts and elapsed time) and per run (retry count)."""

    max_attempts: int = 6
    max_elapsed: float = 120.0
    base_delay: float = 0.5
    max_delay: float = 30.0
    run_retry_budget: int = 500
    deadline: float | None = None  # clock time after which nothing more is sent (--timeout)
    timeout: float | None = None   # the --timeout that set it, for the error message
    _used: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def backoff(self, attempt: int) -> float:
        """Jittered exponential backoff: between half and all of min(cap, base * 2**(attempt-1))."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(0, attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography

    def expire_in(self, seconds: float | None, clock: Clock = time.monotonic) -> None:
        """Set the run's overall deadline, ``seconds`` from now (None: no deadline)."""
        self.timeout = seconds
        self.deadline = None if seconds is None else clock() + seconds

    def take_from_run_budget(self) -> bool:
        with self._lock:
            if self._used >= self.run_retry_budget:
                return False
            self._used += 1
            return True


def retry_delay(
    policy: RetryPolicy,
    response: httpx.Response | None,
    error: httpx.TransportError | None,
    *,
    replayable: bool,
    attempt: int,
    elapsed: float,
    retry_when: ResponseTest | None,
    failures: int | None = None,
) -> float | None:
    """How long to wait before the next attempt (not after a 429), or None to stop here.

    ``failures`` counts this request's attempts that failed without the service saying
    how long to wait (``attempt`` when not given); the back-off grows with them only. A
    429 waited out as the service asked is pacing, not a failure: counting it would have
    a 503 after three 429s wait 4 to 8 s where one after none waits a quarter of that,
    and the last batches of a bulk write are the ones that meet most 429s.
    """
    unpaced = attempt if failures is None else max(1, failures)
    if error is not None:
        if tls_refused(error):
            return None  # an untrusted certificate will not become trusted by waiting
        if not (replayable or never_sent(error)):
            return None
        delay = policy.backoff(unpaced)
    else:
        assert response is not None
        status = response.status_code
        if status not in RETRY_STATUSES and not (retry_when and retry_when(response)):
            return None
        if not replayable and status not in NOT_PROCESSED_STATUSES:
            return None
        hinted = parse_retry_after(response.headers.get("Retry-After"))
        delay = hinted if hinted is not None else policy.backoff(unpaced)
    if attempt >= policy.max_attempts:
        return None
    if elapsed + delay > policy.max_elapsed:
        return None
    if not policy.take_from_run_budget():
        return None
    return delay


def tls_refused(error: BaseException) -> bool:
    """True when certificate verification (not the network) failed."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def never_sent(error: httpx.TransportError) -> bool:
    """Failures that happen before a byte of the request left (safe to send any method again)."""
    return isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
