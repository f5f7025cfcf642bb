"""A token fetch held up for one service must not hold up another whose token is cached."""

from __future__ import annotations

import threading
from typing import Any

from azure.core.credentials import AccessToken

from sssctl.clients.ambient import IdentityProvider
from sssctl.clients.auth import MsalClientProvider
from sssctl.clients.errors import AuthError

SLOW, CACHED = "https://graph.example/.default", "https://org.example/.default"


class _HeldSignIn:
    """Answers every scope at once except SLOW, which waits until released (as a fetch
    waiting out the sign-in endpoint's Retry-After does)."""

    def __init__(self) -> None:
        self.started, self.release = threading.Event(), threading.Event()
        self.calls: list[str] = []

    def answer(self, scope: str) -> None:
        self.calls.append(scope)
        if scope == SLOW:
            self.started.set()
            assert self.release.wait(10)


class _App(_HeldSignIn):
    def acquire_token_for_client(self, scopes: list[str]) -> dict[str, Any]:
        self.answer(scopes[0])
        return {"access_token": f"token-for-{scopes[0]}", "token_type": "Bearer", "expires_in": 3600}


class _Credential(_HeldSignIn):
    def get_token(self, scope: str) -> AccessToken:
        self.answer(scope)
        return AccessToken(f"token-for-{scope}", 2**40)


def _other_scope_answers_while_one_waits(provider: Any, held: _HeldSignIn) -> None:
    slow = threading.Thread(target=provider.token, args=(SLOW,))
    slow.start()
    try:
        assert held.started.wait(10)
        answered: list[str] = []
        other = threading.Thread(target=lambda: answered.append(provider.token(CACHED)))
        other.start()
        other.join(5)
        assert answered == [f"token-for-{CACHED}"], "a fetch for another scope held this one up"
    finally:
        held.release.set()
        slow.join(10)


def _never_explained(exc: Exception) -> AuthError:
    raise AssertionError(exc)


def _ambient(credential: _Credential) -> IdentityProvider:
    return IdentityProvider("managed_identity", credential, client_id=None, explain_error=_never_explained)


def test_msal_fetches_for_different_scopes_run_side_by_side() -> None:
    app = _App()
    _other_scope_answers_while_one_waits(MsalClientProvider("client_secret", app, "client", "login"), app)


def test_ambient_fetches_for_different_scopes_run_side_by_side() -> None:
    credential = _Credential()
    provider = _ambient(credential)
    _other_scope_answers_while_one_waits(provider, credential)


def test_threads_asking_for_the_same_scope_share_one_fetch() -> None:
    credential = _Credential()
    provider = _ambient(credential)
    threads = [threading.Thread(target=provider.token, args=(CACHED,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert credential.calls == [CACHED]
