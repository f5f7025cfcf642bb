"""The plan/apply/state loop through the real CLI, against the emulator over HTTPS."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from sssctl.emulator import constants
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo
from sssctl.state.backend import LocalBackend
from tests.e2e.conftest import Cli, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def organization(admin: AdminClient) -> dict[str, Any]:
    rows = admin.snapshot()["dataverse"]["tables"]["organization"]
    return dict(rows[0])


def test_apply_converges_and_second_apply_writes_nothing(cli: Cli, admin: AdminClient) -> None:
    first = cli.run("plan", "--detailed-exitcode")
    assert first.returncode == 2, first.stdout + first.stderr
    applied = cli.run("apply", "--auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Apply complete:" in applied.stdout and "0 refused" in applied.stdout
    admin.reset_counters()
    again = cli.run("apply", "--auto-approve")
    assert again.returncode == 0, again.stderr
    assert "No changes. The environment matches the configuration." in again.stdout
    assert admin.counters()["writes"] == 0
    assert cli.run("plan", "--detailed-exitcode").returncode == 0


def test_saved_plan_refuses_an_object_changed_after_plan(cli: Cli, admin: AdminClient,
                                                          tmp_path: Path) -> None:
    plan_file = tmp_path / "p.plan"
    assert cli.run("plan", "--out", str(plan_file)).returncode == 0
    someone_else_patches_the_organization(cli, {"requireapprovalforqueueemail": True})
    admin.reset_counters()
    result = cli.run("apply", str(plan_file))
    assert result.returncode == 1, result.stdout
    assert "approval: the object changed since the plan was made" in result.stderr
    assert admin.counters()["writes"] == 0        # the whole plan is refused before any write
    assert organization(admin)["requireapprovalforuseremail"] is False     # not overwritten
    snapshot = LocalBackend(cli.state_dir, "e2e").read()
    assert snapshot is None or "approval" not in snapshot.resources


def someone_else_patches_the_organization(cli: Cli, values: dict[str, Any]) -> None:
    """An edit made outside sssctl (another admin, the web UI), through the same Web API."""
    from sssctl.clients.session import open_clients
    from sssctl.config.loader import load

    with open_clients(load(cli.config, cli.env), environ=cli.env) as clients:
        clients.dataverse.update("organizations", constants.ORGANIZATION_ID, values)


def test_saved_plan_refused_when_state_moved(cli: Cli, tmp_path: Path) -> None:
    plan_file = tmp_path / "p.plan"
    assert cli.run("plan", "--out", str(plan_file)).returncode == 0
    assert cli.run("apply", "--auto-approve", "--target", "approval").returncode == 0
    result = cli.run("apply", str(plan_file))
    assert result.returncode == 1
    assert "the saved plan cannot be applied" in result.stderr
    assert "something was applied in between" in result.stderr


def test_two_concurrent_applies_the_second_exits_4(cli: Cli, admin: AdminClient) -> None:
    # Every Dataverse request costs a second of server time, so the first apply still
    # holds the lock while the second starts up (latency alone no longer keeps it busy).
    admin.faults(latency_ms=150, request_operation_ms=1000)
    first = cli.start("apply", "--auto-approve")
    try:
        wait_for((cli.state_dir / "e2e.lock").exists, what="the first run's lock")
        second = cli.run("apply", "--auto-approve")
        assert second.returncode == 4, second.stderr
        assert "sssctl state unlock" in second.stderr and "is locked by" in second.stderr
    finally:
        out, err = first.communicate(timeout=150)
        admin.faults(request_operation_ms=0)
    assert first.returncode == 0, out + err


@pytest.mark.slow
@pytest.mark.parametrize("kill_after_writes", [1, 3])
def test_killed_mid_apply_state_stays_valid_and_rerun_converges(cli: Cli, admin: AdminClient,
                                                                kill_after_writes: int) -> None:
    admin.faults(latency_ms=120)
    admin.reset_counters()
    run = cli.start("apply", "--auto-approve")
    try:
        wait_for(lambda: admin.counters()["writes"] >= kill_after_writes or run.poll() is not None,
                 what=f"{kill_after_writes} writes")
    finally:
        run.send_signal(signal.SIGKILL)
        run.communicate(timeout=30)
    assert run.returncode == -signal.SIGKILL, "the apply finished before it could be killed"
    admin.clear_faults()
    backend = LocalBackend(cli.state_dir, "e2e")
    snapshot = backend.read()                       # never half written: parses and checksums
    assert snapshot is None or snapshot.serial >= 0
    matches = cli.run("refresh", "--detailed-exitcode")   # what the state records is what is live
    assert matches.returncode == 0, matches.stdout + matches.stderr
    rerun = cli.run("apply", "--auto-approve")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    final = cli.run("plan", "--detailed-exitcode")
    assert final.returncode == 0, final.stdout
    assert backend.read() is not None


def test_destroy_restores_the_original_values(cli: Cli, admin: AdminClient) -> None:
    before = organization(admin)
    first_plan = json.loads(cli.run("plan", "--json").stdout)
    assert cli.run("apply", "--auto-approve").returncode == 0
    assert organization(admin)["requireapprovalforuseremail"] is True
    destroyed = cli.run("destroy", "--auto-approve")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    after = organization(admin)
    for column in ("requireapprovalforuseremail", "requireapprovalforqueueemail", "defaultemailsettings"):
        assert after[column] == before[column], column
    assert cli.run("state", "list").stdout == ""
    replanned = json.loads(cli.run("plan", "--json").stdout)
    old = {rc["address"]: rc["change"]["before"] for rc in first_plan["resource_changes"]}
    new = {rc["address"]: rc["change"]["before"] for rc in replanned["resource_changes"]}
    assert new["org_setting.SSSForceFilteringMethodForUserMailboxes"] == \
        old["org_setting.SSSForceFilteringMethodForUserMailboxes"]
    assert new["approval"] == old["approval"]


def test_unreadable_objects_make_plan_exit_3_and_apply_write_nothing(cli: Cli, admin: AdminClient) -> None:
    cli.config.write_text(cli.config.read_text() + """
