"""The one place that speaks HTTP: pooled connections, retries, throttling, request logs.

Service clients (Dataverse, Graph, Exchange) hand a request to :class:`HttpService` and get
back the final ``httpx.Response`` (possibly an error status once retries are spent); they
turn statuses into meanings. Nothing above the clients ever sees an HTTP detail.

Every byte that comes back is untrusted: a request (and so its token) only goes to the
origin the service was configured with, redirects are never followed, and each attempt is
bounded in wall-clock time and body size (:class:`ReplyLimits`).

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import structlog

from sssctl.clients.errors import (
    DeadlineExceeded,
    ForeignLink,
    MalformedReply,
    OutcomeUnknown,
    ReplyTooLarge,
    TransportError,
)
from sssctl.clients.responses import error_parts

log = structlog.get_logger("sssctl.clients.http")

RETRY_STATUSES = frozenset({429, 502, 503, 504})
NOT_PROCESSED_STATUSES = frozenset({429, 503})
REPLAYABLE_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_CONCURRENCY = 52  # Dataverse's documented concurrent-request limit per user
LONG_WAIT = 5.0  # a throttling pause at least this long is announced, not only logged at debug

DEFAULT_PORTS = {"https": 443, "http": 80}
# Hop-by-hop framing of the original body; the copy handed on is already decoded and whole.
_FRAMING_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})

Sleeper = Callable[[float], None]
Clock = Callable[[], float]
TokenSource = Callable[[], str]
ResponseTest = Callable[[httpx.Response], bool]


@dataclass(frozen=True)
class ReplyLimits:
    """Bounds on one attempt: wall-clock time from connecting to the last body byte, and body size.

    httpx's own timeouts apply per network operation, so a server that trickles a byte every
    few seconds would otherwise hold a run forever; the size cap stops a huge or endless body
    before it fills memory (the largest legitimate page, 5,000 rows, is a few MiB).
    """

    deadline: float = 300.0
    max_body_bytes: int = 64 * 1024 * 1024


def origin_of(url: str | httpx.URL) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in, for comparisons."""
    parsed = httpx.URL(url)
    scheme = parsed.scheme.lower()
    return scheme, parsed.host.lower(), parsed.port or DEFAULT_PORTS.get(scheme)


def describe_origin(url: str | httpx.URL) -> str:
    scheme, host, port = origin_of(url)
    return f"{scheme}://{host}:{port}" if port else f"{scheme}://{host}"


def check_same_origin(url: str | httpx.URL, allowed: str, *, service: str, what: str) -> None:
    """Refuse ``url`` unless scheme, host and port equal those of ``allowed``.

    Tokens are issued for one resource; anything else (another host, plain http, another
    port on the same host) could be a different party, so it never sees the token.
    """
    try:
        same = origin_of(url) == origin_of(allowed)
    except (httpx.InvalidURL, TypeError, ValueError):
        same = False
    if not same:
        shown = describe_origin(url) if _parses(url) else repr(str(url)[:200])
        raise ForeignLink(
            f"{service}: refused to follow {what} to {shown}: it is not {describe_origin(allowed)}, "
            "the address this run signed in for, so the access token was not sent; if the service "
            "really moved, correct the endpoint in the configuration",
            service=service, url=str(allowed),
        )


def _parses(url: str | httpx.URL) -> bool:
    try:
        httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return False
    return True


def build_ssl_context(ca_bundle: Path | str | None = None) -> ssl.SSLContext:
    """Trust the system store plus, optionally, one extra CA file; verification stays on.

    There is deliberately no switch to turn verification off: the emulator publishes its CA
    file, and a corporate proxy's CA can be given the same way.
    """
    context = ssl.create_default_context()
    if ca_bundle is not None:
        try:
            context.load_verify_locations(cafile=str(ca_bundle))
        except (OSError, ssl.SSLError) as exc:
            raise TransportError(
                f"cannot load CA bundle {ca_bundle}: {exc}; "
                "check environment.endpoints.ca_bundle / SSSCTL_CA_BUNDLE points to a PEM file"
            ) from exc
    return context


