"""Microsoft Graph v1.0, the part sssctl uses: applications (upsert by uniqueName,
passwords, certificates, federated credentials), service principals and app-role
assignments (admin consent); ``/users`` and ``/groups`` are read in ``graph_directory``.

It answers with Graph's envelopes and texts (identity reference §3), including the
replication races of a real directory, so a client that survives it survives Entra.
Every write body is read against the declared types first (``graph_values``); lists of
these directory objects follow the advanced query rules (``graph_query``, ``graph_directory``).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from cryptography.x509 import load_der_x509_certificate
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import get_route_path  # type: ignore[attr-defined]
from starlette.types import Receive, Scope, Send

from sssctl.emulator import constants as c
from sssctl.emulator import graph_directory, graph_values
from sssctl.emulator.certs import sha1_hex
from sssctl.emulator.context import Caller, Counters, Faults, InvalidToken
from sssctl.emulator.directory import (
    Application,
    Directory,
    application_body,
    iso,
    new_assignment_id,
    new_secret_text,
    secret_hash,
)
from sssctl.emulator.graph_query import (
    GraphError,
    _projection,
    _select,
    _selection,
    _skip,
    _top,
    counted,
    require_eventual_for_count,
)
from sssctl.emulator.identity import Identity

_READ_ROLES = frozenset(
    {"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
)
_APP_WRITE = "Application.ReadWrite.All"
# Manage only the applications (and their service principals) the caller owns; creating one
# makes the caller its owner:
# https://learn.microsoft.com/graph/permissions-reference#applicationreadwriteownedby
_OWNED_WRITE = "Application.ReadWrite.OwnedBy"
_ASSIGN_WRITE = "AppRoleAssignment.ReadWrite.All"
_PATH = re.compile(
    r"^/v1\.0/(?P<set>applications|servicePrincipals)"
    r"(?:\((?P<alt>appId|uniqueName)='(?P<altvalue>(?:[^']|'')*)'\)|/(?P<id>[^/]+))?"
    r"(?:/(?P<sub>[^/]+)(?:/(?P<subid>[^/]+))?)?/?$"
)
# ``prop eq 'text'``, or a bare GUID as Graph takes for id-typed properties (resourceId eq 1c…).
_FILTER = re.compile(
    r"^\s*(\w+)\s+eq\s+(?:'((?:[^']|'')*)'|([0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}))\s*$"
)
_APP_PATCHABLE = frozenset(
    {
        "displayName",
        "description",
        "notes",
        "tags",
        "signInAudience",
        "identifierUris",
        "requiredResourceAccess",
        "keyCredentials",
        "api",
        "web",
        "publicClient",
        "isFallbackPublicClient",
        "uniqueName",
    }
)
_SP_PATCHABLE = frozenset(
    {"accountEnabled", "appRoleAssignmentRequired", "tags", "displayName", "notes", "description"}
)
# What $filter may name (the advanced-queries page's property tables, and each list page).
_APP_FILTERABLE = frozenset({"id", "displayName", "appId", "uniqueName"})
_SP_FILTERABLE = frozenset({"id", "displayName", "appId"})
_ASSIGNMENT_FILTERABLE = frozenset({"resourceId", "principalId", "appRoleId"})
_FIC_FILTERABLE = frozenset({"name", "subject"})
_AUDIENCES = frozenset(
    {"AzureADMyOrg", "AzureADMultipleOrgs", "AzureADandPersonalMicrosoftAccount", "PersonalMicrosoftAccount"}
)
# The entity type a write to each segment carries; actions (addPassword, ...) take parameters, not an entity.
_ENTITY_TYPES = {
    "applications": "application",
    "servicePrincipals": "servicePrincipal",
    "appRoleAssignedTo": "appRoleAssignment",
    "appRoleAssignments": "appRoleAssignment",
    "federatedIdentityCredentials": "federatedIdentityCredential",
}
# Graph types a client could plausibly name instead: naming one of these where another is expected
# is "not assignable"; any other name "could not be resolved by the model".
_KNOWN_TYPES = frozenset(
    {
        *_ENTITY_TYPES.values(),
        "directoryObject",
        "user",
        "group",
        "device",
        "passwordCredential",
        "keyCredential",
        "requiredResourceAccess",
        "resourceAccess",
        "apiApplication",
        "webApplication",
        "publicClientApplication",
        "implicitGrantSettings",
        "permissionScope",
        "appRole",
    }
)
_GRAPH_NAMESPACE = "microsoft.graph."


def graph_error_body(
    code: str,
    message: str,
    request_id: str,
    client_request_id: str | None = None,
    details: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """Graph's error envelope, with the innerError ids every client logs (the client's own
    ``client-request-id`` is echoed so a failure can be found in the client's log)."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    error["innerError"] = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request_id,
        "client-request-id": client_request_id or request_id,
    }
    return {"error": error}


def _not_found(key: str) -> GraphError:
    return GraphError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{key}' does not exist or one of its queried reference-property objects are not present.",
    )


