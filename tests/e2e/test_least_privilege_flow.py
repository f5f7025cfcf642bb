"""Least privilege end to end: bootstrap two identities, then run as each of them.

The emulator's default identity plays the administrator (it holds System Administrator,
Application.ReadWrite.All, AppRoleAssignment.ReadWrite.All and an Exchange administrator
role). Bootstrap makes a read-only plan identity and an apply identity without any
tier-0 right; every service enforces what each holds.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from sssctl.emulator import constants as c
from sssctl.emulator.admin_client import AdminClient, trusting_client
from sssctl.emulator.info import EmulatorInfo
from tests.e2e.conftest import Cli
from tests.e2e.test_control5_flow import add_expiring_secret

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = "github:contoso/sss:environment:production"


def _as(cli: Cli, identity: dict[str, Any]) -> Cli:
    env = {**cli.env, "SSSCTL_CLIENT_ID": identity["client_id"],
           "SSSCTL_CLIENT_SECRET": Path(identity["secret_file"]).read_text(encoding="utf-8")}
    return Cli(env=env, config=cli.config, state_dir=cli.state_dir, workdir=cli.workdir)


def _bootstrap(cli: Cli) -> Any:
    return cli.run("bootstrap", "--for", PIPELINE, "--credential", "secret", "--auto-approve", "--json",
                   timeout=180)


def _remove_access_policies(info: EmulatorInfo, admin: AdminClient) -> None:
    """Drift made by someone else: every application access policy deleted."""
    url = f"{info.exchange_url}/adminapi/beta/{c.TENANT_ID}/InvokeCommand"
    token = admin.token(info.exchange_url)
    with trusting_client(info, headers={"Authorization": f"Bearer {token}"}) as http:
        for policy in _invoke(http, url, "Get-ApplicationAccessPolicy"):
            _invoke(http, url, "Remove-ApplicationAccessPolicy", Identity=policy["Identity"])


def _invoke(http: httpx.Client, url: str, cmdlet: str, **parameters: Any) -> list[dict[str, Any]]:
    response = http.post(url, json={"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}})
    response.raise_for_status()
    return list(response.json()["value"])


def test_bootstrap_then_plan_apply_and_elevation_as_least_privilege_identities(
    cli: Cli, admin: AdminClient, emulator: EmulatorInfo
) -> None:
    cli.config.write_text((ROOT / "configs" / "hardened.toml").read_text(encoding="utf-8"), encoding="utf-8")

    # The administrator's default identity holds far more than the config needs.
    strict = cli.run("auth", "check", "--strict")
    assert strict.returncode == 1
    assert "role System Administrator" in strict.stdout and "AppRoleAssignment.ReadWrite.All" in strict.stdout

    made = _bootstrap(cli)
    assert made.returncode == 0, made.stdout + made.stderr
    identities = json.loads(made.stdout)["identities"]
    plan_id, apply_id = identities["plan"], identities["apply"]
    for identity in (plan_id, apply_id):
        secret = Path(identity["secret_file"])
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert secret.read_text(encoding="utf-8") not in made.stdout + made.stderr
    admin.reset_counters()
    again = _bootstrap(cli)
    assert again.returncode == 0 and json.loads(again.stdout)["steps"] == []
    assert admin.counters()["writes"] == 0

    # The plan identity plans, passes --strict for plan, and cannot write anything.
    planner = _as(cli, plan_id)
    planned = planner.run("plan", "--detailed-exitcode")
    assert planned.returncode == 2, planned.stdout + planned.stderr
    assert "needs elevation" in planned.stdout
    check = planner.run("auth", "check", "--identity", "plan", "--strict", "--json")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "System Administrator" not in json.loads(check.stdout)["held"]["dataverse_roles"]
    before = admin.snapshot()
    refused = planner.run("apply", "--auto-approve")
    assert refused.returncode != 0
    assert "is missing prv" in refused.stdout + refused.stderr      # Dataverse's own refusal
    after = admin.snapshot()
    tables = {*before["dataverse"]["tables"], *after["dataverse"]["tables"]}   # a read may add an empty one
    changed = {f"table {t}" for t in tables
               if (before["dataverse"]["tables"].get(t) or []) != (after["dataverse"]["tables"].get(t) or [])}
    changed |= {f"{service}.{part}" for service in before for part in before[service]
                if part != "tables" and before[service][part] != after[service][part]}
    assert changed == set()                                         # nothing was written anywhere

    # The apply identity applies everything but the consent, which it names and skips with
    # everything that depends on it.
    applier = _as(cli, apply_id)
    check = applier.run("auth", "check", "--strict", "--json")
    assert check.returncode == 0, check.stdout + check.stderr
    assert json.loads(check.stdout)["held"]["dataverse_roles"] == ["sssctl apply"]
    first = applier.run("apply", "--auto-approve")
    assert first.returncode == 1, first.stdout + first.stderr
    assert "exchange_scope.sss: skipped: needs elevation" in first.stdout
    assert 'server_profile.custom["Contoso EXO (own app)"]: skipped: depends on' in first.stdout
    assert "org_setting.RequirePrivilegeToSelfApproveEmailAddress: applied" in first.stdout

    # An administrator applies just the elevated change; the apply identity does the rest.
    elevated = cli.run("apply", "--elevated", "--auto-approve")
    assert elevated.returncode == 0, elevated.stdout + elevated.stderr
    assert "exchange_scope.sss: applied" in elevated.stdout
    assert "mailbox_defaults: applied" not in elevated.stdout
    second = applier.run("apply", "--auto-approve")
    assert second.returncode == 0, second.stdout + second.stderr
    converged = applier.run("plan", "--detailed-exitcode")
    assert converged.returncode == 0, converged.stdout + converged.stderr

    # Steady state: drift reverted and a secret rotated by the apply identity alone.
    _remove_access_policies(emulator, admin)
    add_expiring_secret(admin, emulator, applier, days=10)
    drifted = applier.run("plan", "--detailed-exitcode")
    assert drifted.returncode == 2 and "within the 30-day grace" in drifted.stdout
    assert "needs elevation" not in drifted.stdout
    reverted = applier.run("apply", "--auto-approve")
    assert reverted.returncode == 0, reverted.stdout + reverted.stderr
    assert applier.run("plan", "--detailed-exitcode").returncode == 0
