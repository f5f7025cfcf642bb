"""Ambient sign-in through Microsoft's ``azure-identity``: the identity the host provides.

Four ways a host hands a process an identity without a stored secret, each signed in with
the azure-identity credential Azure users know (and that Microsoft keeps current):

- ``workload_identity`` from a token file (``auth.federated_token_file`` /
  ``AZURE_FEDERATED_TOKEN_FILE``, as AKS writes it) or from GitHub Actions' OIDC endpoint
  (``ACTIONS_ID_TOKEN_REQUEST_URL``, audience ``api://AzureADTokenExchange``):
  ``ClientAssertionCredential`` with a callable that reads the file, or asks GitHub, on
  every token request, so a rotated token is picked up at once;
- ``workload_identity`` in an Azure Pipelines job (``SYSTEM_OIDCREQUESTURI`` plus a service
  connection): ``AzurePipelinesCredential``;
- ``managed_identity``: ``ManagedIdentityCredential`` (App Service ``IDENTITY_ENDPOINT`` /
  ``IDENTITY_HEADER``, IMDS, Arc, ...);
- ``azure_cli``: ``AzureCliCredential`` (``az account get-access-token``).

Sources: https://learn.microsoft.com/python/api/azure-identity/azure.identity (the four
credential classes and their ``authority`` / ``disable_instance_discovery`` / ``transport``
keywords); https://learn.microsoft.com/entra/workload-id/workload-identity-federation;
https://docs.github.com/actions/deployment/security-hardening-your-deployments/configuring-openid-connect-in-azure.

What stays sssctl's, on top of the library:

- every HTTP request of the credentials goes through :class:`CoreTransport`, an azure-core
  transport over sssctl's own :class:`~sssctl.clients.http.HttpService`: the configured CA
  bundle, the run's one retry budget and deadline (azure-core's own retries are switched
  off, ``retry_total=0``), the reply size caps;
- tokens go only where the config points: the transport refuses any origin but the
  configured login authority and the one endpoint the host named for its identity, and
  instance discovery is off, so no metadata lookup can redirect the sign-in;
- every assertion and token is registered with the log redactor;
- failures become :class:`AuthError` with the ``AADSTS`` code and a remedy.

The three methods that hold a secret or talk to a person (``client_secret``,
``certificate``, ``device_code``) stay on MSAL directly (:mod:`sssctl.clients.auth`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest._http_response_impl import HttpResponseImpl

from sssctl.clients._scope_locks import ScopeLocks
from sssctl.clients.aadsts import explain
from sssctl.clients.errors import AuthError
from sssctl.logging import redact_text, register_secret

if TYPE_CHECKING:
    from sssctl.clients.auth import MsalHttpAdapter, SignInSettings

GITHUB_AUDIENCE = "api://AzureADTokenExchange"
EXPIRY_MARGIN = 300.0  # seconds; a token this close to expiry is fetched again
PIPELINES_REQUEST_URI = "SYSTEM_OIDCREQUESTURI"
PIPELINES_ACCESS_TOKEN = "SYSTEM_ACCESSTOKEN"
IMDS_ORIGIN = "http://169.254.169.254"
_MAP_ACCESS_TOKEN = "map the job access token into the step: `env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)`"


def origin_of(url: str) -> str:
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}".lower()


class _Reply(HttpResponseImpl):
    """An azure-core response over an httpx response that has already been read."""

    def __init__(self, request: Any, response: httpx.Response) -> None:
        super().__init__(request=request, internal_response=response, status_code=response.status_code,
                         reason=response.reason_phrase, content_type=response.headers.get("content-type"),
                         headers=response.headers, stream_download_generator=_no_stream)
        self._content = response.content
        self._is_closed = True
        self._is_stream_consumed = True


def _no_stream(*_: Any, **__: Any) -> Iterator[bytes]:
    raise NotImplementedError("sign-in replies are read whole")


class CoreTransport(HttpTransport[Any, Any]):
    """azure-core's transport interface over sssctl's HTTP layer, for the credentials only.

    ``allowed`` holds the only origins a request may go to; anything else is refused before
    it is sent, so no credential (or a redirecting answer) can carry an assertion elsewhere.
    """

    def __init__(self, adapter: MsalHttpAdapter, allowed: set[str]) -> None:
        self._adapter = adapter
        self._allowed = {origin.lower() for origin in allowed}

    def send(self, request: Any, **_: Any) -> _Reply:
        url = str(request.url)
        if origin_of(url) not in self._allowed:
            raise AuthError(f"sign-in refused to send a request to {origin_of(url)}: only "
                            f"{', '.join(sorted(self._allowed))} may receive sign-in requests",
                            remedy="check the login URL / cloud in [environment] and the identity "
                                   "endpoint variables of this host")
        headers = dict(request.headers)
        if request.method == "POST":
            body = request.content
            response = self._adapter.post(url, data=body if isinstance(body, Mapping) else body or b"",
                                          headers=headers)
        else:
            response = self._adapter.get(url, headers=headers)
        return _Reply(request, response)

    def open(self) -> None:
        """The run owns the HTTP client; nothing to open."""

    def close(self) -> None:
        """The run closes the HTTP client itself."""

    def __enter__(self) -> CoreTransport:
        return self

    def __exit__(self, *_: Any) -> None:
        return None


class IdentityProvider:
    """``token(scope)`` over an azure-identity credential, with a per-scope cache.

    The MSAL-backed credentials cache tokens themselves; ``AzureCliCredential`` starts a
    process per call, so the cache here saves one ``az`` run per request.
    """

    def __init__(self, method: str, credential: Any, *, client_id: str | None,
                 explain_error: Callable[[ClientAuthenticationError], AuthError]) -> None:
        self.method = method
        self._credential = credential
        self._client_id = client_id
        self._explain = explain_error
        self._cache: dict[str, AccessToken] = {}
        self._locks = ScopeLocks()

    def access_token(self, scope: str) -> AccessToken:
        with self._locks.of(scope):
            cached = self._cache.get(scope)
            if cached is not None and cached.expires_on - EXPIRY_MARGIN > time.time():
                return cached
            try:
                token: AccessToken = self._credential.get_token(scope)
            except ClientAuthenticationError as exc:
                raise self._explain(exc) from None
            register_secret(token.token)
            self._cache[scope] = token
            return token

    def token(self, scope: str) -> str:
        return str(self.access_token(scope).token)


# -- explaining failures ----------------------------------------------------------------------------
def _message(exc: ClientAuthenticationError) -> str:
    return redact_text(str(exc.message or exc))


def aadsts_error(method: str, client_id: str | None) -> Callable[[ClientAuthenticationError], AuthError]:
    def explain_error(exc: ClientAuthenticationError) -> AuthError:
        return explain({"error_description": _message(exc)}, method=method, client_id=client_id)

    return explain_error


def _pipelines_error(service_connection_id: str,
                     client_id: str) -> Callable[[ClientAuthenticationError], AuthError]:
    aadsts = aadsts_error("workload_identity", client_id)
    request_uri = os.environ.get(PIPELINES_REQUEST_URI, "").rstrip("/")

    def explain_error(exc: ClientAuthenticationError) -> AuthError:
        response: Any = exc.response
        if response is None or not request_uri or not str(response.request.url).startswith(request_uri):
            return aadsts(exc)
        status = response.status_code
        if status in (401, 203):  # 203: Azure DevOps answers a bad token with a sign-in page
            return AuthError(f"Azure Pipelines refused the job access token (HTTP {status})",
                             remedy=_MAP_ACCESS_TOKEN)
        return AuthError(
            f"Azure Pipelines did not issue a federated token for service connection "
            f"{service_connection_id} (HTTP {status}{_devops_message(response)})",
            remedy="check auth.service_connection_id / SSSCTL_SERVICE_CONNECTION_ID: it must be the id of "
                   "a workload identity federation service connection this pipeline is authorized to use")

    return explain_error


def _devops_message(response: Any) -> str:
    """Azure DevOps' own error message, when it sent one as JSON."""
    try:
        body = response.json()
    except ValueError:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return f": {redact_text(str(message)[:300])}" if message else ""


