"""The example Rego policies, written for Terraform plans, on real sssctl JSON plans.

Each plan comes from `sssctl plan --json` against the emulator; the policies are
evaluated with regopy (OPA's Rego language from PyPI), and must fire on the plan that
breaks their rule and stay quiet on the others. Besides the shipped examples, two rules
written as Terraform users write them (`terraform_policies/`: deny every delete; no new
app registration) must answer right on a secret rotation, a profile deletion and a plan
that changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from regopy import Input, Interpreter

from sssctl.emulator import constants
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo
from tests.e2e.conftest import DATAVERSE_CONFIG, Cli
from tests.e2e.test_control5_flow import PROFILE, add_expiring_secret, control5_only

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

POLICIES = Path(__file__).parents[2] / "examples" / "policy"
TERRAFORM_STYLE = Path(__file__).parent / "terraform_policies"
SELF_APPROVAL = "org_setting.RequirePrivilegeToSelfApproveEmailAddress"


def denials(policy: str, plan: dict[str, Any], folder: Path = POLICIES) -> list[str]:
    """The policy's ``deny`` messages, read as OPA hands them over (no re-encoding)."""
    rego = Interpreter()
    rego.add_module(policy, (folder / policy).read_text(encoding="utf-8"))
    rego.set_input(Input(plan))
    output = rego.query("data.main.deny")
    assert output.ok(), str(output)
    found = json.loads(str(output))["expressions"][0]
    return sorted(found)  # a set of strings; regopy spells it as a list or an object


def terraform_style(plan: dict[str, Any]) -> dict[str, list[str]]:
    return {p.name: found for p in sorted(TERRAFORM_STYLE.glob("*.rego"))
            if (found := denials(p.name, plan, TERRAFORM_STYLE))}


def all_denials(plan: dict[str, Any]) -> dict[str, list[str]]:
    return {p.name: found for p in sorted(POLICIES.glob("*.rego")) if (found := denials(p.name, plan))}


def json_plan(cli: Cli) -> dict[str, Any]:
    result = cli.run("plan", "--json")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return dict(json.loads(result.stdout))


def test_the_hardening_plan_passes_every_policy(cli: Cli) -> None:
    plan = json_plan(cli)
    assert {rc["type"] for rc in plan["resource_changes"]} >= {"org_setting", "approval"}
    assert all_denials(plan) == {}


def test_dropping_the_self_approval_setting_is_denied(cli: Cli) -> None:
    assert cli.run("apply", "--auto-approve").returncode == 0
    cli.config.write_text(DATAVERSE_CONFIG.replace("RequirePrivilegeToSelfApproveEmailAddress = true\n", ""))
    found = all_denials(json_plan(cli))
    assert list(found) == ["self_approval.rego"]
    assert found["self_approval.rego"] == [
        f"{SELF_APPROVAL}: this plan lets users approve their own mailbox "
        "(value after apply: (default: false))"
    ]


def test_activating_the_first_party_profile_is_denied(cli: Cli) -> None:
    from sssctl.clients.session import open_clients
    from sssctl.config.loader import load

    # another admin switched the default profile off through the Web API
    with open_clients(load(cli.config, cli.env), environ=cli.env) as clients:
        clients.dataverse.update("emailserverprofiles", constants.DEFAULT_PROFILE_ID,
                                 {"statecode": 1, "statuscode": 2})
    cli.config.write_text(DATAVERSE_CONFIG + "\n[server_profiles.default]\nactive = true\n")
    found = all_denials(json_plan(cli))
    assert list(found) == ["default_profile.rego"]
    assert found["default_profile.rego"] == [
        "server_profile.default: this plan activates the first-party Exchange Online profile"
    ]


def test_removing_control5_from_the_config_is_denied_as_deletions(cli: Cli) -> None:
    text = control5_only()
    cli.config.write_text(text, encoding="utf-8")
    assert cli.run("apply", "--auto-approve", timeout=240).returncode == 0
    cli.config.write_text(text[: text.index("# --- Control 5")], encoding="utf-8")
    plan = json_plan(cli)
    deleted = sorted(f"{rc['type']} {rc.get('index', rc['name'])}" for rc in plan["resource_changes"]
                     if rc["change"]["actions"] == ["delete"])
    assert f"server_profile_custom {PROFILE}" in deleted and "app_registration sss" in deleted
    found = all_denials(plan)
    assert list(found) == ["deletions.rego"]
    named = [msg.split(": this plan deletes it", 1)[0] for msg in found["deletions.rego"]]
    assert named == deleted
    assert all("this plan deletes it" in msg for msg in found["deletions.rego"])


def test_terraform_style_policies_on_rotation_deletion_and_no_change(
    cli: Cli, admin: AdminClient, emulator: EmulatorInfo
) -> None:
    text = control5_only()
    cli.config.write_text(text, encoding="utf-8")
    first = json_plan(cli)
    assert terraform_style(first) == {
        "no_new_app_registrations.rego": ["sss: new app registrations need a separate review"]}
    assert cli.run("apply", "--auto-approve", timeout=240).returncode == 0

    unchanged = json_plan(cli)
    assert not [rc for rc in unchanged["resource_changes"] if rc["change"]["actions"] != ["no-op"]]
    assert terraform_style(unchanged) == {}

    add_expiring_secret(admin, emulator, cli, days=10)
    rotation = json_plan(cli)
    rotated = {rc["type"] for rc in rotation["resource_changes"] if rc["change"]["actions"] != ["no-op"]}
    assert "app_registration_credential" in rotated and "app_registration" not in rotated
    assert terraform_style(rotation) == {}
    assert all(denials(p.name, rotation) == [] for p in POLICIES.glob("*.rego"))

    # Without the profile the app's EWS admission serves nothing, and a config that keeps it
    # is refused: the app goes off EWSAllowedAppIDs with its profile.
    without_profile = text[: text.index(f'[server_profiles.custom."{PROFILE}"]')]
    cli.config.write_text(without_profile.replace('\news = "allow"', "\n"), encoding="utf-8")
    deletion = json_plan(cli)
    deleted = [rc for rc in deletion["resource_changes"] if rc["change"]["actions"] == ["delete"]]
    # The profile goes with its canary (the mailbox proving it) and its app's EWS admission.
    assert sorted((rc["type"], rc["name"], rc.get("index")) for rc in deleted) == [
        ("canary", "canary", PROFILE), ("ews_admission", "sss", None),
        ("server_profile_custom", "custom", PROFILE)]
    assert terraform_style(deletion) == {"deny_delete.rego": [
        "canary: deleting canary is not allowed",
        "custom: deleting server_profile_custom is not allowed",
        "sss: deleting ews_admission is not allowed"]}
    assert denials("deletions.rego", deletion)  # the shipped rule, its message readable by OPA


def test_drift_a_plan_sees_is_in_resource_drift(cli: Cli) -> None:
    """A value changed outside sssctl since it applied is drift, in a plan as in a refresh."""
    from sssctl.clients.session import open_clients
    from sssctl.config.loader import load

    assert cli.run("apply", "--auto-approve").returncode == 0
    assert json_plan(cli)["resource_drift"] == []
    with open_clients(load(cli.config, cli.env), environ=cli.env) as clients:
        org = clients.dataverse.whoami().organization_id
        clients.dataverse.update("organizations", org, {"requireapprovalforuseremail": False})
    plan = json_plan(cli)
    assert [(rc["address"], rc["type"]) for rc in plan["resource_drift"]] == [("approval", "approval")]
    assert [rc["address"] for rc in plan["resource_changes"] if rc["change"]["actions"] == ["update"]] == [
        "approval"]
