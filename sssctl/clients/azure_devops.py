"""The federated token of an Azure Pipelines service connection (workload identity federation).

Azure Pipelines hands a job the URL of its OIDC endpoint (``SYSTEM_OIDCREQUESTURI``) and,
when the pipeline maps it, a job access token (``SYSTEM_ACCESSTOKEN``). A POST to
``<uri>?api-version=7.1&serviceConnectionId=<id>`` with that token as bearer answers
``{"oidcToken": "<jwt>"}``: an assertion whose subject names the service connection, which
Entra ID exchanges for an access token like any other federated credential. This is the
request Microsoft's ``pac`` CLI (``--azureDevOpsFederated``) and azure-identity's
``AzurePipelinesCredential`` make; it is hand-written here because the exchange itself is
MSAL's, and azure-identity would add a second HTTP stack that bypasses the CA bundle,
timeouts and redaction of sssctl's own client.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from sssctl.clients.errors import AuthError
from sssctl.logging import redact_text, register_secret

OIDC_API_VERSION = "7.1"
REQUEST_URI_VARIABLE = "SYSTEM_OIDCREQUESTURI"
ACCESS_TOKEN_VARIABLE = "SYSTEM_ACCESSTOKEN"
_MAX_TOKEN_CHARS = 16_384  # an assertion is a few KB; anything larger is not one

_MAP_ACCESS_TOKEN = "map the job access token into the step: `env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)`"


@dataclass(frozen=True)
class PipelineJob:
    """What the running job provides: its OIDC request URI and its access token."""

    request_uri: str
    access_token: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> PipelineJob | None:
        """The job, or None when not running in Azure Pipelines (no request URI)."""
        request_uri = environ.get(REQUEST_URI_VARIABLE, "").strip()
        if not request_uri:
            return None
        access_token = environ.get(ACCESS_TOKEN_VARIABLE, "").strip()
        if not access_token:
            raise AuthError(f"{ACCESS_TOKEN_VARIABLE} is not set, so the service connection's "
                            "federated token cannot be requested", remedy=_MAP_ACCESS_TOKEN)
        register_secret(access_token)
        return cls(request_uri, access_token)


def pipeline_assertion_source(
    service_connection_id: str | None, environ: Mapping[str, str], http_client: httpx.Client
) -> Callable[[], str] | None:
    """The service connection's assertion source, or None outside Azure Pipelines."""
    job = PipelineJob.from_environ(environ) if environ.get(REQUEST_URI_VARIABLE) else None
    if service_connection_id and job is None:
        raise AuthError(f"auth.service_connection_id is set but {REQUEST_URI_VARIABLE} is not: this is "
                        "not an Azure Pipelines job",
                        remedy="run in Azure Pipelines, or use auth.federated_token_file instead")
    if job is None:
        return None
    if not service_connection_id:
        raise AuthError("running in Azure Pipelines, but no service connection is named for "
                        "workload identity federation",
                        remedy="set auth.service_connection_id or SSSCTL_SERVICE_CONNECTION_ID (in an "
                               "AzureCLI@2 step, AZURESUBSCRIPTION_SERVICE_CONNECTION_ID is used)")
    return service_connection_assertion(job, service_connection_id, http_client)


def service_connection_assertion(
    job: PipelineJob, service_connection_id: str, http_client: httpx.Client
) -> Callable[[], str]:
    """A callable MSAL invokes for every token request; each call asks for a fresh assertion,
    since the one Azure Pipelines issues lives only minutes."""
    url = httpx.URL(job.request_uri.rstrip("/")).copy_merge_params(
        {"api-version": OIDC_API_VERSION, "serviceConnectionId": service_connection_id})

    def fetch() -> str:
        try:
            response = http_client.post(url, headers={"Authorization": f"Bearer {job.access_token}",
                                                      "Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            raise AuthError(f"the Azure Pipelines OIDC endpoint ({REQUEST_URI_VARIABLE}) could not be "
                            f"reached: {type(exc).__name__}",
                            remedy="run this step on an Azure Pipelines agent that reaches its "
                                   "organization; check proxy and CA settings") from exc
        return _oidc_token(response, service_connection_id)

    return fetch


def _oidc_token(response: httpx.Response, service_connection_id: str) -> str:
    """The assertion from the endpoint's answer; anything but a 200 JSON object holding a
    plausible token is refused, never passed on to Entra."""
    if response.status_code in (401, 203):  # 203: Azure DevOps answers a bad token with a sign-in page
        raise AuthError(f"Azure Pipelines refused the job access token (HTTP {response.status_code})",
                        remedy=_MAP_ACCESS_TOKEN)
    if response.status_code != 200:
        raise AuthError(
            f"Azure Pipelines did not issue a federated token for service connection "
            f"{service_connection_id} (HTTP {response.status_code}{_message(response)})",
            remedy="check auth.service_connection_id / SSSCTL_SERVICE_CONNECTION_ID: it must be the id of "
                   "a workload identity federation service connection this pipeline is authorized to use")
    try:
        body = response.json()
    except ValueError:
        body = None
    token = body.get("oidcToken") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token.strip() or len(token) > _MAX_TOKEN_CHARS:
        raise AuthError("the Azure Pipelines OIDC endpoint answered without a usable oidcToken",
                        remedy="retry the job; if it persists, check the service connection in the "
                               "project settings")
    register_secret(token.strip())
    return token.strip()


def _message(response: httpx.Response) -> str:
    """Azure DevOps' own error message, when it sent one as JSON."""
    try:
        body = response.json()
    except ValueError:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return f": {redact_text(str(message)[:300])}" if message else ""
