"""configs/hardened.toml under a hostile network, replayable by its fault seed.

20 % throttling, 5 % server errors, 2 % dropped connections and 2 % lost answers (the
request is carried out, the answer never arrives), on every service including sign-in.
Whatever happens, no checkpoint may be weaker than the start (the custom profile is
never used by a mailbox while its app can read every mailbox), nothing is ever created
twice, and at most three applies reach the hardened posture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sssctl.emulator.admin_client import AdminClient
from tests.e2e.conftest import Cli

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

HARDENED = Path(__file__).parents[2] / "configs" / "hardened.toml"
PROFILE = "Contoso EXO (own app)"
UNIQUE_NAME = "sssctl-contoso-prod-sss"
CHAOS = {
    "throttle_probability": 0.20,
    "error_probability": 0.05,
    "drop_probability": 0.02,
    "lost_response_probability": 0.02,
    "retry_after_seconds": 0.2,      # the answers' Retry-After; kept short so the test stays quick
    "fault_seed": 3,
}


def our_apps(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in snapshot["directory"]["applications"] if a.get("uniqueName") == UNIQUE_NAME]


def custom_profile_ids(snapshot: dict[str, Any]) -> set[str]:
    profiles = snapshot["dataverse"]["tables"]["emailserverprofile"]
    return {str(p["emailserverprofileid"]) for p in profiles if p["name"] == PROFILE}


def app_is_scoped(snapshot: dict[str, Any]) -> bool:
    apps = our_apps(snapshot)
    app_ids = {str(a["appId"]).lower() for a in apps}
    return any(str(p["AppId"]).lower() in app_ids and p["AccessRight"] == "RestrictAccess"
               for p in snapshot["exchange"]["applicationAccessPolicies"])


def assert_no_weaker_posture_and_nothing_twice(admin: AdminClient, checkpoint: str) -> None:
    snapshot = admin.snapshot()
    custom = custom_profile_ids(snapshot)
    mailboxes = snapshot["dataverse"]["tables"]["mailbox"]
    on_custom = [m for m in mailboxes if m["_emailserverprofile_value"] in custom]
    assert not on_custom or app_is_scoped(snapshot), (
        f"{checkpoint}: {len(on_custom)} mailboxes use the custom profile while its app is unscoped")
    assert len(our_apps(snapshot)) <= 1, f"{checkpoint}: the app registration exists twice"
    assert len(custom) <= 1, f"{checkpoint}: the custom profile exists twice"
    assert len(snapshot["exchange"]["applicationAccessPolicies"]) <= 1, f"{checkpoint}: two access policies"


def converged(cli: Cli, admin: AdminClient) -> bool:
    admin.clear_faults()
    try:
        return cli.run("plan", "--detailed-exitcode").returncode == 0
    finally:
        admin.faults(**CHAOS)


def test_hardened_converges_under_chaos_without_a_weaker_posture_or_a_duplicate(
        cli: Cli, admin: AdminClient) -> None:
    cli.config.write_text(HARDENED.read_text(encoding="utf-8"), encoding="utf-8")
    admin.faults(**CHAOS)
    applies = 0
    while applies < 3:
        applies += 1
        result = cli.run("apply", "--auto-approve", timeout=240)
        assert "Traceback" not in result.stderr, result.stderr[-4000:]
        assert_no_weaker_posture_and_nothing_twice(admin, f"after apply {applies}")
        if result.returncode == 0 and converged(cli, admin):
            break
    admin.clear_faults()

    final = cli.run("plan", "--detailed-exitcode")
    assert final.returncode == 0, f"not converged after {applies} applies:\n{final.stdout[-4000:]}"
    snapshot = admin.snapshot()
    (app,) = our_apps(snapshot)
    assert len(app["passwordCredentials"]) == 1
    assert app_is_scoped(snapshot)
    admin.reset_counters()
    assert cli.run("apply", "--auto-approve").returncode == 0
    assert admin.counters()["writes"] == 0
