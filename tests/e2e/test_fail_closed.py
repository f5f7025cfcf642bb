"""Fail closed through the CLI: a failed prerequisite stops what depends on it, and an
object edited between ``plan --out`` and ``apply PLAN`` is refused with nothing written.

Writes are counted by the emulator itself, so "nothing was written" is what the server saw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sssctl.emulator.admin_client import AdminClient, trusting_client
from sssctl.emulator.info import EmulatorInfo
from tests.e2e.conftest import Cli
from tests.e2e.test_engine_flow import someone_else_patches_the_organization

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

HARDENED = Path(__file__).parents[2] / "configs" / "hardened.toml"
PROFILE = "Contoso EXO (own app)"
UNIQUE_NAME = "sssctl-contoso-prod-sss"


@pytest.fixture
def hardened(cli: Cli) -> Cli:
    cli.config.write_text(HARDENED.read_text(encoding="utf-8"), encoding="utf-8")
    return cli


def ran(result: Any, code: int = 0) -> Any:
    assert result.returncode == code, result.stdout[-4000:] + result.stderr[-4000:]
    return result


def tables(admin: AdminClient) -> dict[str, list[dict[str, Any]]]:
    return dict(admin.snapshot("dataverse")["dataverse"]["tables"])


def mailboxes_on_custom_profile(admin: AdminClient) -> int:
    snapshot = tables(admin)
    custom = [p["emailserverprofileid"] for p in snapshot["emailserverprofile"] if p["name"] == PROFILE]
    return sum(1 for m in snapshot["mailbox"] if m["_emailserverprofile_value"] in custom)


def default_profile_active(admin: AdminClient) -> bool:
    default = next(p for p in tables(admin)["emailserverprofile"] if p["name"] == "Microsoft Exchange Online")
    return bool(default["statecode"] == 0)


def outcome_line(output: str, address: str) -> str:
    """The apply result line of one address (``  ~ ADDRESS: status …``), not its plan line."""
    return next((line for line in output.splitlines() if f"{address}: " in line), "")


def test_an_exchange_outage_applies_nothing_that_relies_on_exchange(
        hardened: Cli, admin: AdminClient) -> None:
    admin.faults(fault_service="exchange", error_probability=1.0)

    # The app's EWS admission is read from Exchange at plan time: unreadable, the plan is
    # incomplete and nothing at all is applied (exit 3), before any scope is attempted.
    failed = ran(hardened.run("apply", "--auto-approve"), 3)

    output = failed.stdout + failed.stderr
    assert "? ews_admission.sss" in output and "nothing was applied" in output
    assert admin.counters()["writes"] == 0
    assert mailboxes_on_custom_profile(admin) == 0
    assert default_profile_active(admin)

    admin.clear_faults()
    ran(hardened.run("apply", "--auto-approve"))
    assert mailboxes_on_custom_profile(admin) == len(tables(admin)["mailbox"])
    assert not default_profile_active(admin)
    ran(hardened.run("plan", "--detailed-exitcode"))


def rename_app(emulator: EmulatorInfo, admin: AdminClient, name: str) -> None:
    """Someone edits the app registration in the Entra admin center (a Graph PATCH)."""
    token = admin.token(emulator.graph_url)
    with trusting_client(emulator, headers={"Authorization": f"Bearer {token}"}) as graph:
        edited = graph.patch(f"{emulator.graph_url}/v1.0/applications(uniqueName='{UNIQUE_NAME}')",
                             json={"displayName": name})
    assert edited.status_code == 204, edited.text


def test_an_app_registration_edited_after_plan_out_is_refused_and_nothing_is_written(
        hardened: Cli, admin: AdminClient, emulator: EmulatorInfo, tmp_path: Path) -> None:
    ran(hardened.run("apply", "--auto-approve"))
    rename_app(emulator, admin, "Renamed in the portal")
    plan = tmp_path / "app.plan"
    ran(hardened.run("plan", "--out", str(plan)))
    rename_app(emulator, admin, "Renamed again after review")
    admin.reset_counters()

    refused = ran(hardened.run("apply", str(plan)), 1)

    assert "app_registration.sss: the object changed since the plan was made" in refused.stderr
    assert admin.counters()["writes"] == 0
    apps = [a for a in admin.snapshot("directory")["directory"]["applications"]
            if a.get("uniqueName") == UNIQUE_NAME]
    assert [a["displayName"] for a in apps] == ["Renamed again after review"]



def test_refresh_reports_drift_on_a_value_that_was_already_compliant_when_adopted(
        hardened: Cli, admin: AdminClient) -> None:
    someone_else_patches_the_organization(
        hardened, {"requireapprovalforuseremail": True, "requireapprovalforqueueemail": True})
    first = ran(hardened.run("plan", "--json"))
    assert '"address": "approval"' in first.stdout and '"no-op"' in first.stdout
    ran(hardened.run("apply", "--auto-approve"))
    ran(hardened.run("refresh", "--detailed-exitcode"))

    someone_else_patches_the_organization(hardened, {"requireapprovalforqueueemail": False})

    drift = ran(hardened.run("refresh", "--detailed-exitcode"), 2)
    assert "approval" in drift.stdout and "require_for_queues" in drift.stdout
    ran(hardened.run("plan", "--detailed-exitcode"), 2)


def test_a_lost_answer_to_the_new_secret_is_settled_without_a_second_secret(
        hardened: Cli, admin: AdminClient) -> None:
    admin.faults(lost_response_probability=1.0, max_faults=1, fault_route="/graph/v1.0/applications/")

    applied = ran(hardened.run("apply", "--auto-approve"))

    assert "apply.answer_lost" in applied.stderr
    assert "refused" not in outcome_line(applied.stdout, "app_registration.sss.credential")
    apps = [a for a in admin.snapshot("directory")["directory"]["applications"]
            if a.get("uniqueName") == UNIQUE_NAME]
    assert len(apps) == 1 and len(apps[0]["passwordCredentials"]) == 1
    admin.clear_faults()
    admin.reset_counters()
    ran(hardened.run("apply", "--auto-approve"))
    assert admin.counters()["writes"] == 0