def new_http_client(
    ssl_context: ssl.SSLContext, *, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """A pooled HTTP/1.1 client with the run's timeouts (connect 10 s, read 120 s)."""
    return httpx.Client(
        verify=ssl_context,
        http2=False,
        timeout=httpx.Timeout(120.0, connect=10.0),
        limits=httpx.Limits(max_connections=MAX_CONCURRENCY, max_keepalive_connections=MAX_CONCURRENCY),
        transport=transport,
        follow_redirects=False,
    )


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
class RequestStats:
    """What the run cost, for the engine to report (thread-safe)."""

    total: int = 0
    retries: int = 0
    throttled: int = 0  # every 429 the services answered, whether or not it was retried
    writes: int = 0
    served: int = 0     # answers below 400: how a long wait tells that the run still progresses
    by_service: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count_request(self, service: str, method: str) -> None:
        with self._lock:
            self.total += 1
            self.by_service[service] = self.by_service.get(service, 0) + 1
            if method.upper() in WRITE_METHODS:
                self.writes += 1

    def count_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def count_answer(self, status: int) -> None:
        with self._lock:
            if status == 429:
                self.throttled += 1
            elif status < 400:
                self.served += 1

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self.total,
                "retries": self.retries,
                "throttled": self.throttled,
                "writes": self.writes,
                "by_service": dict(self.by_service),
            }


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


DOP_HINT = "x-ms-dop-hint"
BURST_REMAINING = "x-ms-ratelimit-burst-remaining-xrm-requests"
TIME_REMAINING = "x-ms-ratelimit-time-remaining-xrm-requests"
START_CONCURRENCY = 4   # until the service recommends a degree of parallelism
LOW_BUDGET = 0.15       # slow down once less than this share of a window's budget is left
AMPLE_BUDGET = 0.5      # with more than this share of both budgets left, ramp up fastest


def header_number(value: str | None) -> float | None:
    """A limit header as a number: ``"1,200.00"`` (grouping comma, two decimals) or ``"5999"``."""
    if value is None:
        return None
    try:
        number = float(value.strip().replace(",", ""))
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