def _managed_identity_error(client_id: str | None) -> Callable[[ClientAuthenticationError], AuthError]:
    aadsts = aadsts_error("managed_identity", client_id)

    def explain_error(exc: ClientAuthenticationError) -> AuthError:
        error = aadsts(exc)
        error.remedy = ("check the managed identity is enabled on this host"
                        + (" and the user-assigned identity is attached" if client_id else "")
                        + ", and that it has access to the resource")
        return error

    return explain_error


def _azure_cli_error(exc: ClientAuthenticationError) -> AuthError:
    text = _message(exc)
    if "not found on path" in text.lower():
        return AuthError("Azure CLI (`az`) was not found on PATH",
                         remedy="install the Azure CLI and run `az login`, or choose another auth.method")
    if "az login" in text or "not logged in" in text.lower():
        return AuthError("the Azure CLI is not signed in", remedy="run `az login` (with --tenant if needed)")
    if "AADSTS" in text:
        return aadsts_error("azure_cli", None)(exc)
    last = text.strip().splitlines()[-1] if text.strip() else "no output"
    return AuthError(f"`az account get-access-token` failed: {last}",
                     remedy="run the command by hand to see the full error")


# -- assertion sources ------------------------------------------------------------------------------
def _token_file_assertion(path: Path) -> Callable[[], str]:
    def from_file() -> str:
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise AuthError(f"cannot read federated token file {path}: {exc.strerror}",
                            remedy="check auth.federated_token_file / AZURE_FEDERATED_TOKEN_FILE") from exc
        register_secret(value)
        return value

    return from_file


