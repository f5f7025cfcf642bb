"""The emulated Dataverse Web API v9.2: an ASGI app the emulator server mounts at ``/dataverse``.

Every request is authenticated (401 with the ``WWW-Authenticate`` challenge Dataverse
sends), mapped to a systemuser (403 when the caller is not a user of the organisation),
admitted by the per-caller service protection limits (429), and only then handled.

Where the reference has no captured answer, the emulator picks the most plausible one;
each is a guess to verify against a real organisation:

* 401 challenge: ``Bearer authorization_uri=<login>/<tenant>/oauth2/authorize,
  resource_id=<org url>/`` and no ``error`` parameter, whatever was wrong with the token.
* A caller with no systemuser gets 403 ``0x80072560`` "The user is not a member of the
  organization."; a user without roles 403 ``0x80042f09``.
* Approving without ``prvApproveRejectEmailAddress`` gets 403 ``0x80040220`` in the
  "is missing <privilege> privilege" shape. Approving a mailbox on an Exchange Online
  profile also needs System Administrator plus a Global/Exchange administrator directory
  role (token ``wids``) or the Delegated Mailbox Approver role [doc]; its refusal reuses
  403 ``0x80040220`` with its own message, since the real code is unknown.
* Writing a read-only column gets 400 ``0x80040203`` (see ``writes``); role-copy and
  role-action guesses are listed in ``roles``.
* Test & Enable finishes at once instead of in the asynchronous job, and approves the
  caller's own mailbox when self-approval is allowed.
* URLs over 32 KB (64 KB inside ``$batch``) get 414 with the OData error body; the real
  front end may answer with its own page instead.
* Impersonation (``CallerObjectId`` / ``MSCRMCallerID``) needs prvActOnBehalfOfAnotherUser;
  service protection limits keep counting against the signed-in caller.
* ``roleprivilegescollection`` (the role-privilege intersect table) is served read-only,
  one row per role copy and privilege, computed from the role privileges; the
  ``user_settings`` navigation is not served.
* ``x-ms-dop-hint`` is a knob (``dop_hint``, default 4, a value live environments send;
  others send 48) [obs].

Simulated server time (``batch_operation_ms`` per operation inside ``$batch``,
``request_operation_ms`` per request sent alone) is what the execution-time limit
charges, once, and how long the request takes inside the service. A real server's
per-operation time is its work, so the emulator's own handling time (parsing, the
store, waiting for a worker or the interpreter lock while 52 batches are served by one
Python process) counts toward it: the request is answered once the simulated time has
passed since it arrived, or when the handling is done if that took longer. The rest is
spent asleep on the event loop, so a slow request holds its concurrency slot without
holding a worker thread. Adding the handling on top of the simulated time would make a
busy emulator slower than the service it stands for, and a benchmark would measure the
emulator instead of the client.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .. import constants
from ..context import Counters, Faults, InvalidToken, TokenVerifier
from . import email, seed
from .api import WebApi
from .batch import BatchRunner
from .errors import MAX_URL, NOT_A_MEMBER, DataverseFault, no_segment, url_too_long
from .limits import ServiceProtection
from .messages import API_PATH, ApiRequest, ApiResponse, fault_response, header_fields, target_of
from .query import parse_prefer
from .security import Principal, impersonated, principal_for, principal_of
from .store import Store

__all__ = ["DataverseService"]

# Worker threads for request handlers: above the 52 concurrent requests Dataverse admits
# per user, so the service protection limit (not the pool) is what refuses the 53rd.
WORKER_THREADS = 64


@dataclass
class Served:
    """A handled request whose simulated server time is still to be spent and charged."""

    response: ApiResponse
    limit_key: str | None = None
    server_seconds: float = 0.0
    done: bool = field(default=False, repr=False)


class DataverseService:
    """One emulated organisation: its data, its Web API and its limits."""

    def __init__(self, *, verifier: TokenVerifier, counters: Counters, faults: Faults, base_url: str,
                 organization_id: str = constants.ORGANIZATION_ID) -> None:
        self.verifier = verifier
        self.organization_id = organization_id
        self.counters = counters
        self.faults = faults
        self.base_url = base_url.rstrip("/")
        self.protection = ServiceProtection(faults)
        self.store = Store()
        self.web = WebApi(self.store, self.base_url, counters)
        self._workers: anyio.CapacityLimiter | None = None
        self.reset()

    # -- the contract with the server ------------------------------------------------
    def reset(
        self,
        *,
        dataset: str = "small",
        seed: int = 1,
        mailboxes: int | None = None,
        business_units: int | None = None,
        roles: int | None = None,
    ) -> None:
        """Replace all data with a freshly built dataset and forget the limit windows."""
        store = Store()
        _build(store, dataset, seed, mailboxes=mailboxes, business_units=business_units, roles=roles,
               organization_id=self.organization_id)
        with self.store.lock:
            self.store.tables = store.tables
            self.store.role_privileges = store.role_privileges
            self.store.user_roles = store.user_roles
            self.store.version = store.version
            self.store.caller_index = None
        self.protection.reset()

    def snapshot(self) -> dict[str, Any]:
        """Every table as stored, write-only columns and the orgdborgsettings XML included."""
        with self.store.lock:
            return {
                "tables": {
                    name: [dict(row) for _, row in sorted(rows.items())]
                    for name, rows in sorted(self.store.tables.items())
                },
                "role_privileges": {
                    role: dict(privileges) for role, privileges in sorted(self.store.role_privileges.items())
                },
                "user_roles": {
                    user: list(role_ids) for user, role_ids in sorted(self.store.user_roles.items())
                },
                "version": self.store.version,
                "mail": email.sent_mail(self.store),
            }

    def act(self, upn: str, method: str, path: str, body: Any) -> ApiResponse:
        """One request made as the user signed in as ``upn``, with that user's privileges.

        The admin API's way to play a person editing their own mailbox or settings: the
        request goes through the same handlers as any other and is stamped with that
        user as ``modifiedby``. It is not charged to the service protection limits of
        sssctl's own identity, since it is not sssctl's request.
        """
        raw_path, _, raw_query = path.partition("?")
        api_path = _api_path(raw_path if raw_path.startswith("/") else f"/{API_PATH}/{raw_path}")
        if api_path is None:
            raise no_segment(raw_path or "/")
        payload = b"" if body is None else json.dumps(body).encode()
        headers = {"content-type": "application/json"} if payload else {}
        with self.store.lock:
            user = next((u for u in self.store.table("systemuser").values()
                         if str(u.get("domainname") or "").lower() == upn.lower()), None)
            if user is None or user.get("isdisabled"):
                raise DataverseFault(403, NOT_A_MEMBER, f"{upn} is not an enabled user of the organization.")
            who = principal_of(self.store, user, ())
        request = ApiRequest(method.upper(), api_path, _parse_query(raw_query), headers, payload)
        return self.web.handle(request, who)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        body = await request.body()
        path = scope.get("path", "")
        raw_query = scope.get("query_string", b"").decode("latin-1")
        headers = header_fields((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"])
        if self._workers is None:
            self._workers = anyio.CapacityLimiter(WORKER_THREADS)
        arrived = time.monotonic()
        served = await anyio.to_thread.run_sync(
            partial(self.begin, request.method, path, raw_query, headers, body), limiter=self._workers
        )
        try:
            left = _time_left(served, arrived)
            if left > 0:
                await anyio.sleep(left)
        finally:
            response = self.finish(served)
        await Response(response.body, status_code=response.status, headers=dict(response.headers))(
            scope, receive, send
        )

    # -- one request -----------------------------------------------------------------
    def serve(
        self, method: str, path: str, raw_query: str, headers: dict[str, str], body: bytes
    ) -> ApiResponse:
        """Handle one HTTP request (already read), spend its server time, return the response."""
        arrived = time.monotonic()
        served = self.begin(method, path, raw_query, headers, body)
        try:
            time.sleep(_time_left(served, arrived))
        finally:
            response = self.finish(served)
        return response

    def finish(self, served: Served) -> ApiResponse:
        """Release the request's concurrency slot and charge its server time, once."""
        if served.limit_key is not None and not served.done:
            served.done = True
            limit_headers = self.protection.leave(served.limit_key, served.server_seconds)
            served.response.headers.extend(limit_headers.items())
            served.response.headers.append(("x-ms-dop-hint", str(self.faults.dop_hint)))
        return served.response

    def begin(
        self, method: str, path: str, raw_query: str, headers: dict[str, str], body: bytes
    ) -> Served:
        """Authenticate, admit and handle one request; its simulated time is not spent yet."""
        request_id = str(uuid.uuid4())
        origin = urlsplit(self.base_url)
        length = len(f"{origin.scheme}://{origin.netloc}{path}?{raw_query}")
        if length > MAX_URL:
            self._record(method, _api_path(path))
            served = Served(fault_response(url_too_long(length, MAX_URL)))
        else:
            served = self._serve(method, _api_path(path), _parse_query(raw_query), headers, body)
        served.response.headers.append(("REQ_ID", request_id))
        return served

    def _serve(
        self,
        method: str,
        api_path: str | None,
        params: list[tuple[str, str]],
        headers: dict[str, str],
        body: bytes,
    ) -> Served:
        try:
            caller = self.verifier.verify(headers.get("authorization"), audience=self.base_url)
        except InvalidToken:
            self._record(method, api_path)
            return Served(self._challenge())
        try:
            with self.store.lock:
                wids = caller.claims.get("wids") or ()
                delegated = caller.claims.get("idtyp") == "user" or "scp" in caller.claims
                who = principal_for(
                    self.store, caller.app_id, caller.object_id, tuple(map(str, wids)), delegated=delegated
                )
                limit_key = who.id  # limits stay with the signed-in caller, even when impersonating
                who = impersonated(self.store, who, headers)
            if api_path is None:
                raise no_segment(next(iter(params), ("", ""))[0] or "/")
            self.protection.enter(limit_key)
        except DataverseFault as fault:
            self._record(method, api_path)
            if fault.status == 429:
                self.counters.record_throttled()
            return Served(fault_response(fault))
        served = Served(ApiResponse(500, []), limit_key)
        try:
            if api_path.strip("/") == "$batch":
                served.response = self._batch(method, headers, body, who, served)
            else:
                served.response = self.web.handle(ApiRequest(method, api_path, params, headers, body), who)
                served.server_seconds = self.faults.request_operation_ms / 1000.0
        except BaseException:
            self.finish(served)
            raise
        return served

    def _record(self, method: str, api_path: str | None) -> None:
        target = target_of(api_path) if api_path is not None else "$unknown"
        self.counters.record(method, "dataverse", target, write=False)

    def _challenge(self) -> ApiResponse:
        parts = urlsplit(self.base_url)
        login = f"{parts.scheme}://{parts.netloc}"
        # Dataverse sends the same bare challenge whatever was wrong with the token.
        value = (
            f"Bearer authorization_uri={login}/{constants.TENANT_ID}/oauth2/authorize, "
            f"resource_id={self.base_url}/"
        )
        return ApiResponse(401, [("WWW-Authenticate", value), ("OData-Version", "4.0")])

    def _batch(
        self, method: str, headers: dict[str, str], body: bytes, who: Principal, served: Served
    ) -> ApiResponse:
        self.counters.record(method, "dataverse", "$batch", write=False)
        if method.upper() != "POST":
            return fault_response(DataverseFault(405, "0x80060888", "A $batch request must use POST."))

        def operation_time() -> None:
            served.server_seconds += self.faults.batch_operation_ms / 1000.0

        runner = BatchRunner(self.store, lambda request: self.web.handle(request, who), operation_time)
        prefs = parse_prefer([headers["prefer"]] if "prefer" in headers else [])
        try:
            status, content_type, payload = runner.run(
                headers.get("content-type"), body, prefs.continue_on_error
            )
        except DataverseFault as fault:
            return fault_response(fault)
        applied = [("Preference-Applied", "odata.continue-on-error")] if prefs.continue_on_error else []
        return ApiResponse(
            status, [("Content-Type", content_type), ("OData-Version", "4.0"), *applied], payload
        )


