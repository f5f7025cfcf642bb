"""Control 5 kinds against the real emulator: HTTPS, real MSAL sign-in, Graph + Exchange + Dataverse."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sssctl.config.loader import load
from sssctl.config.model import Desired
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo
from sssctl.engine.applier import Outcome
from sssctl.engine.kind import Context, Kind, Observed
from sssctl.engine.plan import Action, Change
from sssctl.kinds import load_kinds
from tests.support import planning
from tests.support.applying import apply_changes

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

NAMES = ("app_registration", "exchange_scope", "server_profile_custom")
PROFILE = "Contoso EXO (own app)"
CONFIG = f"""version = 1
[environment]
name = "emulator"
cloud = "custom"
[auth]
method = "client_secret"

[app_registrations.sss]
display_name = "Dataverse SSS (Contoso)"
permissions = ["exchange:full_access_as_app"]
credential = {{ type = "client_secret", rotate_days = ROTATE }}
mailbox_scope = {{ group = "sss-mailboxes@contoso.com" }}
ews = "allow"

[server_profiles.custom."{PROFILE}"]
type = "exchange_online"
app_registration = "sss"
"""


class Run:
    """The engine's part in miniature: read, diff, guard, apply in registry order, keep state."""

    def __init__(
        self,
        desired: Desired,
        clients: Any,
        state: dict[str, dict[str, Any]],
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.desired, self.state = desired, state
        self.kinds: list[Kind] = list(load_kinds(NAMES))
        self.ctx = Context(
            desired=desired,
            dataverse=clients.dataverse,
            graph=clients.graph,
            exchange=clients.exchange,
            state=state,
            clock=clock,
        )
        self.observed: dict[str, Observed] = {k.name: k.read(self.ctx) for k in self.kinds}

    def plan(self) -> list[Change]:
        return [c for k in self.kinds for c in k.diff(self.desired, self.observed[k.name])]

    def refusals(self) -> list[str]:
        changes = self.plan()
        return planning.refusals(self.kinds, self.ctx, changes, self.observed)

    def apply(self) -> list[Outcome]:
        """Apply the plan through the real applier; the changes it applied."""
        outcomes = apply_changes(self.kinds, self.ctx, self.plan(), self.state)
        return [o for o in outcomes if o.status == "applied"]


@pytest.fixture
def fresh(emulator_admin: AdminClient) -> AdminClient:
    emulator_admin.reset()
    emulator_admin.clear_faults()
    return emulator_admin


@contextmanager
def connected(info: EmulatorInfo, tmp_path: Path, rotate: int = 180) -> Iterator[tuple[Desired, Any]]:
    from sssctl.clients.session import ClientOptions, open_clients

    config = tmp_path / "sssctl.toml"
    config.write_text(CONFIG.replace("ROTATE", str(rotate)), encoding="utf-8")
    desired = load(config, info.environ())
    options = ClientOptions(sleep=lambda _s: None)
    with open_clients(
        desired, environ=info.environ(), need_graph=True, need_exchange=True, options=options
    ) as clients:
        yield desired, clients


def snapshot_profile(admin: AdminClient) -> dict[str, Any]:
    rows = admin.snapshot()["dataverse"]["tables"]["emailserverprofile"]
    return next(r for r in rows if r["name"] == PROFILE)


def actionable(changes: list[Change]) -> list[tuple[str, str]]:
    return [
        (c.address, c.reason) for c in changes if c.action in (Action.CREATE, Action.UPDATE, Action.DELETE)
    ]


def test_from_nothing_to_a_scoped_custom_profile_then_nothing_to_do(
    emulator: EmulatorInfo, fresh: AdminClient, tmp_path: Path
) -> None:
    state: dict[str, dict[str, Any]] = {}
    with connected(emulator, tmp_path) as (desired, clients):
        first = Run(desired, clients, state)
        assert first.refusals() == []
        assert {c.action for c in first.plan()} == {Action.CREATE}
        first.apply()
        second = Run(desired, clients, state).plan()
        assert actionable(second) == []
        (scope,) = [c for c in second if c.address == "exchange_scope.sss"]
        assert "Granted for queue01@contoso.com" in scope.reason and "Denied for user015" in scope.reason
        fresh.reset_counters()
        assert Run(desired, clients, state).apply() == []
        assert fresh.counters()["writes"] == 0
    profile = snapshot_profile(fresh)
    assert profile["oauthclientsecret"]
    assert profile["incomingcredentialretrieval"] == 7
    assert profile["oauthclientid"] == state["app_registration.sss"]["fingerprints"]["app_id"]
    assert profile["oauthclientsecret"] not in repr(state)
    policies = fresh.snapshot()["exchange"]["applicationAccessPolicies"]
    assert [p["AccessRight"] for p in policies] == ["RestrictAccess"]


def test_replication_delays_are_absorbed(emulator: EmulatorInfo, fresh: AdminClient, tmp_path: Path) -> None:
    fresh.faults(replication_delay=3)
    state: dict[str, dict[str, Any]] = {}
    with connected(emulator, tmp_path) as (desired, clients):
        Run(desired, clients, state).apply()
        fresh.clear_faults()
        assert actionable(Run(desired, clients, state).plan()) == []


def test_rotation_replaces_the_secret_in_the_profile_and_removes_the_old_one(
    emulator: EmulatorInfo, fresh: AdminClient, tmp_path: Path
) -> None:
    state: dict[str, dict[str, Any]] = {}
    with connected(emulator, tmp_path) as (desired, clients):
        Run(desired, clients, state).apply()
    first_secret = snapshot_profile(fresh)["oauthclientsecret"]
    first_key = state[f'server_profile.custom["{PROFILE}"]']["fingerprints"]["secret_key_id"]
    later = time.time() + 200 * 86400  # 200 days on: past rotate_days = 180
    with connected(emulator, tmp_path) as (desired, clients):
        run = Run(desired, clients, state, clock=lambda: later)
        (cred,) = [c for c in run.plan() if c.address == "app_registration.sss.credential"]
        assert "days old (rotate_days = 180)" in cred.reason
        run.apply()
        app = clients.graph.get("applications(uniqueName='sssctl-emulator-sss')")
    second_secret = snapshot_profile(fresh)["oauthclientsecret"]
    assert second_secret != first_secret
    assert [c["keyId"] for c in app["passwordCredentials"]] != [first_key]
    assert len(app["passwordCredentials"]) == 1
    assert second_secret not in repr(state) and first_secret not in repr(state)
