"""Stand-ins for config loading, clients and kinds, so the commands run with no network.

``World`` hands the runner fake kinds (:class:`~tests.unit.engine.fakes.FakeKind`) and the
shared fake Dataverse through the same :class:`~sssctl.app.runner.Services` seam the real
composition root fills; ``desired_from`` reads a tiny TOML subset in place of the loader.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from sssctl.app.runner import Services
from sssctl.config.model import Approval, Desired, Environment
from sssctl.engine.registry import Registry
from tests.support.fake_dataverse import FakeDataverse
from tests.unit.engine.fakes import ORG_ID, URL, FakeKind, approval_wanted, org_settings_wanted


def desired_from(path: Path, environ: Mapping[str, str] | None = None) -> Desired:
    """A tiny loader: [org_settings] and [approval] from TOML, digest of the file bytes."""
    raw = path.read_bytes()
    data = tomllib.loads(raw.decode())
    approval = Approval(**data["approval"]) if "approval" in data else None
    env = data.get("environment", {})
    return Desired(
        version=1, source=path, digest=hashlib.sha256(raw).hexdigest(),
        environment=Environment(name=env.get("name", "test"), url=URL),
        org_settings=data.get("org_settings", {}), approval=approval,
    )


@dataclass
class FakeStats:
    total: int = 7
    writes: int = 2
    retries: int = 0
    throttled: int = 0


def empty_dataverse() -> FakeDataverse:
    """The shared fake, as the environment the fake kinds live in (no rows: they keep their own)."""
    return FakeDataverse(organization_id=ORG_ID, org_url=URL)


@dataclass
class FakeClients:
    dataverse: FakeDataverse = field(default_factory=empty_dataverse)
    graph: Any = None
    exchange: Any = None
    stats: FakeStats = field(default_factory=FakeStats)
    unavailable: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    """The fake kinds and clients one test drives through the engine."""

    kinds: list[FakeKind]
    dataverse: FakeDataverse = field(default_factory=empty_dataverse)

    def kind(self, name: str) -> FakeKind:
        return next(k for k in self.kinds if k.name == name)

    def services(self) -> Services:
        @contextmanager
        def open_clients(desired: Desired, **_: Any) -> Iterator[FakeClients]:
            yield FakeClients(dataverse=self.dataverse)

        return Services(load_config=desired_from, open_clients=open_clients,
                        load_kinds=lambda: Registry(tuple(self.kinds)))  # type: ignore[arg-type]


def standard_world() -> World:
    return World([
        FakeKind("approval", approval_wanted,
                 live={"approval": {"require_for_users": False, "require_for_queues": False}}),
        FakeKind("org_setting", org_settings_wanted, live={"org_setting.Alpha": {"value": False}}),
    ])
