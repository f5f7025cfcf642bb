"""What a run's requests cost, counted as they are sent and answered (thread-safe)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


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
