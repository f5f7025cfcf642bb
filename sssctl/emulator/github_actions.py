"""The OIDC token endpoint of a GitHub Actions job, for workload identity federation.

A job with ``permissions: id-token: write`` sees ``ACTIONS_ID_TOKEN_REQUEST_URL`` (which
already carries ``api-version``) and ``ACTIONS_ID_TOKEN_REQUEST_TOKEN``. A GET of that URL
with ``&audience=api://AzureADTokenExchange`` and the request token as bearer answers
``{"count": <n>, "value": "<jwt>"}``: an assertion whose subject names the repository and
ref (``repo:contoso/sss-config:ref:refs/heads/main`` here) and whose audience is the one
asked for (GitHub's default, without ``audience``, is the repository owner's URL, which Entra
refuses). Documented at https://docs.github.com/actions/security-for-github-actions/
security-hardening-your-deployments/about-security-hardening-with-openid-connect and in
``@actions/core``'s ``getIDToken``. The assertion is signed by the emulator's external
issuer, where GitHub signs as ``https://token.actions.githubusercontent.com``; the sssctl
app's federated credential for this subject names that issuer.

The request token is derived from the admin token, so whoever holds the emulator's admin
token can play the job: see :func:`actions_environ`.
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

PREFIX = "/_github_actions"
_TOKEN_PATH = "/_apis/distributedtask/hubs/Actions/plans/7c1d/jobs/9e2f/idtoken"
ID_TOKEN_LIFETIME = 300  # seconds; GitHub's ID tokens are short-lived
OWNER_AUDIENCE = "https://github.com/contoso"


def request_token(admin_token: str) -> str:
    """The ``ACTIONS_ID_TOKEN_REQUEST_TOKEN`` of the emulated job."""
    return hmac.new(admin_token.encode(), b"github-actions-id-token-request", hashlib.sha256).hexdigest()


def actions_environ(url: str, admin_token: str) -> dict[str, str]:
    """The variables a GitHub Actions step with ``id-token: write`` sees."""
    return {"ACTIONS_ID_TOKEN_REQUEST_URL": f"{url}{PREFIX}{_TOKEN_PATH}?api-version=2.0",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": request_token(admin_token)}


class GitHubActionsOidc:
    """ASGI app mounted at :data:`PREFIX`."""

    def __init__(self, identity: Identity, admin_token: str) -> None:
        self._identity = identity
        self._request_token = request_token(admin_token)
        self.app = Router(routes=[Route(_TOKEN_PATH, self.id_token, methods=["GET"])])

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    async def id_token(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip().encode(),
                                                                    self._request_token.encode()):
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        audience = request.query_params.get("audience") or OWNER_AUDIENCE
        now = int(time.time())
        claims = {"iss": self._identity.federated_issuer, "sub": c.FEDERATED_SUBJECT, "aud": audience,
                  "iat": now, "nbf": now, "exp": now + ID_TOKEN_LIFETIME, "jti": str(uuid.uuid4()),
                  "repository": "contoso/sss-config", "ref": "refs/heads/main"}
        value = jwt.encode(claims, self._identity.issuer_key, algorithm="RS256",
                           headers={"kid": self._identity.issuer_kid})
        return JSONResponse({"count": len(value), "value": value})
