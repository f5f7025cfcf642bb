"""The example Rego policies, written for Terraform plans, on real sssctl JSON plans.

Each plan comes from `sssctl plan --json` against the emulator; the policies are
evaluated with regopy (OPA's Rego language from PyPI), and must fire on the plan that
breaks their rule and stay quiet on the others.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from regopy import Input, Interpreter

from sssctl.emulator import constants
from tests.e2e.conftest import DATAVERSE_CONFIG, Cli
from tests.e2e.test_control5_flow import control5_only

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

POLICIES = Path(__file__).parents[2] / "examples" / "policy"
SELF_APPROVAL = "org_setting.RequirePrivilegeToSelfApproveEmailAddress"


def denials(policy: str, plan: dict[str, Any]) -> list[str]:
    rego = Interpreter()
    rego.add_module(policy, (POLICIES / policy).read_text(encoding="utf-8"))
    rego.set_input(Input(plan))
    # regopy 1.5 does not escape quotes inside strings built by sprintf when it hands results
    # over (addresses such as server_profile.custom["X"] have them), so messages travel base64'd.
    output = rego.query("[base64.encode(msg) | some msg in data.main.deny]")
    assert output.ok(), str(output)
    encoded = json.loads(str(output))["expressions"][0]
    return sorted(base64.b64decode(text).decode() for text in encoded)


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
    deleted = sorted(rc["address"] for rc in plan["resource_changes"]
                     if rc["change"]["actions"] == ["delete"])
    assert deleted
    found = all_denials(plan)
    assert list(found) == ["deletions.rego"]
    named = [msg.split(": this plan deletes it", 1)[0].rsplit(" (", 1)[0] for msg in found["deletions.rego"]]
    assert named == deleted
    assert all("this plan deletes it" in msg for msg in found["deletions.rego"])
