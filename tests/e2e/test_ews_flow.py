"""Control 5 across Exchange's EWS retirement, as a user runs it through the CLI.

Each gate state (EWS on with an allow list, blocked, unset after 2026-10-01, shut down
after 2027-04-01) against configs/hardened.toml and configs/hardened-graph.toml: either
the app is admitted and mailboxes move after a passing canary, or no mailbox moves, the
built-in profile stays active, the run exits 1 and names EWS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sssctl.emulator import constants as c
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.exchange_ews import SEEDED_ALLOWED_APP
from sssctl.emulator.info import EmulatorInfo
from tests.e2e.conftest import Cli

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

CONFIGS = Path(__file__).parents[2] / "configs"
PROFILE = "Contoso EXO (own app)"
OTHER_APP = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"


@pytest.fixture
def ews(cli: Cli, admin: AdminClient) -> Iterator[Cli]:
    cli.config.write_text((CONFIGS / "hardened.toml").read_text(encoding="utf-8"), encoding="utf-8")
    yield cli
    admin.clock(real=True)


def ok(result: Any, code: int = 0) -> Any:
    assert result.returncode == code, result.stdout[-4000:] + result.stderr[-4000:]
    return result


def exchange(admin: AdminClient, info: EmulatorInfo, cmdlet: str, **parameters: Any) -> list[dict[str, Any]]:
    """Play an Exchange administrator at the admin API, behind sssctl's back."""
    token = admin.token(info.exchange_url)
    url = f"{info.exchange_url}/adminapi/beta/{c.TENANT_ID}/InvokeCommand"
    body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}}
    response = httpx.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, verify=info.ca_file)
    assert response.status_code == 200, response.text
    return list(response.json()["value"])


def allowed(admin: AdminClient) -> list[str]:
    return list(admin.snapshot("exchange")["exchange"]["ews"]["organizationConfig"]["EwsAllowedAppIDs"])


def own_profile_id(admin: AdminClient) -> str | None:
    rows = admin.snapshot("dataverse")["dataverse"]["tables"]["emailserverprofile"]
    return next((r["emailserverprofileid"] for r in rows if r["name"] == PROFILE), None)


def on_own_profile(admin: AdminClient) -> int:
    profile = own_profile_id(admin)
    rows = admin.snapshot("dataverse")["dataverse"]["tables"]["mailbox"]
    return sum(1 for r in rows if profile and r.get("_emailserverprofile_value") == profile)


def default_active(admin: AdminClient) -> bool:
    rows = admin.snapshot("dataverse")["dataverse"]["tables"]["emailserverprofile"]
    return next(r for r in rows if r["emailserverprofileid"] == c.DEFAULT_PROFILE_ID)["statecode"] == 0


def without_admission(cli: Cli) -> None:
    text = cli.config.read_text(encoding="utf-8").replace('ews = "allow"\n', "")
    cli.config.write_text(text, encoding="utf-8")


def test_admission_keeps_other_entries_and_mailboxes_move_after_the_canary(
    ews: Cli, admin: AdminClient
) -> None:
    plan = ok(ews.run("plan"))
    assert "ews_admission.sss" in plan.stdout and "keeping the other 1 entries" in plan.stdout
    ok(ews.run("apply", "--auto-approve"))
    listed = allowed(admin)
    assert listed[0] == SEEDED_ALLOWED_APP and len(listed) == 2
    assert on_own_profile(admin) > 1 and not default_active(admin)
    again = ok(ews.run("plan", "--detailed-exitcode"))
    assert "up to 24 hours" in again.stdout         # shown as pending, not as drift
    said = " ".join(again.stdout.split())           # and the EWS deadline, with nothing to change
    assert re.search(r"depends on EWS, which Exchange Online shuts down on 2027-04-01, in \d+ days", said)
    sarif = json.loads(ok(ews.run("audit", "--format", "sarif")).stdout)
    (result,) = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "SSS010"]
    assert result["level"] == "warning" and "days left" in result["message"]["text"]
    ok(ews.run("destroy", "--auto-approve"))
    assert allowed(admin) == [SEEDED_ALLOWED_APP]   # only our entry went
    assert default_active(admin)


def test_without_admission_nothing_moves_and_the_run_names_ews(ews: Cli, admin: AdminClient) -> None:
    without_admission(ews)
    applied = ok(ews.run("apply", "--auto-approve"), code=1)
    said = applied.stdout + applied.stderr
    assert "Exchange refused EWS for app" in said and "not on EWSAllowedAppIDs" in said
    assert 'add `ews = "allow"`' in said
    assert on_own_profile(admin) == 0
    assert default_active(admin)
    assert allowed(admin) == [SEEDED_ALLOWED_APP]


