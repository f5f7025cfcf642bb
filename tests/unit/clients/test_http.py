from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest

from sssctl.clients.errors import TransportError
from sssctl.clients.http import RateLimiter, RetryPolicy, parse_retry_after

from .helpers import Handler, service

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize(
    ("header", "expected"),
    [("3", 3.0), ("2.128", 2.128), ("0.05", 0.05), ("0", 0.0), (" 7 ", 7.0),
     (None, None), ("", None), ("soon", None), ("-1", None), ("nan", None)],
)
def test_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_retry_after_http_date_counts_from_now() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    header = format_datetime(now + timedelta(seconds=42), usegmt=True)
    assert parse_retry_after(header, now=now.timestamp()) == pytest.approx(42.0)
    past = format_datetime(now - timedelta(seconds=42), usegmt=True)
    assert parse_retry_after(past, now=now.timestamp()) == 0.0


def _sequence(*responses: httpx.Response | Exception) -> tuple[list[httpx.Request], Handler]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    return seen, handler


def test_429_is_retried_honouring_fractional_retry_after() -> None:
    seen, handler = _sequence(httpx.Response(429, headers={"Retry-After": "0.25"}),
                              httpx.Response(429, headers={"Retry-After": "1.5"}),
                              httpx.Response(200, json={"ok": True}))
    svc, sleeps = service(handler)
    response = svc.request("GET", "https://org.example/api/data/v9.2/mailboxes")
    assert response.status_code == 200
    assert len(seen) == 3
    assert sleeps.calls == [0.25, 1.5]
    assert svc.stats.retries == 2 and svc.stats.throttled == 2 and svc.stats.total == 3


def test_attempts_are_bounded_and_last_answer_returned() -> None:
    seen, handler = _sequence(httpx.Response(503, headers={"Retry-After": "0"}))
    svc, sleeps = service(handler, policy=RetryPolicy(max_attempts=4))
    response = svc.request("GET", "https://org.example/api/data/v9.2/roles")
    assert response.status_code == 503
    assert len(seen) == 4 and len(sleeps.calls) == 3


def test_elapsed_budget_stops_before_a_too_long_backoff() -> None:
    seen, handler = _sequence(httpx.Response(503, headers={"Retry-After": "500"}))
    svc, sleeps = service(handler, policy=RetryPolicy(max_elapsed=120))
    assert svc.request("GET", "https://org.example/x").status_code == 503
    assert len(seen) == 1 and sleeps.calls == []


def test_run_budget_is_shared_across_requests() -> None:
    seen, handler = _sequence(httpx.Response(502))
    policy = RetryPolicy(max_attempts=6, run_retry_budget=3, base_delay=0.001)
    svc, _ = service(handler, policy=policy)
    svc.request("GET", "https://org.example/a")
    svc.request("GET", "https://org.example/b")
    assert len(seen) == 3 + 1 + 1  # first request spends the whole run budget


def test_backoff_without_retry_after_grows_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (10, 30.0)]:
        delay = policy.backoff(attempt)
        assert ceiling / 2 <= delay <= ceiling


def test_backoff_grows_with_failures_only_not_with_429s_waited_out() -> None:
    seen, handler = _sequence(*[httpx.Response(429, headers={"Retry-After": "1"})] * 3,
                              httpx.Response(503), httpx.Response(503), httpx.Response(200, json={}))
    svc, sleeps = service(handler, policy=RetryPolicy(base_delay=0.5, max_delay=30))
    assert svc.request("GET", "https://org.example/api/data/v9.2/mailboxes").status_code == 200
    assert len(seen) == 6
    assert sleeps.calls[:3] == [1.0, 1.0, 1.0]
    assert 0.25 <= sleeps.calls[3] <= 0.5  # the first failure, on the fourth attempt
    assert 0.5 <= sleeps.calls[4] <= 1.0


def test_post_is_not_replayed_after_the_connection_dropped_mid_request() -> None:
    seen, handler = _sequence(httpx.RemoteProtocolError("Server disconnected without sending a response."))
    svc, _ = service(handler)
    with pytest.raises(TransportError, match="1 attempt") as caught:
        svc.request("POST", "https://org.example/api/data/v9.2/mailboxes", json={})
    assert "may or may not have been made" in str(caught.value)
    assert len(seen) == 1


def test_plain_patch_is_not_replayed_after_a_read_timeout_or_502() -> None:
    seen, handler = _sequence(httpx.ReadTimeout("slow"))
    svc, _ = service(handler)
    with pytest.raises(TransportError):
        svc.request("PATCH", "https://org.example/api/data/v9.2/organizations(1)", json={})
    assert len(seen) == 1
    seen2, handler2 = _sequence(httpx.Response(502), httpx.Response(204))
    svc2, _ = service(handler2)
    assert svc2.request("POST", "https://org.example/x", json={}).status_code == 502
    assert len(seen2) == 1


def test_post_is_replayed_when_not_processed_or_never_sent() -> None:
    seen, handler = _sequence(httpx.ConnectError("refused"),
                              httpx.Response(503, headers={"Retry-After": "0"}),
                              httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(204))
    svc, _ = service(handler)
    assert svc.request("POST", "https://org.example/x", json={"a": 1}).status_code == 204
    assert len(seen) == 4


def test_get_and_conditional_patch_are_replayed_after_a_drop() -> None:
    drop = httpx.RemoteProtocolError("Server disconnected")
    seen, handler = _sequence(drop, httpx.Response(200))
    svc, _ = service(handler)
    assert svc.request("GET", "https://org.example/x").status_code == 200
    seen2, handler2 = _sequence(drop, httpx.Response(204))
    svc2, _ = service(handler2)
    response = svc2.request("PATCH", "https://org.example/x", json={}, headers={"If-Match": 'W/"1"'})
    assert response.status_code == 204
    assert len(seen) == 2 and len(seen2) == 2


def test_bearer_token_and_stats_by_service() -> None:
    seen, handler = _sequence(httpx.Response(204))
    svc, _ = service(handler, name="graph")
    svc.request("DELETE", "https://graph.example/v1.0/applications(1)")
    assert seen[0].headers["Authorization"] == "Bearer tok-abcdef-123456"
    assert svc.stats.as_dict() == {"total": 1, "retries": 0, "throttled": 0, "writes": 1,
                                   "by_service": {"graph": 1}}


def test_rate_limiter_pauses_everyone_for_retry_after() -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(2, rate=1000.0, clock=lambda: now[0], sleep=sleep)
    limiter.on_throttled(3.0)
    limiter.acquire()
    limiter.release()
    assert sum(waits) == pytest.approx(3.0, abs=0.01)


def test_rate_limiter_caps_concurrency() -> None:
    limiter = RateLimiter(100)
    assert limiter.max_concurrency == 52
    small = RateLimiter(2, rate=1e6)
    small.acquire()
    small.acquire()
    blocked = threading.Event()

    def third() -> None:
        small.acquire()
        blocked.set()

    thread = threading.Thread(target=third, daemon=True)
    thread.start()
    assert not blocked.wait(0.2)
    small.release()
    assert blocked.wait(2)
    small.release()
    small.release()


def test_untrusted_certificate_is_not_retried_and_names_the_fix() -> None:
    import ssl

    def handler(request: httpx.Request) -> httpx.Response:
        try:
            raise ssl.SSLCertVerificationError("certificate verify failed: self-signed certificate")
        except ssl.SSLError as exc:
            raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed") from exc

    svc, sleeps = service(handler)
    with pytest.raises(TransportError, match="ca_bundle"):
        svc.request("GET", "https://org.example/x")
    assert sleeps.calls == [] and svc.stats.total == 1
