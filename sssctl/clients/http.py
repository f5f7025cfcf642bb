"""The one place that speaks HTTP: pooled connections, retries, throttling, request logs.

Service clients (Dataverse, Graph, Exchange) hand a request to :class:`HttpService` and get
back the final ``httpx.Response`` (possibly an error status once retries are spent); they
turn statuses into meanings. Nothing above the clients ever sees an HTTP detail.

This module is the public face and the request loop; each concern it strings together
lives in a private module with one job:

- :mod:`._transport`: TLS trust, the pooled client, reading one answer whole;
- :mod:`._retries`: which failures are retried, how long to wait, the replay rule, budgets;
- :mod:`._pacing`: the per-service limiter that follows the service's limit headers;
- :mod:`._guards`: the origin check, redirects refused, the per-attempt time and size caps;
- :mod:`._stats`: what the run's requests cost.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import structlog

from sssctl.clients._guards import (
    DEFAULT_PORTS,
    ReplyLimits,
    check_same_origin,
    describe_origin,
    origin_of,
    read_capped,
    redirect_refused,
    too_slow,
)
from sssctl.clients._pacing import (
    AMPLE_BUDGET,
    BURST_REMAINING,
    DOP_HINT,
    LIMIT_CONCURRENT,
    LIMIT_EXECUTION,
    LIMIT_NAMES,
    LIMIT_REQUESTS,
    LOW_BUDGET,
    START_CONCURRENCY,
    TIME_REMAINING,
    Clock,
    PastDeadline,
    RateLimiter,
    Sleeper,
    header_number,
)
from sssctl.clients._retries import (
    NOT_PROCESSED_STATUSES,
    REPLAYABLE_METHODS,
    RETRY_STATUSES,
    ResponseTest,
    RetryPolicy,
    never_sent,
    parse_retry_after,
    retry_delay,
    tls_refused,
)
from sssctl.clients._stats import WRITE_METHODS, RequestStats
from sssctl.clients._transport import (
    MAX_CONCURRENCY,
    build_ssl_context,
    encode_query,
    new_http_client,
    receive,
    target_of,
)
from sssctl.clients.errors import DeadlineExceeded, OutcomeUnknown, TransportError
from sssctl.clients.responses import error_parts

__all__ = [
    "AMPLE_BUDGET", "BURST_REMAINING", "DEFAULT_PORTS", "DOP_HINT", "LIMIT_CONCURRENT", "LIMIT_EXECUTION",
    "LIMIT_NAMES", "LIMIT_REQUESTS", "LONG_WAIT", "LOW_BUDGET",
    "MAX_CONCURRENCY", "NOT_PROCESSED_STATUSES", "REPLAYABLE_METHODS", "RETRY_STATUSES",
    "SHOWN_WAIT", "START_CONCURRENCY", "TIME_REMAINING", "WRITE_METHODS", "Clock", "HttpService",
    "PastDeadline", "Pause", "PauseObserver",
    "RateLimiter", "ReplyLimits", "RequestStats", "ResponseTest", "RetryPolicy", "Sleeper",
    "TokenSource", "build_ssl_context", "check_same_origin", "describe_origin", "encode_query",
    "header_number", "new_http_client", "origin_of", "parse_retry_after",
]

log = structlog.get_logger("sssctl.clients.http")

LONG_WAIT = 5.0  # a throttling pause at least this long is also logged as a warning
SHOWN_WAIT = 1.0  # a throttling pause at least this long is handed to the run's progress
LIMIT_WINDOW = 300.0  # Dataverse's service protection window (seconds)

TokenSource = Callable[[], str]


@dataclass(frozen=True)
class Pause:
    """A wait a service asked for with a 429, as the run's progress tells it.

    ``everyone``: the whole service waits (Dataverse's request-count and execution-time
    limits cover every request of the user), not only the refused request. ``limit``:
    the service protection limit the answer named, when it named one.
    """

    service: str
    seconds: float
    limit: str | None = None
    everyone: bool = False


PauseObserver = Callable[[Pause], None]


class HttpService:
    """Sends requests to one service with auth, retries, limits, stats and logs."""

    def __init__(
        self,
        service: str,
        client: httpx.Client,
        *,
        token: TokenSource | None,
        stats: RequestStats,
        policy: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        sleep: Sleeper = time.sleep,
        clock: Clock = time.monotonic,
        default_headers: Mapping[str, str] | None = None,
        origin: str | None = None,
        limits: ReplyLimits | None = None,
        retry_when: ResponseTest | None = None,
        on_pause: PauseObserver | None = None,
    ) -> None:
        self.service = service
        self.on_pause = on_pause  # told of each pause of at least SHOWN_WAIT, once per overlapping set
        self.origin = origin  # the only scheme://host:port a request (and its token) may go to
        self.limits = limits or ReplyLimits()
        self._retry_when = retry_when  # answers worth retrying beyond RETRY_STATUSES
        self.client = client
        self._token = token
        self.stats = stats
        self.policy = policy or RetryPolicy()
        self.limiter = limiter
        self._sleep = sleep
        self._clock = clock
        self._default_headers = dict(default_headers or {})
        self._announce_lock = threading.Lock()
        self._announced_until = -math.inf

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        replayable: bool | None = None,
        target: str | None = None,
    ) -> httpx.Response:
        """Send, retrying transient failures within the budgets; return the last response.

        A redirect is never followed: it ends in :class:`ForeignLink` (another origin) or
        :class:`MalformedReply` (same origin), because the services never redirect API calls.
        """
        method = method.upper()
        if self.origin is not None:
            check_same_origin(url, self.origin, service=self.service, what="a request")
        merged = {**self._default_headers, **(headers or {})}
        if replayable is None:
            replayable = method in REPLAYABLE_METHODS or (method == "PATCH" and "If-Match" in merged)
        target = target or target_of(url)
        started = self._clock()
        served_before = self.stats.served
        attempt = 0
        failures = 0        # attempts that failed other than with a 429 (what back-off grows with)
        lost = False        # an earlier attempt may have been carried out without an answer
        while True:
            attempt += 1
            self._check_deadline(method, target)
            response, error = self._send_once(
                method, url=url, params=params, json=json, content=content, data=data, headers=merged,
                target=target, attempt=attempt)
            if response is not None and lost and response.status_code == 412 and "If-Match" in merged:
                raise OutcomeUnknown(
                    f"{method} {self.service}:{target}: the answer to the first attempt was lost and the "
                    "resend was refused (HTTP 412): the first attempt may have changed the object")
            lost = lost or (error is not None and not never_sent(error))
            if response is not None and response.status_code == 429:
                delay = self._throttled_delay(response, attempt, served_before, target, started)
            else:
                failures += 1
                delay = retry_delay(self.policy, response, error, replayable=replayable, attempt=attempt,
                                    elapsed=self._clock() - started, retry_when=self._retry_when,
                                    failures=failures)
            if delay is None:
                if error is not None and tls_refused(error):
                    raise TransportError(
                        f"{method} {self.service}:{target}: the server's TLS certificate is not trusted "
                        f"({error}); if it is a private CA (the emulator's, a proxy's), set "
                        "environment.endpoints.ca_bundle or SSSCTL_CA_BUNDLE to its PEM file"
                    ) from error
                if error is not None:
                    unsure = not (replayable or never_sent(error))
                    failure = OutcomeUnknown if unsure else TransportError
                    raise failure(
                        f"{method} {self.service}:{target} failed after {attempt} attempt(s): "
                        f"{type(error).__name__}: {error}" + (
                            "; the change may or may not have been made, so it was not sent again "
                            "(run plan to see the current state)" if unsure else "")
                    ) from error
                assert response is not None
                if 300 <= response.status_code < 400:
                    raise redirect_refused(response, url, self.service)
                return response
            self.stats.count_retry()
            log.debug("http.retry", service=self.service, target=target, attempt=attempt,
                      delay_s=round(delay, 3), status=None if response is None else response.status_code)
            if self.limiter is not None:
                self.limiter.waiting_to_retry(True)
            try:
                self._sleep(delay)
            finally:
                if self.limiter is not None:
                    self.limiter.waiting_to_retry(False)

    def _send_once(
        self,
        method: str,
        *,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        content: bytes | None,
        data: Mapping[str, Any] | None,
        headers: dict[str, str],
        target: str,
        attempt: int,
    ) -> tuple[httpx.Response | None, httpx.TransportError | None]:
        if self._token is not None:
            headers = {**headers, "Authorization": f"Bearer {self._token()}"}
        sent_at: float | None = None
        flying: int | None = None
        if self.limiter is not None:
            try:
                sent_at = self.limiter.acquire(self.policy.deadline)
                flying = self.limiter.in_flight
            except PastDeadline as waiting:
                raise DeadlineExceeded(
                    f"{method} {self.service}:{target} was not sent: the service asked the run to pause "
                    f"{waiting.wait:.0f} s more, past the run's --timeout of {self.policy.timeout or 0:g} s. "
                    "What was applied so far is kept; run again later, or with a longer --timeout "
                    "(or none), to finish") from None
        began = time.perf_counter()
        started = self._clock()
        try:
            self.stats.count_request(self.service, method)
            request = self.client.build_request(
                method, url, params=params, json=json, content=content, data=data, headers=headers,
                timeout=httpx.Timeout(self.limits.deadline, connect=min(10.0, self.limits.deadline)))
            response = self._receive(request, started, target)
        except httpx.TransportError as exc:
            log.debug("http.request", method=method, service=self.service, target=target, status=None,
                      error=type(exc).__name__, duration_ms=_ms(began), attempt=attempt)
            if self._clock() - started >= self.limits.deadline:
                raise too_slow(self.limits, self.service, method, target) from exc
            return None, exc
        finally:
            if self.limiter is not None:
                self.limiter.release()
        log.debug("http.request", method=method, service=self.service, target=target,
                  status=response.status_code, duration_ms=_ms(began), attempt=attempt,
                  width=None if self.limiter is None else self.limiter.limit)
        self.stats.count_answer(response.status_code)
        if self.limiter is not None:
            if response.status_code == 429:
                self.limiter.on_throttled(parse_retry_after(response.headers.get("Retry-After")),
                                          _error_code(response), sent_at, flying)
            elif response.status_code < 400:
                self.limiter.on_success(response.headers)
        return response, None

    def _receive(self, request: httpx.Request, started: float, target: str) -> httpx.Response:
        def read(streamed: httpx.Response) -> bytes:
            return read_capped(streamed, self.limits, started, self._clock,
                               service=self.service, method=request.method, target=target)
        return receive(self.client, request, read)

    def _check_deadline(self, method: str, target: str) -> None:
        deadline = self.policy.deadline
        if deadline is not None and self._clock() >= deadline:
            raise DeadlineExceeded(
                f"{method} {self.service}:{target} was not sent: the run's --timeout of "
                f"{self.policy.timeout or 0:g} s has passed. What was applied so far is kept; "
                "run again (with a longer --timeout, or none) to finish")

    def _throttled_delay(
        self, response: httpx.Response, attempt: int, served_before: int, target: str, started: float
    ) -> float | None:
        """How long to wait after a 429, or None to give up.

        The service said "not now", not "no": its Retry-After is waited out however long
        it is, as long as the run progresses (some request was served since this one was
        first sent) or this request has not yet used its attempts. Only ``--timeout``
        ends a run the service is merely slowing down. A 429 for the execution-time limit
        is given a whole window (300 s) without progress before the attempts count: the
        requests in flight when the budget ran out overshoot it by up to the width times
        a request's server time, and that only frees as the oldest of the run's own
        requests slide out of the window, one short Retry-After after another, with
        nothing served meanwhile. (The request-count limit frees a request at a time:
        its Retry-After is when there is room.)
        """
        hinted = parse_retry_after(response.headers.get("Retry-After"))
        delay = hinted if hinted is not None else self.policy.backoff(attempt)
        pacing = _error_code(response) == LIMIT_EXECUTION and self._clock() - started < LIMIT_WINDOW
        if attempt >= self.policy.max_attempts and self.stats.served == served_before and not pacing:
            return None
        deadline = self.policy.deadline
        if deadline is not None and self._clock() + delay > deadline:
            raise DeadlineExceeded(
                f"{self.service}:{target}: the service asked the run to wait {delay:.0f} s "
                f"({_error_message(response) or 'too many requests'}), which ends after the run's "
                f"--timeout of {self.policy.timeout or 0:g} s. What was applied so far is kept; run "
                "again later, or with a longer --timeout (or none), to finish")
        if delay >= SHOWN_WAIT:
            self._announce_wait(response, delay, target)
        return delay

    def _announce_wait(self, response: httpx.Response, delay: float, target: str) -> None:
        """Say once per pause what is waited for, why and until when.

        Threads refused in the same wave share a pause: one that ends less than a second
        after the one already told is the same pause, told once. Pauses of at least
        :data:`LONG_WAIT` are also logged as a warning; every one goes to ``on_pause``.
        """
        ends = self._clock() + delay
        with self._announce_lock:
            if ends < self._announced_until + 1.0:
                return
            self._announced_until = ends
        code = _error_code(response)
        limit = code if code in LIMIT_NAMES else None
        if self.on_pause is not None:
            everyone = self.limiter is not None and limit != LIMIT_CONCURRENT
            self.on_pause(Pause(self.service, delay, limit, everyone))
        if delay < LONG_WAIT:
            log.debug("http.throttled", service=self.service, target=target, wait_s=round(delay, 1),
                      limit=LIMIT_NAMES.get(limit or ""))
            return
        until = time.time() + delay
        why = _error_message(response) or "too many requests"
        log.warning("http.throttled", service=self.service, target=target, wait_s=round(delay),
                    until=datetime.fromtimestamp(until).strftime("%H:%M:%S"),
                    message=f"{self.service} asked the run to wait {delay:.0f} s ({why}); waiting "
                            f"until {datetime.fromtimestamp(until):%H:%M:%S}, then it continues")

    def close(self) -> None:
        self.client.close()



def _error_message(response: httpx.Response) -> str:
    """The service's own words from an OData error body, shortened; '' when there are none."""
    try:
        body = response.json()
    except ValueError:
        return ""
    _, message, _ = error_parts(body, "")
    return " ".join(message.split())[:200]


def _error_code(response: httpx.Response) -> str | None:
    """The ``code`` of an OData error body (which service protection limit a 429 stands for)."""
    try:
        body = response.json()
    except ValueError:
        return None
    code, _, _ = error_parts(body, "")
    return code


def _ms(began: float) -> int:
    return int((time.perf_counter() - began) * 1000)
