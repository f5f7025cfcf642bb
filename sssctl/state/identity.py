"""The storage identity as an azure-core credential: ``[state.auth]`` if given, else ``[auth]``.

The storage SDK asks a ``TokenCredential`` for ``https://storage.azure.com/.default``;
this adapter answers with the same MSAL-based sign-in the Dataverse clients use, built
only when the first storage request needs it. Without ``[state.auth]`` the ``[auth]``
identity is reused, so the state blob needs no second login.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from azure.core.credentials import AccessToken

from sssctl.clients.errors import AuthError
from sssctl.config.model import Auth, Desired, StateSettings

# The MSAL providers cache tokens and do not expose the expiry (the azure-identity ones do);
# claiming a short life makes the SDK ask again well before any real token expires, and the
# ask is a cache hit.
_CLAIMED_LIFETIME = 600


def storage_identity(desired: Desired, settings: StateSettings | None = None) -> tuple[Auth, str]:
    """The identity that signs in to storage, and the table it was written in.

    ``settings`` is the ``[state]`` in use when it is not the configured one (the source of
    ``state migrate --from``), which carries the same ``[state.auth]``.
    """
    state_auth = (settings or desired.state).auth
    if state_auth is not None:
        return state_auth, "[state.auth]"
    return desired.auth, "[auth]"


class ConfigIdentityCredential:
    def __init__(self, desired: Desired, environ: Mapping[str, str],
                 settings: StateSettings | None = None) -> None:
        self._desired = desired
        self._environ = environ
        self._auth, self._table = storage_identity(desired, settings)
        self._provider: Any = None
        self._lock = threading.Lock()

    def _token_provider(self) -> Any:
        with self._lock:
            if self._provider is None:
                self._provider = self._build_provider()
            return self._provider

    def _build_provider(self) -> Any:
        from sssctl.clients.auth import SignInSettings, build_token_provider
        from sssctl.clients.clouds import resolve_cloud
        from sssctl.clients.http import build_ssl_context, new_http_client

        environment = self._desired.environment
        ssl_context = build_ssl_context(environment.endpoints.ca_bundle)
        try:
            return build_token_provider(SignInSettings(
                auth=self._auth, cloud=resolve_cloud(environment), tenant_id=environment.tenant_id,
                environ=self._environ, http_client=new_http_client(ssl_context)))
        except AuthError as exc:
            raise self._for_storage(exc) from exc

    def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None,
                  enable_cae: bool = False, **kwargs: Any) -> AccessToken:
        provider = self._token_provider()
        try:
            if hasattr(provider, "access_token"):  # azure-identity's credentials know the expiry
                return AccessToken(*provider.access_token(scopes[0]))
            token = provider.token(scopes[0])
        except AuthError as exc:
            raise self._for_storage(exc) from exc
        return AccessToken(str(token), int(time.time()) + _CLAIMED_LIFETIME)

    def _for_storage(self, exc: AuthError) -> AuthError:
        """The same sign-in error, saying it was the storage sign-in and which table to fix.

        The sign-in code names keys as ``auth.…``; with ``[state.auth]`` those keys live there.
        """
        message = f"signing in to the state storage with the {self._table} identity: {exc}"
        remedy = exc.remedy
        if self._table == "[state.auth]":
            message = message.replace(" auth.", " state.auth.")
            remedy = remedy.replace("[auth]", "[state.auth]") if remedy else remedy
        return AuthError(message, code=exc.code, remedy=remedy)
