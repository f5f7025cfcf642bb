"""The Dataverse-side kinds against the real emulator over HTTPS with real MSAL sign-in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sssctl.clients.errors import PreconditionFailed
from sssctl.config.loader import load
from sssctl.config.model import Desired
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo
from sssctl.engine.kind import Context, Kind, Observed
from sssctl.engine.plan import Action, Change
from sssctl.kinds import load_kinds
from sssctl.kinds._rows import batch_size
from tests.support import planning
from tests.support.applying import apply_changes

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

NAMES = (
    "mailbox_defaults",
    "mailboxes",
    "approval",
    "org_setting",
    "privilege",
    "user_settings",
    "server_profile_default",
)
HEADER = """version = 1
[environment]
name = "emulator"
cloud = "custom"
[auth]
method = "client_secret"
"""
CONVERGE = """
[approval]
require_for_users = true
require_for_queues = true

[org_settings]
RequirePrivilegeToSelfApproveEmailAddress = true
SSSForceFilteringMethodForUserMailboxes = 3

[privileges.prvApproveRejectEmailAddress]
allowed_roles = ["System Administrator"]

[mailbox_defaults]
server_profile = "default"
incoming_email = "server_side_sync"
outgoing_email = "server_side_sync"
appointments_contacts_tasks = "server_side_sync"

[mailboxes]
enforce = "defaults"
scope = "all"

[user_settings]
incoming_email_filtering = "email_enabled_records"
"""


class Run:
    """The engine's part, kept minimal: read every kind, diff, guard, apply, keep state."""

    def __init__(self, desired: Desired, dataverse: Any, state: dict[str, dict[str, Any]]) -> None:
        self.desired = desired
        self.dataverse = dataverse
        self.state = state
        self.kinds: list[Kind] = list(load_kinds(NAMES))
        self.ctx = Context(desired=desired, dataverse=dataverse, state=dict(state))
        self.observed: dict[str, Observed] = {k.name: k.read(self.ctx) for k in self.kinds}

    def plan(self) -> list[Change]:
        return [c for k in self.kinds for c in k.diff(self.desired, self.observed[k.name])]

    def refusals(self) -> list[str]:
        changes = self.plan()
        return planning.refusals(self.kinds, self.ctx, changes, self.observed)

    def apply(self) -> int:
        """Apply the plan through the real applier; the number of writes it made."""
        outcomes = apply_changes(list(self.kinds), self.ctx, self.plan(), self.state)
        return sum(o.writes for o in outcomes)


@pytest.fixture
def fresh(emulator_admin: AdminClient) -> AdminClient:
    emulator_admin.reset()
    emulator_admin.clear_faults()
    return emulator_admin


@contextmanager
def connected(info: EmulatorInfo, tmp_path: Path, body: str) -> Iterator[tuple[Desired, Any]]:
    from sssctl.clients.session import open_clients

    config = tmp_path / "sssctl.toml"
    config.write_text(HEADER + body, encoding="utf-8")
    desired = load(config, info.environ())
    with open_clients(desired, environ=info.environ()) as clients:
        yield desired, clients.dataverse


def organization_xml(admin: AdminClient) -> str:
    """The stored orgdborgsettings string, read behind the API (the emulator's snapshot)."""
    (row,) = admin.snapshot()["dataverse"]["tables"]["organization"]
    return str(row["orgdborgsettings"])


def test_drifted_seed_converges_and_second_apply_writes_nothing(
    emulator: EmulatorInfo, fresh: AdminClient, tmp_path: Path
) -> None:
    state: dict[str, dict[str, Any]] = {}
    with connected(emulator, tmp_path, CONVERGE) as (desired, dataverse):
        first = Run(desired, dataverse, state)
        assert first.refusals() == []
        assert any(c.action is Action.UPDATE for c in first.plan())
        assert first.apply() > 0
        second = Run(desired, dataverse, state)
        left = [(c.address, c.before, c.after) for c in second.plan() if c.action is not Action.NOOP]
        assert left == []
        fresh.reset_counters()
        assert Run(desired, dataverse, state).apply() == 0
        assert fresh.counters()["writes"] == 0
    assert "rows" not in str(state)


