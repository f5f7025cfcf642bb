"""The OIDC token endpoint of an Azure Pipelines job, for workload identity federation.

A job of the emulated pipeline (organization ``contoso``, one fixed plan and job) asks
``POST <SYSTEM_OIDCREQUESTURI>?api-version=7.1&serviceConnectionId=<id>`` with its job
access token as bearer and gets ``{"oidcToken": "<jwt>"}``: an assertion whose subject is
``sc://<organization>/<project>/<service connection name>`` and whose audience is
``api://AzureADTokenExchange``. The emulator's token endpoint accepts it because the sssctl
app holds a federated credential for that subject. The assertion is signed by the
emulator's external issuer (the one that also plays GitHub Actions), where Azure DevOps
would sign as ``https://vstoken.dev.azure.com/<organization id>``: Entra trusts whichever
issuer the federated credential names, so only the subject tells the two apart.

The job access token (``System.AccessToken``) is derived from the admin token, so whoever
holds the emulator's admin token (tests, the JSON line of ``emulator serve``) can play the
job: see :func:`pipeline_environ`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router

from sssctl.emulator import constants as c
from sssctl.emulator.identity import Identity

PREFIX = "/_azure_devops"
ORGANIZATION = "contoso"
PROJECT_ID = "4b1c2d3e-5f60-4718-8a9b-0c1d2e3f4a5b"
PLAN_ID = "a3c5e7f9-1b2d-4f6a-8c0e-2d4f6a8c0e1b"
JOB_ID = "12345678-9abc-4def-8123-456789abcdef"
SERVICE_CONNECTION_ID = "e0f1a2b3-c4d5-4e6f-9a7b-8c9d0e1f2a3b"
SERVICE_CONNECTION_NAME = "sssctl-prod"
OIDC_TOKEN_LIFETIME = 600  # seconds; the real tokens are short-lived too, so clients must not cache one
_JOB_PATH = (f"/{ORGANIZATION}/{PROJECT_ID}/_apis/distributedtask/hubs/build/plans/{PLAN_ID}"
             f"/jobs/{JOB_ID}/oidctoken")


def job_access_token(admin_token: str) -> str:
    """The ``System.AccessToken`` of the emulated job."""
    return hmac.new(admin_token.encode(), b"azure-devops-job-access-token", hashlib.sha256).hexdigest()


def oidc_request_uri(url: str) -> str:
    """``System.OidcRequestUri`` of the emulated job on the emulator at ``url``."""
    return f"{url}{PREFIX}{_JOB_PATH}"


def pipeline_environ(url: str, admin_token: str) -> dict[str, str]:
    """The variables an Azure Pipelines step sees (with ``System.AccessToken`` mapped in)."""
    return {
        "SYSTEM_OIDCREQUESTURI": oidc_request_uri(url),
        "SYSTEM_ACCESSTOKEN": job_access_token(admin_token),
        "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": SERVICE_CONNECTION_ID,
    }


class AzureDevOpsOidc:
    """ASGI app mounted at :data:`PREFIX`."""

    def __init__(self, identity: Identity, admin_token: str) -> None:
        self._identity = identity
        self._access_token = job_access_token(admin_token)
        self.app = Router(routes=[Route(_JOB_PATH, self.oidc_token, methods=["POST"])])

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    async def oidc_token(self, request: Request) -> Response:
        if not self._authorized(request.headers.get("authorization", "")):
            return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
        if not request.query_params.get("api-version"):
            return _error(400, "VssVersionNotSpecifiedException",
                          'No api-version was supplied for the "POST" request. The version must be supplied '
                          "either as part of the Accept header (e.g. \"application/json; api-version=1.0\") "
                          "or as a query parameter (e.g. '?api-version=1.0').")
        connection = request.query_params.get("serviceConnectionId", "")
        if connection.lower() != SERVICE_CONNECTION_ID:
            return _error(404, "ServiceEndpointNotFoundException",
                          f"Service connection {connection or '(none)'} was not found, or the pipeline is "
                          "not authorized to use it.")
        return JSONResponse({"oidcToken": self._assertion()})

    def _authorized(self, authorization: str) -> bool:
        scheme, _, token = authorization.partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(token.strip().encode(),
                                                                     self._access_token.encode())

    def _assertion(self) -> str:
        now = int(time.time())
        claims = {
            "iss": self._identity.federated_issuer,
            "sub": c.AZURE_DEVOPS_SUBJECT,
            "aud": c.FEDERATED_AUDIENCE,
            "iat": now,
            "nbf": now,
            "exp": now + OIDC_TOKEN_LIFETIME,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, self._identity.issuer_key, algorithm="RS256",
                          headers={"kid": self._identity.issuer_kid})


def _error(status: int, type_key: str, message: str) -> JSONResponse:
    """Azure DevOps' error body shape."""
    return JSONResponse({"$id": "1", "innerException": None, "message": message,
                         "typeName": f"Microsoft.VisualStudio.Services.{type_key}", "typeKey": type_key,
                         "errorCode": 0, "eventId": 3000}, status_code=status)
