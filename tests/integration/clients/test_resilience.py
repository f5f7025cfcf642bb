"""Retries under injected 429/503/dropped connections, with exact request counts."""

from __future__ import annotations

import io
import json
import logging
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
