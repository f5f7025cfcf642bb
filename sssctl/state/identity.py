"""The ``[auth]`` identity as an azure-core credential, so the state blob needs no second login.

The storage SDK asks a ``TokenCredential`` for ``https://storage.azure.com/.default``;
this adapter answers with the same MSAL-based sign-in the Dataverse clients use, built
only when the first storage request needs it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from azure.core.credentials import AccessToken

from sssctl.config.model import Desired

# sssctl's providers cache tokens (MSAL) and do not expose the expiry; claiming a short life
# makes the SDK ask again well before any real token expires, and the ask is a cache hit.
_CLAIMED_LIFETIME = 600


class ConfigIdentityCredential:
    def __init__(self, desired: Desired, environ: Mapping[str, str]) -> None:
        self._desired = desired
        self._environ = environ
        self._provider: Any = None
        self._lock = threading.Lock()

    def _token_provider(self) -> Any:
        with self._lock:
            if self._provider is None:
                from sssctl.clients.auth import SignInSettings, build_token_provider
                from sssctl.clients.clouds import resolve_cloud
                from sssctl.clients.http import build_ssl_context, new_http_client

                ssl_context = build_ssl_context(self._desired.environment.endpoints.ca_bundle)
                self._provider = build_token_provider(SignInSettings(
                    auth=self._desired.auth, cloud=resolve_cloud(self._desired.environment),
                    tenant_id=self._desired.environment.tenant_id, environ=self._environ,
                    http_client=new_http_client(ssl_context)))
            return self._provider

    def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None,
                  enable_cae: bool = False, **kwargs: Any) -> AccessToken:
        token = self._token_provider().token(scopes[0])
        return AccessToken(str(token), int(time.time()) + _CLAIMED_LIFETIME)
