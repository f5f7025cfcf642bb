"""Injected trouble: latency, random 429 with Retry-After, random 503, dropped connections,
lost responses (the request is carried out, then the connection drops before the answer)
and malformed answers (200 with an HTML page where JSON is due).

It wraps every service except the admin API (tests must always be able to switch faults off
again). Each answer uses the envelope of the service that was asked, because clients parse
them differently: Dataverse's hex codes, Graph's ``TooManyRequests`` and Entra's JSON.

A Dataverse 429 carries the code of the service protection limit it stands for, as the
real service's do (``throttle_mix`` picks how often each limit is drawn), because a client
reacts to each limit differently (reference §1.11).

Test-only, ``mutate_*`` tampers with the JSON of the answers to one route (optionally one
method and one cmdlet): a dotted field is set to another JSON value, removed
(``<missing>``) or wrapped in an extra object (``<nested>``), so tests can show what a
malformed reply does to a client, deterministically. It never changes what the service
stored, only what the client is told. Also test-only, ``runaway_*`` answers the GETs to one
route with empty pages that each link to a new next page, forever (optionally announcing an
``@odata.count``), so tests can show that a client stops paging instead of following it.

Faults can be narrowed to one service or one path prefix, capped at a number of
injections (a burst), and seeded: with ``fault_seed`` the same sequence of requests meets
the same faults, so a failing run can be replayed. Every change of the knobs restarts the
sequence (reseeds, and zeroes the burst count).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import random
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.responses import HTMLResponse, JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sssctl.emulator import constants as c
from sssctl.emulator.context import Counters, Faults
from sssctl.emulator.dataverse.errors import LIMIT_CONCURRENT, LIMIT_EXECUTION, LIMIT_REQUESTS
from sssctl.emulator.dataverse.limits import limit_message

SERVICES = ("login", "dataverse", "graph", "exchange")
PROBABILITIES = ("throttle_probability", "error_probability", "drop_probability", "lost_response_probability",
                 "malformed_probability")
# What a captive portal or a misconfigured proxy answers in place of the service: 200, not JSON.
LIMITS = {"requests": LIMIT_REQUESTS, "execution": LIMIT_EXECUTION, "concurrent": LIMIT_CONCURRENT}
MALFORMED_BODY = "<html><head><title>Sign in to the network</title></head><body>Proxy</body></html>"


def apply_fault_settings(faults: Faults, values: Mapping[str, Any]) -> None:
    """Update the knobs, or change nothing and raise ValueError naming what is wrong."""
    trial = dataclasses.replace(faults)
    trial.update(dict(values))
    if trial.fault_service not in ("", *SERVICES):
        raise ValueError(f"fault_service must be one of {', '.join(SERVICES)} (or empty for all), "
                         f"not {trial.fault_service!r}")
    if trial.fault_route and not trial.fault_route.startswith("/"):
        raise ValueError(f"fault_route is a path prefix starting with '/', not {trial.fault_route!r}")
    for name in PROBABILITIES:
        if not 0.0 <= getattr(trial, name) <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, not {getattr(trial, name)}")
    parse_mix(trial.throttle_mix)
    if not 0.0 <= trial.competing_share < 1.0:
        raise ValueError(f"competing_share must be at least 0 and below 1, not {trial.competing_share}")
    if not 0.0 <= trial.ews_propagation_seconds <= 24 * 3600:
        raise ValueError("ews_propagation_seconds must be between 0 and 86400 (Exchange documents up to "
                         f"24 hours), not {trial.ews_propagation_seconds}")
    if trial.mutate_route and not trial.mutate_route.startswith("/"):
        raise ValueError(f"mutate_route is a path prefix starting with '/', not {trial.mutate_route!r}")
    if trial.mutate_route and not trial.mutate_field:
        raise ValueError("mutate_route needs mutate_field (the dotted path of the field to change)")
    if trial.mutate_to not in ("", MISSING, NESTED):
        try:
            json.loads(trial.mutate_to)
        except ValueError as exc:
            raise ValueError(f"mutate_to must be JSON, {MISSING!r} or {NESTED!r}: {exc}") from exc
    if trial.runaway_route and not trial.runaway_route.startswith("/"):
        raise ValueError(f"runaway_route is a path prefix starting with '/', not {trial.runaway_route!r}")
    if trial.max_faults < 0:
        raise ValueError(f"max_faults must be 0 (no limit) or more, not {trial.max_faults}")
    faults.update(dict(values))


def parse_mix(text: str) -> list[tuple[str, float]]:
    """``"requests:2,execution:1"`` (or one name) as (code, weight) pairs; ValueError naming the fault."""
    mix: list[tuple[str, float]] = []
    for part in text.split(","):
        name, _, weight = part.strip().partition(":")
        if name not in LIMITS:
            raise ValueError(f"throttle_mix names limits among {', '.join(LIMITS)}, each with an optional "
                             f":weight, e.g. 'requests:2,execution:1'; {name!r} is not one")
        try:
            share = float(weight) if weight else 1.0
        except ValueError:
            share = -1.0
        if not share >= 0:
            raise ValueError(f"throttle_mix: the weight of {name} must be a number of 0 or more, "
                             f"not {weight!r}")
        mix.append((LIMITS[name], share))
    if sum(share for _, share in mix) <= 0:
        raise ValueError("throttle_mix: at least one weight must be above 0")
    return mix
MISSING = "<missing>"
NESTED = "<nested>"


def mutate_reply(body: Any, field: str, to: str) -> Any:
    """``body`` with the dotted ``field`` changed: ``*`` walks every item of a list, a number
    picks one; a path that is not there is left alone (the answer goes out unchanged)."""
    head, _, rest = field.partition(".")
    if isinstance(body, list):
        picked = range(len(body)) if head == "*" else [int(head)] if head.isdigit() else []
        for i in (i for i in picked if i < len(body)):
            body[i] = mutate_reply(body[i], rest, to) if rest else _replaced(body[i], to)
        return body
    if not isinstance(body, dict) or head not in body:
        return body
    if rest:
        body[head] = mutate_reply(body[head], rest, to)
    elif to == MISSING:
        del body[head]
    else:
        body[head] = _replaced(body[head], to)
    return body


def _replaced(value: Any, to: str) -> Any:
    if to == NESTED:
        return {"value": value}
    return None if to == MISSING else json.loads(to)


def runaway_page(scope: Scope, serial: int, count: int) -> dict[str, Any]:
    """An empty collection page whose ``@odata.nextLink`` leads to another one, never the same."""
    base = f"{scope.get('scheme', 'https')}://{_host(scope)}{scope.get('path', '')}"
    page: dict[str, Any] = {"@odata.context": f"{base}#runaway", "value": [],
                            "@odata.nextLink": f"{base}?$skiptoken=runaway-{serial}"}
    if count >= 0:
        page["@odata.count"] = count
    return page


def _host(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"host":
            return str(value.decode("latin-1"))
    server = scope.get("server") or ("127.0.0.1", 443)
    return f"{server[0]}:{server[1]}"


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


def throttled_body(service: str, faults: Faults, limit: str = LIMIT_REQUESTS) -> dict[str, Any]:
    """The 429 body of ``service``; Dataverse's names the service protection ``limit`` hit."""
    if service == "dataverse":
        return {"error": {"code": limit, "message": limit_message(limit, faults)}}
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
        self.injected = 0
        self.runaway_pages = 0
        self.restart()

    def restart(self) -> None:
        """Begin the fault sequence again: reseed (when seeded) and zero the burst count."""
        self.injected = 0
        if self.faults.fault_seed >= 0:
            self.rng.seed(self.faults.fault_seed)

    def _targeted(self, path: str, method: str = "") -> bool:
        faults = self.faults
        if faults.fault_method and method != faults.fault_method.upper():
            return False
        if faults.fault_service and _service(path) != faults.fault_service:
            return False
        if faults.fault_route and not path.startswith(faults.fault_route):
            return False
        return not (faults.max_faults and self.injected >= faults.max_faults)

    def _roll(self, probability: float) -> bool:
        """Draw only for knobs that are on, so turning one off does not shift the others' sequence.

        ``max_faults`` is checked again at the draw: requests admitted together all passed
        :meth:`_targeted` before waiting for their latency or body, and would otherwise all
        fault where the cap allows one.
        """
        hit = bool(probability) and self.rng.random() < probability
        if hit and self.faults.max_faults and self.injected >= self.faults.max_faults:
            hit = False
        self.injected += hit
        return hit

    def _limit(self) -> str:
        """Which limit a Dataverse fault 429 stands for; one draw only when the mix has a choice."""
        mix = parse_mix(self.faults.throttle_mix)
        if len(mix) == 1:
            return mix[0][0]
        return str(self.rng.choices([code for code, _ in mix], [weight for _, weight in mix])[0])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        route = self.faults.mutate_route
        admin = path.startswith(c.ADMIN_PREFIX)
        runaway = self.faults.runaway_route
        if (scope["type"] == "http" and runaway and path.startswith(runaway) and not admin
                and scope.get("method") == "GET"):
            self.runaway_pages += 1
            self.counters.record("GET", _service(path), path.rstrip("/").rsplit("/", 1)[-1], write=False)
            page = runaway_page(scope, self.runaway_pages, self.faults.runaway_count)
            await JSONResponse(page)(scope, receive, send)
            return
        if scope["type"] == "http" and route and path.startswith(route) and not admin:
            await self._tampered(scope, receive, send)
            return
        if scope["type"] != "http" or admin or not self._targeted(path, scope.get("method", "")):
            await self.app(scope, receive, send)
            return
        faults = self.faults
        if faults.fault_request_contains:
            body, receive = await _buffered(receive)
            if faults.fault_request_contains.encode() not in body:
                await self.app(scope, receive, send)
                return
        delay = faults.latency_ms + self.rng.uniform(0, faults.latency_jitter_ms)
        if delay > 0:
            await asyncio.sleep(delay / 1000)
        service = _service(path)
        if self._roll(faults.drop_probability):
            await _drop(receive, send)
            return
        if self._roll(faults.lost_response_probability):
            await self.app(scope, receive, _discard)
            await _drop(receive, send)
            return
        if self._roll(faults.throttle_probability):
            self.counters.record_throttled()
            seconds = faults.retry_after_seconds
            response = JSONResponse(
                throttled_body(service, faults, self._limit() if service == "dataverse" else LIMIT_REQUESTS),
                status_code=429,
                headers={"Retry-After": retry_after_text(seconds)},
            )
            await response(scope, receive, send)
            return
        if self._roll(faults.error_probability):
            await JSONResponse(unavailable_body(service), status_code=503)(scope, receive, send)
            return
        if self._roll(faults.malformed_probability):
            await HTMLResponse(MALFORMED_BODY)(scope, receive, send)
            return
        await self.app(scope, receive, send)


    async def _tampered(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request, then change one field of its JSON answer (``mutate_*`` knobs)."""
        faults = self.faults
        request_body, replay = await _buffered(receive)
        wanted = (not faults.mutate_method or scope.get("method") == faults.mutate_method.upper()) and (
            faults.mutate_request_contains.encode() in request_body)
        if not wanted:
            await self.app(scope, replay, send)
            return
        start: Message = {}
        parts: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))

        await self.app(scope, replay, capture)
        body = b"".join(parts)
        with contextlib.suppress(ValueError):
            body = json.dumps(mutate_reply(json.loads(body), faults.mutate_field, faults.mutate_to)).encode()
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The request body, read whole, and a ``receive`` that hands it on again.

    After the replayed body, the original ``receive`` is used, so a disconnect is still seen
    (and :func:`_drop` still finds the transport through it).
    """
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    replay.__self__ = getattr(receive, "__self__", None)  # type: ignore[attr-defined]
    return body, replay


async def _discard(_message: Message) -> None:
    """The service's answer to a request whose response is then lost."""


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