def _bad(message: str, details: list[dict[str, str]] | None = None) -> GraphError:
    return GraphError(400, "Request_BadRequest", message, details)


class GraphService:
    """ASGI app mounted at ``constants.GRAPH_PREFIX``."""

    def __init__(
        self, *, directory: Directory, identity: Identity, counters: Counters, faults: Faults, base_url: str
    ) -> None:
        self.directory, self.identity, self.counters, self.faults = directory, identity, counters, faults
        self.base_url = base_url
        self.queries = graph_directory.DirectoryQueries(directory, base_url, GraphError)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self.handle(request, get_route_path(scope))
        await response(scope, receive, send)

    async def handle(self, request: Request, path: str) -> Response:
        request_id = str(uuid.uuid4())
        client_request_id = request.headers.get("client-request-id")
        try:
            caller = self._authenticate(request)
            people = graph_directory.PATH.match(path)
            if people is not None:
                self.counters.record(request.method, "graph", people["set"], write=request.method != "GET")
                with self.directory.lock:
                    roles = None if caller.claims.get("idtyp") == "user" else caller.roles
                    return self.queries.handle(request, people, roles)
            match = _PATH.match(path)
            if match is None:
                raise GraphError(400, "BadRequest", f"Resource not found for the segment '{path}'.")
            target = match["set"] + (f"/{match['sub']}" if match["sub"] else "")
            write = request.method in {"POST", "PATCH", "PUT", "DELETE"}
            self.counters.record(request.method, "graph", target, write=write)
            body = await _json_body(request) if request.method in {"POST", "PATCH"} else {}
            segment = match["sub"] or match["set"]
            body = _without_annotations(body, _ENTITY_TYPES.get(segment))
            graph_values.check_write(_ENTITY_TYPES.get(segment, segment), body)
            with self.directory.lock:
                try:
                    return self._route(request, match, caller, body)
                except (TypeError, AttributeError, ValueError) as exc:
                    # A payload shape no check above foresaw: still the client's fault, so a 400.
                    raise GraphError(
                        400, "BadRequest", f"The request body could not be read: {exc}."
                    ) from exc
        except GraphError as exc:
            envelope = graph_error_body(exc.code, exc.message, request_id, client_request_id, exc.details)
            response = JSONResponse(envelope, status_code=exc.status, headers={"request-id": request_id})
            if exc.status == 401:
                response.headers["WWW-Authenticate"] = self.identity.challenge_header(self.base_url)
            return response

    def _authenticate(self, request: Request) -> Caller:
        try:
            return self.identity.verify(request.headers.get("authorization"), self.base_url)
        except InvalidToken as exc:
            raise GraphError(
                401, "InvalidAuthenticationToken", f"Access token validation failure: {exc.reason}."
            ) from exc

    def _route(self, request: Request, m: re.Match[str], caller: Caller, body: dict[str, Any]) -> Response:
        is_app = m["set"] == "applications"
        if _key(m) is None:
            return self._collection(request, is_app, caller, body)
        if m["id"] == "$count" and m["sub"] is None and request.method == "GET":
            return self._count(request, is_app, caller)
        sub = m["sub"]
        if sub is None:
            return (self._application_item if is_app else self._sp_item)(request, m, caller, body)
        handlers: dict[tuple[bool, str], Callable[..., Response]] = {
            (True, "addPassword"): self._add_password,
            (True, "removePassword"): self._remove_password,
            (True, "federatedIdentityCredentials"): self._federated,
            (True, "owners"): self._owners,
            (False, "appRoleAssignedTo"): self._assignments,
            (False, "appRoleAssignments"): self._assignments,
        }
        handler = handlers.get((is_app, sub))
        if handler is None:
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{sub}'.")
        return handler(request, m, caller, body)

    # --- permissions -------------------------------------------------------------------
    @staticmethod
    def _require(caller: Caller, allowed: Iterable[str]) -> None:
        if caller.claims.get("idtyp") == "user":
            return  # the delegated admin is a Global Administrator
        if not set(caller.roles) & set(allowed):
            raise GraphError(
                403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
            )

    @classmethod
    def _require_owner(cls, caller: Caller, owners: Iterable[str]) -> None:
        """Writing one app or service principal: ``.All``, or ``.OwnedBy`` as one of its owners."""
        if caller.claims.get("idtyp") == "user" or _APP_WRITE in caller.roles:
            return
        if _OWNED_WRITE in caller.roles and caller.object_id in set(owners):
            return
        cls._require(caller, [_APP_WRITE])

    @staticmethod
    def _creator(caller: Caller) -> list[str]:
        """The new object's owners: a calling app owns what it creates (a person is not recorded)."""
        return [] if caller.claims.get("idtyp") == "user" else [caller.object_id]

    def _count(self, request: Request, is_app: bool, caller: Caller) -> Response:
        """``GET /applications/$count``: plain text, and only with ``ConsistencyLevel: eventual``."""
        self._require(caller, _READ_ROLES)
        require_eventual_for_count(request)
        items, filterable = self._listable(is_app)
        return PlainTextResponse(str(len(self._matching(request, items, filterable))))

    def _listable(self, is_app: bool) -> tuple[list[dict[str, Any]], frozenset[str]]:
        if is_app:
            return [a.data for a in self.directory.applications.values()], _APP_FILTERABLE
        return list(self.directory.service_principals.values()), _SP_FILTERABLE

    def _matching(
        self, request: Request, items: list[dict[str, Any]], filterable: frozenset[str]
    ) -> list[dict[str, Any]]:
        """The visible items that ``$filter`` and ``$search`` keep. Applications, service
        principals and app-role assignments are directory objects: the advanced query rules
        apply (graph_directory.filtered). A federated identity credential is not; it takes
        ``eq`` only, as its list page documents."""
        if filterable is _FIC_FILTERABLE:
            matches = _filtered(items, request.query_params.get("$filter"), filterable)
        else:
            matches = graph_directory.filtered(request, items, filterable)
        return [i for i in matches if "id" not in i or not self.directory.is_hidden(str(i["id"]))]

    # --- applications ------------------------------------------------------------------
    def _collection(self, request: Request, is_app: bool, caller: Caller, body: dict[str, Any]) -> Response:
        name = "applications" if is_app else "servicePrincipals"
        if request.method == "GET":
            self._require(caller, _READ_ROLES)
            items, filterable = self._listable(is_app)
            return self._list(request, name, items, filterable)
        if request.method != "POST":
            raise GraphError(405, "Request_BadRequest", f"The method {request.method} is not allowed here.")
        if is_app:
            self._require(caller, [_APP_WRITE, _OWNED_WRITE])
            created = self._create_application(body, None, self._creator(caller))
        else:
            backing = self.directory.app_by_app_id(str(body.get("appId", "")))
            self._require_owner(caller, backing.owners if backing else ())
            created = self._create_sp(body, self._creator(caller))
        return JSONResponse(
            {"@odata.context": f"{self.base_url}/v1.0/$metadata#{name}/$entity", **created}, status_code=201
        )

    def _create_application(
        self, body: dict[str, Any], unique_name: str | None, owners: list[str]
    ) -> dict[str, Any]:
        if body.get("passwordCredentials"):
            raise _bad("Property 'passwordCredentials' cannot be set on create; use addPassword.")
        body = {k: v for k, v in body.items() if k != "passwordCredentials"}
        unique_name = unique_name or body.get("uniqueName")
        if unique_name and self._find_app_by("uniqueName", unique_name) is not None:
            raise GraphError(
                400,
                "Request_MultipleObjectsWithSameKeyValue",
                "Another object with the same value for property uniqueName already exists.",
            )
        if not body.get("displayName"):
            raise _bad("Property 'displayName' is required and must not be empty.")
        object_id = str(uuid.uuid4())
        app = Application(
            data=application_body(
                object_id, str(uuid.uuid4()), body["displayName"], self.directory.clock.now(), unique_name
            )
        )
        self._patch_application(app, {k: v for k, v in body.items() if k != "uniqueName"})
        app.owners = list(owners)
        self.directory.applications[object_id] = app
        self._hide(object_id)
        return _public(app.data)

    def _application_item(
        self, request: Request, m: re.Match[str], caller: Caller, body: dict[str, Any]
    ) -> Response:
        key = _key(m) or ""
        if request.method == "GET":
            self._require(caller, _READ_ROLES)
            app = self._visible_app(m)
            selected = _selection(request, "application")
            data = _public(app.data)
            if selected and "keyCredentials" in selected:
                data["keyCredentials"] = [
                    {**k, "key": app.key_blobs.get(k["keyId"])} for k in app.data["keyCredentials"]
                ]
            return JSONResponse(
                {
                    "@odata.context": f"{self.base_url}/v1.0/$metadata#applications"
                    f"{_projection(selected)}/$entity",
                    **_select(data, selected, "application"),
                }
            )
        found = self._app(m)
        if found is None and request.method == "PATCH":
            self._require(caller, [_APP_WRITE, _OWNED_WRITE])
        else:
            self._require_owner(caller, found.owners if found else ())
        if request.method == "PATCH":
            if found is None:
                return self._upsert_missing(request, m, body, key, self._creator(caller))
            self._patch_application(found, body)
            return Response(status_code=204)
        if request.method == "DELETE":
            if found is None:
                raise _not_found(key)
            self._delete_application(found)
            return Response(status_code=204)
        raise GraphError(405, "Request_BadRequest", f"The method {request.method} is not allowed here.")

    def _upsert_missing(
        self, request: Request, m: re.Match[str], body: dict[str, Any], key: str, owners: list[str]
    ) -> Response:
        if m["alt"] != "uniqueName" or not _prefers_create(request):
            raise _not_found(key)
        created = self._create_application(body, _alt_value(m), owners)
        return JSONResponse(
            {"@odata.context": f"{self.base_url}/v1.0/$metadata#applications/$entity", **created},
            status_code=201,
        )

    def _patch_application(self, app: Application, body: dict[str, Any]) -> None:
        unknown = sorted(set(body) - _APP_PATCHABLE - {"passwordCredentials"})
        if unknown:
            raise _bad(f"Invalid property '{unknown[0]}' for type 'microsoft.graph.application'.")
        if "passwordCredentials" in body:
            raise _bad(
                "Updates to 'passwordCredentials' are not supported with PATCH; use addPassword and "
                "removePassword."
            )
        current_name = app.data["uniqueName"]
        if "uniqueName" in body and current_name is not None and body["uniqueName"] != current_name:
            raise _bad("Property 'uniqueName' is read-only once set.")
        if "displayName" in body and not body["displayName"]:
            raise _bad("Property 'displayName' must not be empty.")
        if "signInAudience" in body and body["signInAudience"] not in _AUDIENCES:
            raise _bad(f"Invalid value '{body['signInAudience']}' for property 'signInAudience'.")
        _check_required_resource_access(body.get("requiredResourceAccess", []))
        for name, value in body.items():
            if name == "keyCredentials":
                self._replace_keys(app, value)
            else:
                app.data[name] = value

    def _replace_keys(self, app: Application, credentials: list[dict[str, Any]]) -> None:
        """Full replacement, as Graph does: keys not sent again are dropped."""
        kept: list[dict[str, Any]] = []
        blobs: dict[str, str] = {}
        for sent in credentials or []:
            key_id = str(sent.get("keyId") or uuid.uuid4())
            blob = str(sent.get("key") or app.key_blobs.get(key_id) or "")
            if not blob:
                raise _bad("Key credential 'key' is required for a new certificate.")
            try:
                der = base64.b64decode(blob)
                cert = load_der_x509_certificate(der)
            except ValueError as exc:
                raise _bad("Invalid certificate: key value is not a base64 DER X.509 certificate.") from exc
            blobs[key_id] = blob
            kept.append(
                {
                    "customKeyIdentifier": sent.get("customKeyIdentifier") or sha1_hex(der),
                    "displayName": sent.get("displayName") or cert.subject.rfc4514_string(),
                    "endDateTime": sent.get("endDateTime") or iso(cert.not_valid_after_utc),
                    "key": None,
                    "keyId": key_id,
                    "startDateTime": sent.get("startDateTime") or iso(cert.not_valid_before_utc),
                    "type": sent.get("type", "AsymmetricX509Cert"),
                    "usage": sent.get("usage", "Verify"),
                }
            )
        app.key_blobs = blobs
        app.data["keyCredentials"] = kept

    def _delete_application(self, app: Application) -> None:
        del self.directory.applications[app.data["id"]]
        sp = self.directory.sp_by_app_id(app.data["appId"])
        if sp is not None:
            self._delete_sp(sp)

    def _add_password(
        self, request: Request, m: re.Match[str], caller: Caller, body: dict[str, Any]
    ) -> Response:
        app = self._existing_app(m)
        self._require_owner(caller, app.owners)
        sent = body.get("passwordCredential") or {}
        start = _parse_time(sent.get("startDateTime")) or self.directory.clock.now()
        end = _parse_time(sent.get("endDateTime")) or start + dt.timedelta(days=730)
        if end <= start:
            raise _bad("Key credential end date must be after its start date.")
        text = new_secret_text()
        credential: dict[str, Any] = {
            "customKeyIdentifier": None,
            "displayName": sent.get("displayName"),
            "endDateTime": iso(end),
            "hint": text[:3],
            "keyId": str(uuid.uuid4()),
            "secretText": None,
            "startDateTime": iso(start),
        }
        app.data["passwordCredentials"].append(credential)
        app.secret_hashes[credential["keyId"]] = secret_hash(text)
        return JSONResponse(
            {
                "@odata.context": f"{self.base_url}/v1.0/$metadata#microsoft.graph.passwordCredential",
                **credential,
                "secretText": text,
            }
        )

    def _remove_password(
        self, request: Request, m: re.Match[str], caller: Caller, body: dict[str, Any]
    ) -> Response:
        app = self._existing_app(m)
        self._require_owner(caller, app.owners)
        key_id = str(body.get("keyId", ""))
        remaining = [p for p in app.data["passwordCredentials"] if p["keyId"] != key_id]
        if len(remaining) == len(app.data["passwordCredentials"]):
            raise _bad(f"No password credential found with keyId '{key_id}'.")
        app.data["passwordCredentials"] = remaining
        app.secret_hashes.pop(key_id, None)
        return Response(status_code=204)

    def _federated(
        self, request: Request, m: re.Match[str], caller: Caller, body: dict[str, Any]
    ) -> Response:
        app = self._existing_app(m) if request.method != "GET" else self._visible_app(m)
        context = (
            f"{self.base_url}/v1.0/$metadata#applications('{app.data['id']}')/federatedIdentityCredentials"
        )
        subid = m["subid"]
        if request.method == "GET":
            self._require(caller, _READ_ROLES)
            if subid is None:
                return self._list(
                    request,
                    "federatedIdentityCredentials",
                    app.federated,
                    _FIC_FILTERABLE,
                    context=context,
                )
            return JSONResponse({"@odata.context": f"{context}/$entity", **self._fic(app, subid)})
        self._require_owner(caller, app.owners)
        if request.method == "POST" and subid is None:
            return JSONResponse(
                {"@odata.context": f"{context}/$entity", **self._add_fic(app, body)}, status_code=201
            )
        if request.method == "DELETE" and subid is not None:
            app.federated.remove(self._fic(app, subid))
            return Response(status_code=204)
        if request.method == "PATCH" and subid is not None:
            self._fic(app, subid).update(
                {k: v for k, v in body.items() if k in {"issuer", "subject", "audiences", "description"}}
            )
            return Response(status_code=204)
        raise GraphError(405, "Request_BadRequest", f"The method {request.method} is not allowed here.")

    def _owners(self, request: Request, m: re.Match[str], caller: Caller, body: dict[str, Any]) -> Response:
        """``GET /applications/{id}/owners``: the directory objects that own the app, each typed by
        ``@odata.type`` (https://learn.microsoft.com/graph/api/application-list-owners). Adding and
        removing owners (``owners/$ref``) is not served."""
        if request.method != "GET" or m["subid"] is not None:
            raise GraphError(405, "Request_BadRequest", f"The method {request.method} is not allowed here.")
        app = self._visible_app(m)
        self._require(caller, _READ_ROLES)
        selected = graph_directory.member_selection(request, GraphError, ("servicePrincipal", "user"))
        owners = [o for o in (self._directory_object(i) for i in app.owners) if o is not None]
        top, start = _top(request.query_params.get("$top")), _skip(request.query_params.get("$skiptoken"))
        context = f"{self.base_url}/v1.0/$metadata#directoryObjects{_projection(selected)}"
        page = [_select(o, selected) for o in owners[start : start + top]]
        answer: dict[str, Any] = {"@odata.context": context}
        if counted(request):
            answer["@odata.count"] = len(owners)
        answer["value"] = page
        if start + top < len(owners):
            query = {k: v for k, v in request.query_params.items() if k != "$skiptoken"}
            query.update({"$top": str(top), "$skiptoken": f"X{start + top}"})
            path = request.url.path.removeprefix(c.GRAPH_PREFIX)
            answer["@odata.nextLink"] = f"{self.base_url}{path}?" + urlencode(query)
        return JSONResponse(answer)

    def _directory_object(self, object_id: str) -> dict[str, Any] | None:
        sp = self.directory.service_principals.get(object_id)
        if sp is not None:
            return {"@odata.type": "#microsoft.graph.servicePrincipal", **sp}
        user = self.directory.users.get(object_id)
        if user is not None:
            return {"@odata.type": "#microsoft.graph.user", **user}
        return None

    def _add_fic(self, app: Application, body: dict[str, Any]) -> dict[str, Any]:
        for required in ("name", "issuer", "subject", "audiences"):
            if not body.get(required):
                raise _bad(f"Property '{required}' is required for a federated identity credential.")
        if any(f["name"] == body["name"] for f in app.federated):
            raise GraphError(
                409,
                "Request_MultipleObjectsWithSameKeyValue",
                f"FederatedIdentityCredential with name {body['name']} already exists.",
            )
        if len(app.federated) >= 20:
            raise _bad("The maximum number of 20 federated identity credentials per application was reached.")
        fic = {
            "id": str(uuid.uuid4()),
            "name": body["name"],
            "issuer": body["issuer"],
            "subject": body["subject"],
            "audiences": list(body["audiences"]),
            "description": body.get("description"),
        }
        app.federated.append(fic)
        return fic

    @staticmethod
    def _fic(app: Application, key: str) -> dict[str, Any]:
        for fic in app.federated:
            if key in (fic["id"], fic["name"]):
                return fic
        raise _not_found(key)

    # --- service principals ------------------------------------------------------------
    def _create_sp(self, body: dict[str, Any], owners: list[str]) -> dict[str, Any]:
        app_id = str(body.get("appId", ""))
        app = self.directory.app_by_app_id(app_id)
        if app is None or self.directory.is_hidden(app.data["id"]):
            raise _bad(
                f"The appId '{app_id}' of the service principal does not reference a valid application "
                "object.",
                [{"code": "NoBackingApplicationObject", "target": "appId"}],
            )
        if self.directory.sp_by_app_id(app_id) is not None:
            raise GraphError(
                409,
                "Request_MultipleObjectsWithSameKeyValue",
                "Another object with the same value for property servicePrincipalNames already exists.",
                [{"code": "ObjectConflict", "target": "servicePrincipalNames"}],
            )
        object_id = str(uuid.uuid4())
        sp = {
            "id": object_id,
            "deletedDateTime": None,
            "accountEnabled": True,
            "appId": app.data["appId"],
            "appDisplayName": app.data["displayName"],
            "displayName": app.data["displayName"],
            "appOwnerOrganizationId": c.TENANT_ID,
            "appRoleAssignmentRequired": False,
            "appRoles": [],
            "oauth2PermissionScopes": [],
            "servicePrincipalNames": [app.data["appId"]],
            "servicePrincipalType": "Application",
            "signInAudience": app.data["signInAudience"],
            "tags": list(body.get("tags") or []),
            "notes": None,
            "description": None,
        }
        self.directory.service_principals[object_id] = sp
        self.directory.sp_owners[object_id] = list(owners)
        self._hide(object_id)
        return sp

    def _sp_item(self, request: Request, m: re.Match[str], caller: Caller, body: dict[str, Any]) -> Response:
        key = _key(m) or ""
        if request.method == "GET":
            self._require(caller, _READ_ROLES)
            sp = self._visible_sp(m)
            selected = _selection(request, "servicePrincipal")
            return JSONResponse(
                {
                    "@odata.context": f"{self.base_url}/v1.0/$metadata#servicePrincipals"
                    f"{_projection(selected)}/$entity",
                    **_select(sp, selected, "servicePrincipal"),
                }
            )
        sp_or_none = self._sp(m)
        if sp_or_none is None:
            backing = self.directory.app_by_app_id(_alt_value(m)) if m["alt"] == "appId" else None
            self._require_owner(caller, backing.owners if backing else ())
        else:
            self._require_owner(caller, self.directory.sp_owners.get(sp_or_none["id"], ()))
        if request.method == "PATCH":
            _check_sp_patch(body)
            if sp_or_none is None:
                return self._upsert_missing_sp(request, m, body, key, self._creator(caller))
            sp_or_none.update(body)
            return Response(status_code=204)
        if sp_or_none is None:
            raise _not_found(key)
        if request.method == "DELETE":
            self._delete_sp(sp_or_none)
            return Response(status_code=204)
        raise GraphError(405, "Request_BadRequest", f"The method {request.method} is not allowed here.")

    def _upsert_missing_sp(
        self, request: Request, m: re.Match[str], body: dict[str, Any], key: str, owners: list[str]
    ) -> Response:
        """PATCH by appId with ``Prefer: create-if-missing`` creates the service principal (201),
        as documented for upsert: https://learn.microsoft.com/en-us/graph/api/serviceprincipal-upsert
        Without the header a missing one is a 404, as for any PATCH."""
        if m["alt"] != "appId" or not _prefers_create(request):
            raise _not_found(key)
        created = self._create_sp({"appId": _alt_value(m)}, owners)
        created.update(body)
        return JSONResponse(
            {"@odata.context": f"{self.base_url}/v1.0/$metadata#servicePrincipals/$entity", **created},
            status_code=201,
        )

    def _delete_sp(self, sp: dict[str, Any]) -> None:
        self.directory.service_principals.pop(sp["id"], None)
        self.directory.sp_owners.pop(sp["id"], None)
        for assignment_id in [
            a["id"]
            for a in self.directory.assignments.values()
            if sp["id"] in (a["principalId"], a["resourceId"])
        ]:
            del self.directory.assignments[assignment_id]

    # --- app-role assignments ----------------------------------------------------------
    def _assignments(
        self, request: Request, m: re.Match[str], caller: Caller, body: dict[str, Any]
    ) -> Response:
        sp = self._visible_sp(m) if request.method == "GET" else self._existing_sp(m)
        side = "resourceId" if m["sub"] == "appRoleAssignedTo" else "principalId"
        context = f"{self.base_url}/v1.0/$metadata#servicePrincipals('{sp['id']}')/{m['sub']}"
        if request.method == "GET" and m["subid"] is None:
            self._require(caller, _READ_ROLES)
            items = [a for a in self.directory.assignments.values() if a[side] == sp["id"]]
            return self._list(request, m["sub"], items, _ASSIGNMENT_FILTERABLE, context=context)
        self._require(caller, [_ASSIGN_WRITE])
        if request.method == "POST" and m["subid"] is None:
            created = self._assign(sp, side, body)
            return JSONResponse({"@odata.context": f"{context}/$entity", **created}, status_code=201)
        if request.method == "DELETE" and m["subid"] is not None:
            found = self.directory.assignments.get(m["subid"])
            if found is None or found[side] != sp["id"]:
                raise _not_found(m["subid"])
            del self.directory.assignments[m["subid"]]
            return Response(status_code=204)
        raise GraphError(405, "Request_BadRequest", f"The method {request.method} is not allowed here.")

    def _assign(self, sp: dict[str, Any], side: str, body: dict[str, Any]) -> dict[str, Any]:
        principal_id, resource_id = str(body.get("principalId", "")), str(body.get("resourceId", ""))
        role_id = str(body.get("appRoleId", ""))
        if body.get(side) != sp["id"]:
            raise _bad(f"Property '{side}' must be the service principal in the request path.")
        principal = self.directory.service_principals.get(principal_id)
        if principal is None or self.directory.is_hidden(principal_id):
            raise _bad(
                "Not a valid reference update.", [{"code": "InvalidReference", "target": "principalId"}]
            )
        resource = self.directory.service_principals.get(resource_id)
        if resource is None or self.directory.is_hidden(resource_id):
            raise _not_found(resource_id)
        if role_id not in {r["id"] for r in resource["appRoles"]}:
            raise _bad("Permission being assigned was not found on application.")
        for existing in self.directory.assignments.values():
            if (existing["principalId"], existing["resourceId"], existing["appRoleId"]) == (
                principal_id,
                resource_id,
                role_id,
            ):
                raise _bad("Permission being assigned already exists on the object.")
        assignment = {
            "id": new_assignment_id(),
            "deletedDateTime": None,
            "appRoleId": role_id,
            "createdDateTime": iso(self.directory.clock.now()),
            "principalDisplayName": principal["displayName"],
            "principalId": principal_id,
            "principalType": "ServicePrincipal",
            "resourceDisplayName": resource["displayName"],
            "resourceId": resource_id,
        }
        self.directory.assignments[assignment["id"]] = assignment
        return assignment

    # --- lookups -----------------------------------------------------------------------
    def _hide(self, object_id: str) -> None:
        if self.faults.replication_delay > 0:
            self.directory.hidden[object_id] = self.faults.replication_delay

    def _find_app_by(self, prop: str, value: str) -> Application | None:
        if prop == "id":
            return self.directory.applications.get(value)
        for app in self.directory.applications.values():
            current = app.data.get(prop)
            if isinstance(current, str) and current.lower() == value.lower():
                return app
        return None

    def _app(self, m: re.Match[str]) -> Application | None:
        if m["alt"]:
            return self._find_app_by(m["alt"], _alt_value(m))
        return self._find_app_by("id", m["id"])

    def _visible_app(self, m: re.Match[str]) -> Application:
        app = self._app(m)
        if app is None or self.directory.is_hidden(app.data["id"]):
            raise _not_found(_key(m) or "")
        return app

    def _existing_app(self, m: re.Match[str]) -> Application:
        app = self._app(m)
        if app is None:
            raise _not_found(_key(m) or "")
        return app

    def _sp(self, m: re.Match[str]) -> dict[str, Any] | None:
        if m["alt"] == "appId":
            return self.directory.sp_by_app_id(_alt_value(m))
        if m["alt"]:
            raise _bad(f"Alternate key '{m['alt']}' is not supported for servicePrincipals.")
        return self.directory.service_principals.get(m["id"])

    def _visible_sp(self, m: re.Match[str]) -> dict[str, Any]:
        sp = self._sp(m)
        if sp is None or self.directory.is_hidden(sp["id"]):
            raise _not_found(_key(m) or "")
        return sp

    def _existing_sp(self, m: re.Match[str]) -> dict[str, Any]:
        sp = self._sp(m)
        if sp is None:
            raise _not_found(_key(m) or "")
        return sp

    # --- collections -------------------------------------------------------------------
    def _list(
        self,
        request: Request,
        name: str,
        items: list[dict[str, Any]],
        filterable: frozenset[str],
        context: str | None = None,
    ) -> Response:
        params = request.query_params
        visible = self._matching(request, items, filterable)
        top = _top(params.get("$top"))
        start = _skip(params.get("$skiptoken"))
        page = visible[start : start + top]
        selected = _selection(request, _ENTITY_TYPES[name])
        body: dict[str, Any] = {
            "@odata.context": (context or f"{self.base_url}/v1.0/$metadata#{name}") + _projection(selected)
        }
        if counted(request):
            body["@odata.count"] = len(visible)
        body["value"] = [_select(_public(i), selected, _ENTITY_TYPES[name]) for i in page]
        if start + top < len(visible):
            query = {k: v for k, v in params.items() if k != "$skiptoken"}
            query.update({"$top": str(top), "$skiptoken": f"X{start + top}"})
            body["@odata.nextLink"] = (
                f"{self.base_url}{request.url.path.removeprefix(c.GRAPH_PREFIX)}?" + urlencode(query)
            )
        return JSONResponse(body)