def test_blocked_tenant_needs_the_explicit_org_switch(
    ews: Cli, admin: AdminClient, emulator: EmulatorInfo
) -> None:
    exchange(admin, emulator, "Set-OrganizationConfig", EwsEnabled=False)
    applied = ok(ews.run("apply", "--auto-approve"), code=1)
    assert "EWS is blocked in this tenant (EwsEnabled is False)" in applied.stdout + applied.stderr
    assert on_own_profile(admin) == 0 and default_active(admin)
    audit = ok(ews.run("audit", "--fail-on", "high"), code=5).stdout
    assert "ews_readiness" in audit and "EwsEnabled is False" in audit
    text = ews.config.read_text(encoding="utf-8").replace("# ews_enabled = true", "ews_enabled = true")
    ews.config.write_text(text, encoding="utf-8")
    ok(ews.run("apply", "--auto-approve"))
    assert admin.snapshot("exchange")["exchange"]["ews"]["organizationConfig"]["EwsEnabled"] is True
    assert on_own_profile(admin) > 1 and not default_active(admin)


def test_unset_tenant_after_october_is_blocked(ews: Cli, admin: AdminClient, emulator: EmulatorInfo) -> None:
    admin.clock("2026-09-30T00:00:00Z")
    exchange(admin, emulator, "Set-OrganizationConfig", EwsEnabled=None, EwsAllowedAppIDs=[])
    admin.clock("2026-10-02T00:00:00Z")
    applied = ok(ews.run("apply", "--auto-approve"), code=1)
    assert "EwsEnabled is False" in applied.stdout + applied.stderr
    assert on_own_profile(admin) == 0 and default_active(admin)


def test_a_list_changed_since_the_plan_is_refused_and_named(
    ews: Cli, admin: AdminClient, emulator: EmulatorInfo
) -> None:
    ok(ews.run("plan", "--out", "saved.plan"))
    exchange(admin, emulator, "Set-OrganizationConfig", EwsAllowedAppIDs=[SEEDED_ALLOWED_APP, OTHER_APP])
    applied = ok(ews.run("apply", "saved.plan", "--auto-approve"), code=1)
    said = applied.stdout + applied.stderr
    # The saved plan's list is its ETag: the fresh read refuses it up front, by address (the
    # write's own re-read, which names the entries, is proven in the kind's unit tests).
    assert "ews_admission.sss" in said and "nothing was applied" in said
    assert allowed(admin) == [SEEDED_ALLOWED_APP, OTHER_APP]
    assert on_own_profile(admin) == 0 and default_active(admin)


def test_after_the_shutdown_ews_fails_its_canary_and_graph_converges(ews: Cli, admin: AdminClient) -> None:
    admin.clock("2027-04-02T00:00:00Z")
    applied = ok(ews.run("apply", "--auto-approve"), code=1)
    assert "shut down on 2027-04-01" in applied.stdout + applied.stderr
    assert on_own_profile(admin) == 0 and default_active(admin)
    ews.config.write_text((CONFIGS / "hardened-graph.toml").read_text(encoding="utf-8"), encoding="utf-8")
    ok(ews.run("apply", "--auto-approve"))
    assert on_own_profile(admin) > 1 and not default_active(admin)
    ok(ews.run("plan", "--detailed-exitcode"))


def consents(admin: AdminClient) -> set[str]:
    """The own app's tenant-wide consents, as role values."""
    directory = admin.snapshot("directory")["directory"]
    app = next(a for a in directory["applications"] if a.get("displayName") == "Dataverse SSS (Contoso)")
    sp = next(s for s in directory["servicePrincipals"] if s["appId"] == app["appId"])
    roles = {r["id"]: r["value"] for s in directory["servicePrincipals"] for r in s.get("appRoles", [])}
    return {roles[a["appRoleId"]] for a in directory["appRoleAssignments"] if a["principalId"] == sp["id"]}


def test_swap_to_graph_keeps_the_old_grants_until_the_canary_passes(ews: Cli, admin: AdminClient) -> None:
    ok(ews.run("apply", "--auto-approve"))
    assert "full_access_as_app" in consents(admin)
    ews.config.write_text((CONFIGS / "hardened-graph.toml").read_text(encoding="utf-8"), encoding="utf-8")
    admin.faults(graph_sync_permissions="Mail.ReadWrite,Mail.Send")   # Graph refuses: Mail.Send is missing
    plan = " ".join(ok(ews.run("plan")).stdout.split())
    assert "only after the canary passed" in plan and "moves from ews to graph" in plan
    for _ in range(2):                   # a second run holds old and new together, and still waits
        ok(ews.run("apply", "--auto-approve"), code=1)
        assert "full_access_as_app" in consents(admin)                # the old path still works
    assert on_own_profile(admin) > 1 and not default_active(admin)
    admin.faults(graph_sync_permissions="Mail.ReadWrite,Calendars.ReadWrite,Contacts.ReadWrite,"
                                        "MailboxSettings.Read")
    ok(ews.run("apply", "--auto-approve"))
    assert "full_access_as_app" not in consents(admin) and "Mail.ReadWrite" in consents(admin)
    assert allowed(admin) == [SEEDED_ALLOWED_APP]                     # its EWS admission went too
    ok(ews.run("plan", "--detailed-exitcode"))
