"""``sssctl export`` as a user runs it: what it writes validates, and planning with it
changes nothing except what format v1 cannot express."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sssctl.emulator.admin_client import AdminClient
from tests.e2e.conftest import Cli

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

HARDENED = Path(__file__).parents[2] / "configs" / "hardened.toml"


def ok(result: Any, code: int = 0) -> Any:
    assert result.returncode == code, result.stdout[-4000:] + result.stderr[-4000:]
    return result


def export_to(cli: Cli, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    exported = ok(cli.run("export"))
    path = tmp_path / "exported.toml"
    path.write_text(exported.stdout, encoding="utf-8")
    return path, tomllib.loads(exported.stdout)


def validates_alone(cli: Cli, path: Path) -> None:
    bare = Cli({k: v for k, v in cli.env.items() if not k.startswith("SSSCTL_")}, cli.config,
               cli.state_dir, cli.workdir)
    ok(bare.run("validate", str(path), config=False))


def planned_with(cli: Cli, path: Path) -> dict[str, dict[str, Any]]:
    cli.config = path
    result = cli.run("plan", "--json")
    assert result.returncode in (0, 2), result.stdout[-4000:] + result.stderr[-4000:]
    changes = json.loads(result.stdout)["resource_changes"]
    return {rc["address"]: rc for rc in changes if rc["change"]["actions"] != ["no-op"]}


def test_export_of_the_small_seed_validates_and_plans_no_change(
    cli: Cli, admin: AdminClient, tmp_path: Path
) -> None:
    path, document = export_to(cli, tmp_path)
    text = path.read_text(encoding="utf-8")
    assert document["mailboxes"] == {"enforce": "report", "scope": "all"}
    assert "user_settings" not in document or document["user_settings"] == {}
    assert "# Users differ (26 users: leads_contacts_accounts 20, all 6)" in text
    assert document["server_profiles"] == {"default": {"active": True}}
    assert "Custom profile 'Exchange Online (legacy 2019)' is not exported" in text
    validates_alone(cli, path)
    admin.reset_counters()
    # round trip: the file plans no change against the environment it came from
    assert planned_with(cli, path) == {}
    assert admin.counters()["writes"] == 0


def test_export_after_the_hardened_apply_keeps_the_own_app_profile_and_scope(
    cli: Cli, admin: AdminClient, tmp_path: Path
) -> None:
    cli.config.write_text(HARDENED.read_text(encoding="utf-8"), encoding="utf-8")
    ok(cli.run("apply", "--auto-approve"))
    path, document = export_to(cli, tmp_path)
    assert document["app_registrations"] == {"sss": {
        "display_name": "Dataverse SSS (Contoso)",
        "permissions": ["exchange:full_access_as_app"],
        "mailbox_scope": {"group": "sss-mailboxes"},      # as Exchange names the group
        "ews": "allow",
    }}
    profile = document["server_profiles"]["custom"]["Contoso EXO (own app)"]
    assert profile["app_registration"] == "sss" and profile["type"] == "exchange_online"
    assert document["mailbox_defaults"]["server_profile"] == "Contoso EXO (own app)"
    assert document["server_profiles"]["default"] == {"active": False}
    assert "client_secret =" in path.read_text() and "secretText" not in path.read_text()
    assert "127.0.0.1" not in path.read_text() and ".pem" not in path.read_text()   # nothing machine-specific
    validates_alone(cli, path)
    admin.reset_counters()
    assert planned_with(cli, path) == {}        # everything live is said, nothing to change
    assert admin.counters()["writes"] == 0


def test_export_from_the_sssctl_variables_alone(cli: Cli, tmp_path: Path) -> None:
    """A pipeline with only SSSCTL_* set (no config file in the directory) can export."""
    assert not (cli.workdir / "sssctl.toml").exists()
    exported = ok(cli.run("export", config=False))
    document = tomllib.loads(exported.stdout)
    assert "org_settings" in document and "approval" in document
    path = tmp_path / "from-variables.toml"
    path.write_text(exported.stdout, encoding="utf-8")
    validates_alone(cli, path)
