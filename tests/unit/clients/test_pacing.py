"""Following the service: long Retry-After waits, progress, --timeout, adaptive concurrency."""

from __future__ import annotations

import httpx
import pytest
from structlog.testing import capture_logs

from sssctl.clients.errors import DeadlineExceeded
from sssctl.clients.http import (
    BURST_REMAINING,
    DOP_HINT,
    LIMIT_CONCURRENT,
    LIMIT_EXECUTION,
    LIMIT_REQUESTS,
    TIME_REMAINING,
    HttpService,
    Pause,
    RateLimiter,
    RequestStats,
    RetryPolicy,
    header_number,
)
from tests.support.fake_clock import FakeClock

pytestmark = pytest.mark.timeout(30)

EXECUTION_LIMIT = {
    "error": {"code": "0x80072321", "message": "Combined execution time of incoming requests exceeded limit "
              "of 1,200,000 milliseconds over time window of 300 seconds."}
}


def _service(answers: list[httpx.Response], time: FakeClock,
             policy: RetryPolicy | None = None) -> tuple[HttpService, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0) if len(answers) > 1 else answers[0]

    client = httpx.Client(transport=httpx.MockTransport(handler))
    svc = HttpService("dataverse", client, token=lambda: "t", stats=RequestStats(),
                      policy=policy or RetryPolicy(), sleep=time.sleep, clock=time.clock)
    return svc, seen


def _throttled(seconds: int) -> httpx.Response:
    return httpx.Response(429, headers={"Retry-After": str(seconds)}, json=EXECUTION_LIMIT)


def test_a_long_retry_after_is_waited_out_and_announced() -> None:
    time = FakeClock()
    svc, seen = _service([_throttled(280), httpx.Response(204)], time)
    with capture_logs() as logs:
        response = svc.request("PATCH", "https://org.example/api/data/v9.2/mailboxes(1)")
    assert response.status_code == 204 and len(seen) == 2 and time.slept == [280]
    (told,) = [e for e in logs if e["event"] == "http.throttled"]
    assert told["log_level"] == "warning" and told["wait_s"] == 280
    assert "wait 280 s" in told["message"] and "Combined execution time" in told["message"]
    assert "then it continues" in told["message"]


def test_throttling_never_abandons_a_run_that_makes_progress() -> None:
    time = FakeClock()
    svc, seen = _service([_throttled(60)] * 9 + [httpx.Response(200, json={})], time,
                         policy=RetryPolicy(max_attempts=3))

    def others_progress(seconds: float) -> None:  # other threads are served meanwhile
        svc.stats.count_answer(200)
        time.sleep(seconds)

    svc._sleep = others_progress
    assert svc.request("GET", "https://org.example/api/data/v9.2/roles").status_code == 200
    assert len(seen) == 10 and svc.stats.throttled == 9


def test_throttling_without_any_progress_ends_after_the_attempts_and_a_whole_window() -> None:
    time = FakeClock()
    svc, seen = _service([_throttled(60)], time, policy=RetryPolicy(max_attempts=3))
    assert svc.request("GET", "https://org.example/api/data/v9.2/roles").status_code == 429
    # Refused for the execution-time limit: the attempts count only once 300 s have passed.
    assert len(seen) == 6 and svc.stats.throttled == 6 and svc.stats.retries == 5


def test_throttling_for_the_request_count_ends_after_the_attempts() -> None:
    time = FakeClock()
    refused = httpx.Response(429, headers={"Retry-After": "60"}, json={"error": {"code": LIMIT_REQUESTS}})
    svc, seen = _service([refused], time, policy=RetryPolicy(max_attempts=3))
    assert svc.request("GET", "https://org.example/api/data/v9.2/roles").status_code == 429
    assert len(seen) == 3 and svc.stats.retries == 2


def test_timeout_stops_waiting_and_sending_and_counts_every_429() -> None:
    time = FakeClock()
    policy = RetryPolicy()
    policy.expire_in(100, clock=time.clock)
    svc, seen = _service([_throttled(280)], time, policy=policy)
    with pytest.raises(DeadlineExceeded, match=r"asked the run to wait 280 s .*--timeout of 100 s"):
        svc.request("GET", "https://org.example/api/data/v9.2/roles")
    assert time.slept == [] and svc.stats.throttled == 1 and svc.stats.retries == 0
    time.now += 100
    with pytest.raises(DeadlineExceeded, match="--timeout of 100 s has passed"):
        svc.request("GET", "https://org.example/api/data/v9.2/roles")
    assert len(seen) == 1


@pytest.mark.parametrize(("text", "value"), [("1,200.00", 1200.0), ("5999", 5999.0), ("0.00", 0.0),
                                             ("lots", None), (None, None), ("-1", None), ("nan", None)])
