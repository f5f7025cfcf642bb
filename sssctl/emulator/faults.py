"""Injected trouble: latency, random 429 with Retry-After, random 503 and dropped connections.

It wraps every service except the admin API (tests must always be able to switch faults off
again). Each answer uses the envelope of the service that was asked, because clients parse
them differently: Dataverse's hex codes, Graph's ``TooManyRequests`` and Entra's JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sssctl.emulator import constants as c
from sssctl.emulator.context import Counters, Faults


def _service(path: str) -> str:
    for prefix, name in (
        (c.DATAVERSE_PREFIX, "dataverse"),
        (c.GRAPH_PREFIX, "graph"),
        (c.EXCHANGE_PREFIX, "exchange"),
    ):
        if path == prefix or path.startswith(prefix + "/"):
            return name
    return "login"


def retry_after_text(seconds: float) -> str:
    """Whole seconds stay integers ("2"); fractions are kept ("1.5") as Graph sends them."""
    return f"{seconds:g}"


def throttled_body(service: str, faults: Faults) -> dict[str, Any]:
    if service == "dataverse":
        return {
            "error": {
                "code": "0x80072322",
                "message": (
                    f"Number of requests exceeded the limit of {faults.limit_requests} over time window of "
                    f"{faults.limit_window_seconds:g} seconds."
                ),
            }
        }
    if service == "graph":
        return {
            "error": {
                "code": "TooManyRequests",
                "message": "Please retry again later.",
                "innerError": {
                    "code": "429",
                    "message": "Please retry after",
                    "request-id": str(uuid.uuid4()),
                    "status": "429",
                },
            }
        }
    if service == "exchange":
        return {
            "error": {
                "code": "TooManyRequests",
                "message": "Too many concurrent requests. Please retry after some time.",
            }
        }
    return {
        "error": "temporarily_unavailable",
        "error_description": "AADSTS50196: The server terminated an "
        "operation because it encountered a client request loop. Please retry later.",
        "error_codes": [50196],
    }


def unavailable_body(service: str) -> dict[str, Any]:
    if service == "dataverse":
        return {"error": {"code": "0x80040216", "message": "The service is temporarily unavailable."}}
    if service in {"graph", "exchange"}:
        return {
            "error": {
                "code": "serviceNotAvailable",
                "message": "The service is temporarily unavailable. Please retry later.",
            }
        }
    return {
        "error": "temporarily_unavailable",
        "error_description": "AADSTS90033: A transient error has occurred. Please try again.",
        "error_codes": [90033],
    }


class FaultMiddleware:
    def __init__(self, app: ASGIApp, *, faults: Faults, counters: Counters, rng: random.Random | None = None):
        self.app, self.faults, self.counters = app, faults, counters
        self.rng = rng or random.Random()  # noqa: S311 - fault injection, not cryptography

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(c.ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        faults = self.faults
        delay = faults.latency_ms + self.rng.uniform(0, faults.latency_jitter_ms)
        if delay > 0:
            await asyncio.sleep(delay / 1000)
        service = _service(path)
        if faults.drop_probability and self.rng.random() < faults.drop_probability:
            await _drop(receive, send)
            return
        if faults.throttle_probability and self.rng.random() < faults.throttle_probability:
            self.counters.record_throttled()
            seconds = faults.retry_after_seconds
            response = JSONResponse(
                throttled_body(service, faults),
                status_code=429,
                headers={"Retry-After": retry_after_text(seconds)},
            )
            await response(scope, receive, send)
            return
        if faults.error_probability and self.rng.random() < faults.error_probability:
            await JSONResponse(unavailable_body(service), status_code=503)(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _drop(receive: Receive, send: Send) -> None:
    """Close the connection without a response, as a failing load balancer would.

    uvicorn keeps the connection's transport on the request cycle that owns ``receive``;
    aborting it resets the socket. Should a server not expose it, the fallback announces a
    body and stops mid-way, which clients also see as a broken connection.
    """
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is not None:
        transport.abort()
        # Wait for the server to notice the disconnect, so it does not log a missing response.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(_until_disconnected(receive), timeout=1.0)
        return
    start: Message = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-length", b"1000"), (b"content-type", b"application/json")],
    }
    await send(start)
    await send({"type": "http.response.body", "body": b"{", "more_body": True})
    raise ConnectionAbortedError("connection dropped by fault injection")


async def _until_disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