def _without_annotations(body: dict[str, Any], expected: str | None) -> dict[str, Any]:
    """Drop OData instance annotations (``@odata.type``, ``displayName@odata.type``, any
    ``@namespace.term``) as Graph's reader does, after checking a top-level ``@odata.type``
    names the entity type the segment expects.

    Microsoft's SDKs send ``"@odata.type": "#microsoft.graph.application"`` on every write.
    OData JSON Format v4.01 §4.5.3 (control information ``odata.type``) and §20 (instance
    annotations): https://docs.oasis-open.org/odata/odata-json-format/v4.01/odata-json-format-v4.01.html
    Graph's texts for a wrong type, as the service answers them:
    https://github.com/microsoftgraph/msgraph-beta-sdk-dotnet/issues/87 (unresolvable name) and
    https://learn.microsoft.com/en-us/graph/errors (Request_BadRequest).
    ``@odata.bind`` is not an annotation but a reference operation, so it stays and is refused
    as an unknown property where the emulator does not support it.
    """
    sent = body.get("@odata.type")
    if sent is not None:
        _check_odata_type(sent, expected)
    stripped: dict[str, Any] = _strip(body)
    return stripped


def _check_odata_type(sent: Any, expected: str | None) -> None:
    name = str(sent).removeprefix("#")
    short = name[len(_GRAPH_NAMESPACE) :] if name.startswith(_GRAPH_NAMESPACE) else None
    if short is None or short not in _KNOWN_TYPES:
        raise GraphError(
            400,
            "Request_BadRequest",
            f"A type named '{name}' could not be resolved by the model. When a model is available, "
            "each type name must resolve to a valid type.",
        )
    if expected is not None and short != expected:
        raise GraphError(
            400,
            "Request_BadRequest",
            f"A resource with type '{name}' was found, but it is not assignable to the expected type "
            f"'{_GRAPH_NAMESPACE}{expected}'. The type specified in the resource must be equal to either "
            "the expected type or a derived type.",
        )


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if "@" not in k or k.endswith("@odata.bind")}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _check_required_resource_access(value: Any) -> None:
    """Graph refuses a malformed list instead of storing it; a client bug shows up here."""
    if not isinstance(value, list):
        raise _bad("Property 'requiredResourceAccess' must be a collection.")
    for entry in value:
        accesses = entry.get("resourceAccess") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not entry.get("resourceAppId") or not isinstance(accesses, list):
            raise _bad("Each requiredResourceAccess entry needs 'resourceAppId' and a 'resourceAccess' list.")
        for access in accesses:
            if (
                not isinstance(access, dict)
                or not access.get("id")
                or access.get("type") not in {"Role", "Scope"}
            ):
                raise _bad("Each resourceAccess entry needs an 'id' and a 'type' of Role or Scope.")


