"""The incident switch after hardening: configs/lockdown.toml, and destroy, through the CLI.

After configs/hardened.toml every mailbox and the organization default use the custom
own-app profile. Switching to lockdown.toml must stop all synchronization and tear down
what only hardened.toml asked for (custom profile, access policy, secret, app) in a safe
order; destroy must put back what was there before. At no point may a mailbox be left on
a profile that is gone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sssctl.emulator.admin_client import AdminClient
from tests.e2e.conftest import Cli

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

CONFIGS = Path(__file__).parents[2] / "configs"
PROFILE = "Contoso EXO (own app)"
BUILT_IN = "Microsoft Exchange Online"
UNIQUE_NAME = "sssctl-contoso-prod-sss"


def ok(result: Any, code: int = 0) -> Any:
    assert result.returncode == code, result.stdout[-4000:] + result.stderr[-4000:]
    return result


def use(cli: Cli, name: str) -> None:
    cli.config.write_text((CONFIGS / name).read_text(encoding="utf-8"), encoding="utf-8")


@pytest.fixture
def hardened(cli: Cli) -> Cli:
    use(cli, "hardened.toml")
    ok(cli.run("apply", "--auto-approve"))
    return cli


def tables(admin: AdminClient) -> dict[str, list[dict[str, Any]]]:
    return dict(admin.snapshot()["dataverse"]["tables"])


def profiles_by_id(snapshot: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return {str(p["emailserverprofileid"]).lower(): p for p in snapshot["emailserverprofile"]}


def dangling(snapshot: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Mailboxes (and the org default) pointing at a profile that no longer exists."""
    known = profiles_by_id(snapshot)
    out = [str(m["emailaddress"]) for m in snapshot["mailbox"]
           if m["_emailserverprofile_value"] and str(m["_emailserverprofile_value"]).lower() not in known]
    (organization,) = snapshot["organization"]
    default = str(organization["_defaultemailserverprofileid_value"] or "").lower()
    return out + (["organization default"] if default and default not in known else [])


def control5_gone(admin: AdminClient) -> bool:
    snapshot = admin.snapshot()
    apps = [a for a in snapshot["directory"]["applications"] if a.get("uniqueName") == UNIQUE_NAME]
    names = {p["name"] for p in snapshot["dataverse"]["tables"]["emailserverprofile"]}
    return not apps and PROFILE not in names and snapshot["exchange"]["applicationAccessPolicies"] == []


def test_lockdown_after_hardened_stops_everything_and_tears_down_the_own_app(
    hardened: Cli, admin: AdminClient
) -> None:
    use(hardened, "lockdown.toml")
    planned = ok(hardened.run("plan", "--detailed-exitcode"), 2).stdout
    assert "the custom profile is deleted" in planned
    assert "the app registration is deleted" in planned
    assert "client secret" in planned and "removed" in planned
    # the safe order: mailboxes leave the profile, then the profile goes, the secret and app last
    positions = [planned.index(a) for a in (
        "mailbox_defaults", "mailboxes", f'server_profile.custom["{PROFILE}"]',
        "exchange_scope.sss", "app_registration.sss.credential",
    )]
    assert positions == sorted(positions), planned

    ok(hardened.run("apply", "--auto-approve"))
    ok(hardened.run("plan", "--detailed-exitcode"), 0)

    snapshot = tables(admin)
    assert dangling(snapshot) == []
    assert control5_gone(admin)
    none = {"incomingemaildeliverymethod": 0, "outgoingemaildeliverymethod": 0}
    assert all(all(m[k] == v for k, v in none.items()) for m in snapshot["mailbox"])
    built_in = next(p for p in snapshot["emailserverprofile"] if p["name"] == BUILT_IN)
    assert built_in["statecode"] == 1
    state = json.loads((hardened.state_dir / "contoso-prod.json").read_text(encoding="utf-8"))
    control5 = ("app_registration", "exchange_scope", "server_profile.custom")
    assert not [a for a in state["resources"] if a.startswith(control5)]


def test_destroy_after_hardened_restores_the_built_in_profile_for_every_mailbox(
    hardened: Cli, admin: AdminClient
) -> None:
    ok(hardened.run("destroy", "--auto-approve"))

    snapshot = tables(admin)
    assert dangling(snapshot) == []
    assert control5_gone(admin)
    profiles = profiles_by_id(snapshot)
    built_in = next(p for p in snapshot["emailserverprofile"] if p["name"] == BUILT_IN)
    assert built_in["statecode"] == 0
    inactive = [m["emailaddress"] for m in snapshot["mailbox"] if m["_emailserverprofile_value"]
                and profiles[str(m["_emailserverprofile_value"]).lower()]["statecode"] != 0]
    assert inactive == []
    (organization,) = snapshot["organization"]
    assert str(organization["_defaultemailserverprofileid_value"]).lower() == str(
        built_in["emailserverprofileid"]).lower()

    hardened.config.write_text(hardened.config.read_text(encoding="utf-8").split("# --- Control 1")[0],
                               encoding="utf-8")
    after = ok(hardened.run("plan", "--detailed-exitcode"), 0)
    assert "No changes" in after.stdout
