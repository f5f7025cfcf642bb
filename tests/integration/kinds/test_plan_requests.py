"""One plan reads each thing once, and the apply asks for nothing it already knows: the
request counts of a full plan and of the safe sequence cannot creep back up."""

from __future__ import annotations

from pathlib import Path

import pytest

from sssctl.app.runner import RunOptions, apply_interactive, default_services, plan, session
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo
from sssctl.engine.plan import Action

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

HARDENED = Path(__file__).resolve().parents[3] / "configs" / "hardened.toml"


def test_hardened_plan_reads_every_shared_table_once(
    emulator: EmulatorInfo, emulator_admin: AdminClient, tmp_path: Path
) -> None:
    emulator_admin.reset()
    emulator_admin.clear_faults()
    environ = {**emulator.environ(), "SSSCTL_STATE_DIR": str(tmp_path)}
    emulator_admin.reset_counters()
    with session(RunOptions(config_path=HARDENED, environ=environ, command="plan"), default_services()) as s:
        changes = plan(s).changes
    routes = emulator_admin.counters()["by_route"]
    assert not [c.address for c in changes if c.action is Action.UNKNOWN]
    once = ("WhoAmI", "emailserverprofiles", "organizations", "queues", "mailboxes", "businessunits")
    assert {name: routes.get(f"GET dataverse:{name}") for name in once} == dict.fromkeys(once, 1)
    # Root roles only: the business-unit copies of a role losing it are counted from the
    # business units (every unit holds a copy of every role), not read.
    assert routes.get("GET dataverse:roles") == 1
    # One query of the role-privilege intersect table names the holders and their depths;
    # no role is asked for its privileges one by one (that was one request per holder).
    assert routes.get("GET dataverse:roleprivilegescollection") == 1
    assert "GET dataverse:RetrieveRolePrivilegesRole" not in routes
    assert "GET dataverse:privileges" in routes and routes["GET dataverse:privileges"] == 1
    assert routes.get("GET graph:applications") == 1
    assert emulator_admin.counters()["writes"] == 0


def test_the_safe_sequence_reuses_what_its_own_writes_answered(
    emulator: EmulatorInfo, emulator_admin: AdminClient, tmp_path: Path
) -> None:
    """Every mailbox move waits on these steps, and under throttling each request in them
    can cost a Retry-After: the new profile's id is the one its create answered (no lookup
    by name in the canary, the mailbox defaults or the mailbox policy), and the canary is
    tested under the row its search read (no second read of it); a new app is what its
    upsert answered."""
    emulator_admin.reset()
    emulator_admin.clear_faults()
    environ = {**emulator.environ(), "SSSCTL_STATE_DIR": str(tmp_path)}
    with session(RunOptions(config_path=HARDENED, environ=environ, command="apply"), default_services()) as s:
        planned = plan(s)
        emulator_admin.reset_counters()
        report = apply_interactive(s, planned, confirm=lambda _: True)
    assert report.ok
    routes = emulator_admin.counters()["by_route"]
    assert routes.get("POST dataverse:emailserverprofiles") == 1
    # The one read left checks the secret Dataverse says it holds, by the created id.
    assert routes.get("GET dataverse:emailserverprofiles") == 1
    # The canary: its search for an approved mailbox, then its state after Test & Enable.
    assert routes.get("GET dataverse:mailboxes") == 2
    # The app's upsert answered the new app (201): not read again, and a service principal
    # is not looked for before it is created. The reads left: the credential's, the check
    # that the new secret shows on the app before the profile gets it, and the search for
    # older secrets to retire once it has.
    assert routes.get("PATCH graph:applications") == 1
    assert routes.get("GET graph:applications") == 3
    assert routes.get("GET graph:servicePrincipals") == 1  # the mailbox scope's consent