def _check_sp_patch(body: dict[str, Any]) -> None:
    unknown = sorted(set(body) - _SP_PATCHABLE)
    if unknown:
        raise _bad(f"Invalid property '{unknown[0]}' for type 'microsoft.graph.servicePrincipal'.")


def _prefers_create(request: Request) -> bool:
    """``Prefer`` may come as several header lines or one comma-separated line (RFC 7240 §2)."""
    preferences = ",".join(request.headers.getlist("prefer")).lower()
    return "create-if-missing" in {p.split(";")[0].strip() for p in preferences.split(",")}


def _alt_value(m: re.Match[str]) -> str:
    """An OData string literal doubles its quotes: ``'O''Brien'`` means O'Brien."""
    return str(m["altvalue"]).replace("''", "'")


def _key(m: re.Match[str]) -> str | None:
    if m["alt"]:
        return f"{m['alt']}='{m['altvalue']}'"
    return m["id"]


def _public(data: dict[str, Any]) -> dict[str, Any]:
    """What any GET shows: secret text never, certificate blobs only when asked for."""
    out = dict(data)
    if "passwordCredentials" in out:
        out["passwordCredentials"] = [{**p, "secretText": None} for p in out["passwordCredentials"]]
    if "keyCredentials" in out:
        out["keyCredentials"] = [{**k, "key": None} for k in out["keyCredentials"]]
    return out


def _filtered(
    items: list[dict[str, Any]], expression: str | None, filterable: frozenset[str]
) -> list[dict[str, Any]]:
    if not expression:
        return items
    clauses = re.split(r"\s+and\s+", expression)
    wanted: list[tuple[str, str]] = []
    for clause in clauses:
        match = _FILTER.match(clause)
        if match is None or match[1] not in filterable:
            raise GraphError(
                400,
                "Request_UnsupportedQuery",
                f"Unsupported or invalid query filter clause "
                f"specified for property '{clause.strip()}' of resource.",
            )
        literal = match[2] if match[2] is not None else match[3]
        wanted.append((match[1], literal.replace("''", "'").lower()))
    return [i for i in items if all(str(i.get(p) or "").lower() == v for p, v in wanted)]


def _parse_time(raw: Any) -> dt.datetime | None:
    if not raw:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError as exc:
        raise _bad(f"Invalid date/time value '{raw}'.") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise GraphError(
            400,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type "
            "header is set and payload is of valid JSON format.",
        ) from exc
    if not isinstance(body, dict):
        raise GraphError(400, "BadRequest", "The request body must be a JSON object.")
    return body
