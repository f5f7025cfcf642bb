"""Retries under injected 429/503/dropped connections, with exact request counts."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from sssctl.clients.clouds import scope_for
from sssctl.clients.errors import GraphError, TransportError
from sssctl.clients.session import Clients, open_clients
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo
from sssctl.logging import configure_logging

from .conftest import RecordingSleep, emulator_desired, fast_options, secret_environ

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _open(info: EmulatorInfo, sleep: RecordingSleep, **policy: Any) -> Any:
    return open_clients(emulator_desired(info), need_graph=True, need_exchange=True,
                        environ=secret_environ(info), options=fast_options(sleep, **policy))


def _signed_in(clients: Clients, info: EmulatorInfo) -> None:
    """Fetch tokens first: faults hit the login endpoint too, and these tests count API calls."""
    assert clients.token_provider is not None
    for resource in (info.graph_url, info.exchange_url):
        clients.token_provider.token(scope_for(resource))


def _me(info: EmulatorInfo) -> str:
    return f"servicePrincipals(appId='{info.client_id}')"


def test_throttling_is_retried_until_it_clears(emulator: EmulatorInfo, calm: AdminClient) -> None:
    sleep = RecordingSleep(after=2, action=calm.clear_faults)
    with _open(emulator, sleep) as clients:
        _signed_in(clients, emulator)
        before = calm.counters()["throttled"]
        calm.faults(throttle_probability=1.0)
        assert clients.graph.get(_me(emulator))["appId"] == emulator.client_id
        assert clients.stats.total == 3 and clients.stats.retries == 2 and clients.stats.throttled == 2
        assert calm.counters()["throttled"] - before == 2
        assert sleep.calls == [0.05, 0.05]  # the server's Retry-After, not our own backoff


def test_throttling_that_never_clears_stops_at_the_attempt_bound(emulator: EmulatorInfo,
                                                                  calm: AdminClient) -> None:
    with _open(emulator, RecordingSleep(), max_attempts=4) as clients:
        _signed_in(clients, emulator)
        before = calm.counters()["throttled"]
        calm.faults(throttle_probability=1.0)
        with pytest.raises(GraphError) as caught:
            clients.graph.get(_me(emulator))
        assert caught.value.status == 429 and caught.value.code == "TooManyRequests"
        assert calm.counters()["throttled"] - before == 4
        assert clients.stats.total == 4


def test_unavailable_is_retried_for_reads(emulator: EmulatorInfo, calm: AdminClient) -> None:
    sleep = RecordingSleep(after=3, action=calm.clear_faults)
    with _open(emulator, sleep) as clients:
        _signed_in(clients, emulator)
        calm.faults(error_probability=1.0)
        rows = clients.exchange.invoke("Get-ApplicationAccessPolicy")
        assert isinstance(rows, list)
        assert clients.stats.total == 4 and clients.stats.retries == 3 and clients.stats.throttled == 0


def test_dropped_connections_are_replayed_for_reads_only(emulator: EmulatorInfo, calm: AdminClient) -> None:
    sleep = RecordingSleep(after=2, action=calm.clear_faults)
    with _open(emulator, sleep) as clients:
        _signed_in(clients, emulator)
        calm.faults(drop_probability=1.0)
        assert clients.graph.get(_me(emulator))["appId"] == emulator.client_id
        assert clients.stats.total == 3

    with _open(emulator, RecordingSleep()) as clients:
        _signed_in(clients, emulator)
        counted = calm.counters()["total"]
        calm.faults(drop_probability=1.0)
        with pytest.raises(TransportError, match="1 attempt"):
            policy = {"AppId": "x", "PolicyScopeGroupId": "g", "AccessRight": "RestrictAccess"}
            clients.exchange.invoke("New-ApplicationAccessPolicy", policy)
        calm.clear_faults()
        assert clients.stats.total == 1  # the write was not blindly sent twice
        assert calm.counters()["total"] == counted


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(log_format="json", verbose=2, stream=stream)
    yield stream
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def test_no_secret_or_token_in_debug_logs(emulator: EmulatorInfo, calm: AdminClient,
                                          debug_log: io.StringIO) -> None:
    with _open(emulator, RecordingSleep(after=1, action=calm.clear_faults)) as clients:
        assert clients.token_provider is not None
        graph_token = clients.token_provider.token(scope_for(emulator.graph_url))
        calm.faults(throttle_probability=1.0)
        clients.graph.get(_me(emulator))
        clients.exchange.invoke("Get-ApplicationAccessPolicy")
        clients.dataverse.whoami()
        list(clients.dataverse.query("mailboxes", select=["mailboxid"], top=3))
        exchange_token = clients.token_provider.token(scope_for(emulator.exchange_url))
        dataverse_token = clients.token_provider.token(scope_for(emulator.dataverse_url))
    text = debug_log.getvalue()
    events = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    requests = [e for e in events if e.get("event") == "http.request"]
    assert requests, "debug logging should describe every request"
    assert {"method", "service", "target", "status", "duration_ms", "attempt"} <= set(requests[0])
    assert {e["service"] for e in requests} == {"login", "graph", "exchange", "dataverse"}
    for secret in (emulator.client_secret, graph_token, exchange_token, dataverse_token):
        assert secret not in text
    assert "Bearer " not in text


def test_an_integration_sharing_the_budgets_is_met_by_fewer_requests_at_once_not_a_pause(
        emulator: EmulatorInfo, calm: AdminClient) -> None:
    from concurrent.futures import ThreadPoolExecutor

    sleep = RecordingSleep()
    with _open(emulator, sleep) as clients:
        clients.dataverse.whoami()
        limiter = clients.dataverse.http.limiter
        assert limiter is not None
        limiter.on_success({"x-ms-dop-hint": "12"})  # as if the environment recommended 12
        widths: list[int] = []
        react = limiter.on_throttled

        def watched(*args: Any) -> bool:
            paused = react(*args)
            widths.append(limiter.limit)
            return paused

        limiter.on_throttled = watched  # type: ignore[method-assign]
        # Another integration holds half of the 12 concurrent requests the user may have.
        calm.faults(limit_concurrent=12, competing_share=0.5, request_operation_ms=150)
        with ThreadPoolExecutor(max_workers=12) as pool:
            answers = list(pool.map(lambda _: clients.dataverse.whoami(), range(36)))
        calm.faults(limit_concurrent=52, competing_share=0.0, request_operation_ms=0)
    assert len(answers) == 36
    assert widths and min(widths) <= 6  # refused beyond its count, the width came down to what is left
    assert limiter.paused_until == 0.0 and sleep.calls  # only the refused requests waited


def test_a_graph_retry_after_holds_back_graph_alone(emulator: EmulatorInfo, calm: AdminClient) -> None:
    """Each service keeps its own budget: its Retry-After pauses its requests and no other's."""
    with _open(emulator, RecordingSleep()) as clients:
        _signed_in(clients, emulator)
        calm.faults(throttle_probability=1.0, fault_service="graph", max_faults=1, retry_after_seconds=1)
        started = time.monotonic()
        assert clients.graph.get(_me(emulator))["appId"] == emulator.client_id
        services = (clients.graph, clients.dataverse, clients.exchange)
        graph, dataverse, exchange = (service.http.limiter for service in services)
        assert graph is not None and dataverse is not None and exchange is not None
        assert len({id(graph), id(dataverse), id(exchange)}) == 3
        assert graph.paused_until > started + 0.5         # the pause held back Graph's next request
        assert time.monotonic() >= graph.paused_until     # and the retry waited it out
        assert dataverse.paused_until < started and exchange.paused_until < started
