"""The storage identity ([state.auth], else [auth]) answers the storage SDK's token requests."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from sssctl.clients.errors import AuthError
from sssctl.config.model import Auth, Desired, Environment, SecretRef, StateSettings
from sssctl.state.identity import ConfigIdentityCredential, storage_identity


class RecordingProvider:
    def __init__(self) -> None:
        self.scopes: list[str] = []

    def token(self, scope: str) -> str:
        self.scopes.append(scope)
        return "token-for-" + scope


def test_the_storage_scope_is_asked_of_the_config_identity() -> None:
    credential = ConfigIdentityCredential(Desired(version=1, source=Path("x.toml"), digest="d"), {})
    provider = RecordingProvider()
    credential._provider = provider  # built lazily from [auth] in real runs
    token = credential.get_token("https://storage.azure.com/.default")
    assert token.token == "token-for-https://storage.azure.com/.default"
    assert provider.scopes == ["https://storage.azure.com/.default"]
    assert time.time() < token.expires_on <= time.time() + 600


def test_state_auth_is_the_storage_identity_when_given_else_auth() -> None:
    main = Auth(method="client_secret", client_id="11111111-1111-1111-1111-111111111111")
    own = Auth(method="managed_identity")
    shared = Desired(version=1, source=Path("x.toml"), digest="d", auth=main)
    assert storage_identity(shared) == (main, "[auth]")
    separate = replace(shared, state=StateSettings(backend="azurerm", auth=own))
    assert storage_identity(separate) == (own, "[state.auth]")
    assert storage_identity(shared, separate.state) == (own, "[state.auth]")  # a migrate source


def test_a_state_auth_sign_in_failure_names_state_auth(tmp_path: Path) -> None:
    own = Auth(method="client_secret", client_id="22222222-2222-2222-2222-222222222222",
               client_secret=SecretRef(env="STATE_SECRET"))
    desired = Desired(version=1, source=Path("x.toml"), digest="d",
                      environment=Environment(tenant_id="8f0c3e5a-1b2d-4c6e-9a7b-5d3f2e1c0b9a"),
                      state=StateSettings(backend="azurerm", auth=own))
    credential = ConfigIdentityCredential(desired, {})
    with pytest.raises(AuthError) as caught:
        credential.get_token("https://storage.azure.com/.default")
    assert "[state.auth] identity" in str(caught.value)
    assert "state.auth.client_secret" in str(caught.value)