def test_unmanaged_org_settings_stay_byte_identical(
    emulator: EmulatorInfo, fresh: AdminClient, tmp_path: Path
) -> None:
    before = organization_xml(fresh)
    body = "[org_settings]\nAutoTrackSentFolderItems = true\n"
    with connected(emulator, tmp_path, body) as (desired, dataverse):
        Run(desired, dataverse, {}).apply()
    after = organization_xml(fresh)
    assert after == before[: -len("</OrgSettings>")] + (
        "<AutoTrackSentFolderItems>true</AutoTrackSentFolderItems></OrgSettings>"
    )


def test_organization_changed_after_plan_is_refused(
    emulator: EmulatorInfo, fresh: AdminClient, tmp_path: Path
) -> None:
    body = "[approval]\nrequire_for_users = true\n"
    with connected(emulator, tmp_path, body) as (desired, dataverse):
        run = Run(desired, dataverse, {})
        (change,) = [c for c in run.plan() if c.action is Action.UPDATE]
        org_id = change.detail["organization_id"]
        dataverse.update("organizations", org_id, {"requireapprovalforqueueemail": True})
        with pytest.raises(PreconditionFailed):
            load_kinds(("approval",)).kinds[0].apply(run.ctx, change)


def test_privilege_removed_on_root_copy_is_gone_from_business_unit_copies(
    emulator: EmulatorInfo, fresh: AdminClient, tmp_path: Path
) -> None:
    body = '[privileges.prvApproveRejectEmailAddress]\nallowed_roles = ["System Administrator"]\n'
    with connected(emulator, tmp_path, body) as (desired, dataverse):
        run = Run(desired, dataverse, {})
        (change,) = run.plan()
        assert change.action is Action.UPDATE and change.detail["business_unit_copies"] > 0
        run.apply()
        privilege_id = change.detail["privilege_id"].lower()
        counted = 0
        for role in change.detail["remove"]:
            copies = list(dataverse.query(
                "roles", select=["roleid"], filter=f"_parentrootroleid_value eq {role['role_id']}"
            ))
            assert role["copies"] == len(copies) - 1  # every copy but the root one, as the plan said
            counted += role["copies"]
            for copy in copies:
                held = dataverse.function("RetrieveRolePrivilegesRole", {"RoleId": copy["roleid"]})
                assert privilege_id not in {str(p["PrivilegeId"]).lower() for p in held["RolePrivileges"]}
        assert counted == change.detail["business_unit_copies"]
        assert [c.action for c in Run(desired, dataverse, {}).plan()] == [Action.NOOP]


def test_taking_the_approve_privilege_from_system_administrator_is_refused_at_plan(
    emulator: EmulatorInfo, fresh: AdminClient, tmp_path: Path
) -> None:
    # The service refuses every edit of System Administrator (400 0x80040227), so the
    # plan is refused up front, --allow-lockout or not, and nothing is written.
    body = '[privileges.prvApproveRejectEmailAddress]\nallowed_roles = ["Basic User"]\n'
    with connected(emulator, tmp_path, body) as (desired, dataverse):
        run = Run(desired, dataverse, {})
        assert run.observed["privilege"].extra["caller_roles"] == ["System Administrator"]
        run.ctx.allow_lockout = True
        fresh.reset_counters()
        (refusal,) = run.refusals()
    assert "cannot be taken from System Administrator" in refusal
    assert 'Add "System Administrator" to allowed_roles' in refusal
    assert fresh.counters()["writes"] == 0