def test_limit_headers_are_read_as_dataverse_writes_them(text: str | None, value: float | None) -> None:
    assert header_number(text) == value


def _room(burst: int = 5000, seconds: float = 1100.0, hint: int | None = None) -> dict[str, str]:
    headers = {BURST_REMAINING: str(burst), TIME_REMAINING: f"{seconds:,.2f}"}
    if hint is not None:
        headers[DOP_HINT] = str(hint)
    return headers


def test_concurrency_starts_at_the_hint_and_grows_while_every_slot_is_busy_and_there_is_room() -> None:
    limiter = RateLimiter(52)
    assert limiter.limit == 4
    limiter.on_success(_room(hint=10))
    assert limiter.limit == 10
    for _ in range(10):
        limiter.acquire()
    limiter.on_success(_room(hint=3))  # only the first hint sets the start
    assert limiter.limit == 12
    for _ in range(10):
        limiter.release()
    limiter.on_success(_room())  # slots are free: no reason to open more
    assert limiter.limit == 12


def _answer_round(limiter: RateLimiter, headers: dict[str, str]) -> None:
    """One answer for each request in flight; requests keep waiting, so every slot opened is filled."""
    in_flight = 0

    def fill() -> None:
        nonlocal in_flight
        while in_flight < limiter.limit:
            limiter.acquire()
            in_flight += 1

    fill()
    for _ in range(in_flight):
        limiter.release()
        in_flight -= 1
        limiter.on_success(headers)
        fill()
    for _ in range(in_flight):
        limiter.release()


def test_slow_start_triples_concurrency_per_round_while_both_budgets_show_ample_room() -> None:
    limiter = RateLimiter(52)
    limiter.on_success(_room(hint=4))
    rounds = []
    for _ in range(4):
        _answer_round(limiter, _room())
        rounds.append(limiter.limit)
    assert rounds == [12, 36, 52, 52]


def test_concurrency_only_doubles_per_round_once_a_budget_is_half_spent() -> None:
    limiter = RateLimiter(52)
    limiter.on_success(_room(hint=4, burst=6000, seconds=1200))
    _answer_round(limiter, _room(burst=2000, seconds=1200))  # a third of the requests left
    assert limiter.limit == 8


def test_after_a_cut_concurrency_returns_quickly_to_the_width_cut_from_then_only_doubles() -> None:
    time = FakeClock()
    limiter = RateLimiter(52, rate=1e9, clock=time.clock, sleep=time.sleep)
    limiter.on_success(_room(hint=20))
    limiter.on_throttled(None, in_flight=20)
    assert limiter.limit == 14
    _answer_round(limiter, _room())
    assert limiter.limit == 31  # 14 answers: three open two slots each (back to 20), eleven one
    _answer_round(limiter, _room())
    assert limiter.limit == 52


def test_after_a_budget_ran_low_concurrency_only_doubles_per_round() -> None:
    time = FakeClock()
    limiter = RateLimiter(52, clock=time.clock, sleep=time.sleep)
    limiter.on_success(_room(hint=20, seconds=1200))
    limiter.on_throttled(None, in_flight=20)
    time.now += 2.0
    limiter.on_success(_room(seconds=100))  # the execution budget runs low: halved, no quick return
    assert limiter.limit == 7
    _answer_round(limiter, _room())
    assert limiter.limit == 14


def test_concurrency_grows_one_slot_per_busy_answer_without_limit_headers() -> None:
    limiter = RateLimiter(52)
    _answer_round(limiter, {})
    assert limiter.limit == 8


def test_concurrency_never_exceeds_the_cap() -> None:
    limiter = RateLimiter(6)
    limiter.on_success(_room(hint=48))
    assert limiter.limit == 6
    for _ in range(6):
        limiter.acquire()
    limiter.on_success(_room())
    assert limiter.limit == limiter.peak == 6


def test_concurrency_halves_before_a_429_when_a_budget_runs_low_and_on_a_429() -> None:
    time = FakeClock()
    limiter = RateLimiter(52, clock=time.clock, sleep=time.sleep)
    limiter.on_success(_room(hint=40, seconds=1200))
    limiter.on_success(_room(seconds=100))  # under 15 % of the execution time left
    assert limiter.limit == 20
    limiter.on_success(_room(seconds=90))  # answers arrive in bursts: one cut a second
    assert limiter.limit == 20
    time.now += 1.5
    limiter.on_success(_room(burst=100, seconds=1200))  # the request budget is low now
    assert limiter.limit == 10
    assert limiter.on_throttled(30.0, in_flight=10) is True and limiter.limit == 7
    assert limiter.on_throttled(10.0, in_flight=7) is False  # inside the pause already announced
    assert limiter.paused_until == pytest.approx(time.now + 30.0)


