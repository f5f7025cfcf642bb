"""bootstrap --fleet: one pair of identities for the tenant, an application user in every member."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sssctl.app.bootstrap import Request, bootstrap
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo
from tests.e2e.test_fleet_flow import write_fleet


@pytest.fixture(scope="module")
def two_orgs() -> Iterator[EmulatorInfo]:
    from sssctl.emulator import running_emulator

    with running_emulator(dataset="small", organizations=2) as info:
        yield info


def test_fleet_members_each_get_application_users_with_their_own_needs(
    two_orgs: EmulatorInfo, tmp_path: Path
) -> None:
    fleet = write_fleet(tmp_path, two_orgs)
    environ = {k: v for k, v in two_orgs.environ().items() if k != "SSSCTL_URL"}
    request = Request(tmp_path / "unused.toml", environ, (), "secret", tmp_path / "keys", fleet=fleet)
    result, applied = bootstrap(request, confirm=lambda _: True)
    assert applied
    client_ids = {i.client_id for i in result.identities.values()}
    with AdminClient(two_orgs) as admin:
        admin.reset_counters()
        again, _ = bootstrap(request, confirm=lambda _: True)
        assert again.steps == [] and admin.counters()["writes"] == 0
    # Every member got its own application users and roles (steps are named by member).
    members = {step.split(":")[0] for step in result.steps if step.startswith("fleet-")}
    assert members == {f"fleet-{o['name']}" for o in two_orgs.organizations}
    assert len(client_ids) == 2
