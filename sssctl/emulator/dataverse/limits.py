"""Service protection limits per caller (reference §1.11).

Three limits over the knobs in :class:`~sssctl.emulator.context.Faults`: requests per
sliding window, combined execution time per window (the simulated server time of each
request: per operation inside a ``$batch``, per request otherwise; the emulator's own
Python time is not charged), and concurrent requests. A ``$batch``
counts once for the request limit. Like the real service, the window limits are checked
when a request arrives, so the request that crosses a limit still completes and the next
one is refused; the concurrency limit fails at once.

``competing_share`` stands for another integration that signs in as the same user (the
limits are per user, so it draws on the same budgets): that share of every budget is
taken before this caller's requests count, and the ``x-ms-ratelimit-*`` headers show what
is left to this caller, as a live service would after the other's requests.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ..context import Faults
from .errors import LIMIT_CONCURRENT, LIMIT_EXECUTION, LIMIT_REQUESTS, DataverseFault


@dataclass
class _Usage:
    requests: deque[float] = field(default_factory=deque)  # arrival times
    execution: deque[tuple[float, float]] = field(default_factory=deque)  # (finish time, seconds)
    busy_seconds: float = 0.0
    concurrent: int = 0


class ServiceProtection:
    def __init__(self, faults: Faults, clock: Callable[[], float] = time.monotonic) -> None:
        self.faults = faults
        self.clock = clock
        self._lock = threading.Lock()
        self._usage: dict[str, _Usage] = {}

    def reset(self) -> None:
        with self._lock:
            self._usage.clear()

    def _expire(self, usage: _Usage, now: float) -> None:
        window = self.faults.limit_window_seconds
        while usage.requests and usage.requests[0] <= now - window:
            usage.requests.popleft()
        while usage.execution and usage.execution[0][0] <= now - window:
            usage.busy_seconds -= usage.execution.popleft()[1]

    def enter(self, caller: str) -> None:
        """Admit a request or raise 429 with Retry-After and the documented code."""
        now = self.clock()
        faults = self.faults
        requests, seconds, concurrent = budgets(faults)
        with self._lock:
            usage = self._usage.setdefault(caller, _Usage())
            self._expire(usage, now)
            if usage.concurrent >= concurrent:
                raise _throttled(LIMIT_CONCURRENT, limit_message(LIMIT_CONCURRENT, faults),
                                 faults.retry_after_seconds)
            if len(usage.requests) >= requests:
                wait = usage.requests[len(usage.requests) - requests] + faults.limit_window_seconds - now
                raise _throttled(LIMIT_REQUESTS, limit_message(LIMIT_REQUESTS, faults), wait)
            if usage.busy_seconds >= seconds:
                wait = usage.execution[0][0] + faults.limit_window_seconds - now if usage.execution else 1.0
                raise _throttled(LIMIT_EXECUTION, limit_message(LIMIT_EXECUTION, faults), wait)
            usage.requests.append(now)
            usage.concurrent += 1

    def leave(self, caller: str, seconds: float) -> dict[str, str]:
        """Account the finished request; return the ``x-ms-ratelimit-*`` headers for its response."""
        now = self.clock()
        faults = self.faults
        requests, budget_seconds, _ = budgets(faults)
        with self._lock:
            usage = self._usage.setdefault(caller, _Usage())
            usage.concurrent = max(0, usage.concurrent - 1)
            usage.execution.append((now, seconds))
            usage.busy_seconds += seconds
            self._expire(usage, now)
            remaining_requests = max(0, requests - len(usage.requests))
            remaining_seconds = max(0.0, budget_seconds - usage.busy_seconds)
        # Seconds with a grouping comma and two decimals, as live environments send it
        # ("1,200.00" for the full 20-minute budget).
        return {
            "x-ms-ratelimit-burst-remaining-xrm-requests": str(remaining_requests),
            "x-ms-ratelimit-time-remaining-xrm-requests": f"{remaining_seconds:,.2f}",
        }


def budgets(faults: Faults) -> tuple[int, float, int]:
    """(requests, execution seconds, concurrent requests) left to the caller in each window."""
    left = 1.0 - faults.competing_share
    return (max(1, int(faults.limit_requests * left)), faults.limit_execution_seconds * left,
            max(1, int(faults.limit_concurrent * left)))


def limit_message(code: str, faults: Faults) -> str:
    """The documented message of each limit, with the configured (whole) limits in it."""
    window = f"{faults.limit_window_seconds:g}"
    if code == LIMIT_CONCURRENT:
        return f"Number of concurrent requests exceeded the limit of {faults.limit_concurrent}."
    if code == LIMIT_EXECUTION:
        limit_ms = f"{int(faults.limit_execution_seconds * 1000):,}"
        return (f"Combined execution time of incoming requests exceeded limit of {limit_ms} milliseconds "
                f"over time window of {window} seconds. Decrease number of concurrent requests or reduce "
                "the duration of requests and try again later.")
    return (f"Number of requests exceeded the limit of {faults.limit_requests} "
            f"over time window of {window} seconds.")


def _throttled(code: str, message: str, wait: float) -> DataverseFault:
    seconds = max(1, math.ceil(wait))
    return DataverseFault(429, code, message, headers={"Retry-After": str(seconds)})
