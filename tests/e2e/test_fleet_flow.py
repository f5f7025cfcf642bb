"""A fleet as a platform team runs it: twenty environments served by one emulator, planned,
applied and compared through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo
from tests.e2e.conftest import DATAVERSE_CONFIG

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

MEMBERS = 20


@pytest.fixture(scope="module")
def fleet_emulator() -> Iterator[EmulatorInfo]:
    from sssctl.emulator import running_emulator

    with running_emulator(dataset="small", organizations=MEMBERS) as info:
        yield info


@pytest.fixture(autouse=True)
def fresh(fleet_emulator: EmulatorInfo) -> None:
    """Every organization reseeded: each test starts from untouched environments."""
    with AdminClient(fleet_emulator) as admin:
        admin.reset()


def write_fleet(tmp_path: Path, info: EmulatorInfo, *, unreachable: str | None = None,
                more: str = "") -> Path:
    """The baseline (with ``more`` sections), one overlay per member, and the fleet file naming
    each organization's URL."""
    baseline = DATAVERSE_CONFIG.replace('name = "e2e"\n', "") + more
    (tmp_path / "baseline.toml").write_text(baseline, encoding="utf-8")
    lines = ["version = 1", 'baseline = "org1"', ""]
    for org in info.organizations:
        name = org["name"]
        overlay = f'version = 1\nextends = "baseline.toml"\n[environment]\nname = "fleet-{name}"\n'
        (tmp_path / f"{name}.toml").write_text(overlay, encoding="utf-8")
        url = "https://127.0.0.1:9/dataverse" if name == unreachable else org["dataverse_url"]
        lines += [f"[members.{name}]", f'config = "{name}.toml"', f'url = "{url}"', ""]
    path = tmp_path / "fleet.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def sssctl(info: EmulatorInfo, tmp_path: Path, *args: str,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SSSCTL_", "MSAL_"))}
    environ.update({k: v for k, v in info.environ().items() if k != "SSSCTL_URL"})
    environ["SSSCTL_STATE_DIR"] = str(tmp_path / "state")
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "sssctl", *args], env=environ, cwd=tmp_path,
                          capture_output=True, text=True, timeout=400, check=False)


