"""Saved plans through the CLI against the emulator: forged plans write nothing, honest ones travel.

Writes are counted by the emulator itself (``/_emulator/counters``), so "nothing was
written" is what the server saw, not what sssctl says.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from sssctl.emulator.admin_client import AdminClient
from sssctl.engine import planfile
from tests.e2e.conftest import Cli

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

SELF_APPROVE = "org_setting.RequirePrivilegeToSelfApproveEmailAddress"


def saved_plan(cli: Cli, path: Path) -> dict[str, Any]:
    made = cli.run("plan", "--out", str(path))
    assert made.returncode == 0, made.stdout + made.stderr
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def self_approval_back_on(document: dict[str, Any]) -> None:
    change = next(c for c in document["changes"] if c["address"] == SELF_APPROVE)
    assert change["action"] == "update" and change["after"] == {"value": True}
    change["after"] = {"value": False}


def organization(admin: AdminClient) -> dict[str, Any]:
    return dict(admin.snapshot()["dataverse"]["tables"]["organization"][0])


def apply_counting_writes(cli: Cli, admin: AdminClient, plan: Path) -> tuple[Any, int]:
    admin.reset_counters()
    result = cli.run("apply", str(plan))
    return result, int(admin.counters()["writes"])


def test_a_forged_plan_with_a_recomputed_digest_writes_nothing(cli: Cli, admin: AdminClient,
                                                                tmp_path: Path) -> None:
    plan = tmp_path / "forged.plan"
    document = saved_plan(cli, plan)
    self_approval_back_on(document)
    document[planfile.INTEGRITY_KEY] = planfile.content_digest(document)
    plan.write_text(json.dumps(document), encoding="utf-8")
    settings_before = organization(admin)["orgdborgsettings"]

    result, writes = apply_counting_writes(cli, admin, plan)

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{SELF_APPROVE}: the saved change is not the one derived now (after differ)" in result.stderr
    assert writes == 0
    assert organization(admin)["orgdborgsettings"] == settings_before
    assert not cli.state_file.exists()


def test_an_edited_plan_without_a_new_digest_writes_nothing(cli: Cli, admin: AdminClient,
                                                             tmp_path: Path) -> None:
    plan = tmp_path / "edited.plan"
    document = saved_plan(cli, plan)
    self_approval_back_on(document)
    plan.write_text(json.dumps(document), encoding="utf-8")

    result, writes = apply_counting_writes(cli, admin, plan)

    assert result.returncode == 1
    assert "was modified after sssctl wrote it" in result.stderr
    assert writes == 0 and admin.counters()["total"] == 0     # refused before even signing in


def test_a_plan_applies_from_a_copy_of_the_config_in_another_directory(cli: Cli, admin: AdminClient,
                                                                        tmp_path: Path) -> None:
    made_in, applied_in = tmp_path / "job-1", tmp_path / "job-2"
    made_in.mkdir()
    config = made_in / "sssctl.toml"
    shutil.copy(cli.config, config)
    made = cli.run("plan", "--out", str(made_in / "p.plan"), "-c", str(config), config=False)
    assert made.returncode == 0, made.stderr
    shutil.copytree(made_in, applied_in)
    shutil.rmtree(made_in)

    applied = cli.run("apply", str(applied_in / "p.plan"), config=False)

    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Apply complete:" in applied.stdout and "0 refused" in applied.stdout
    assert organization(admin)["requireapprovalforuseremail"] is True
    again = cli.run("plan", "--detailed-exitcode", "-c", str(applied_in / "sssctl.toml"), config=False)
    assert again.returncode == 0, again.stdout
