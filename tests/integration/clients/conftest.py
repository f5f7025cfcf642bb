"""Desired states pointed at the session emulator, one per sign-in method."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sssctl.clients.http import RetryPolicy
from sssctl.clients.session import ClientOptions
from sssctl.config.model import Auth, Desired, Endpoints, Environment, SecretRef
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo


def emulator_desired(info: EmulatorInfo, **auth: Any) -> Desired:
    environment = Environment(
        name="emulator", url=info.dataverse_url, tenant_id=info.tenant_id, cloud="custom",
        endpoints=Endpoints(login_url=info.login_url, graph_url=info.graph_url,
                            exchange_url=info.exchange_url, ca_bundle=Path(info.ca_file)),
    )
    settings: dict[str, Any] = {"method": "client_secret", "client_id": info.client_id,
                                "client_secret": SecretRef(env="SSSCTL_CLIENT_SECRET")}
    settings.update(auth)
    return Desired(version=1, source=Path("emulator.toml"), digest="test", environment=environment,
                   auth=Auth(**settings))


def secret_environ(info: EmulatorInfo) -> dict[str, str]:
    return {"SSSCTL_CLIENT_SECRET": info.client_secret, "PATH": "/usr/bin:/bin"}


class RecordingSleep:
    """Sleeps for real only a little, records every wait, and can run an action on the n-th one."""

    def __init__(self, after: int | None = None, action: Any = None) -> None:
        self.calls: list[float] = []
        self._after = after
        self._action = action

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self._after is not None and len(self.calls) == self._after and self._action is not None:
            self._action()


def fast_options(sleep: Any = None, **policy: Any) -> ClientOptions:
    return ClientOptions(sleep=sleep or RecordingSleep(), policy=RetryPolicy(**policy),
                         replication_timeout=5.0)


@pytest.fixture
def calm(emulator_admin: AdminClient) -> Iterator[AdminClient]:
    """The admin client, with every fault switched off before and after the test."""
    emulator_admin.clear_faults()
    emulator_admin.faults(retry_after_seconds=0.05)
    yield emulator_admin
    emulator_admin.clear_faults()
    emulator_admin.faults(retry_after_seconds=1.0)


def with_auth(desired: Desired, **auth: Any) -> Desired:
    return replace(desired, auth=replace(desired.auth, **auth))