[app_registrations.sss]
display_name = "Dataverse SSS (Contoso)"
permissions = ["exchange:full_access_as_app"]
""")
    cli.env["SSSCTL_CLIENT_ID"] = constants.LIMITED_APP_ID
    cli.env["SSSCTL_CLIENT_SECRET"] = constants.LIMITED_APP_SECRET
    plan = cli.run("plan", "--detailed-exitcode")
    assert plan.returncode == 3, plan.stdout + plan.stderr
    assert "  ? app_registration.sss" in plan.stdout
    admin.reset_counters()
    applied = cli.run("apply", "--auto-approve")
    assert applied.returncode == 3
    assert "app_registration.sss" in applied.stderr and "nothing was applied" in applied.stderr
    assert admin.counters()["writes"] == 0


def test_secrets_never_reach_state_plans_or_logs(cli: Cli, emulator: EmulatorInfo, tmp_path: Path) -> None:
    plan_file = tmp_path / "p.plan"
    outputs = [cli.run("-vv", "plan", "--out", str(plan_file)), cli.run("-vv", "apply", str(plan_file))]
    outputs.append(cli.run("-vv", "plan", "--json"))
    assert [o.returncode for o in outputs] == [0, 0, 0], outputs[1].stdout + outputs[1].stderr
    summary = json.loads(outputs[2].stdout)["sssctl"]["summary"]
    assert summary["add"] + summary["change"] + summary["destroy"] + summary["unknown"] == 0
    texts = [o.stdout + o.stderr for o in outputs]
    texts += [plan_file.read_text(), cli.state_file.read_text()]
    for text in texts:
        assert emulator.client_secret not in text
        assert "eyJ" not in text                      # no JWT (access token) anywhere


@pytest.mark.slow
def test_demo_converges_in_one_apply(cli: Cli) -> None:
    result = cli.run("demo", "-c", str(Path(__file__).parents[2] / "configs" / "hardened.toml"),
                     config=False, timeout=170)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "The second plan is empty" in result.stdout


def test_refresh_reports_drift_made_outside_sssctl(cli: Cli) -> None:
    assert cli.run("apply", "--auto-approve").returncode == 0
    clean = cli.run("refresh", "--detailed-exitcode")
    assert clean.returncode == 0 and "No drift" in clean.stdout
    someone_else_patches_the_organization(cli, {"requireapprovalforuseremail": False})
    serial = LocalBackend(cli.state_dir, "e2e").read().serial  # type: ignore[union-attr]
    drift = cli.run("refresh", "--detailed-exitcode")
    assert drift.returncode == 2, drift.stdout + drift.stderr
    assert "~ approval" in drift.stdout and "require_for_users: true -> false" in drift.stdout
    assert "org_setting" not in drift.stdout
    assert LocalBackend(cli.state_dir, "e2e").read().serial == serial  # type: ignore[union-attr]


def test_audit_ranks_the_seeded_weaknesses_and_fails_on_high(cli: Cli, admin: AdminClient) -> None:
    admin.reset_counters()
    report = cli.run("audit")
    assert report.returncode == 0, report.stdout + report.stderr
    assert "server_profile.default" in report.stdout
    assert "privilege.prvApproveRejectEmailAddress" in report.stdout
    assert report.stdout.splitlines()[1].startswith("high")
    assert admin.counters()["writes"] == 0
    assert cli.run("audit", "--fail-on", "high").returncode == 5  # findings, not an error (1)
    rows = json.loads(cli.run("audit", "--json").stdout)["findings"]
    assert {r["check"] for r in rows} >= {"approval", "server_profile.default", "mailboxes"}


def test_export_prints_a_config_that_validates(cli: Cli, tmp_path: Path) -> None:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    exported = cli.run("export")
    assert exported.returncode == 0, exported.stderr
    document = tomllib.loads(exported.stdout)
    assert document["approval"] == {"require_for_users": False, "require_for_queues": False}
    assert document["server_profiles"]["default"] == {"active": True}
    assert "System Administrator" in document["privileges"]["prvApproveRejectEmailAddress"]["allowed_roles"]
    path = tmp_path / "exported.toml"
    path.write_text(exported.stdout)
    cli.env = {k: v for k, v in cli.env.items() if not k.startswith("SSSCTL_")}   # the file stands alone
    validated = cli.run("validate", str(path), config=False)
    assert validated.returncode == 0, validated.stdout + validated.stderr


@pytest.mark.slow
def test_ctrl_c_mid_apply_stops_cleanly_and_rerun_converges(cli: Cli, admin: AdminClient) -> None:
    admin.faults(latency_ms=120)
    admin.reset_counters()
    run = cli.start("apply", "--auto-approve")
    wait_for(lambda: admin.counters()["writes"] >= 1 or run.poll() is not None, what="the first write")
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 130, out + err
    assert "Stopping:" in err and "Apply interrupted" in out
    assert not (cli.state_dir / "e2e.lock").exists()
    assert LocalBackend(cli.state_dir, "e2e").read() is not None
    admin.clear_faults()
    assert cli.run("apply", "--auto-approve").returncode == 0
    assert cli.run("plan", "--detailed-exitcode").returncode == 0