class PastDeadline(Exception):
    """Waiting for the limiter (a pause the service asked for) would end after the run's deadline."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"{wait:.0f} s")
        self.wait = wait


class RateLimiter:
    """Adaptive concurrency plus a token bucket for one service, shared by every thread.

    Follows Microsoft's guidance for parallel requests: the first ``x-ms-dop-hint`` (the
    degree of parallelism the environment recommends) sets where concurrency starts;
    while ``x-ms-ratelimit-burst-remaining-xrm-requests`` and ``-time-remaining-`` show
    room, each answer that found every slot busy opens more, up to the cap
    (``--parallelism``, at most the 52 concurrent requests Dataverse admits). Like TCP's
    slow start: until the first cut, while both budgets show more than half their room,
    each such answer opens two slots, so concurrency triples with every round of answers
    (4, 12, 36, 52) and a small apply is not over before the ramp is; otherwise one,
    which doubles it per round. When either budget runs low, concurrency halves before
    the service has to refuse; a 429 halves it too, halves the request rate and pauses
    everyone for the server's Retry-After.
    """

    def __init__(
        self,
        max_concurrency: int = MAX_CONCURRENCY,
        *,
        start: int = START_CONCURRENCY,
        rate: float = 100.0,
        min_rate: float = 1.0,
        recovery: float = 0.5,
        clock: Clock = time.monotonic,
        sleep: Sleeper = time.sleep,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_concurrency = min(max_concurrency, MAX_CONCURRENCY)
        self.limit = max(1, min(start, self.max_concurrency))
        self.peak = self.limit  # the most requests ever allowed in flight at once
        self.max_rate = rate
        self.rate = rate
        self.min_rate = min_rate
        self.recovery = recovery
        self._tokens = rate
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._paused_until = 0.0
        self._hinted = False
        self._budget_seen: dict[str, float] = {}
        self._last_cut = -math.inf
        self._in_flight = 0
        self._lock = threading.Lock()
        self._slots = threading.Condition(self._lock)

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def acquire(self, deadline: float | None = None) -> None:
        """Take a slot and a token; :class:`PastDeadline` when that would end after ``deadline``."""
        with self._slots:
            while self._in_flight >= self.limit:
                if deadline is not None and self._clock() >= deadline:
                    raise PastDeadline(0.0)
                self._slots.wait(timeout=None if deadline is None else max(0.01, deadline - self._clock()))
            self._in_flight += 1
        try:
            self._wait_for_token(deadline)
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        with self._slots:
            self._in_flight = max(0, self._in_flight - 1)
            self._slots.notify()

    def _wait_for_token(self, deadline: float | None) -> None:
        while True:
            with self._lock:
                now = self._clock()
                wait = self._paused_until - now
                if wait <= 0:
                    self._tokens = min(self.rate, self._tokens + (now - self._updated) * self.rate)
                    self._updated = now
                    if self._tokens >= 1.0:
                        self._tokens -= 1.0
                        return
                    wait = (1.0 - self._tokens) / self.rate
            if deadline is not None and now + wait > deadline:
                raise PastDeadline(wait)
            self._sleep(wait)

    def _set_limit(self, limit: int) -> None:
        """Change the allowed concurrency (the lock is held); waiting threads see a raise at once."""
        self.limit = max(1, min(self.max_concurrency, limit))
        self.peak = max(self.peak, self.limit)
        self._slots.notify_all()

    def on_throttled(self, retry_after: float | None) -> bool:
        """Back off; True when this 429 paused everyone longer than any pause before it."""
        with self._lock:
            self.rate = max(self.min_rate, self.rate / 2)
            self._tokens = min(self._tokens, self.rate)
            self._cut(self._clock(), force=True)
            if retry_after:
                until = self._clock() + retry_after
                if until > self._paused_until:
                    self._paused_until = until
                    return True
            return False

    def on_success(self, headers: Mapping[str, str] | None = None) -> None:
        """A served answer: recover the rate, and follow what its headers say about room."""
        with self._lock:
            if self.rate < self.max_rate:
                self.rate = min(self.max_rate, self.rate + self.recovery)
            if headers is None:
                return
            hint = header_number(headers.get(DOP_HINT))
            if hint is not None and hint >= 1 and not self._hinted:
                self._hinted = True
                self._set_limit(int(hint))
            room = self._room(headers)
            if room is not None and room < LOW_BUDGET:
                self._cut(self._clock(), force=False)
            elif self._in_flight + 1 >= self.limit:  # every slot was busy and the service has room
                self._set_limit(self.limit + self._step(room))

    def _step(self, room: float | None) -> int:
        """Slots one answer opens: two in slow start with ample room, else one."""
        slow_start = self._last_cut == -math.inf
        return 2 if slow_start and room is not None and room > AMPLE_BUDGET else 1

    def _room(self, headers: Mapping[str, str]) -> float | None:
        """The smaller share of a budget left (of the most seen); None when no header says."""
        shares = []
        for name in (BURST_REMAINING, TIME_REMAINING):
            left = header_number(headers.get(name))
            if left is None:
                continue
            most = self._budget_seen[name] = max(self._budget_seen.get(name, 0.0), left)
            if most > 0:
                shares.append(left / most)
        return min(shares) if shares else None

    def _cut(self, now: float, *, force: bool) -> None:
        """Halve concurrency; a low budget cuts at most once a second (answers arrive in bursts)."""
        if not force and now - self._last_cut < 1.0:
            return
        self._last_cut = now
        self._set_limit(self.limit // 2)


def encode_query(params: Mapping[str, str] | None) -> str:
    """``?$filter=a%20eq%201``: spaces as %20 and a literal ``+`` as %2B, never ``+`` for space.

    Form encoding (``+`` for space) is what httpx would do; OData servers are not obliged
    to read ``+`` as a space, so a value like ``'a+b'`` would silently change meaning.
    """
    if not params:
        return ""
    safe = "$'(),/:@*"
    return "?" + "&".join(f"{quote(k, safe='$')}={quote(str(v), safe=safe)}" for k, v in params.items())


def _target_of(url: str) -> str:
    """The entity set / resource named by a URL, for logs (never query strings or ids)."""
    path = httpx.URL(url).path.rstrip("/")
    last = path.rsplit("/", 1)[-1]
    return last.split("(", 1)[0] or "/"


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
    ) -> None:
        self.service = service
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
        self._announced_until = 0.0

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
        target = target or _target_of(url)
        started = self._clock()
        served_before = self.stats.served
        attempt = 0
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
            lost = lost or (error is not None and not _never_sent(error))
            if response is not None and response.status_code == 429:
                delay = self._throttled_delay(response, attempt, served_before, target)
            else:
                delay = self._retry_delay(response, error, replayable, attempt, started)
            if delay is None:
                if error is not None and _tls_refused(error):
                    raise TransportError(
                        f"{method} {self.service}:{target}: the server's TLS certificate is not trusted "
                        f"({error}); if it is a private CA (the emulator's, a proxy's), set "
                        "environment.endpoints.ca_bundle or SSSCTL_CA_BUNDLE to its PEM file"
                    ) from error
                if error is not None:
                    unsure = not (replayable or _never_sent(error))
                    failure = OutcomeUnknown if unsure else TransportError
                    raise failure(
                        f"{method} {self.service}:{target} failed after {attempt} attempt(s): "
                        f"{type(error).__name__}: {error}" + (
                            "; the change may or may not have been made, so it was not sent again "
                            "(run plan to see the current state)" if unsure else "")
                    ) from error
                assert response is not None
                if 300 <= response.status_code < 400:
                    raise self._redirect_refused(response, url)
                return response
            self.stats.count_retry()
            log.debug("http.retry", service=self.service, target=target, attempt=attempt,
                      delay_s=round(delay, 3), status=None if response is None else response.status_code)
            self._sleep(delay)

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
        if self.limiter is not None:
            try:
                self.limiter.acquire(self.policy.deadline)
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
                raise self._too_slow(method, target) from exc
            return None, exc
        finally:
            if self.limiter is not None:
                self.limiter.release()
        log.debug("http.request", method=method, service=self.service, target=target,
                  status=response.status_code, duration_ms=_ms(began), attempt=attempt)
        self.stats.count_answer(response.status_code)
        if self.limiter is not None:
            if response.status_code == 429:
                self.limiter.on_throttled(parse_retry_after(response.headers.get("Retry-After")))
            elif response.status_code < 400:
                self.limiter.on_success(response.headers)
        return response, None

    def _receive(self, request: httpx.Request, started: float, target: str) -> httpx.Response:
        """Stream the answer within the deadline and size cap; return it fully read.

        The copy returned holds plain bytes, so a page lets go of its memory as soon as the
        caller drops it (a streamed httpx response lives in a cycle until the next full
        garbage collection).
        """
        streamed = self.client.send(request, stream=True)
        try:
            body = self._read_capped(streamed, started, request.method, target)
        finally:
            streamed.close()
            streamed.stream = httpx.ByteStream(b"")  # break httpx's response <-> stream cycle
        headers = [(k, v) for k, v in streamed.headers.multi_items() if k.lower() not in _FRAMING_HEADERS]
        return httpx.Response(streamed.status_code, headers=headers, content=body, request=request,
                              extensions=streamed.extensions)

    def _read_capped(self, response: httpx.Response, started: float, method: str, target: str) -> bytes:
        cap = self.limits.max_body_bytes
        announced = response.headers.get("Content-Length", "")
        if announced.isdigit() and int(announced) > cap:
            raise self._too_large(method, target, f"it announced {int(announced):,} bytes")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:
                raise self._too_large(method, target, f"reading stopped after {size:,} bytes")
            if self._clock() - started > self.limits.deadline:
                raise self._too_slow(method, target)
        return b"".join(chunks)

    def _too_large(self, method: str, target: str, detail: str) -> ReplyTooLarge:
        return ReplyTooLarge(
            f"{method} {self.service}:{target}: the answer is larger than the "
            f"{self.limits.max_body_bytes:,}-byte cap ({detail}); nothing was taken from it. A page "
            "this size is not what the service sends; check the endpoint in the configuration",
            service=self.service)

    def _too_slow(self, method: str, target: str) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"{method} {self.service}:{target}: no complete answer within {self.limits.deadline:g} s "
            "(connect, send and every read together); it was not retried, because a reply this slow "
            "would only hold the run longer. Check the network and the service's health, then run again")

    def _redirect_refused(self, response: httpx.Response, url: str) -> ForeignLink | MalformedReply:
        location = response.headers.get("Location", "")
        where = httpx.URL(url).join(location) if location and _parses(location) else None
        if where is not None and origin_of(where) != origin_of(url):
            try:
                check_same_origin(where, url, service=self.service,
                                  what=f"a redirect (HTTP {response.status_code})")
            except ForeignLink as refused:
                return refused
        return MalformedReply(
            f"{self.service}: answered HTTP {response.status_code} (a redirect) to {_target_of(url)}; "
            "sssctl does not follow redirects with a token, and the service does not send them for "
            "API calls: check the endpoint in the configuration",
            service=self.service, url=url.split("?", 1)[0])

    def _check_deadline(self, method: str, target: str) -> None:
        deadline = self.policy.deadline
        if deadline is not None and self._clock() >= deadline:
            raise DeadlineExceeded(
                f"{method} {self.service}:{target} was not sent: the run's --timeout of "
                f"{self.policy.timeout or 0:g} s has passed. What was applied so far is kept; "
                "run again (with a longer --timeout, or none) to finish")

    def _throttled_delay(
        self, response: httpx.Response, attempt: int, served_before: int, target: str
    ) -> float | None:
        """How long to wait after a 429, or None to give up.

        The service said "not now", not "no": its Retry-After is waited out however long
        it is, as long as the run progresses (some request was served since this one was
        first sent) or this request has not yet used its attempts. Only ``--timeout``
        ends a run the service is merely slowing down.
        """
        hinted = parse_retry_after(response.headers.get("Retry-After"))
        delay = hinted if hinted is not None else self.policy.backoff(attempt)
        if attempt >= self.policy.max_attempts and self.stats.served == served_before:
            return None
        deadline = self.policy.deadline
        if deadline is not None and self._clock() + delay > deadline:
            raise DeadlineExceeded(
                f"{self.service}:{target}: the service asked the run to wait {delay:.0f} s "
                f"({_error_message(response) or 'too many requests'}), which ends after the run's "
                f"--timeout of {self.policy.timeout or 0:g} s. What was applied so far is kept; run "
                "again later, or with a longer --timeout (or none), to finish")
        if delay >= LONG_WAIT:
            self._announce_wait(response, delay, target)
        return delay

    def _announce_wait(self, response: httpx.Response, delay: float, target: str) -> None:
        """Say once per pause what is waited for, why and until when (threads share a pause)."""
        until = time.time() + delay
        with self._announce_lock:
            if until < self._announced_until + 1.0:
                return
            self._announced_until = until
        why = _error_message(response) or "too many requests"
        log.warning("http.throttled", service=self.service, target=target, wait_s=round(delay),
                    until=datetime.fromtimestamp(until).strftime("%H:%M:%S"),
                    message=f"{self.service} asked the run to wait {delay:.0f} s ({why}); waiting "
                            f"until {datetime.fromtimestamp(until):%H:%M:%S}, then it continues")

    def _retry_delay(
        self,
        response: httpx.Response | None,
        error: httpx.TransportError | None,
        replayable: bool,
        attempt: int,
        started: float,
    ) -> float | None:
        """How long to wait before the next attempt, or None to stop here."""
        if error is not None:
            if _tls_refused(error):
                return None  # an untrusted certificate will not become trusted by waiting
            if not (replayable or _never_sent(error)):
                return None
            delay = self.policy.backoff(attempt)
        else:
            assert response is not None
            status = response.status_code
            if status not in RETRY_STATUSES and not (self._retry_when and self._retry_when(response)):
                return None
            if not replayable and status not in NOT_PROCESSED_STATUSES:
                return None
            hinted = parse_retry_after(response.headers.get("Retry-After"))
            delay = hinted if hinted is not None else self.policy.backoff(attempt)
        if attempt >= self.policy.max_attempts:
            return None
        if self._clock() - started + delay > self.policy.max_elapsed:
            return None
        if not self.policy.take_from_run_budget():
            return None
        return delay

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


def _tls_refused(error: BaseException) -> bool:
    """True when certificate verification (not the network) failed."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _never_sent(error: httpx.TransportError) -> bool:
    """Failures that happen before a byte of the request left (safe to send any method again)."""
    return isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def _ms(began: float) -> int:
    return int((time.perf_counter() - began) * 1000)
