"""The computed needs are enough: plan and apply run as identities holding exactly them.

An identity is given a custom role with exactly the privileges ``auth needs`` computes
(no System Administrator), and the emulator enforces Dataverse's privilege checks on
every read and write, so a missing declaration shows up here as a 403.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sssctl.app import dataverse_identity
from sssctl.app.needs import compute
from sssctl.app.runner import RunOptions, apply_interactive, default_services, plan, session
from sssctl.clients.session import open_clients
from sssctl.config.loader import load
from sssctl.emulator import constants
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo
from sssctl.engine.plan import Action

DATAVERSE_ONLY = """
version = 1

[environment]
name = "least"
url = "https://contoso.crm.dynamics.com"
tenant_id = "00000000-0000-0000-0000-000000000000"

[auth]
method = "client_secret"
client_id = "11111111-1111-1111-1111-111111111111"
client_secret = { env = "SSSCTL_CLIENT_SECRET" }

[approval]
require_for_users = true
require_for_queues = true

[org_settings]
RequirePrivilegeToSelfApproveEmailAddress = true
SSSForceFilteringMethodForUserMailboxes = 3

[privileges.prvApproveRejectEmailAddress]
allowed_roles = ["System Administrator"]

[mailbox_defaults]
incoming_email = "server_side_sync"
outgoing_email = "server_side_sync"
appointments_contacts_tasks = "server_side_sync"

[mailboxes]
enforce = "defaults"
scope = "all"

[user_settings]
incoming_email_filtering = "email_enabled_records"
"""


def _limited(info: EmulatorInfo, tmp_path: Path) -> dict[str, str]:
    return {**info.environ(), "SSSCTL_CLIENT_ID": constants.LIMITED_APP_ID,
            "SSSCTL_CLIENT_SECRET": constants.LIMITED_APP_SECRET, "SSSCTL_STATE_DIR": str(tmp_path / "state")}


def _give(info: EmulatorInfo, config: Path, privileges: dict[str, str]) -> Any:
    desired = load(config, info.environ())
    with open_clients(desired, environ=info.environ()) as clients:
        return dataverse_identity.provision(
            clients.dataverse, app_id=constants.LIMITED_APP_ID, user_name="sssctl plan",
            role_name="sssctl test role", privileges=privileges)


def test_plan_and_apply_run_with_exactly_the_computed_dataverse_privileges(
    emulator: EmulatorInfo, emulator_admin: AdminClient, tmp_path: Path
) -> None:
    emulator_admin.reset()
    config = tmp_path / "least.toml"
    config.write_text(DATAVERSE_ONLY, encoding="utf-8")
    services = default_services()
    needs = compute(services.load_kinds(), services.load_config(config, emulator.environ()))
    environ = _limited(emulator, tmp_path)

    _give(emulator, config, needs.privileges("plan"))
    with session(RunOptions(config_path=config, environ=environ, command="plan"), services) as s:
        planned = plan(s)
    unknown = [(c.address, c.reason) for c in planned.changes if c.action is Action.UNKNOWN]
    assert unknown == []
    assert any(c.action is not Action.NOOP for c in planned.changes)

    _give(emulator, config, needs.privileges("apply"))
    with session(RunOptions(config_path=config, environ=environ, command="apply"), services) as s:
        report = apply_interactive(s, plan(s), confirm=lambda _: True)
    assert report.ok, [(o.change.address, o.status, o.message) for o in report.outcomes
                       if o.status != "applied"]
    with session(RunOptions(config_path=config, environ=environ, command="plan"), services) as s:
        assert [c.address for c in plan(s).changes if c.action is not Action.NOOP] == []


def test_a_second_provisioning_writes_nothing(
    emulator: EmulatorInfo, emulator_admin: AdminClient, tmp_path: Path
) -> None:
    emulator_admin.reset()
    config = tmp_path / "least.toml"
    config.write_text(DATAVERSE_ONLY, encoding="utf-8")
    first = _give(emulator, config, {"prvReadOrganization": "Global", "prvReadUser": "Basic"})
    assert first.writes > 0 and first.steps
    emulator_admin.reset_counters()
    again = _give(emulator, config, {"prvReadOrganization": "Global", "prvReadUser": "Basic"})
    assert (again.writes, again.steps) == (0, [])
    assert emulator_admin.counters()["writes"] == 0


def test_bootstrap_with_a_certificate_signs_the_plan_identity_in_with_it(
    emulator: EmulatorInfo, emulator_admin: AdminClient, tmp_path: Path
) -> None:
    import stat

    from sssctl.app.auth_check import check
    from sssctl.app.bootstrap import Request, bootstrap

    emulator_admin.reset()
    config = tmp_path / "least.toml"
    config.write_text(DATAVERSE_ONLY, encoding="utf-8")
    request = Request(config, emulator.environ(), (), "certificate", tmp_path / "keys")
    result, applied = bootstrap(request, confirm=lambda _: True)
    assert applied and set(result.to_json()["identities"]["plan"]) == {"client_id", "certificate_file"}
    pem = result.identities["plan"].secret_file
    assert pem is not None and stat.S_IMODE(pem.stat().st_mode) == 0o600
    again, _ = bootstrap(request, confirm=lambda _: True)
    assert again.steps == []
    environ = {**emulator.environ(), "SSSCTL_AUTH_METHOD": "certificate",
               "SSSCTL_CLIENT_ID": str(result.identities["plan"].client_id),
               "SSSCTL_CLIENT_CERTIFICATE": str(pem)}
    environ.pop("SSSCTL_CLIENT_SECRET", None)
    report = check(config, environ, "plan")
    assert report.ok(strict=True), report.render(strict=True)
