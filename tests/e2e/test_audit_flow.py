"""``sssctl audit`` as a pipeline runs it: judged against what configs/hardened.toml leaves
behind it finds nothing, and a weakened environment fails ``--fail-on`` with exit 5."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sssctl import exitcodes
from sssctl.emulator import constants as c
from sssctl.emulator.admin_client import AdminClient, trusting_client
from sssctl.emulator.info import EmulatorInfo
from tests.e2e.conftest import Cli

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

HARDENED = Path(__file__).parents[2] / "configs" / "hardened.toml"
OWN_PROFILE = 'server_profile.custom["Contoso EXO (own app)"]'


def exits(result: Any, code: int) -> Any:
    assert result.returncode == code, result.stdout[-4000:] + result.stderr[-4000:]
    return result


def exchange(emulator: EmulatorInfo, admin: AdminClient, cmdlet: str, **parameters: Any) -> list[Any]:
    """Run one cmdlet as an Exchange administrator would, outside sssctl."""
    token = admin.token(emulator.exchange_url)
    url = f"{emulator.exchange_url}/adminapi/beta/{c.TENANT_ID}/InvokeCommand"
    with trusting_client(emulator, headers={"Authorization": f"Bearer {token}"}) as http:
        response = http.post(url, json={"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}})
    assert response.status_code == 200, response.text
    return list(response.json()["value"])


@pytest.fixture
def hardened(cli: Cli) -> Cli:
    cli.config.write_text(HARDENED.read_text(encoding="utf-8"), encoding="utf-8")
    return cli


def test_the_seeded_environment_fails_with_exit_5_and_names_each_finding(hardened: Cli) -> None:
    table = exits(hardened.run("audit", "--fail-on", "high"), exitcodes.FINDINGS).stdout
    assert "server_profile.default" in table and "mailboxes" in table
    report = json.loads(exits(hardened.run("audit", "--json", "--fail-on", "low"), exitcodes.FINDINGS).stdout)
    checks = {row["check"] for row in report["findings"]}
    assert {"server_profile.default", "approval", "privilege.prvApproveRejectEmailAddress"} <= checks
    # the seed's second profile is inactive: it synchronizes nothing, so it is not judged
    assert not any(check.startswith("server_profile.custom") for check in checks)
    exits(hardened.run("audit"), exitcodes.OK)   # without --fail-on findings are a report


def test_after_the_hardened_apply_nothing_is_found_until_the_app_loses_its_scope(
    hardened: Cli, emulator: EmulatorInfo, admin: AdminClient
) -> None:
    exits(hardened.run("apply", "--auto-approve"), exitcodes.OK)
    clean = exits(hardened.run("audit", "--fail-on", "high"), exitcodes.OK)
    # The one thing left is the profile's dependence on EWS, admitted today (not high).
    [left] = [line for line in clean.stdout.splitlines() if line.startswith(("high", "medium", "low"))]
    assert left.startswith("medium") and "ews_readiness" in left and "2027-04-01" in left

    for policy in exchange(emulator, admin, "Get-ApplicationAccessPolicy"):   # an admin undoes the scope
        exchange(emulator, admin, "Remove-ApplicationAccessPolicy", Identity=policy["Identity"],
                 Confirm=False)
    admin.reset_counters()
    weakened = exits(hardened.run("audit", "--fail-on", "high"), exitcodes.FINDINGS)
    [finding] = [line for line in weakened.stdout.splitlines() if line.startswith("high")]
    assert OWN_PROFILE in finding and "can read every mailbox" in finding
    assert admin.counters()["writes"] == 0


def test_an_error_is_exit_1_not_the_findings_code(hardened: Cli) -> None:
    hardened.config.write_text('version = 1\n[nope]\n', encoding="utf-8")
    failed = exits(hardened.run("audit", "--fail-on", "low"), exitcodes.ERROR)
    assert "nope" in failed.stderr
