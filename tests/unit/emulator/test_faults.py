"""Fault middleware answers in the envelope of the service that was asked."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from sssctl.emulator.context import Counters, Faults
from sssctl.emulator.faults import FaultMiddleware, apply_fault_settings, retry_after_text


class _Client:
    """Synchronous face over an in-process ASGI call."""

    def __init__(self, app: FaultMiddleware) -> None:
        self.app = app

    def request(self, method: str, path: str) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="https://emulator") as client:
                return await client.request(method, path)

        return asyncio.run(call())

    def get(self, path: str) -> httpx.Response:
        return self.request("GET", path)

    def post(self, path: str) -> httpx.Response:
        return self.request("POST", path)


def _client(**knobs: float | str) -> tuple[_Client, Counters]:
    async def ok(_request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    inner = Starlette(routes=[Route("/{path:path}", ok, methods=["GET", "POST"])])
    faults, counters = Faults(), Counters()
    faults.update(dict(knobs))
    return _Client(FaultMiddleware(inner, faults=faults, counters=counters, rng=random.Random(7))), counters


@pytest.mark.parametrize(("seconds", "text"), [(1.0, "1"), (1.5, "1.5"), (2.128, "2.128"), (30, "30")])
def test_retry_after_keeps_fractions_only_when_there_are_some(seconds: float, text: str) -> None:
    assert retry_after_text(seconds) == text


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/dataverse/api/data/v9.2/accounts", "0x80072322"),
        ("/graph/v1.0/applications", "TooManyRequests"),
        ("/exchange/adminapi/beta/t/InvokeCommand", "TooManyRequests"),
    ],
)
def test_throttle_body_matches_the_service(path: str, code: str) -> None:
    client, counters = _client(throttle_probability=1.0, retry_after_seconds=0.5)
    response = client.get(path)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "0.5"
    assert response.json()["error"]["code"] == code
    assert counters.throttled == 1


def test_login_throttle_uses_the_oauth_error_shape() -> None:
    client, _ = _client(throttle_probability=1.0)
    body = client.post("/tenant/oauth2/v2.0/token").json()
    assert body["error"] == "temporarily_unavailable" and body["error_codes"]


def test_admin_paths_are_never_faulted() -> None:
    client, _ = _client(throttle_probability=1.0, error_probability=1.0, drop_probability=1.0)
    assert client.get("/_emulator/counters").text == "ok"


def test_error_probability_gives_503() -> None:
    client, _ = _client(error_probability=1.0)
    assert client.get("/graph/v1.0/applications").status_code == 503


def test_no_faults_pass_through() -> None:
    client, counters = _client()
    assert client.get("/graph/v1.0/applications").text == "ok"
    assert counters.throttled == 0


def test_a_runaway_route_answers_empty_pages_that_always_link_to_a_new_one() -> None:
    client, _ = _client(runaway_route="/graph/v1.0/users", runaway_count=2)
    first, second = (client.get("/graph/v1.0/users").json() for _ in range(2))
    assert first["value"] == [] == second["value"] and first["@odata.count"] == 2
    assert first["@odata.nextLink"] != second["@odata.nextLink"]
    assert first["@odata.nextLink"].startswith("https://emulator/graph/v1.0/users?")
    assert client.post("/graph/v1.0/users").text == "ok"            # only reads page
    assert client.get("/graph/v1.0/groups").text == "ok"


def test_a_runaway_route_is_a_path() -> None:
    with pytest.raises(ValueError, match="runaway_route"):
        apply_fault_settings(Faults(), {"runaway_route": "users"})