def _build(
    store: Store,
    dataset: str,
    seed_value: int,
    *,
    mailboxes: int | None,
    business_units: int | None,
    roles: int | None,
    organization_id: str,
) -> None:
    try:
        seed.build(
            store,
            dataset=dataset,
            seed=seed_value,
            mailboxes=mailboxes,
            business_units=business_units,
            roles=roles,
            organization_id=organization_id,
        )
    except ValueError as exc:
        raise ValueError(f"cannot seed Dataverse: {exc}") from exc


def _time_left(served: Served, arrived: float) -> float:
    """Simulated server time not yet spent since the request arrived (its handling counts)."""
    return max(0.0, served.server_seconds - (time.monotonic() - arrived))


def _api_path(path: str) -> str | None:
    """The part after ``/api/data/v9.2/`` (the mount prefix may or may not still be on the path)."""
    marker = f"/{API_PATH}"
    if marker not in path:
        return None
    rest = path.split(marker, 1)[1]
    if rest and not rest.startswith("/"):
        return None
    return rest.lstrip("/")


def _parse_query(raw: str) -> list[tuple[str, str]]:
    """Query parameters in order; '+' means a space, as ASP.NET (and so Dataverse) reads it."""
    params = []
    for item in raw.split("&"):
        if not item:
            continue
        key, _, value = item.partition("=")
        params.append((unquote_plus(key), unquote_plus(value)))
    return params


async def _lifespan(receive: Receive, send: Send) -> None:
    """Nothing to start or stop: the data lives in memory from construction on."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