def _github_assertion(request_url: str, request_token: str, adapter: MsalHttpAdapter) -> Callable[[], str]:
    register_secret(request_token)

    def from_github() -> str:
        # The request URL already carries api-version; passing params= would replace it.
        url = httpx.URL(request_url).copy_merge_params({"audience": GITHUB_AUDIENCE})
        response = adapter.get(str(url), headers={"Authorization": f"bearer {request_token}"})
        if response.status_code != 200:
            raise AuthError(f"GitHub OIDC token request failed with HTTP {response.status_code}",
                            remedy="grant the workflow `permissions: id-token: write`")
        value = str(response.json().get("value") or "")
        register_secret(value)
        return value

    return from_github


# -- construction -------------------------------------------------------------------------------------
def _common(adapter: MsalHttpAdapter, allowed: set[str]) -> dict[str, Any]:
    return {"transport": CoreTransport(adapter, allowed), "retry_total": 0}


def _require(value: str | None, what: str, env_name: str) -> str:
    if not value:
        raise AuthError(f"{what} is not configured", remedy=f"set it in the config or with {env_name}")
    return value


def workload_identity_provider(settings: SignInSettings, adapter: MsalHttpAdapter) -> IdentityProvider:
    """A federated credential: token file, Azure Pipelines service connection, or GitHub OIDC.

    ``adapter`` is sssctl's HTTP layer for sign-in, which every request of the credential
    goes through.
    """
    from azure.identity import AzurePipelinesCredential, ClientAssertionCredential

    auth, environ = settings.auth, settings.environ
    tenant_id = _require(settings.tenant_id, "environment.tenant_id", "SSSCTL_TENANT_ID")
    client_id = _require(auth.client_id, "auth.client_id", "SSSCTL_CLIENT_ID")
    login = settings.cloud.login_url.rstrip("/")
    directory = {"authority": login, "disable_instance_discovery": True}
    token_file = auth.federated_token_file or (
        Path(environ["AZURE_FEDERATED_TOKEN_FILE"]) if environ.get("AZURE_FEDERATED_TOKEN_FILE") else None)
    if token_file is not None:
        credential = ClientAssertionCredential(tenant_id, client_id, _token_file_assertion(token_file),
                                               **directory, **_common(adapter, {origin_of(login)}))
        return IdentityProvider("workload_identity", credential, client_id=client_id,
                                explain_error=aadsts_error("workload_identity", client_id))
    request_uri = environ.get(PIPELINES_REQUEST_URI, "").strip()
    connection = auth.service_connection_id
    if connection and not request_uri:
        raise AuthError(f"auth.service_connection_id is set but {PIPELINES_REQUEST_URI} is not: this is "
                        "not an Azure Pipelines job",
                        remedy="run in Azure Pipelines, or use auth.federated_token_file instead")
    if request_uri:
        if not connection:
            raise AuthError("running in Azure Pipelines, but no service connection is named for "
                            "workload identity federation",
                            remedy="set auth.service_connection_id or SSSCTL_SERVICE_CONNECTION_ID (in an "
                                   "AzureCLI@2 step, AZURESUBSCRIPTION_SERVICE_CONNECTION_ID is used)")
        access_token = environ.get(PIPELINES_ACCESS_TOKEN, "").strip()
        if not access_token:
            raise AuthError(f"{PIPELINES_ACCESS_TOKEN} is not set, so the service connection's "
                            "federated token cannot be requested", remedy=_MAP_ACCESS_TOKEN)
        register_secret(access_token)
        pipelines = AzurePipelinesCredential(
            tenant_id=tenant_id, client_id=client_id, service_connection_id=connection,
            system_access_token=access_token, **directory,
            **_common(adapter, {origin_of(login), origin_of(request_uri)}))
        return IdentityProvider("workload_identity", pipelines, client_id=client_id,
                                explain_error=_pipelines_error(connection, client_id))
    request_url = environ.get("ACTIONS_ID_TOKEN_REQUEST_URL")
    request_token = environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if request_url and request_token:
        common = _common(adapter, {origin_of(login)})
        github = _github_assertion(request_url, request_token, adapter)
        credential = ClientAssertionCredential(tenant_id, client_id, github, **directory, **common)
        return IdentityProvider("workload_identity", credential, client_id=client_id,
                                explain_error=aadsts_error("workload_identity", client_id))
    raise AuthError("workload_identity needs a federated token",
                    remedy="set auth.federated_token_file or AZURE_FEDERATED_TOKEN_FILE, or run in GitHub "
                           "Actions with `permissions: id-token: write`, or in Azure Pipelines with "
                           "auth.service_connection_id")


def managed_identity_provider(settings: SignInSettings, adapter: MsalHttpAdapter) -> IdentityProvider:
    """The host's managed identity; azure-identity picks the endpoint from the process environment."""
    from azure.identity import ManagedIdentityCredential

    client_id = settings.auth.managed_identity_client_id
    endpoints = {origin_of(url) for name in ("IDENTITY_ENDPOINT", "MSI_ENDPOINT", "IMDS_ENDPOINT")
                 if (url := os.environ.get(name))}
    allowed = endpoints or {IMDS_ORIGIN}
    credential = ManagedIdentityCredential(client_id=client_id, **_common(adapter, allowed))
    return IdentityProvider("managed_identity", credential, client_id=client_id,
                            explain_error=_managed_identity_error(client_id))


def azure_cli_provider(settings: SignInSettings, timeout: int = 60) -> IdentityProvider:
    """The person signed in to the Azure CLI; no HTTP of ours, ``az`` does the sign-in."""
    from azure.identity import AzureCliCredential

    credential = AzureCliCredential(tenant_id=settings.tenant_id or "", process_timeout=timeout)
    return IdentityProvider("azure_cli", credential, client_id=None, explain_error=_azure_cli_error)
