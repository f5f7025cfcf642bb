"""Signing in: one token provider per configured method, all behind ``token(scope)``.

``client_secret``, ``certificate`` and ``device_code`` are MSAL's, here; the identities a
host provides (workload identity, Azure Pipelines federation, managed identity, Azure CLI)
are azure-identity's credentials, in :mod:`sssctl.clients.ambient`, over the same HTTP
layer (:class:`MsalHttpAdapter`). Every provider keeps tokens per resource for the run
(MSAL's in-memory cache, or a per-scope cache for the Azure CLI), registers every secret
and token it touches with the log redactor, and turns Entra's AADSTS answers into an
:class:`AuthError` that says what to do.

MSAL is built so it contacts nothing the config did not name: no instance discovery, no
region detection (``MSAL_FORCE_REGION`` / ``REGION_NAME`` are ignored), and its HTTP goes
through our verifying ``httpx.Client``.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, TextIO

import httpx
import msal
import platformdirs
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from sssctl.clients import ambient
from sssctl.clients._scope_locks import ScopeLocks
from sssctl.clients.aadsts import explain
from sssctl.clients.clouds import CloudEndpoints
from sssctl.clients.errors import AuthError, MalformedReply, TransportError, UntrustedReply
from sssctl.clients.http import RETRY_STATUSES, HttpService, RequestStats, describe_origin
from sssctl.clients.models import check
from sssctl.clients.models.token import TokenAnswer
from sssctl.clients.responses import json_or_none
from sssctl.config.model import Auth, SecretRef, SecretUnavailable
from sssctl.logging import redact_text, register_secret

log = structlog.get_logger("sssctl.clients.auth")


# Entra's "try again later" answers, sent with HTTP 400 or 429 as well as 5xx: a request loop
# it broke off (50196) and a transient error (90033).
TRANSIENT_AADSTS = frozenset({50196, 90033})

class TokenProvider(Protocol):
    method: str

    def token(self, scope: str) -> str:
        """A bearer token for ``scope`` (``<resource>/.default``); raises AuthError."""
        ...


def _checked(result: Mapping[str, Any] | None, *, method: str, client_id: str | None) -> str:
    if not result or "access_token" not in result:
        raise explain(result or {"error": "no token returned"}, method=method, client_id=client_id)
    try:
        check(result, TokenAnswer, service="login", call=f"the token request ({method})")
    except MalformedReply as exc:
        raise AuthError(str(exc),  # msgspec names the field, never the value
                        remedy="the sign-in endpoint answered something that is not a token; check the "
                               "login URL / cloud (a proxy may be answering in its place)") from None
    token = str(result["access_token"])
    register_secret(token)
    return token


def _msal_call(call: Callable[[], Any], *, method: str, where: str) -> Any:
    """Run an MSAL call, turning network and discovery failures into AuthError."""
    try:
        return call()
    except httpx.HTTPError as exc:
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            raise AuthError(
                f"sign-in ({method}): the TLS certificate of {where} is not trusted: {exc}",
                remedy="if it is signed by a private CA (the emulator's, a proxy's), set "
                       "environment.endpoints.ca_bundle or SSSCTL_CA_BUNDLE to its PEM file") from exc
        raise AuthError(f"sign-in ({method}) could not reach {where}: {exc}",
                        remedy="check the login URL / cloud and the network; TLS is always verified "
                               "(add a CA with environment.endpoints.ca_bundle if needed)") from exc
    except ValueError as exc:
        raise AuthError(f"sign-in ({method}) refused by {where}: {redact_text(str(exc))}",
                        remedy="check environment.tenant_id and the login URL of the cloud") from exc


def resolve_secret(ref: SecretRef | None, what: str, environ: Mapping[str, str]) -> str:
    if ref is None:
        raise AuthError(f"{what} is not configured",
                        remedy=f"set {what} = {{ env = \"NAME\" }} or {{ file = \"PATH\" }} in [auth]")
    try:
        value = ref.resolve(environ)
    except SecretUnavailable as exc:
        raise AuthError(f"{what} ({ref.describe()}) is unavailable: {exc}",
                        remedy="provide the secret through that environment variable or file") from exc
    register_secret(value)
    return value


# -- certificates -----------------------------------------------------------------------------
@dataclass(frozen=True)
class CertificateCredential:
    private_key_pem: str
    certificate_pem: str
    sha1_thumbprint: str
    sha256_thumbprint: str
    not_after: datetime

    def for_msal(self) -> dict[str, str]:
        """MSAL >= 1.35 derives a SHA-256 thumbprint (PS256, ``x5t#S256``) when none is given."""
        if _msal_version() >= (1, 35):
            return {"private_key": self.private_key_pem, "public_certificate": self.certificate_pem}
        return {"private_key": self.private_key_pem, "thumbprint": self.sha1_thumbprint}


def _msal_version() -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", str(msal.__version__))[:2])


def load_certificate(
    path: Path, password: str | None, *, now: datetime | None = None
) -> CertificateCredential:
    """Read a PEM (key + certificate) or PFX file and refuse an expired certificate up front."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AuthError(f"cannot read certificate file {path}: {exc.strerror}",
                        remedy="check auth.certificate_file / SSSCTL_CLIENT_CERTIFICATE") from exc
    secret = password.encode() if password else None
    key: Any
    cert: x509.Certificate | None
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, password=secret)
            cert = x509.load_pem_x509_certificate(data)
        else:
            key, cert, _ = pkcs12.load_key_and_certificates(data, secret)
    except (ValueError, TypeError) as exc:
        raise AuthError(f"certificate file {path} is not a usable PEM (key + certificate) or PFX: {exc}",
                        remedy="provide a PEM holding both the private key and the certificate, or a PFX "
                               "with auth.certificate_password") from exc
    if key is None or cert is None:
        raise AuthError(f"certificate file {path} lacks a private key or a certificate",
                        remedy="the file must contain both the private key and its certificate")
    current = now or datetime.now(timezone.utc)
    if cert.not_valid_after_utc <= current:
        raise AuthError(f"certificate {path} expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
                        code="certificate_expired",
                        remedy="create a new certificate, upload its public part to the app registration "
                               "and point auth.certificate_file at it")
    if cert.not_valid_before_utc > current:
        starts = f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M}"
        raise AuthError(f"certificate {path} is not valid before {starts} UTC",
                        code="certificate_not_yet_valid", remedy="check the system clock or the certificate")
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    register_secret(key_pem)
    return CertificateCredential(
        private_key_pem=key_pem,
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        sha1_thumbprint=cert.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303 - Entra's x5t
        sha256_thumbprint=cert.fingerprint(hashes.SHA256()).hex().upper(),
        not_after=cert.not_valid_after_utc,
    )


# -- providers -------------------------------------------------------------------------------------
def is_transient_login_answer(response: httpx.Response) -> bool:
    """True when Entra says "try again later" in its body (``error_codes``), whatever the status."""
    if response.status_code < 400:
        return False
    body = json_or_none(response.text)
    codes = body.get("error_codes") if isinstance(body, dict) else None
    return isinstance(codes, list) and any(code in TRANSIENT_AADSTS for code in codes)


class MsalHttpAdapter:
    """Lets MSAL use our HTTP layer as if it were a requests session.

    Sign-in gets what every other call gets: retries of 429, 5xx, dropped connections and
    Entra's transient AADSTS codes, from the run's one retry budget, with the deadline and
    size cap. When the retries are spent the adapter raises an :class:`AuthError` that says
    the service was unavailable, rather than handing MSAL an answer it would report as a
    configuration problem. Token requests may be sent again: a second token is harmless.

    MSAL hands form values as bytes (a client assertion, for one); requests sends those as
    text but httpx would send ``b'...'``, which Entra rejects as a malformed JWT.
    """

    def __init__(self, service: HttpService) -> None:
        self._service = service

    def post(self, url: str, params: Any = None, data: Any = None, headers: Any = None,
             **_: Any) -> httpx.Response:
        if isinstance(data, Mapping):
            data = {k: v.decode() if isinstance(v, bytes) else v for k, v in data.items()}
            return self._send("POST", url, params=params, data=data, headers=headers)
        content = data.encode() if isinstance(data, str) else data
        return self._send("POST", url, params=params, content=content, headers=headers)

    def get(self, url: str, params: Any = None, headers: Any = None, **_: Any) -> httpx.Response:
        return self._send("GET", url, params=params, headers=headers)

    def close(self) -> None:
        """MSAL may close its client; the run owns this one and closes it itself."""

    def _send(self, method: str, url: str, **kw: Any) -> httpx.Response:
        target = httpx.URL(url).path.rstrip("/").rsplit("/", 1)[-1] or "/"
        try:
            response = self._service.request(method, url, replayable=True, target=target, **kw)
        except TransportError as exc:
            raise _unreachable(url, exc) from exc
        except UntrustedReply as exc:
            raise AuthError(f"sign-in: {redact_text(str(exc))}",
                            remedy="check the login URL / cloud in [environment]") from exc
        if response.status_code in RETRY_STATUSES or response.status_code >= 500 \
                or is_transient_login_answer(response):
            raise _unavailable(url, response)
        return response


def _unreachable(url: str, exc: TransportError) -> AuthError:
    text = redact_text(str(exc))
    if "not trusted" in text or "CERTIFICATE_VERIFY_FAILED" in text:
        return AuthError(f"sign-in: the TLS certificate of {describe_origin(url)} is not trusted: {text}",
                         remedy="if it is signed by a private CA (the emulator's, a proxy's), set "
                                "environment.endpoints.ca_bundle or SSSCTL_CA_BUNDLE to its PEM file")
    return AuthError(f"sign-in could not reach {describe_origin(url)}: {text}",
                     remedy="check the network and the login URL / cloud; the attempts were retried "
                            "within the run's retry budget")


def _unavailable(url: str, response: httpx.Response) -> AuthError:
    body = json_or_none(response.text)
    detail = ""
    if isinstance(body, dict) and body.get("error_description"):
        detail = ": " + redact_text(str(body["error_description"]).splitlines()[0])[:300]
    codes = body.get("error_codes") if isinstance(body, dict) else None
    code = f"AADSTS{codes[0]}" if isinstance(codes, list) and codes else f"HTTP {response.status_code}"
    status = f"HTTP {response.status_code} {response.reason_phrase}".strip()
    return AuthError(
        f"sign-in failed: the login service {describe_origin(url)} answered {status}{detail}, "
        "and still did after the retries; it is unavailable or throttling, which says nothing "
        "about the sign-in settings", code=code,
        remedy="wait a few minutes and run again; if it persists, check the Microsoft Entra service health")


class MsalClientProvider:
    """App-only tokens from a ConfidentialClientApplication (secret, certificate, federated)."""

    def __init__(self, method: str, app: Any, client_id: str, where: str) -> None:
        self.method = method
        self._app = app
        self._client_id = client_id
        self._where = where
        self._locks = ScopeLocks()

    def token(self, scope: str) -> str:
        with self._locks.of(scope):
            result = _msal_call(lambda: self._app.acquire_token_for_client(scopes=[scope]),
                                method=self.method, where=self._where)
        return _checked(result, method=self.method, client_id=self._client_id)


class DeviceCodeProvider:
    """Interactive sign-in for a person; later runs reuse the persistent cache silently.

    One lock for every scope, unlike the app-only providers: a person answers one prompt
    at a time, and the cache file is written whole after each sign-in.
    """

    method = "device_code"

    def __init__(self, app: Any, cache: Any, cache_file: Path, *, client_id: str, where: str,
                 prompt: TextIO | None = None) -> None:
        self._app = app
        self._cache = cache
        self._cache_file = cache_file
        self._client_id = client_id
        self._where = where
        self._prompt = prompt
        self._lock = threading.Lock()

    def token(self, scope: str) -> str:
        with self._lock:
            result = self._silent(scope) or self._interactive(scope)
            self._save()
        return _checked(result, method=self.method, client_id=self._client_id)

    def _silent(self, scope: str) -> dict[str, Any] | None:
        accounts = _msal_call(self._app.get_accounts, method=self.method, where=self._where)
        if not accounts:
            return None
        result = _msal_call(lambda: self._app.acquire_token_silent([scope], account=accounts[0]),
                            method=self.method, where=self._where)
        return result if result and "access_token" in result else None

    def _interactive(self, scope: str) -> dict[str, Any]:
        flow = _msal_call(lambda: self._app.initiate_device_flow(scopes=[scope]),
                          method=self.method, where=self._where)
        if "user_code" not in flow:
            raise explain(flow, method=self.method, client_id=self._client_id)
        print(flow.get("message") or f"Enter code {flow['user_code']} at {flow.get('verification_uri')}",
              file=self._prompt or sys.stderr, flush=True)
        result: dict[str, Any] = _msal_call(lambda: self._app.acquire_token_by_device_flow(flow),
                                            method=self.method, where=self._where)
        return result

    def _save(self) -> None:
        if self._cache.has_state_changed:
            write_private_file(self._cache_file, self._cache.serialize())
            self._cache.has_state_changed = False


def write_private_file(path: Path, text: str) -> None:
    """Write ``text`` readable by the owner only (0600), atomically; the cache holds refresh tokens."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)


def default_token_cache(environ: Mapping[str, str]) -> Path:
    """The per-user cache directory of this platform (``$XDG_CACHE_HOME/sssctl`` or
    ``~/.cache/sssctl`` on Linux, ``~/Library/Caches/sssctl`` on macOS, the local app data
    folder on Windows), as platformdirs knows it; an explicit ``XDG_CACHE_HOME`` of the
    run's environment wins."""
    base = environ.get("XDG_CACHE_HOME")
    folder = Path(base) / "sssctl" if base else platformdirs.user_cache_path("sssctl", appauthor=False)
    return folder / "msal-token-cache.json"


# -- construction -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SignInSettings:
    auth: Auth
    cloud: CloudEndpoints
    tenant_id: str | None
    environ: Mapping[str, str]
    http_client: httpx.Client
    prompt: TextIO | None = None
    # The HTTP layer sign-in goes through; by default one over http_client with its own budget.
    login: HttpService | None = None

    def login_service(self) -> HttpService:
        return self.login or HttpService("login", self.http_client, token=None, stats=RequestStats())


def _require(value: str | None, what: str, env_name: str) -> str:
    if not value:
        raise AuthError(f"{what} is not configured", remedy=f"set it in the config or with {env_name}")
    return value


def _msal_common(settings: SignInSettings) -> dict[str, Any]:
    return {
        "authority": settings.cloud.authority(_require(settings.tenant_id, "environment.tenant_id",
                                                       "SSSCTL_TENANT_ID")),
        "http_client": MsalHttpAdapter(settings.login_service()),
        "instance_discovery": False,
        "azure_region": False,
    }


def _confidential_provider(settings: SignInSettings, where: str) -> TokenProvider:
    """App-only sign-in with a secret or a certificate."""
    auth = settings.auth
    client_id = _require(auth.client_id, "auth.client_id", "SSSCTL_CLIENT_ID")
    common = _msal_common(settings)  # settings first: a missing tenant is reported before secrets
    credential: Any
    if auth.method == "client_secret":
        credential = resolve_secret(auth.client_secret, "auth.client_secret", settings.environ)
    elif auth.method == "certificate":
        if auth.certificate_file is None:
            raise AuthError("auth.certificate_file is not configured",
                            remedy="set auth.certificate_file or SSSCTL_CLIENT_CERTIFICATE")
        password = (
            resolve_secret(auth.certificate_password, "auth.certificate_password", settings.environ)
            if auth.certificate_password else None)
        credential = load_certificate(auth.certificate_file, password).for_msal()
    else:
        raise AuthError(f"auth.method {auth.method!r} has no MSAL client credential")
    app = _msal_call(lambda: msal.ConfidentialClientApplication(
        client_id, client_credential=credential, **common), method=auth.method, where=where)
    return MsalClientProvider(auth.method, app, client_id, where)


def _device_code_provider(settings: SignInSettings, where: str) -> TokenProvider:
    """A person signs in once; the cache file lets later runs refresh silently."""
    auth = settings.auth
    client_id = _require(auth.client_id, "auth.client_id", "SSSCTL_CLIENT_ID")
    common = _msal_common(settings)
    cache_file = auth.token_cache or default_token_cache(settings.environ)
    cache = msal.SerializableTokenCache()
    if cache_file.exists():
        try:
            cache.deserialize(cache_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            cache = msal.SerializableTokenCache()  # unreadable cache: sign in again, then overwrite it
    app = _msal_call(lambda: msal.PublicClientApplication(client_id, token_cache=cache, **common),
                     method="device_code", where=where)
    return DeviceCodeProvider(app, cache, cache_file, client_id=client_id, where=where,
                              prompt=settings.prompt)


def build_token_provider(settings: SignInSettings) -> TokenProvider:
    """The provider for ``auth.method``; resolves secrets now, so a missing one fails early."""
    auth = settings.auth
    where = f"{settings.cloud.login_url} (tenant {settings.tenant_id})"
    if auth.method in ("client_secret", "certificate"):
        return _confidential_provider(settings, where)
    if auth.method == "device_code":
        return _device_code_provider(settings, where)
    # The identity the host provides: azure-identity's credentials, under sssctl's transport.
    if auth.method == "workload_identity":
        return ambient.workload_identity_provider(settings, MsalHttpAdapter(settings.login_service()))
    if auth.method == "managed_identity":
        return ambient.managed_identity_provider(settings, MsalHttpAdapter(settings.login_service()))
    if auth.method == "azure_cli":
        return ambient.azure_cli_provider(settings)
    raise AuthError(f"unknown auth.method {auth.method!r}",
                    remedy="use client_secret, certificate, workload_identity, managed_identity, "
                           "device_code or azure_cli")