# --- the reaction to each service protection limit ------------------------------------------

def _wide(time: FakeClock, width: int = 40) -> RateLimiter:
    limiter = RateLimiter(52, rate=1e9, clock=time.clock, sleep=time.sleep)  # pacing is not measured here
    limiter.on_success(_room(hint=width))
    return limiter


def test_the_number_of_requests_limit_pauses_everyone_and_keeps_the_width() -> None:
    time = FakeClock()
    limiter = _wide(time)
    assert limiter.on_throttled(2.0, LIMIT_REQUESTS, sent_at=time.now) is True
    assert limiter.limit == 40
    assert limiter.paused_until == pytest.approx(time.now + 2.0)
    assert limiter.on_throttled(1.0, LIMIT_REQUESTS, sent_at=time.now) is False  # inside the pause


@pytest.mark.parametrize("code", [LIMIT_EXECUTION, LIMIT_CONCURRENT, None])
def test_only_the_number_of_requests_limit_counts_as_requests_limited(code: str | None) -> None:
    time = FakeClock()
    limiter = _wide(time)
    limiter.on_throttled(1.0, code, sent_at=time.now)
    assert limiter.requests_limited() is False
    limiter.on_throttled(1.0, LIMIT_REQUESTS, sent_at=time.now)
    assert limiter.requests_limited() is True
    time.now += 299.0
    assert limiter.requests_limited() is True  # the limit counts over 300 s
    time.now += 1.0
    assert limiter.requests_limited() is False


def test_the_execution_time_limit_pauses_everyone_and_cuts_the_width() -> None:
    time = FakeClock()
    limiter = _wide(time)
    assert limiter.on_throttled(3.0, LIMIT_EXECUTION, sent_at=time.now, in_flight=40) is True
    assert limiter.limit == 28
    assert limiter.paused_until == pytest.approx(time.now + 3.0)


def test_the_concurrent_requests_limit_cuts_below_what_was_in_flight_without_pausing_anyone() -> None:
    time = FakeClock()
    limiter = _wide(time)
    for _ in range(30):  # 31 in flight when the service counted one too many
        limiter.acquire()
    assert limiter.on_throttled(1.0, LIMIT_CONCURRENT, sent_at=time.now) is False
    assert limiter.limit == 22
    assert limiter.paused_until < time.now


def test_the_concurrent_requests_limit_counts_what_flew_when_the_refused_request_was_sent() -> None:
    time = FakeClock()
    limiter = _wide(time)
    sent = limiter.acquire()
    for _ in range(29):
        limiter.acquire()
    flying = limiter.in_flight
    for _ in range(30):  # by the time the refusal is read, the others have been answered
        limiter.release()
    assert limiter.on_throttled(1.0, LIMIT_CONCURRENT, sent_at=sent, in_flight=flying) is False
    assert limiter.limit == 21  # 70 % of the 30 the service counted, not of the 1 left


def test_one_cut_per_round_answers_to_requests_sent_before_a_cut_cut_nothing() -> None:
    time = FakeClock()
    limiter = _wide(time)
    sent = limiter.acquire()
    limiter.release()
    time.now += 0.5
    limiter.on_throttled(1.0, LIMIT_EXECUTION, sent_at=sent, in_flight=40)
    assert limiter.limit == 28
    for _ in range(10):  # the rest of the same round, refused too
        limiter.on_throttled(1.0, LIMIT_EXECUTION, sent_at=sent, in_flight=40)
    assert limiter.limit == 28
    time.now += 5.0
    later = limiter.acquire()
    limiter.release()
    limiter.on_throttled(1.0, LIMIT_EXECUTION, sent_at=later, in_flight=28)
    assert limiter.limit == 20


def test_width_grows_back_after_a_concurrency_cut() -> None:
    time = FakeClock()
    limiter = _wide(time, width=24)
    for _ in range(15):
        limiter.acquire()
    limiter.on_throttled(1.0, LIMIT_CONCURRENT, sent_at=time.now)  # 16 were too many
    for _ in range(15):
        limiter.release()
    assert limiter.limit == 11
    rounds = []
    for _ in range(3):
        _answer_round(limiter, _room())
        rounds.append(limiter.limit)
    assert rounds == [29, 52, 52]  # quickly back to the width of 24 it was cut from, then doubling


@pytest.mark.parametrize(("code", "paused"),
                         [(LIMIT_CONCURRENT, False), (LIMIT_EXECUTION, True), (None, True)])
