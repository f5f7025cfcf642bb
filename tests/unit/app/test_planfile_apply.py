"""``apply PLANFILE`` with fake kinds: guards run again, forgeries and moved objects write nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sssctl.engine import planfile
from tests.unit.app.fakes import World
from tests.unit.app.test_cli import run, world

__all__ = ["world"]   # the fixture, shared with the CLI tests

pytestmark = pytest.mark.timeout(60)


def forge(path: Path, address: str, after: dict[str, object]) -> None:
    """Edit one change's ``after`` and recompute the digest, as an informed attacker would."""
    document = json.loads(path.read_text(encoding="utf-8"))
    change = next(c for c in document["changes"] if c["address"] == address)
    change["after"] = after
    document[planfile.INTEGRITY_KEY] = planfile.content_digest(document)
    path.write_text(json.dumps(document), encoding="utf-8")


def test_guards_run_again_on_fresh_reads_at_apply(world: World) -> None:
    assert run("plan", "--out", "p.plan").exit_code == 0
    world.kind("approval").refusals = ["approval: a mailbox would be left on a deactivated profile"]
    result = run("apply", "p.plan")
    assert result.exit_code == 1
    assert "a mailbox would be left on a deactivated profile" in result.stderr
    assert not world.kind("approval").applied and not world.kind("org_setting").applied


def test_a_forged_plan_with_a_recomputed_digest_applies_nothing(world: World, tmp_path: Path) -> None:
    assert run("plan", "--out", "p.plan").exit_code == 0
    forge(tmp_path / "p.plan", "org_setting.Alpha", {"value": False})
    result = run("apply", "p.plan")
    assert result.exit_code == 1
    assert "org_setting.Alpha: the saved change is not the one derived now (after differ)" in result.stderr
    assert not world.kind("approval").applied and not world.kind("org_setting").applied


def test_a_targeted_plan_is_rederived_with_its_targets(world: World) -> None:
    assert run("plan", "--target", "approval", "--out", "p.plan").exit_code == 0
    result = run("apply", "p.plan")
    assert result.exit_code == 0, result.output
    assert world.kind("approval").applied == ["approval"]
    assert not world.kind("org_setting").applied


def test_a_plan_applies_from_another_directory_with_its_config(world: World, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("plan", "--out", "p.plan").exit_code == 0
    other = tmp_path / "other-checkout"
    other.mkdir()
    for name in ("p.plan", "sssctl.toml"):
        shutil.copy(tmp_path / name, other / name)
    (tmp_path / "sssctl.toml").unlink()
    elsewhere = tmp_path / "elsewhere"      # neither checkout: the plan names its config itself
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = run("apply", str(other / "p.plan"))
    assert result.exit_code == 0, result.output
    assert sorted(world.kind("org_setting").applied + world.kind("approval").applied) == [
        "approval", "org_setting.Alpha"]


def test_a_missing_config_beside_the_plan_says_to_pass_it(world: World, tmp_path: Path) -> None:
    assert run("plan", "--out", "p.plan").exit_code == 0
    (tmp_path / "sssctl.toml").unlink()
    result = run("apply", "p.plan")
    assert result.exit_code == 1
    assert "the plan names the config sssctl.toml" in result.stderr and "-c FILE" in result.stderr
