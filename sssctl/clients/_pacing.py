"""Pacing: how many requests one service gets at once and how fast, following its answers.

Dataverse refuses with 429 for three different reasons, and each calls for its own
reaction (Microsoft Learn, "Service protection API limits",
https://learn.microsoft.com/power-apps/developer/data-platform/api-limits, sections
"Retry operations", "Service protection API limit errors returned" and "How to maximize
throughput"; the error body's ``code`` says which limit was hit):

- ``0x80072322``, the **number of requests** in the 300-second window. Every request from
  the user is refused until ``Retry-After`` ends, so everyone pauses for it; how many
  requests fly at once has nothing to do with it, so concurrency is kept and the run goes
  on at full width when the pause ends ("let the server tell you how much it can handle").
- ``0x80072321``, the **combined execution time** in the window. The message itself says
  "decrease number of concurrent requests": everyone pauses for ``Retry-After`` and
  concurrency is cut.
- ``0x80072326``, **concurrent requests**. It "fails immediately" and has no window, so
  nobody else pauses (the refused request alone waits its ``Retry-After``) and
  concurrency is cut below the number that was in flight when it was refused. The
  service counted when the request arrived, so that number is the one in flight when it
  was sent, not when its answer is read: a refusal comes back in one round trip, and by
  then the threads of a wave sent together may be waiting out another request's pause,
  so a count taken at the answer can be a handful where the service saw dozens, and a
  cut to 70 % of it would throw the whole width away.

A refusal of a request sent while fewer than half the width was in flight (a lone step
of the safe sequence) cuts nothing, whatever the limit: the width was not in use, so it
is not what was too much (RFC 7661's rule for a sender that does not fill its window).
Other callers of the same user held the slots or spent the budget at that moment; the
pause still applies, and a bulk write that then fills the width meets the limit itself
and cuts from what it really had in flight. Cutting on every such refusal ratcheted the
width down step after step of the safe sequence (seven refusals leave 8 % of it), so
the bulk write that follows started from two or three requests at a time and spent
its first seconds of pauses regrowing.

A cut keeps 70 % of the width (CUBIC's factor, not Reno's half); for concurrent
requests, 70 % of the number in flight when the service counted one too many, if that is
fewer. Concurrency then grows back: while the answers show ample room in both budgets,
by tripling per round up to the width the cut was made from (CUBIC's quick return to
the last width that worked, as its own slow start does), by doubling beyond it and
whenever a budget is half spent. The width, not the number in flight, is where the quick
return ends: after a cut to 70 % of a handful of requests in flight, the bulk write
that follows should not need five slow rounds to get back what it had. A limit really
reached is met again and cut again, so the run stays between 70 % and all of it;
refusals that recur at random (another integration's bursts, a load balancer's
hiccups) cost a round at 70 % each, where halving every round they recur would leave a
run crawling at a handful of requests.

A refusal for the number of requests also makes bulk writes pack more operations into
each ``$batch`` for the rest of the window (:meth:`RateLimiter.requests_limited`): a batch
counts once against that limit whatever it holds, so each pause then moves more rows.

A 429 without one of these codes is treated as both (pause and cut), the safe side.
Cuts follow TCP's rule of one cut per round: a 429 answering a request that was sent
before the last cut says nothing new (it was sent at the old width) and cuts nothing.
The ``x-ms-ratelimit-*`` headers the same page lists tell when there is room again;
while they do, concurrency grows back multiplicatively (see :class:`RateLimiter`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping

import structlog

from sssctl.clients._transport import MAX_CONCURRENCY

log = structlog.get_logger("sssctl.clients.pacing")

Sleeper = Callable[[float], None]
Clock = Callable[[], float]

LIMIT_REQUESTS = "0x80072322"    # number of requests in the window
LIMIT_EXECUTION = "0x80072321"   # combined execution time in the window
LIMIT_CONCURRENT = "0x80072326"  # concurrent requests
CUT = 0.7  # the share of the width a 429's cut keeps
LIMIT_NAMES = {
    LIMIT_REQUESTS: "number of requests",
    LIMIT_EXECUTION: "combined execution time",
    LIMIT_CONCURRENT: "concurrent requests",
}

DOP_HINT = "x-ms-dop-hint"
BURST_REMAINING = "x-ms-ratelimit-burst-remaining-xrm-requests"
TIME_REMAINING = "x-ms-ratelimit-time-remaining-xrm-requests"
START_CONCURRENCY = 4   # until the service recommends a degree of parallelism
LOW_BUDGET = 0.15       # slow down once less than this share of a window's budget is left
AMPLE_BUDGET = 0.5      # with more than this share of both budgets left, ramp up fastest
REQUEST_WINDOW = 300.0  # seconds the number-of-requests limit counts over


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
    room, each answer that found at least half the slots taken opens more (RFC 7661's
    test of a window in use: the answers to a full round come back one by one, so asking
    for every slot taken would stop growth part-way through each round), up to the cap
    (``--parallelism``, at most the 52 concurrent requests Dataverse admits). Like TCP's
    slow start: until the first cut, while both budgets show more than half their room,
    each such answer opens two slots, so concurrency triples with every round of answers
    (4, 12, 36, 52) and a small apply is not over before the ramp is; otherwise one,
    which doubles it per round. When either budget runs low, concurrency halves before
    the service has to refuse. A 429 gets the reaction its limit calls for (module
    docstring). The token bucket is a fixed ceiling on the request rate, never cut: the
    service's Retry-After, not a guess, says when more may be sent.
    """

    def __init__(
        self,
        max_concurrency: int = MAX_CONCURRENCY,
        *,
        start: int = START_CONCURRENCY,
        rate: float = 100.0,
        clock: Clock = time.monotonic,
        sleep: Sleeper = time.sleep,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_concurrency = min(max_concurrency, MAX_CONCURRENCY)
        self.limit = max(1, min(start, self.max_concurrency))
        self.peak = self.limit  # the most requests ever allowed in flight at once
        self.rate = rate
        self._tokens = rate
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._paused_until = 0.0
        self._hinted = False
        self._budget_seen: dict[str, float] = {}
        self._last_cut = -math.inf
        self._requests_refused_at = -math.inf  # the last 429 for the number of requests
        self._cut_from = 0  # the width the last 429 cut was made from: regrowth is quick up to it
        self._in_flight = 0
        self._retrying = 0  # requests answered "not now" and waiting to be sent again
        self._queued = 0    # requests waiting out a pause before taking a slot
        self._lock = threading.Lock()
        self._slots = threading.Condition(self._lock)

    @property
    def paused_until(self) -> float:
        return self._paused_until

    @property
    def in_flight(self) -> int:
        """Requests sent and not yet answered (read right after :meth:`acquire`: those it went with)."""
        with self._lock:
            return self._in_flight

    @property
    def allowed(self) -> int:
        """Requests that may be under way: the width, plus those waiting to be sent again.

        A request waiting out its Retry-After holds no slot; counting it would leave the
        slots it freed empty, and a run refused now and then would never fill its width.
        """
        with self._lock:
            return self.limit + self._retrying

    def requests_limited(self, within: float = REQUEST_WINDOW) -> bool:
        """Whether the service refused a request for the number of requests in the last ``within`` s."""
        with self._lock:
            return self._clock() - self._requests_refused_at < within

    def waiting_to_retry(self, waiting: bool) -> None:
        """A request begins (True) or ends (False) its wait before being sent again."""
        with self._lock:
            self._retrying = max(0, self._retrying + (1 if waiting else -1))

    def acquire(self, deadline: float | None = None) -> float:
        """Take a slot and a token; :class:`PastDeadline` when that would end after ``deadline``.

        A pause is waited out before a slot is taken: threads that held their slots through
        a pause would fill the width with the bulk write's next batches, and a step of the
        safe sequence arriving meanwhile would find no slot when the pause ends and wait
        for the whole next pause too (under steady throttling, one per round). Waiting
        without a slot, everyone meets the end of the pause on equal terms.

        Returns when the request may go (the limiter's clock), to hand back with its 429.
        """
        self._wait_out_pause(deadline)
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
        return self._clock()

    def release(self) -> None:
        with self._slots:
            self._in_flight = max(0, self._in_flight - 1)
            self._slots.notify()

    def _wait_out_pause(self, deadline: float | None) -> None:
        """Sleep until no pause is in force (counted as demand meanwhile)."""
        while True:
            with self._lock:
                now = self._clock()
                wait = self._paused_until - now
                if wait <= 0:
                    return
                self._queued += 1
            try:
                if deadline is not None and now + wait > deadline:
                    raise PastDeadline(wait)
                self._sleep(wait)
            finally:
                with self._lock:
                    self._queued -= 1

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

    def on_throttled(
        self, retry_after: float | None, code: str | None = None, sent_at: float | None = None,
        in_flight: int | None = None,
    ) -> bool:
        """React to a 429 for the limit ``code`` names; True when it paused everyone longer than before.

        ``sent_at`` is what :meth:`acquire` returned for the refused request; without it
        the cut is made whatever came before. ``in_flight`` is :attr:`in_flight` right
        after that :meth:`acquire` (the refused request included): what the service
        counted for the concurrent-requests limit.
        """
        with self._lock:
            now = self._clock()
            if code == LIMIT_REQUESTS:
                self._requests_refused_at = now
            counted = max(in_flight or 0, self._in_flight + 1)  # what flew when it arrived
            in_use = 2 * counted >= self.limit
            if code != LIMIT_REQUESTS and in_use and (sent_at is None or sent_at >= self._last_cut):
                width = counted if code == LIMIT_CONCURRENT else self.limit
                self._last_cut = now
                self._cut_from = self.limit
                self._set_limit(min(width - 1, round(width * CUT)))
                log.debug("pacing.cut", code=code, width_from=self._cut_from, width=self.limit,
                          sent_with=in_flight, in_flight=self._in_flight)
            if code == LIMIT_CONCURRENT or not retry_after:
                return False
            until = now + retry_after
            if until > self._paused_until:
                self._paused_until = until
                return True
            return False

    def on_success(self, headers: Mapping[str, str] | None = None) -> None:
        """A served answer: follow what its headers say about room."""
        with self._lock:
            if headers is None:
                return
            hint = header_number(headers.get(DOP_HINT))
            if hint is not None and hint >= 1 and not self._hinted:
                self._hinted = True
                self._set_limit(int(hint))
            room = self._room(headers)
            if room is not None and room < LOW_BUDGET:
                self._cut(self._clock(), force=False)
            elif 2 * (self._in_flight + self._retrying + self._queued + 1) >= self.limit:  # in use, with room
                self._set_limit(self.limit + self._step(room))

    def _step(self, room: float | None) -> int:
        """Slots one answer opens: two with ample room in slow start or below the width of the
        last cut, else one."""
        quick = self._last_cut == -math.inf or self.limit < self._cut_from
        return 2 if quick and room is not None and room > AMPLE_BUDGET else 1

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
        self._cut_from = 0  # a budget running low is no random refusal: no quick return
        self._set_limit(self.limit // 2)