def test_plan_removing_every_role_of_the_signed_in_identity_is_refused_unless_allowed(
    emulator: EmulatorInfo, fresh: AdminClient, tmp_path: Path
) -> None:
    from sssctl.app.runner import RunOptions, default_services, plan, session
    from sssctl.emulator import constants
    from sssctl.engine.errors import PlanRefused

    give_limited_app_the_mailbox_admin_role(emulator, tmp_path)
    config = tmp_path / "limited.toml"
    config.write_text(
        HEADER + '[privileges.prvApproveRejectEmailAddress]\n'
        'allowed_roles = ["System Administrator", "Sales Manager"]\n',
        encoding="utf-8",
    )
    environ = {
        **emulator.environ(),
        "SSSCTL_CLIENT_ID": constants.LIMITED_APP_ID,
        "SSSCTL_CLIENT_SECRET": constants.LIMITED_APP_SECRET,
        "SSSCTL_STATE_DIR": str(tmp_path / "state"),
    }
    refused = RunOptions(config_path=config, environ=environ, command="plan")
    with session(refused, default_services()) as s, pytest.raises(PlanRefused) as caught:
        plan(s)
    (refusal,) = caught.value.refusals
    assert "only through Contoso Mailbox Admin" in refusal and "--allow-lockout" in refusal
    allowed = RunOptions(config_path=config, environ=environ, command="plan", allow_lockout=True)
    with session(allowed, default_services()) as s:
        (change,) = plan(s).changes
    assert change.action is Action.UPDATE
    assert "Contoso Mailbox Admin" in {r["name"] for r in change.detail["remove"]}


def give_limited_app_the_mailbox_admin_role(info: EmulatorInfo, tmp_path: Path) -> None:
    """The weak application also gets a role holding the approve privilege (its only one)."""
    from sssctl.emulator import constants

    with connected(info, tmp_path, "") as (_, dataverse):
        (root,) = dataverse.query("businessunits", select=["businessunitid"],
                                  filter="_parentbusinessunitid_value eq null")
        (role,) = dataverse.query(
            "roles", select=["roleid"],
            filter=f"name eq 'Contoso Mailbox Admin' and _businessunitid_value eq {root['businessunitid']}",
        )
        dataverse._send(
            "POST", f"systemusers({constants.LIMITED_APP_USER_ID})/systemuserroles_association/$ref",
            body={"@odata.id": f"{dataverse.api_url}roles({role['roleid']})"},
        )


def test_default_profile_deactivation_is_refused_while_mailboxes_use_it(
    emulator: EmulatorInfo, fresh: AdminClient, tmp_path: Path
) -> None:
    body = "[server_profiles.default]\nactive = false\n"
    with connected(emulator, tmp_path, body) as (desired, dataverse):
        refusals = Run(desired, dataverse, {}).refusals()
    assert any("organization's default profile" in r for r in refusals)
    assert any("mailboxes still synchronize through" in r for r in refusals)


LOCKDOWN = """
[server_profiles.default]
active = false

[mailbox_defaults]
incoming_email = "none"
outgoing_email = "none"
appointments_contacts_tasks = "none"

[mailboxes]
enforce = "defaults"
scope = "all"
"""


def test_lockdown_switches_everything_off_then_deactivates_the_default_profile(
    emulator: EmulatorInfo, fresh: AdminClient, tmp_path: Path
) -> None:
    state: dict[str, dict[str, Any]] = {}
    with connected(emulator, tmp_path, LOCKDOWN) as (desired, dataverse):
        run = Run(desired, dataverse, state)
        assert run.refusals() == []
        run.apply()
        profile = state["server_profile.default"]["managed"]
        assert profile["active"] is False
        row = dataverse.get("emailserverprofiles", profile["id"], select=["statecode"])
        assert row["statecode"] == 1
        assert [c for c in Run(desired, dataverse, state).plan() if c.action is not Action.NOOP] == []