def test_a_refusal_of_a_lone_request_cuts_nothing_but_still_pauses(code: str | None, paused: bool) -> None:
    time = FakeClock()
    limiter = _wide(time, width=30)
    for _ in range(7):  # steps of the safe sequence, alone in flight, refused one after another
        sent = limiter.acquire()
        flying = limiter.in_flight
        limiter.release()
        limiter.on_throttled(1.0, code, sent_at=sent, in_flight=flying)
        time.now += 1.0
    assert limiter.limit == 30  # the width was not in use: others held the slots or spent the budget
    assert (limiter.paused_until > time.now - 1.0) is paused


def test_a_429_without_a_known_code_pauses_and_cuts() -> None:
    time = FakeClock()
    limiter = _wide(time)
    assert limiter.on_throttled(2.0, in_flight=40) is True
    assert limiter.limit == 28


@pytest.mark.parametrize(("code", "width", "paused"), [
    (LIMIT_REQUESTS, 2, True), (LIMIT_EXECUTION, 1, True), (LIMIT_CONCURRENT, 1, False)])
def test_the_service_hands_the_limit_named_in_the_answer_to_the_limiter(
        code: str, width: int, paused: bool) -> None:
    time = FakeClock()
    refused = {"error": {"code": code, "message": "m"}}
    answers = [httpx.Response(429, headers={"Retry-After": "2"}, json=refused), httpx.Response(200, json={})]
    svc, seen = _service(answers, time)
    # A width of two: the one request in flight uses it, so a refusal may cut.
    svc.limiter = limiter = RateLimiter(52, start=2, clock=time.clock, sleep=time.sleep)
    widths: list[int] = []
    pauses: list[float] = []
    on_throttled = limiter.on_throttled

    def watch(*args: object) -> bool:
        result = on_throttled(*args)  # type: ignore[arg-type]
        widths.append(limiter.limit)
        pauses.append(limiter.paused_until)
        return result

    limiter.on_throttled = watch  # type: ignore[method-assign]
    assert svc.request("GET", "https://org.example/api/data/v9.2/mailboxes").status_code == 200
    assert len(seen) == 2 and widths == [width]
    assert (pauses[0] > 0) is paused


def test_requests_waiting_to_be_sent_again_leave_their_slots_to_others_and_count_as_demand() -> None:
    time = FakeClock()
    limiter = _wide(time, width=4)
    for _ in range(3):
        limiter.acquire()
    limiter.waiting_to_retry(True)  # the fourth was refused and waits its Retry-After
    assert limiter.allowed == 5
    limiter.on_success(_room())  # three in flight, one waiting: every slot is taken
    assert limiter.limit == 6
    limiter.waiting_to_retry(False)
    assert limiter.allowed == 6


def _refused(code: str, seconds: str) -> httpx.Response:
    refusal = {"error": {"code": code, "message": "m"}}
    return httpx.Response(429, headers={"Retry-After": seconds}, json=refusal)


def test_every_pause_of_a_second_or_more_is_told_once_with_its_limit() -> None:
    time = FakeClock()
    answers = [_refused(LIMIT_REQUESTS, "1"), _refused(LIMIT_REQUESTS, "0.5"),
               _refused(LIMIT_CONCURRENT, "2"), httpx.Response(200, json={})]
    svc, _ = _service(answers, time)
    svc.limiter = RateLimiter(52, rate=1e9, clock=time.clock, sleep=time.sleep)
    told: list[Pause] = []
    svc.on_pause = told.append
    assert svc.request("GET", "https://org.example/api/data/v9.2/roles").status_code == 200
    assert told == [Pause("dataverse", 1.0, LIMIT_REQUESTS, everyone=True),   # the half second is not
                    Pause("dataverse", 2.0, LIMIT_CONCURRENT, everyone=False)]  # only this request waits


def test_refusals_sharing_one_pause_are_told_once() -> None:
    time = FakeClock()
    svc, _ = _service([_refused(LIMIT_EXECUTION, "1"), _refused(LIMIT_EXECUTION, "1"),
                       httpx.Response(200, json={})], time)
    svc._sleep = lambda seconds: None   # another thread's refusal of the same wave: no time passes
    told: list[Pause] = []
    svc.on_pause = told.append
    svc.request("GET", "https://org.example/api/data/v9.2/roles")
    assert told == [Pause("dataverse", 1.0, LIMIT_EXECUTION)]  # no limiter here: only the request waited


def test_a_request_waits_out_a_pause_without_holding_a_slot() -> None:
    time = FakeClock()
    limiter = _wide(time, width=2)
    limiter.on_throttled(1.0, LIMIT_REQUESTS, sent_at=time.now)
    seen: list[int] = []

    def sleep(seconds: float) -> None:  # what another thread would find meanwhile
        seen.append(limiter.in_flight)
        time.sleep(seconds)

    limiter._sleep = sleep
    limiter.acquire()
    assert seen == [0]  # every slot free for a step of the sequence when the pause ends
    assert time.slept == [pytest.approx(1.0)] and limiter.in_flight == 1
