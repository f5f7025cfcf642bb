"""The [auth] identity answers the storage SDK's token requests (no second sign-in)."""

from __future__ import annotations

import time
from pathlib import Path

from sssctl.config.model import Desired
from sssctl.state.identity import ConfigIdentityCredential


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
