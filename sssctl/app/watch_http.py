"""``--listen``: ``/healthz`` for probes and ``/metrics`` for Prometheus.

The metrics are made with the standard ``prometheus-client`` library (its text format,
its counter and histogram semantics) on a registry of their own, so two watchers in one
process (tests, ``fleet watch``) never share counters. ``/healthz`` fails (503) once the
last successful cycle is older than three intervals, which is what an orchestrator's
liveness probe should restart on; a standby is healthy while its election loop runs,
so a probe never kills the replica waiting to take over.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class WatchMetrics:
    """Every figure ``/metrics`` serves, labelled by ``environment`` (a fleet shares one registry)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r, env, kind = self.registry, ["environment"], ["environment", "kind"]
        self.drift_seen = Counter("sssctl_watch_drift_seen", "Drifted changes found", kind, registry=r)
        self.reverted = Counter("sssctl_watch_reverted", "Drifted rows or objects reverted", kind, registry=r)
        self.failed = Counter("sssctl_watch_failed", "Reverts, reads or cycles that failed", kind, registry=r)
        # Apart from failed: an unknown read or revert (a reply that could not be used) says
        # nothing was decided, not that something went wrong; alerts treat them differently.
        self.unknown = Counter("sssctl_watch_unknown", "Reads or reverts whose outcome is unknown", kind,
                               registry=r)
        self.cycles = Counter("sssctl_watch_cycles", "Cycles ended, by outcome: ok, unknown or failed",
                              ["environment", "outcome"], registry=r)
        self.cycle_seconds = Histogram("sssctl_watch_cycle_seconds", "Duration of one cycle", env, registry=r,
                                       buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))
        self.requests = Counter("sssctl_watch_requests", "Requests sent to the services", env, registry=r)
        self.throttled = Counter("sssctl_watch_throttled", "429 answers received", env, registry=r)
        self.notify_failed = Counter("sssctl_watch_notify_failed", "Notifications failed", env, registry=r)
        self.last_success = Gauge("sssctl_watch_last_success_timestamp_seconds",
                                  "Unix time of the last successful cycle", env, registry=r)
        self.leader = Gauge("sssctl_watch_leader", "1 while this replica leads", env, registry=r)

    def text(self) -> bytes:
        return generate_latest(self.registry)


class EnvironmentMetrics:
    """One environment's view of :class:`WatchMetrics`: the label already applied."""

    def __init__(self, metrics: WatchMetrics, environment: str) -> None:
        self.all = metrics
        self.environment = environment
        self.cycle_seconds = metrics.cycle_seconds.labels(environment=environment)
        self.requests = metrics.requests.labels(environment=environment)
        self.throttled = metrics.throttled.labels(environment=environment)
        self.notify_failed = metrics.notify_failed.labels(environment=environment)
        self.last_success = metrics.last_success.labels(environment=environment)
        self.leader = metrics.leader.labels(environment=environment)

    def drift_seen(self, kind: str | None) -> Any:
        return self.all.drift_seen.labels(environment=self.environment, kind=kind or "?")

    def reverted(self, kind: str | None) -> Any:
        return self.all.reverted.labels(environment=self.environment, kind=kind or "?")

    def failed(self, kind: str | None) -> Any:
        return self.all.failed.labels(environment=self.environment, kind=kind or "?")

    def unknown(self, kind: str | None) -> Any:
        return self.all.unknown.labels(environment=self.environment, kind=kind or "?")

    def cycle(self, outcome: str) -> Any:
        return self.all.cycles.labels(environment=self.environment, outcome=outcome)


@dataclass
class Health:
    """Liveness from the watcher's own progress (monotonic clock: wall-clock jumps do not matter)."""

    interval: float
    started: float = field(default_factory=time.monotonic)
    last_success: float | None = None
    leading: bool = False
    last_error: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def succeeded(self) -> None:
        with self._lock:
            self.last_success, self.last_error = time.monotonic(), None

    def failed(self, error: str) -> None:
        with self._lock:
            self.last_error = error

    def standing_by(self) -> None:
        """A standby (re)confirmed that someone else leads: that is its success."""
        with self._lock:
            self.leading, self.last_success = False, time.monotonic()

    def report(self) -> tuple[bool, dict[str, Any]]:
        with self._lock:
            now = time.monotonic()
            since = now - (self.last_success if self.last_success is not None else self.started)
            healthy = since <= 3 * self.interval
            return healthy, {"status": "ok" if healthy else "stale", "leader": self.leading,
                             "seconds_since_success": round(since, 3), "interval_seconds": self.interval,
                             "last_error": self.last_error}


class Listener:
    """A small threaded HTTP server on its own daemon thread."""

    def __init__(self, host: str, port: int, health: Callable[[], tuple[bool, dict[str, Any]]],
                 metrics: WatchMetrics) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] == "/healthz":
                    healthy, body = health()
                    self._send(200 if healthy else 503, "application/json", json.dumps(body).encode())
                elif self.path.split("?")[0] == "/metrics":
                    self._send(200, CONTENT_TYPE_LATEST, metrics.text())
                else:
                    self._send(404, "text/plain", b"not found: try /healthz or /metrics\n")

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds: no log
                return

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="watch-listen", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
