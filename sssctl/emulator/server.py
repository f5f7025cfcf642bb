"""One HTTPS server for every emulated service, and the admin API tests drive it with.

Layout of the one origin (``https://127.0.0.1:<port>``): login at the root
(``/<tenant>/...``, ``/msi/token``, ``/_issuer``), Dataverse under ``/dataverse`` (further
organizations under ``/dataverse-org2``, ``/dataverse-org3``, ...), Graph
under ``/graph``, Exchange under ``/exchange`` and the admin API under ``/_emulator``.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import re
import secrets
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread
import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from sssctl.emulator import azure_devops, github_actions
from sssctl.emulator import constants as c
from sssctl.emulator.certs import load_key_material
from sssctl.emulator.clock import Clock, ClockError, parse_moment
from sssctl.emulator.context import Counters, Faults, TokenVerifier
from sssctl.emulator.directory import Directory, new_secret_text
from sssctl.emulator.exchange import ExchangeService
from sssctl.emulator.faults import FaultMiddleware, apply_fault_settings
from sssctl.emulator.graph import GraphService
from sssctl.emulator.identity import Identity, Principal
from sssctl.emulator.info import EmulatorInfo

log = structlog.get_logger("sssctl.emulator")

DATASETS = ("small", "large")
SNAPSHOT_SERVICES = ("dataverse", "directory", "exchange")
_DATAVERSE_DEFAULTS = {
    "dataset": "small",
    "seed": 1,
    "mailboxes": None,
    "business_units": None,
    "roles": None,
}
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MAX_ORGANIZATIONS = 200
_SERVICE_PREFIXES = (c.DATAVERSE_PREFIX, c.GRAPH_PREFIX, c.EXCHANGE_PREFIX, c.ADMIN_PREFIX)


class DataverseLike(Protocol):
    app: ASGIApp

    def reset(
        self, *, dataset: str, seed: int, mailboxes: int | None, business_units: int | None, roles: int | None
    ) -> None: ...

    def snapshot(self) -> dict[str, Any]: ...


DataverseFactory = Callable[..., DataverseLike]


class EmulatorError(Exception):
    """The emulator cannot start as asked (bad host, bad dataset, busy port)."""


class _Unavailable:
    """Stands in only while the Dataverse service is missing from the installed package, so
    the other services still work; every Dataverse call then fails loudly with 503."""

    def __init__(self) -> None:
        self.app: ASGIApp = JSONResponse(
            {
                "error": {
                    "code": "0x80040216",
                    "message": "The Dataverse Web API is not part of this build of the emulator.",
                }
            },
            status_code=503,
        )

    def reset(self, **_: Any) -> None:
        return None

    def snapshot(self) -> dict[str, Any]:
        return {}


def default_dataverse_factory() -> DataverseFactory:
    try:
        from sssctl.emulator import dataverse
    except ImportError:
        return _unavailable
    factory: DataverseFactory | None = getattr(dataverse, "DataverseService", None)
    return factory or _unavailable


def _unavailable(**_: Any) -> DataverseLike:
    return _Unavailable()


class Emulator:
    """All services and their shared state, without the network part."""

    def __init__(
        self,
        *,
        url: str,
        data_dir: Path,
        dataset: str = "small",
        seed: int = 1,
        mailboxes: int | None = None,
        business_units: int | None = None,
        roles: int | None = None,
        faults: Mapping[str, Any] | None = None,
        auto_approve_device_codes: bool = False,
        dataverse_factory: DataverseFactory | None = None,
        token_lifetime: int = 3600,
        organizations: int = 1,
        clock: str | None = None,
    ) -> None:
        _check_dataset(dataset, mailboxes, business_units, roles)
        try:
            self.clock = Clock(parse_moment(clock) if clock else None)
        except ClockError as exc:
            raise EmulatorError(f"bad --clock: {exc}") from exc
        _check_organizations(organizations)
        self.url = url
        self.seed_args: dict[str, Any] = {
            "dataset": dataset,
            "seed": seed,
            "mailboxes": mailboxes,
            "business_units": business_units,
            "roles": roles,
        }
        self.faults = Faults()
        try:
            apply_fault_settings(self.faults, dict(faults or {}))
        except (TypeError, ValueError) as exc:
            raise EmulatorError(f"bad fault setting: {exc}") from exc
        self.counters = Counters()
        keys = load_key_material(data_dir)
        client_secret = new_secret_text()
        self.admin_token = secrets.token_urlsafe(32)
        msi_header = secrets.token_urlsafe(24)
        # No secret is registered for log redaction here: in-process tests share sssctl's
        # logging, and the emulator must not hide a secret that sssctl forgot to register.
        self.directory = Directory(
            client_secret=client_secret,
            client_certificate_der=keys.client_certificate_der,
            issuer_url=f"{url}{c.FEDERATED_ISSUER_PATH}",
            clock=self.clock,
        )
        dataverse_url, graph_url, exchange_url = (
            f"{url}{c.DATAVERSE_PREFIX}",
            f"{url}{c.GRAPH_PREFIX}",
            f"{url}{c.EXCHANGE_PREFIX}",
        )
        org_prefixes = organization_prefixes(organizations)
        self.identity = Identity(
            url=url,
            directory=self.directory,
            token_key=keys.token_key,
            issuer_key=keys.issuer_key,
            resources={
                **{f"{url}{prefix}": c.DATAVERSE_RESOURCE_APP_ID for prefix in org_prefixes.values()},
                graph_url: c.GRAPH_RESOURCE_APP_ID,
                exchange_url: c.EXCHANGE_RESOURCE_APP_ID,
            },
            msi_header=msi_header,
            token_lifetime=token_lifetime,
            auto_approve_device_codes=auto_approve_device_codes,
        )
        verifier: TokenVerifier = self.identity
        factory = dataverse_factory or default_dataverse_factory()
        # One tenant, several organizations: each its own store, URL (token audience) and limits.
        self.organizations: dict[str, tuple[str, DataverseLike]] = {
            name: (prefix, factory(verifier=verifier, base_url=f"{url}{prefix}", counters=self.counters,
                                   faults=self.faults, **_identity_of(name)))
            for name, prefix in org_prefixes.items()
        }
        self.dataverse = self.organizations["org1"][1]
        self.graph = GraphService(
            directory=self.directory,
            identity=self.identity,
            base_url=graph_url,
            counters=self.counters,
            faults=self.faults,
        )
        self.exchange = ExchangeService(
            directory=self.directory,
            identity=self.identity,
            base_url=exchange_url,
            counters=self.counters,
            faults=self.faults,
            clock=self.clock,
        )
        web = getattr(self.dataverse, "web", None)
        if web is not None:  # Test & Enable asks Exchange whether the profile's app gets in
            web.mailbox_access = self.exchange.sync_reaches
        federated_file = data_dir / "federated-token.jwt"
        federated_file.write_text(self.identity.federated_assertion())
        self.info = EmulatorInfo(
            url=url,
            dataverse_url=dataverse_url,
            authority=f"{url}/{c.TENANT_ID}",
            login_url=url,
            graph_url=graph_url,
            exchange_url=exchange_url,
            tenant_id=c.TENANT_ID,
            ca_file=str(keys.ca_file),
            client_id=c.SSSCTL_APP_ID,
            client_secret=client_secret,
            client_certificate_file=str(keys.client_certificate_file),
            admin_token=self.admin_token,
            msi_endpoint=f"{url}{c.MSI_PATH}",
            msi_header=msi_header,
            federated_token_file=str(federated_file),
            organizations=[{"name": name, "dataverse_url": f"{url}{prefix}"}
                           for name, prefix in org_prefixes.items()],
        )
        self.tls_files = (str(keys.server_cert_file), str(keys.server_key_file))
        # The Dataverse service seeds its default dataset when built; only other data needs a reseed.
        self._reset(self.seed_args, dataverse=self.seed_args != _DATAVERSE_DEFAULTS)
        self.fault_injector = FaultMiddleware(self._router(), faults=self.faults, counters=self.counters)
        self.app: ASGIApp = _Root(self.fault_injector, self.counters, self.clock)

    def reset(self, **overrides: Any) -> None:
        """Reseed every service; arguments left out keep the values the emulator started with."""
        args = {**self.seed_args, **{k: v for k, v in overrides.items() if v is not None}}
        self._reset(args, dataverse=True)

    def _reset(self, args: dict[str, Any], *, dataverse: bool) -> None:
        _check_dataset(args["dataset"], args["mailboxes"], args["business_units"], args["roles"])
        started = time.perf_counter()
        self.directory.reset(mailboxes=args["mailboxes"], large=args["dataset"] == "large")
        self.exchange.reset()
        self.identity.reset()
        for number, (name, (_, service)) in enumerate(self.organizations.items()):
            # The first organization keeps the seed asked for; the others get their own data.
            if dataverse or name != "org1":
                service.reset(**{**args, "seed": args["seed"] + number})
        self.counters.reset()
        log.info("emulator.reset", duration_ms=round((time.perf_counter() - started) * 1000), **args)

    def snapshot(self, services: Iterable[str] = SNAPSHOT_SERVICES) -> dict[str, Any]:
        """Everything stored, write-only values included; ``services`` narrows it, which
        matters on the large dataset where the Dataverse part is over 100 MB of JSON."""
        parts: dict[str, Callable[[], dict[str, Any]]] = {
            "dataverse": self.dataverse.snapshot,
            "directory": self.directory.snapshot,
            "exchange": self.exchange.snapshot,
        }
        return {name: parts[name]() for name in services}

    # --- routing -----------------------------------------------------------------------
    def _router(self) -> Router:
        return Router(
            routes=[
                Mount(c.ADMIN_PREFIX, app=self._admin_router()),
                *(Mount(prefix, app=service.app) for prefix, service in self.organizations.values()),
                Mount(c.GRAPH_PREFIX, app=self.graph),
                Mount(c.EXCHANGE_PREFIX, app=self.exchange),
                Mount(azure_devops.PREFIX, app=azure_devops.AzureDevOpsOidc(self.identity, self.admin_token)),
                Mount(github_actions.PREFIX,
                      app=github_actions.GitHubActionsOidc(self.identity, self.admin_token)),
                *self.identity.routes(),
            ]
        )

    def _admin_router(self) -> Router:
        routes = [
            Route("/reset", self._admin_reset, methods=["POST"]),
            Route("/snapshot", self._admin_snapshot, methods=["GET"]),
            Route("/faults", self._admin_faults, methods=["GET", "POST"]),
            Route("/device-codes/approve", self._admin_approve, methods=["POST"]),
            Route("/counters", self._admin_counters, methods=["GET"]),
            Route("/counters/reset", self._admin_counters_reset, methods=["POST"]),
            Route("/tokens", self._admin_token, methods=["POST"]),
            Route("/clock", self._admin_clock, methods=["GET", "POST"]),
            Route("/act", self._admin_act, methods=["POST"]),
            Route("/groups", self._admin_group, methods=["POST"]),
        ]
        return Router(
            routes=[Route(r.path, _guarded(self.admin_token, r.endpoint), methods=r.methods) for r in routes]
        )

    async def _admin_reset(self, request: Request) -> Response:
        body = await _json(request)
        unknown = sorted(set(body) - set(self.seed_args))
        if unknown:
            return _admin_error(
                f"unknown reset argument(s): {', '.join(unknown)}; known: {', '.join(sorted(self.seed_args))}"
            )
        try:
            self.reset(**body)
        except (EmulatorError, ValueError) as exc:
            return _admin_error(str(exc))
        return JSONResponse({"reset": True})

    async def _admin_snapshot(self, request: Request) -> Response:
        wanted = request.query_params.get("services")
        services = [w.strip() for w in wanted.split(",") if w.strip()] if wanted else list(SNAPSHOT_SERVICES)
        unknown = sorted(set(services) - set(SNAPSHOT_SERVICES))
        if unknown:
            return _admin_error(
                f"unknown snapshot service(s): {', '.join(unknown)}; known: {', '.join(SNAPSHOT_SERVICES)}"
            )
        return JSONResponse(self.snapshot(services))

    async def _admin_faults(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                apply_fault_settings(self.faults, await _json(request))
            except (ValueError, TypeError) as exc:
                return _admin_error(str(exc))
            self.fault_injector.restart()
        return JSONResponse(self.faults.to_dict())

    async def _admin_clock(self, request: Request) -> Response:
        """``{"now": ISO 8601}`` moves the clock there; ``{"now": null}`` puts it back on real time."""
        if request.method == "POST":
            body = await _json(request)
            if set(body) != {"now"}:
                return _admin_error('the clock takes exactly {"now": "<ISO 8601>"} or {"now": null}')
            try:
                self.clock.set(parse_moment(str(body["now"])) if body["now"] else None)
            except ClockError as exc:
                return _admin_error(str(exc))
        return JSONResponse(self.clock.to_dict())

    async def _admin_group(self, request: Request) -> Response:
        """``{"name", "members": [addresses], "security": bool}`` adds one mail-enabled group
        (a member may be another group's address: nesting) until the next reset."""
        body = await _json(request)
        members = body.get("members")
        if (
            not isinstance(body.get("name"), str)
            or not body["name"]
            or not isinstance(members, list)
            or not all(isinstance(m, str) for m in members)
        ):
            return _admin_error(
                'a group takes {"name": "<alias>", "members": ["<address>", ...], "security": true}'
            )
        try:
            group = self.directory.add_group(str(body["name"]), members, security=bool(body.get("security")))
        except ValueError as exc:
            return _admin_error(str(exc))
        return JSONResponse({"id": group.guid, "mail": group.address})

    async def _admin_approve(self, request: Request) -> Response:
        body = await _json(request)
        return JSONResponse({"approved": self.identity.approve_device_codes(body.get("user_code"))})

    async def _admin_counters(self, request: Request) -> Response:
        return JSONResponse(self.counters.snapshot())

    async def _admin_counters_reset(self, request: Request) -> Response:
        self.counters.reset()
        return JSONResponse(self.counters.snapshot())

    async def _admin_act(self, request: Request) -> Response:
        """Make one Dataverse request as a named user: ``{"as": upn, "method", "path", "body"}``.

        ``path`` is relative to the Web API root (``mailboxes(<id>)``) or absolute
        (``/api/data/v9.2/...``); ``organization`` picks another organization (``org2``).
        The answer is the Web API's own: ``{"status", "headers", "body"}``.
        """
        body = await _json(request)
        unknown = sorted(set(body) - {"as", "method", "path", "body", "organization"})
        if unknown or not isinstance(body.get("as"), str) or not isinstance(body.get("path"), str):
            return _admin_error('act needs {"as": "<upn>", "method": "PATCH", "path": "mailboxes(<id>)", '
                                f'"body": {{...}}}}; unknown keys: {", ".join(unknown) or "none"}')
        found = self.organizations.get(str(body.get("organization") or "org1"))
        act = getattr(found[1], "act", None) if found else None
        if act is None:
            return _admin_error(f"no Dataverse organization {body.get('organization')!r} to act in")
        try:
            answer = await anyio.to_thread.run_sync(
                lambda: act(body["as"], str(body.get("method") or "GET"), body["path"], body.get("body")))
        except Exception as exc:  # a DataverseFault raised before the handlers (unknown user)
            status = getattr(exc, "status", None)
            if not isinstance(status, int):
                raise
            return JSONResponse({"status": status, "headers": {}, "body": {"error": {
                "code": getattr(exc, "code", ""), "message": str(getattr(exc, "message", exc))}}})
        text = answer.body.decode("utf-8") if answer.body else ""
        return JSONResponse({"status": answer.status, "headers": dict(answer.headers),
                             "body": json.loads(text) if text.startswith("{") else text or None})

    async def _admin_token(self, request: Request) -> Response:
        """Mint a token directly (e.g. an already expired one) without a sign-in flow."""
        body = await _json(request)
        audience = self.identity.resource_for(str(body.get("audience") or self.info.dataverse_url))
        if audience is None:
            return _admin_error(f"unknown audience {body.get('audience')!r}")
        principal = Principal(
            str(body.get("client_id") or c.SSSCTL_APP_ID),
            c.ADMIN_USER_OBJECT_ID if body.get("user") else None,
        )
        lifetime = body.get("lifetime")
        if lifetime is not None and (isinstance(lifetime, bool) or not isinstance(lifetime, int)):
            return _admin_error(
                f"lifetime must be whole seconds (negative for an expired token), not {lifetime!r}"
            )
        token, lifetime = self.identity.mint(principal, audience, lifetime=lifetime)
        return JSONResponse({"access_token": token, "expires_in": lifetime, "token_type": "Bearer"})


class _Root:
    """Outermost app: tolerates ``//`` in login paths (MSAL builds them from a trailing
    slash), counts login requests (the services count their own) and dates every answer by
    the emulator's clock, as a service's ``Date`` header is its own notion of now."""

    def __init__(self, app: ASGIApp, counters: Counters, clock: Clock) -> None:
        self.app, self.counters, self.clock = app, counters, clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if not path.startswith(_SERVICE_PREFIXES):
            path = re.sub(r"/{2,}", "/", path)
            scope = {**scope, "path": path, "raw_path": path.encode()}
            self.counters.record(scope["method"], "login", _login_target(path), write=False)

        async def dated(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                stamp = email.utils.format_datetime(self.clock.now(), usegmt=True).encode()
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                message = {**message, "headers": [*headers, (b"date", stamp)]}
            await send(message)

        await self.app(scope, receive, dated)


def _login_target(path: str) -> str:
    """Counter name of a login request: ``token``, ``devicecode``, ``msi``, ``issuer``, ..."""
    if path.rstrip("/") == c.MSI_PATH:
        return "msi"
    if path.startswith(c.FEDERATED_ISSUER_PATH):
        return "issuer"
    return path.rstrip("/").rsplit("/", 1)[-1]


def _guarded(token: str, endpoint: Callable[[Request], Any]) -> Callable[[Request], Any]:
    async def guarded(request: Request) -> Response:
        sent = request.headers.get("authorization", "")
        if not secrets.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return JSONResponse(
                {
                    "error": "the admin API needs 'Authorization: Bearer <admin_token>' "
                    "(admin_token is in the emulator's JSON line)"
                },
                status_code=401,
            )
        try:
            response: Response = await endpoint(request)
        except _BadAdminRequest as exc:
            return _admin_error(str(exc))
        return response

    return guarded


class _BadAdminRequest(Exception):
    """An admin call whose body is not a JSON object: refused rather than read as empty,
    since an empty reset body would silently reseed with the start-up defaults."""


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise _BadAdminRequest(f"the request body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise _BadAdminRequest("the request body must be a JSON object")
    return body


def _admin_error(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


def _check_dataset(
    dataset: str, mailboxes: int | None, business_units: int | None, roles: int | None
) -> None:
    if dataset not in DATASETS:
        raise EmulatorError(f"unknown dataset {dataset!r}; choose one of: {', '.join(DATASETS)}")
    for name, value in (("mailboxes", mailboxes), ("business_units", business_units), ("roles", roles)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise EmulatorError(f"{name} must be a positive whole number, not {value!r}")


def organization_prefixes(count: int) -> dict[str, str]:
    """Path prefix of each organization: ``/dataverse``, then ``/dataverse-org2``, ... .

    Distinct prefixes (not nested ones) keep each organization's URL, and so its token
    audience, from being a prefix of another's.
    """
    return {f"org{n}": c.DATAVERSE_PREFIX if n == 1 else f"{c.DATAVERSE_PREFIX}-org{n}"
            for n in range(1, count + 1)}


def _identity_of(organization: str) -> dict[str, str]:
    """The first organization keeps the well-known id; every other gets its own, stable one."""
    if organization == "org1":
        return {}
    return {"organization_id": str(uuid.uuid5(uuid.UUID(c.ORGANIZATION_ID), organization))}


def _check_organizations(count: int) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_ORGANIZATIONS:
        raise EmulatorError(f"organizations must be a whole number from 1 to {MAX_ORGANIZATIONS}, "
                            f"not {count!r}")


def check_loopback(host: str) -> None:
    """The emulator hands out admin tokens and secrets; it must never listen beyond this machine."""
    if host not in _LOOPBACK:
        raise EmulatorError(
            f"refusing to listen on {host!r}: the emulator only serves loopback "
            f"({', '.join(sorted(_LOOPBACK))}) because its admin API and secrets are not "
            "protected for a network"
        )


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise EmulatorError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    # Accepted connections inherit this: without it, a response written as headers then body
    # waits for the client's delayed ACK, about 40 ms per request on loopback.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.listen(128)
    return sock


@contextlib.contextmanager
def serving(
    *,
    dataset: str = "small",
    seed: int = 1,
    mailboxes: int | None = None,
    business_units: int | None = None,
    roles: int | None = None,
    data_dir: str | Path | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: Mapping[str, Any] | None = None,
    auto_approve_device_codes: bool = False,
    dataverse_factory: DataverseFactory | None = None,
    token_lifetime: int = 3600,
    organizations: int = 1,
    clock: str | None = None,
) -> Iterator[Emulator]:
    """Run the emulator over HTTPS in a background thread; yields it once it accepts connections."""
    import uvicorn

    check_loopback(host)
    temporary = data_dir is None
    # Absolute: the printed ca_file and certificate paths must work from any directory.
    directory = Path(tempfile.mkdtemp(prefix="sssctl-emulator-")) if data_dir is None else Path(data_dir)
    directory = directory.resolve()
    sock = _bind("127.0.0.1" if host == "localhost" else host, port)
    try:
        bound = sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        emulator = Emulator(
            url=f"https://{shown}:{bound}",
            data_dir=directory,
            dataset=dataset,
            seed=seed,
            mailboxes=mailboxes,
            business_units=business_units,
            roles=roles,
            faults=faults,
            auto_approve_device_codes=auto_approve_device_codes,
            dataverse_factory=dataverse_factory,
            token_lifetime=token_lifetime,
            organizations=organizations,
            clock=clock,
        )
        cert, key = emulator.tls_files
        config = uvicorn.Config(
            emulator.app,
            ssl_certfile=cert,
            ssl_keyfile=key,
            log_level="warning",
            access_log=False,
            date_header=False,   # the emulator dates answers by its own clock (_Root)
            lifespan="off",
            timeout_graceful_shutdown=1,
            timeout_keep_alive=30,
        )
        server = _quick_stopping_server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="sssctl-emulator", daemon=True
        )
        thread.start()
        _wait_started(server, thread)
        log.info("emulator.started", url=emulator.url, dataset=dataset)
        try:
            yield emulator
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            log.info("emulator.stopped", url=emulator.url)
    finally:
        sock.close()
        if temporary:
            shutil.rmtree(directory, ignore_errors=True)


def _quick_stopping_server(config: Any) -> Any:
    """A uvicorn server that drops idle keep-alive connections at once when stopping.

    Clients such as MSAL keep TLS connections open; a graceful TLS close would wait for
    them, so every stop took the full grace period and logged an error.
    """
    import uvicorn

    class QuickStop(uvicorn.Server):
        async def shutdown(self, sockets: Any = None) -> None:
            for connection in list(self.server_state.connections):
                cycle = getattr(connection, "cycle", None)
                transport = getattr(connection, "transport", None)
                if transport is not None and (cycle is None or getattr(cycle, "response_complete", False)):
                    transport.abort()
            await super().shutdown(sockets)

    return QuickStop(config)


def _wait_started(server: Any, thread: threading.Thread, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise EmulatorError("the emulator's HTTPS server stopped while starting; see the log above")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise EmulatorError(f"the emulator's HTTPS server did not start within {timeout:g} s")
        time.sleep(0.01)


@contextlib.contextmanager
def running_emulator(
    *,
    dataset: str = "small",
    seed: int = 1,
    mailboxes: int | None = None,
    business_units: int | None = None,
    roles: int | None = None,
    data_dir: str | Path | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: Mapping[str, Any] | None = None,
    auto_approve_device_codes: bool = False,
    token_lifetime: int = 3600,
    organizations: int = 1,
    clock: str | None = None,
) -> Iterator[EmulatorInfo]:
    """The public way to run the emulator in-process: yields its connection facts."""
    with serving(
        dataset=dataset,
        seed=seed,
        mailboxes=mailboxes,
        business_units=business_units,
        roles=roles,
        data_dir=data_dir,
        host=host,
        port=port,
        faults=faults,
        auto_approve_device_codes=auto_approve_device_codes,
        token_lifetime=token_lifetime,
        organizations=organizations,
        clock=clock,
    ) as emulator:
        yield emulator.info
