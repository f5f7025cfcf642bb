"""Entra ID login as MSAL sees it: OIDC discovery, JWKS, the v2 token endpoint (client
secret, certificate assertion, federated assertion, device code, refresh token), the App
Service managed identity endpoint, and the fake external issuer used for federation.

It also owns token verification for the other services (:class:`Identity` is the
``TokenVerifier``), so one key pair signs and checks every token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import load_der_x509_certificate
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sssctl.emulator import constants as c
from sssctl.emulator.certs import thumbprints
from sssctl.emulator.context import Caller, InvalidToken
from sssctl.emulator.directory import GLOBAL_ADMIN_ROLE, Application, Directory, now_utc, secret_hash

_RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access"})
_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_VERIFIED_CACHE_LIMIT = 4096

# Azure Storage is a first-party resource of every tenant (the appId Azure Storage itself
# accepts as an audience). Entra issues it v1 tokens whose ``aud`` is the identifier URI
# and that carry no ``roles``: access is Azure RBAC, decided by the storage account.
# sssctl's own services never accept them; Azurite (the storage emulator) does.
STORAGE_AUDIENCE = "https://storage.azure.com"
STORAGE_RESOURCE_APP_ID = "e406a681-f3d4-42a8-90b6-c2b029497af1"


class LoginError(Exception):
    """An Entra token-endpoint error: AADSTS code, OAuth error and HTTP status."""

    def __init__(self, code: int, error: str, text: str, status: int = 400) -> None:
        super().__init__(f"AADSTS{code}: {text}")
        self.code, self.error, self.text, self.status = code, error, text, status

    def response(self) -> JSONResponse:
        trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
        stamp = now_utc().strftime("%Y-%m-%d %H:%M:%SZ")
        description = (
            f"AADSTS{self.code}: {self.text}\r\nTrace ID: {trace}\r\n"
            f"Correlation ID: {correlation}\r\nTimestamp: {stamp}"
        )
        return JSONResponse(
            {
                "error": self.error,
                "error_description": description,
                "error_codes": [self.code],
                "timestamp": stamp,
                "trace_id": trace,
                "correlation_id": correlation,
                "error_uri": f"https://login.microsoftonline.com/error?code={self.code}",
            },
            status_code=self.status,
        )


@dataclass
class DeviceCode:
    device_code: str
    user_code: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: float
    approved: bool = False


@dataclass
class Principal:
    """Who a token is for: an application (app-only) or the admin user (delegated)."""

    app_id: str
    user_id: str | None = None
    credential_type: str = "1"  # appidacr: 0 public, 1 secret, 2 certificate


@dataclass
class Identity:
    """Signs, issues and verifies tokens for one emulator instance."""

    url: str
    directory: Directory
    token_key: rsa.RSAPrivateKey
    issuer_key: rsa.RSAPrivateKey
    resources: dict[str, str]  # audience URL -> resource appId
    msi_header: str
    token_lifetime: int = 3600
    auto_approve_device_codes: bool = False
    device_codes: dict[str, DeviceCode] = field(default_factory=dict)
    refresh_tokens: dict[str, Principal] = field(default_factory=dict)
    _verified: dict[str, tuple[Caller, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.resources = {STORAGE_AUDIENCE: STORAGE_RESOURCE_APP_ID, **self.resources}
        self.kid = _kid(self.token_key.public_key())
        self.issuer_kid = _kid(self.issuer_key.public_key())

    # --- names -------------------------------------------------------------------------
    @property
    def issuer(self) -> str:
        return f"{self.url}/{c.TENANT_ID}/v2.0"

    @property
    def access_token_issuer(self) -> str:
        """Access tokens for Dataverse, Graph and Exchange are v1 tokens, whatever endpoint
        issued them (the resource's manifest decides, and Microsoft's first-party APIs
        accept v1), so their ``iss`` is the v1 STS name, not the v2 discovery issuer."""
        return f"https://sts.windows.net/{c.TENANT_ID}/"

    @property
    def token_endpoint(self) -> str:
        return f"{self.url}/{c.TENANT_ID}/oauth2/v2.0/token"

    @property
    def federated_issuer(self) -> str:
        return f"{self.url}{c.FEDERATED_ISSUER_PATH}"

    def challenge_header(self, resource: str) -> str:
        """``WWW-Authenticate`` value for a 401 from the service at ``resource``."""
        return f"Bearer authorization_uri={self.url}/{c.TENANT_ID}/oauth2/authorize, resource_id={resource}"

    def resource_for(self, audience: str) -> str | None:
        """Canonical audience for a requested resource; trailing slashes tolerated."""
        wanted = audience.rstrip("/").lower()
        for known in self.resources:
            if known.rstrip("/").lower() == wanted:
                return known
        return None

    # --- verification (TokenVerifier) --------------------------------------------------
    def verify(self, authorization: str | None, audience: str) -> Caller:
        if not authorization:
            raise InvalidToken("no bearer token was sent", error="invalid_request")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidToken("the Authorization header is not a bearer token", error="invalid_request")
        token = token.strip()
        caller = self._cached(token)
        if caller is None:
            caller = self._decode(token)
        if caller.audience.rstrip("/").lower() != audience.rstrip("/").lower():
            raise InvalidToken(f"the token is for audience {caller.audience!r}, not {audience!r}")
        return caller

    def _cached(self, token: str) -> Caller | None:
        hit = self._verified.get(token)
        if hit is None:
            return None
        caller, expires = hit
        if expires <= time.time():
            self._verified.pop(token, None)
            raise InvalidToken("the token has expired")
        return caller

    def _decode(self, token: str) -> Caller:
        try:
            claims = jwt.decode(
                token,
                self.token_key.public_key(),
                algorithms=["RS256"],
                issuer=self.access_token_issuer,
                options={"verify_aud": False, "require": ["exp", "nbf", "iat", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("the token has expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"the token is not valid: {exc}") from exc
        caller = Caller(
            app_id=str(claims.get("appid", "")),
            object_id=str(claims.get("oid", "")),
            tenant_id=str(claims.get("tid", "")),
            audience=str(claims["aud"]),
            roles=tuple(claims.get("roles", ())),
            claims=claims,
        )
        if len(self._verified) >= _VERIFIED_CACHE_LIMIT:
            self._verified.clear()
        self._verified[token] = (caller, float(claims["exp"]))
        return caller

    # --- issuing -----------------------------------------------------------------------
    def mint(
        self,
        principal: Principal,
        audience: str,
        *,
        lifetime: int | None = None,
        scopes: tuple[str, ...] = (),
    ) -> tuple[str, int]:
        """An access token for ``principal`` at ``audience``; returns (token, lifetime)."""
        seconds = self.token_lifetime if lifetime is None else lifetime
        now = int(time.time())
        resource_app = self.resources[audience]
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": self.access_token_issuer,
            "iat": now,
            "nbf": now - 60 if seconds > 0 else now - 7200,
            "exp": now + seconds,
            "tid": c.TENANT_ID,
            "idp": self.access_token_issuer,
            "appid": principal.app_id,
            "appidacr": principal.credential_type,
            "ver": "1.0",
            "uti": secrets.token_urlsafe(16),
        }
        if principal.user_id is None:
            sp = self.directory.sp_by_app_id(principal.app_id)
            claims.update(
                oid=sp["id"] if sp else principal.app_id,
                sub=sp["id"] if sp else principal.app_id,
                idtyp="app",
            )
            roles = list(self.directory.roles_for(principal.app_id, resource_app))
            if roles:  # Entra omits the claim when the app holds no role on the resource
                claims["roles"] = roles
            wids = self.directory.directory_roles_for(principal.app_id)
            if wids:
                claims["wids"] = list(wids)
        else:
            user = self.directory.users.get(principal.user_id, {})
            claims.update(
                oid=principal.user_id,
                sub=principal.user_id,
                idtyp="user",
                upn=user.get("userPrincipalName"),
                name=user.get("displayName"),
                scp=" ".join(s.rsplit("/", 1)[-1] for s in scopes) or "user_impersonation",
                wids=[GLOBAL_ADMIN_ROLE],
            )
        token = jwt.encode(
            claims, self.token_key, algorithm="RS256", headers={"kid": self.kid, "x5t": self.kid}
        )
        return token, seconds

    def federated_assertion(self, *, lifetime: int = 365 * 24 * 3600) -> str:
        """A workload-identity assertion as GitHub Actions would hand one out."""
        now = int(time.time())
        claims = {
            "iss": self.federated_issuer,
            "sub": c.FEDERATED_SUBJECT,
            "aud": c.FEDERATED_AUDIENCE,
            "iat": now,
            "nbf": now - 60,
            "exp": now + lifetime,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, self.issuer_key, algorithm="RS256", headers={"kid": self.issuer_kid})

    # --- routes ------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        return [
            Route("/{tenant}/v2.0/.well-known/openid-configuration", self.discovery),
            Route("/{tenant}/.well-known/openid-configuration", self.discovery),
            Route("/{tenant}/discovery/v2.0/keys", self.jwks),
            Route("/{tenant}/discovery/keys", self.jwks),
            Route("/{tenant}/oauth2/v2.0/token", self.token, methods=["POST"]),
            Route("/{tenant}/oauth2/token", self.token, methods=["POST"]),
            Route("/{tenant}/oauth2/v2.0/devicecode", self.devicecode, methods=["POST"]),
            Route("/{tenant}/oauth2/v2.0/authorize", self.authorize),
            Route("/{tenant}/oauth2/authorize", self.authorize),
            Route(c.MSI_PATH, self.msi),
            Route(f"{c.FEDERATED_ISSUER_PATH}/.well-known/openid-configuration", self.issuer_discovery),
            Route(f"{c.FEDERATED_ISSUER_PATH}/.well-known/jwks", self.issuer_jwks),
        ]

    async def discovery(self, request: Request) -> Response:
        try:
            _tenant(request)
        except LoginError as exc:
            return exc.response()
        base = f"{self.url}/{c.TENANT_ID}"
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": self.token_endpoint,
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "subject_types_supported": ["pairwise"],
                "tenant_region_scope": "WW",
                "cloud_instance_name": "microsoftonline.com",
                "msgraph_host": "graph.microsoft.com",
                "request_uri_parameter_supported": False,
            }
        )

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [_jwk(self.token_key.public_key(), self.kid, self.issuer)]})

    async def authorize(self, request: Request) -> Response:
        return JSONResponse(
            {
                "error": "unsupported_response_type",
                "error_description": "The emulator supports no browser sign-in; "
                "use device code, a secret, a certificate or federation.",
            },
            status_code=400,
        )

    async def issuer_discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.federated_issuer,
                "jwks_uri": f"{self.federated_issuer}/.well-known/jwks",
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def issuer_jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [_jwk(self.issuer_key.public_key(), self.issuer_kid, None)]})

    async def token(self, request: Request) -> Response:
        form = await _form(request)
        _merge_basic_auth(form, request.headers.get("authorization", ""))
        if "resource" in form and "scope" not in form:  # v1 endpoint: resource instead of scope
            form["scope"] = form["resource"].rstrip("/") + "/.default"
        try:
            _tenant(request)
            return JSONResponse(self._grant(form, str(request.url.path)))
        except LoginError as exc:
            return exc.response()

    async def devicecode(self, request: Request) -> Response:
        form = await _form(request)
        try:
            _tenant(request)
            app = self._application(form.get("client_id", ""))
            scopes = self._user_scopes(form.get("scope", ""))
        except LoginError as exc:
            return exc.response()
        user_code = "".join(secrets.choice("BCDFGHJKLMNPQRSTVWXZ") for _ in range(9))
        code = DeviceCode(
            device_code=secrets.token_urlsafe(32),
            user_code=user_code,
            client_id=app.data["appId"],
            scopes=scopes,
            expires_at=time.time() + 900,
            approved=self.auto_approve_device_codes,
        )
        self.device_codes[code.device_code] = code
        uri = f"{self.url}/devicelogin"
        return JSONResponse(
            {
                "device_code": code.device_code,
                "user_code": user_code,
                "verification_uri": uri,
                "expires_in": 900,
                "interval": 1,  # Entra says 5; MSAL polls at whatever is sent, and 1 keeps demos quick
                "message": f"To sign in, use a web browser to open the page {uri} and enter the code "
                f"{user_code} to authenticate.",
            }
        )

    def reset(self) -> None:
        """Forget pending device codes; refresh tokens stay valid, as a user's sign-in would."""
        self.device_codes.clear()

    def approve_device_codes(self, user_code: str | None = None) -> list[str]:
        """Approve one pending code (by user code) or all of them, as the admin user."""
        approved = []
        for code in self.device_codes.values():
            if not code.approved and (user_code is None or code.user_code == user_code):
                code.approved = True
                approved.append(code.user_code)
        return approved

    async def msi(self, request: Request) -> Response:
        if request.headers.get("x-identity-header") != self.msi_header:
            return JSONResponse(
                {"statusCode": 401, "message": "The X-IDENTITY-HEADER is missing or wrong."}, status_code=401
            )
        resource = request.query_params.get("resource", "")
        wanted_client = request.query_params.get("client_id")
        if wanted_client and wanted_client.lower() != c.SSSCTL_APP_ID:
            return JSONResponse(
                {
                    "statusCode": 400,
                    "message": f"No managed identity with client_id {wanted_client} is "
                    "assigned to this resource.",
                },
                status_code=400,
            )
        audience = self.resource_for(resource)
        if audience is None:
            return JSONResponse(
                {"statusCode": 400, "message": _unknown_resource(resource).args[0]}, status_code=400
            )
        token, lifetime = self.mint(Principal(c.SSSCTL_APP_ID, credential_type="2"), audience)
        return JSONResponse(
            {
                "access_token": token,
                "expires_on": str(int(time.time()) + lifetime),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": c.SSSCTL_APP_ID,
            }
        )

    # --- grants ------------------------------------------------------------------------
    def _grant(self, form: dict[str, str], path: str) -> dict[str, Any]:
        grant = form.get("grant_type", "")
        if grant == "client_credentials":
            return self._client_credentials(form, path)
        if grant == _DEVICE_GRANT:
            return self._device_grant(form)
        if grant == "refresh_token":
            return self._refresh_grant(form)
        raise LoginError(
            70003, "unsupported_grant_type", f"The app requested an unsupported grant type '{grant}'."
        )

    def _client_credentials(self, form: dict[str, str], path: str) -> dict[str, Any]:
        app = self._application(form.get("client_id", ""))
        audience = self._app_scope(form)
        secret = form.get("client_secret")
        if secret:
            kind = self._check_secret(app, secret)
        elif form.get("client_assertion_type") == _ASSERTION_TYPE and form.get("client_assertion"):
            kind = self._check_assertion(app, form["client_assertion"], path)
        else:
            raise LoginError(
                7000218,
                "invalid_client",
                "The request body must contain the following "
                "parameter: 'client_assertion' or 'client_secret'.",
                401,
            )
        self._check_enterprise_app(app)
        token, lifetime = self.mint(Principal(app.data["appId"], credential_type=kind), audience)
        return {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }

    def _application(self, client_id: str) -> Application:
        app = self.directory.app_by_app_id(client_id) if client_id else None
        if app is None:
            raise LoginError(
                700016,
                "unauthorized_client",
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{c.TENANT_DOMAIN}'. This can happen if the application has not been installed "
                "by the administrator of the tenant or consented to by any user in the tenant.",
            )
        return app

    def _app_scope(self, form: dict[str, str]) -> str:
        scopes = [s for s in form.get("scope", "").split() if s not in _RESERVED_SCOPES]
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            raise LoginError(
                1002012,
                "invalid_scope",
                f"The provided value for scope {' '.join(scopes)} is not valid. Client credential "
                "flows must have a scope value with /.default suffixed to the resource identifier "
                "(application ID URI).",
            )
        resource = scopes[0].removesuffix("/.default")
        audience = self.resource_for(resource)
        if audience is None:
            raise _unknown_resource(resource)
        return audience

    def _user_scopes(self, scope: str) -> tuple[str, ...]:
        scopes = tuple(s for s in scope.split() if s not in _RESERVED_SCOPES)
        if not scopes:
            raise LoginError(
                70011,
                "invalid_scope",
                "The provided value for the input parameter 'scope' "
                "is not valid: no resource scope was requested.",
            )
        for scope_value in scopes:
            resource = scope_value.rsplit("/", 1)[0]
            if self.resource_for(resource) is None:
                raise _unknown_resource(resource)
        return scopes

    def _check_enterprise_app(self, app: Application) -> None:
        """An app signs in only through its service principal, which must exist and be enabled."""
        app_id = app.data["appId"]
        sp = self.directory.sp_by_app_id(app_id)
        if sp is None:
            raise LoginError(
                7000229,
                "invalid_client",
                f"The client application {app_id} is missing service principal in the tenant {c.TENANT_ID}.",
                401,
            )
        if not sp.get("accountEnabled", True):
            raise LoginError(
                7000112, "unauthorized_client", f"Application '{app_id}'({sp['displayName']}) is disabled."
            )

    def _check_secret(self, app: Application, secret: str) -> str:
        wanted = secret_hash(secret)
        for credential in app.data["passwordCredentials"]:
            if app.secret_hashes.get(credential["keyId"]) == wanted:
                if credential["endDateTime"] < self.directory.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"):
                    raise LoginError(
                        7000222,
                        "invalid_client",
                        f"The provided client secret keys for app '{app.data['appId']}' are "
                        "expired. Visit the Azure portal to create new keys for your app.",
                        401,
                    )
                return "1"
        raise LoginError(
            7000215,
            "invalid_client",
            "Invalid client secret provided. Ensure the secret being "
            "sent in the request is the client secret value, not the client secret ID, for a "
            f"secret added to app '{app.data['appId']}'.",
            401,
        )

    def _check_assertion(self, app: Application, assertion: str, path: str) -> str:
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise LoginError(50027, "invalid_request", f"JWT token is invalid or malformed: {exc}") from exc
        if unverified.get("iss") == app.data["appId"]:
            self._check_certificate(app, assertion, header, path)
            return "2"
        self._check_federated(app, assertion, unverified)
        return "2"

    def _check_certificate(self, app: Application, assertion: str, header: dict[str, Any], path: str) -> None:
        der = self._registered_certificate(app, header)
        public_key = load_der_x509_certificate(der).public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise LoginError(700027, "invalid_client", "Only RSA certificates are supported.", 401)
        audiences = [f"{self.url}{path}", self.token_endpoint, f"{self.url}/{c.TENANT_ID}/oauth2/token"]
        try:
            claims = jwt.decode(
                assertion,
                public_key,
                algorithms=["RS256", "PS256"],
                options={"verify_aud": False, "require": ["exp"]},
                leeway=0,
            )
        except jwt.ExpiredSignatureError as exc:
            raise LoginError(
                700024, "invalid_client", "Client assertion is not within its valid time range.", 401
            ) from exc
        except jwt.InvalidSignatureError as exc:
            raise LoginError(
                700027, "invalid_client", "Client assertion failed signature validation.", 401
            ) from exc
        except jwt.PyJWTError as exc:
            raise LoginError(50027, "invalid_request", f"JWT token is invalid or malformed: {exc}") from exc
        if claims.get("aud") not in audiences:
            raise LoginError(
                700021,
                "invalid_client",
                f"Client assertion audience claim does not match Realm issuer. Expected one of {audiences}.",
                401,
            )
        if claims.get("sub") != app.data["appId"]:
            raise LoginError(
                700023, "invalid_client", "Client assertion subject does not match the client id.", 401
            )

    def _registered_certificate(self, app: Application, header: dict[str, Any]) -> bytes:
        sent_sha1, sent_sha256 = header.get("x5t"), header.get("x5t#S256")
        for credential in app.data["keyCredentials"]:
            blob = app.key_blobs.get(credential["keyId"])
            if blob is None:
                continue
            der = base64.b64decode(blob)
            sha1, sha256 = thumbprints(der)
            if _same_thumbprint(sent_sha1, sha1) or _same_thumbprint(sent_sha256, sha256):
                if str(credential["endDateTime"]) < self.directory.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"):
                    raise LoginError(
                        700027,
                        "invalid_client",
                        "Client assertion contains an invalid signature. [Reason - The key used is expired., "
                        f"Thumbprint of key used by client: '{sent_sha1 or sent_sha256}']",
                        401,
                    )
                return der
        raise LoginError(
            700027,
            "invalid_client",
            "The certificate with identifier used to sign the client "
            f"assertion is not registered on application. [Reason - The key was not found., "
            f"Thumbprint of key used by client: '{sent_sha1 or sent_sha256}']",
            401,
        )

    def _check_federated(self, app: Application, assertion: str, unverified: dict[str, Any]) -> None:
        matches = [
            f
            for f in app.federated
            if f["issuer"] == unverified.get("iss") and f["subject"] == unverified.get("sub")
        ]
        if not matches:
            raise LoginError(
                70021,
                "invalid_request",
                "No matching federated identity record found for "
                f"presented assertion. Assertion Issuer: '{unverified.get('iss')}'. Assertion "
                f"Subject: '{unverified.get('sub')}'.",
            )
        audiences = unverified.get("aud")
        audiences = audiences if isinstance(audiences, list) else [audiences]
        if not set(audiences) & set(matches[0]["audiences"]):
            raise LoginError(
                700212,
                "invalid_request",
                "No matching federated identity record found for "
                f"presented assertion audience '{audiences}'.",
            )
        if unverified.get("iss") != self.federated_issuer:
            raise LoginError(
                700027,
                "invalid_client",
                "Client assertion failed signature validation: the "
                "issuer's signing keys could not be retrieved.",
                401,
            )
        try:
            jwt.decode(
                assertion,
                self.issuer_key.public_key(),
                algorithms=["RS256"],
                options={"verify_aud": False, "require": ["exp"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise LoginError(
                700024, "invalid_client", "Client assertion is not within its valid time range.", 401
            ) from exc
        except jwt.PyJWTError as exc:
            raise LoginError(
                700027, "invalid_client", "Client assertion failed signature validation.", 401
            ) from exc

    def _device_grant(self, form: dict[str, str]) -> dict[str, Any]:
        code = self.device_codes.get(form.get("device_code") or form.get("code") or "")
        if code is None:
            raise LoginError(70000, "invalid_grant", "The provided value for the 'device_code' is not valid.")
        if code.expires_at < time.time():
            self.device_codes.pop(code.device_code, None)
            raise LoginError(
                70020,
                "expired_token",
                "The provided authorization code or refresh token has "
                "expired due to inactivity. Send a new interactive authorization request.",
            )
        if not code.approved:
            raise LoginError(
                70016,
                "authorization_pending",
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            )
        self.device_codes.pop(code.device_code, None)
        return self._user_tokens(Principal(code.client_id, c.ADMIN_USER_OBJECT_ID, "0"), code.scopes)

    def _refresh_grant(self, form: dict[str, str]) -> dict[str, Any]:
        principal = self.refresh_tokens.get(form.get("refresh_token", ""))
        if principal is None or principal.app_id.lower() != form.get("client_id", "").lower():
            raise LoginError(
                9002313,
                "invalid_grant",
                "Invalid request. Request is malformed or invalid: "
                "the refresh token is unknown or was issued to another client.",
            )
        return self._user_tokens(principal, self._user_scopes(form.get("scope", "")))

    def _user_tokens(self, principal: Principal, scopes: tuple[str, ...]) -> dict[str, Any]:
        audience = self.resource_for(scopes[0].rsplit("/", 1)[0])
        if audience is None:
            raise _unknown_resource(scopes[0])
        token, lifetime = self.mint(principal, audience, scopes=scopes)
        refresh = secrets.token_urlsafe(48)
        self.refresh_tokens[refresh] = principal
        user = self.directory.users.get(principal.user_id or "", {})
        now = int(time.time())
        id_token = jwt.encode(
            {
                "aud": principal.app_id,
                "iss": self.issuer,
                "iat": now,
                "nbf": now - 60,
                "exp": now + lifetime,
                "oid": principal.user_id,
                "sub": principal.user_id,
                "tid": c.TENANT_ID,
                "ver": "2.0",
                "preferred_username": user.get("userPrincipalName"),
                "name": user.get("displayName"),
            },
            self.token_key,
            algorithm="RS256",
            headers={"kid": self.kid},
        )
        client_info = (
            base64.urlsafe_b64encode(json.dumps({"uid": principal.user_id, "utid": c.TENANT_ID}).encode())
            .decode()
            .rstrip("=")
        )
        return {
            "token_type": "Bearer",
            "scope": " ".join(scopes),
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
            "refresh_token": refresh,
            "id_token": id_token,
            "client_info": client_info,
        }


def _merge_basic_auth(form: dict[str, str], authorization: str) -> None:
    """client_secret_basic: the client id and secret in an HTTP Basic header."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic" or not value:
        return
    try:
        client_id, _, secret = base64.b64decode(value).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return
    form.setdefault("client_id", unquote_plus(client_id))
    form.setdefault("client_secret", unquote_plus(secret))


async def _form(request: Request) -> dict[str, str]:
    """Token requests are form-encoded; parsed here to avoid a multipart dependency."""
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))


def _tenant(request: Request) -> str:
    """An unknown tenant is ``invalid_tenant`` / AADSTS90002 (InvalidTenantName) on discovery and
    token requests alike, as Entra answers:
    https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes"""
    tenant = str(request.path_params.get("tenant", ""))
    if tenant.lower() not in {c.TENANT_ID, c.TENANT_DOMAIN, "organizations", "common"}:
        raise LoginError(
            90002,
            "invalid_tenant",
            f"Tenant '{tenant}' not found. Check to make sure you have "
            "the correct tenant ID and are signing into the correct cloud. Check with your "
            "subscription administrator, this may happen if there are no active subscriptions "
            "for the tenant.",
        )
    return tenant


def _unknown_resource(resource: str) -> LoginError:
    return LoginError(
        500011,
        "invalid_resource",
        f"The resource principal named {resource} was not found in "
        f"the tenant named {c.TENANT_DOMAIN}. This can happen if the application has not been "
        "installed by the administrator of the tenant or consented to by any user in the tenant.",
    )


def _same_thumbprint(sent: Any, registered: str) -> bool:
    """MSAL keeps base64 padding; other clients strip it. Compare without padding."""
    return isinstance(sent, str) and sent.rstrip("=") == registered.rstrip("=")


def _kid(public_key: rsa.RSAPublicKey) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()[:20]).decode().rstrip("=")


def _jwk(public_key: rsa.RSAPublicKey, kid: str, issuer: str | None) -> dict[str, Any]:
    key: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public_key))
    key.update(kid=kid, use="sig", alg="RS256", kty="RSA")
    if issuer:
        key["issuer"] = issuer
    return key