def test_a_mailbox_changed_after_plan_is_named_and_left_alone(
    emulator: EmulatorInfo, fresh: AdminClient, tmp_path: Path
) -> None:
    body = '[mailboxes]\nenforce = "defaults"\nscope = "all"\n'
    with connected(emulator, tmp_path, body) as (desired, dataverse):
        run = Run(desired, dataverse, {})
        (change,) = run.plan()
        assert change.action is Action.UPDATE
        mailbox_id, _, _, address, _ = next(iter(change.detail["rows"]))
        dataverse.update("mailboxes", mailbox_id, {"processanddeleteemails": True})
        with pytest.raises(PreconditionFailed, match=address):
            load_kinds(("mailboxes",)).kinds[0].apply(run.ctx, change)
        (left,) = Run(desired, dataverse, {}).plan()
        assert left.before is not None and left.before["drifted"] == 1
        assert left.before["sample"] == [address]


def test_destroy_restores_what_was_found(emulator: EmulatorInfo, fresh: AdminClient, tmp_path: Path) -> None:
    state: dict[str, dict[str, Any]] = {}
    body = CONVERGE.replace('[mailboxes]\nenforce = "defaults"', '[mailboxes]\nenforce = "report"')
    with connected(emulator, tmp_path, body) as (desired, dataverse):
        before = Run(desired, dataverse, state)
        found = {c.address: c.before for c in before.plan()}
        before.apply()
        empty = Desired(
            version=1,
            source=desired.source,
            digest="empty",
            environment=desired.environment,
            auth=desired.auth,
        )
        Run(empty, dataverse, state).apply()
        assert state == {}
        again = {c.address: c.before for c in Run(desired, dataverse, {}).plan()}
    for address in (
        "approval",
        "privilege.prvApproveRejectEmailAddress",
        "mailbox_defaults",
        "org_setting.SSSForceFilteringMethodForUserMailboxes",
    ):
        assert again[address] == found[address], address


@pytest.mark.slow
def test_thousands_of_mailboxes_are_paged_and_reverted_in_batches(
    emulator: EmulatorInfo, fresh: AdminClient, tmp_path: Path
) -> None:
    fresh.reset(dataset="large", mailboxes=6000, business_units=5, roles=20)
    try:
        body = '[mailboxes]\nenforce = "defaults"\nscope = "all"\n'
        with connected(emulator, tmp_path, body) as (desired, dataverse):
            run = Run(desired, dataverse, {})
            (change,) = run.plan()
            drifted = change.before["drifted"] if change.before else 0
            assert drifted > 1000 and len(change.before["sample"]) <= 10
            fresh.reset_counters()
            run.apply()
            counters = fresh.counters()
            size = batch_size(drifted, run.ctx.parallelism)
            assert counters["by_route"].get("POST dataverse:$batch", 0) == -(-drifted // size)
            assert counters["writes"] == drifted
            assert Run(desired, dataverse, {}).plan()[0].action is Action.NOOP
    finally:
        fresh.reset()


def test_queue_scope_reverts_only_queue_mailboxes(
    emulator: EmulatorInfo, fresh: AdminClient, tmp_path: Path
) -> None:
    body = '[mailboxes]\nenforce = "defaults"\nscope = "queues"\n'
    with connected(emulator, tmp_path, body) as (desired, dataverse):
        run = Run(desired, dataverse, {})
        (change,) = run.plan()
        assert change.action is Action.UPDATE
        assert {row[2] for row in change.detail["rows"]} == {"queue"}
        run.apply()
        assert Run(desired, dataverse, {}).plan()[0].action is Action.NOOP
        users = '[mailboxes]\nenforce = "report"\nscope = "users"\n'
        (tmp_path / "users").mkdir()
    with connected(emulator, tmp_path / "users", users) as (desired, dataverse):
        (report,) = Run(desired, dataverse, {}).plan()
        assert report.report_only and (report.before or {}).get("drifted", 0) > 0