def members_of(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    document = json.loads(result.stdout)
    return {m["member"]: m for m in document["members"]}


def test_a_twenty_member_fleet_plans_applies_and_converges(fleet_emulator: EmulatorInfo,
                                                            tmp_path: Path) -> None:
    fleet = write_fleet(tmp_path, fleet_emulator)
    first = sssctl(fleet_emulator, tmp_path, "fleet", "plan", str(fleet), "--detailed-exitcode",
                   "--parallel-environments", "8", "--json")
    assert first.returncode == 2, first.stderr[-3000:]
    planned = members_of(first)
    assert sorted(planned) == sorted(f"org{n}" for n in range(1, MEMBERS + 1))
    assert all(m["exit_code"] == 2 and m["changes"] > 0 for m in planned.values())
    applied = sssctl(fleet_emulator, tmp_path, "fleet", "apply", str(fleet), "--auto-approve",
                     "--parallel-environments", "8")
    assert applied.returncode == 0, applied.stdout[-3000:] + applied.stderr[-3000:]
    assert len(list((tmp_path / "state").glob("fleet-org*.json"))) == MEMBERS   # one state per member
    again = sssctl(fleet_emulator, tmp_path, "fleet", "plan", str(fleet), "--detailed-exitcode")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert again.stdout.startswith("member") and again.stdout.count("no changes") == MEMBERS


def test_an_unreachable_member_fails_alone_and_the_others_converge_from_saved_plans(
    fleet_emulator: EmulatorInfo, tmp_path: Path
) -> None:
    fleet = write_fleet(tmp_path, fleet_emulator, unreachable="org3")
    plans = tmp_path / "plans"
    planned = sssctl(fleet_emulator, tmp_path, "fleet", "plan", str(fleet), "--member", "org2",
                     "--member", "org3", "--member", "org4", "--out", str(plans), "--json")
    assert planned.returncode == 1
    assert members_of(planned)["org3"]["exit_code"] == 1
    assert sorted(p.name for p in plans.glob("*.plan.json")) == ["org2.plan.json", "org4.plan.json"]
    applied = sssctl(fleet_emulator, tmp_path, "fleet", "apply", str(plans), "--json")
    assert applied.returncode == 0, applied.stdout[-3000:] + applied.stderr[-3000:]
    assert {m: r["result"] for m, r in members_of(applied).items()} == {"org2": "applied", "org4": "applied"}
    after = sssctl(fleet_emulator, tmp_path, "fleet", "plan", str(fleet), "--member", "org2",
                   "--member", "org3", "--member", "org4", "--detailed-exitcode", "--json")
    codes = {m: r["exit_code"] for m, r in members_of(after).items()}
    assert codes == {"org2": 0, "org3": 1, "org4": 0} and after.returncode == 1
    assert members_of(after)["org3"]["error"]


def test_the_matrix_fans_out_one_job_per_member(fleet_emulator: EmulatorInfo, tmp_path: Path) -> None:
    fleet = write_fleet(tmp_path, fleet_emulator)
    github = sssctl(fleet_emulator, tmp_path, "fleet", "matrix", str(fleet), "--format", "github")
    assert github.returncode == 0, github.stderr
    assert [job["member"] for job in json.loads(github.stdout)["include"]] == [
        f"org{n}" for n in range(1, MEMBERS + 1)]
    azure = sssctl(fleet_emulator, tmp_path, "fleet", "matrix", str(fleet), "--format", "azure-devops")
    matrix = yaml.safe_load(azure.stdout)
    assert len(matrix) == MEMBERS
    assert all(isinstance(v, dict) and all(isinstance(x, str) for x in v.values()) for v in matrix.values())


def test_diff_names_exactly_the_controls_that_differ_and_nothing_between_equals(
    fleet_emulator: EmulatorInfo, tmp_path: Path
) -> None:
    # every user set alike too: seeded organizations differ in how their users filter email
    fleet = write_fleet(tmp_path, fleet_emulator,
                        more='\n[user_settings]\nincoming_email_filtering = "email_enabled_records"\n')
    hardened = sssctl(fleet_emulator, tmp_path, "fleet", "apply", str(fleet), "--auto-approve",
                      "--member", "org5", "--member", "org6")
    assert hardened.returncode == 0, hardened.stdout[-3000:] + hardened.stderr[-3000:]
    assert differences(fleet_emulator, tmp_path, fleet, "org5", "org6") == set()
    # org5 set its users' mailboxes and settings as the baseline says, org7 did not
    assert differences(fleet_emulator, tmp_path, fleet, "org5", "org7") == {
        "approval", "org_settings", "mailboxes", "user_settings"}
    text = sssctl(fleet_emulator, tmp_path, "diff", "--fleet", str(fleet), "org5", "org7")
    assert "Control 1: mailbox approval" in text.stdout and "127.0.0.1" not in text.stdout

    # the same policy a config could write, but not the same mailboxes and users: not equal
    org6 = next(o for o in fleet_emulator.organizations if o["name"] == "org6")
    with member_clients(fleet_emulator, tmp_path / "org6.toml", org6["dataverse_url"]) as clients:
        mailbox = next(iter(clients.dataverse.query("mailboxes", select=["mailboxid"], top=1)))
        clients.dataverse.update("mailboxes", mailbox["mailboxid"], {"incomingemaildeliverymethod": 3})
        assert differences(fleet_emulator, tmp_path, fleet, "org5", "org6") == {"mailboxes"}
        user = next(iter(clients.dataverse.query("usersettingscollection", select=["systemuserid"], top=1)))
        clients.dataverse.update("usersettingscollection", user["systemuserid"],
                                 {"incomingemailfilteringmethod": 4})
    assert differences(fleet_emulator, tmp_path, fleet, "org5", "org6") == {"mailboxes", "user_settings"}
    exported = sssctl(fleet_emulator, tmp_path, "export", "-c", str(tmp_path / "org6.toml"),
                      env={"SSSCTL_URL": org6["dataverse_url"]})
    assert exported.returncode == 0 and "(live)" not in exported.stdout, exported.stderr[-3000:]


def differences(info: EmulatorInfo, tmp_path: Path, fleet: Path, left: str, right: str) -> set[str]:
    """The top-level sections ``diff --fleet`` names; exit 2 exactly when there are some."""
    result = sssctl(info, tmp_path, "diff", "--fleet", str(fleet), left, right, "--json")
    found = json.loads(result.stdout)["comparisons"][0]["differences"]
    assert result.returncode == (2 if found else 0), result.stdout[-3000:] + result.stderr[-3000:]
    return {d["path"].split(".")[0] for d in found}


def member_clients(info: EmulatorInfo, config: Path, url: str) -> Any:
    """sssctl's own clients signed in to one member, to play another admin editing it."""
    from sssctl.clients.session import open_clients
    from sssctl.config.loader import load

    environ = {**info.environ(), "SSSCTL_URL": url}
    return open_clients(load(config, environ), environ=environ)


def test_the_state_of_one_environment_is_refused_by_another(fleet_emulator: EmulatorInfo,
                                                           tmp_path: Path) -> None:
    """Each organization has its own id, so a snapshot pointed at the wrong one is refused."""
    first, second = fleet_emulator.organizations[:2]
    config = tmp_path / "shared.toml"
    config.write_text(DATAVERSE_CONFIG.replace('name = "e2e"', 'name = "shared"'), encoding="utf-8")
    applied = sssctl(fleet_emulator, tmp_path, "apply", "--auto-approve", "-c", str(config),
                     env={"SSSCTL_URL": first["dataverse_url"]})
    assert applied.returncode == 0, applied.stderr
    refused = sssctl(fleet_emulator, tmp_path, "plan", "-c", str(config),
                     env={"SSSCTL_URL": second["dataverse_url"]})
    assert refused.returncode == 1
    assert "belongs to organization" in refused.stderr
