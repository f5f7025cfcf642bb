"""The commands through click, with fake kinds and clients (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sssctl.app import runner
from sssctl.cli import cli
from sssctl.state.lock import acquire
from tests.unit.app.fakes import World, standard_world

pytestmark = pytest.mark.timeout(60)

CONFIG = """
[environment]
name = "test"

[org_settings]
Alpha = true

[approval]
require_for_users = true
"""


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> World:
    w = standard_world()
    monkeypatch.setattr(runner, "default_services", w.services)
    monkeypatch.setenv("SSSCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sssctl.toml").write_text(CONFIG)
    return w


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["--log-format", "json", *args], catch_exceptions=False)


def test_plan_shows_changes_and_detailed_exit_code(world: World) -> None:
    result = run("plan")
    assert result.exit_code == 0, result.output
    assert "  ~ approval" in result.output and "  ~ org_setting.Alpha" in result.output
    assert "Plan: 0 to add, 2 to change, 0 to destroy." in result.output
    assert run("plan", "--detailed-exitcode").exit_code == 2
    document = json.loads(run("plan", "--json").stdout)
    assert [rc["address"] for rc in document["resource_changes"]] == ["approval", "org_setting.Alpha"]


def test_apply_then_plan_is_empty(world: World) -> None:
    result = run("apply", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert "Apply complete: 2 changed, 0 created, 0 destroyed, 0 refused." in result.output
    assert "HTTP requests this run: 7 (2 writing" in result.output
    again = run("plan", "--detailed-exitcode")
    assert again.exit_code == 0 and "No changes. The environment matches the configuration." in again.output
    listed = run("state", "list").output.splitlines()
    assert [line.split("\t")[:2] for line in listed] == [["approval", "approval"],
                                                         ["org_setting.Alpha", "org_setting"]]
    entry = json.loads(run("state", "show", "org_setting.Alpha").output)
    assert entry["original"] == {"value": False} and entry["managed"] == {"value": True}


def test_apply_refuses_to_prompt_without_a_terminal(world: World) -> None:
    result = run("apply")
    assert result.exit_code == 1
    assert "--auto-approve" in result.stderr
    assert not world.kind("approval").applied


def test_unknown_objects_make_plan_exit_3_and_apply_refuse(world: World) -> None:
    world.kind("org_setting").fail_read = "HTTP 403 prvReadOrganization"
    result = run("plan")
    assert result.exit_code == 3
    assert "  ? org_setting.Alpha" in result.output and "HTTP 403 prvReadOrganization" in result.output
    applied = run("apply", "--auto-approve")
    assert applied.exit_code == 3
    assert "org_setting.Alpha" in applied.stderr and "nothing was applied" in applied.stderr
    assert not world.kind("approval").applied


def test_saved_plan_applies_exactly_and_refuses_once_state_moved(world: World, tmp_path: Path) -> None:
    assert run("plan", "--out", "first.plan").exit_code == 0
    assert run("plan", "--out", "second.plan").exit_code == 0
    shown = run("show", "first.plan", "--markdown")
    assert "| `~` | `approval` | update |" in shown.output
    assert run("apply", "first.plan").exit_code == 0
    stale = run("apply", "second.plan")
    assert stale.exit_code == 1
    assert "something was applied in between" in stale.stderr


def test_saved_plan_refused_when_the_config_changed(world: World, tmp_path: Path) -> None:
    assert run("plan", "--out", "p.plan").exit_code == 0
    (tmp_path / "sssctl.toml").write_text(CONFIG + "# edited\n")
    result = run("apply", "p.plan")
    assert result.exit_code == 1 and "configuration changed" in result.stderr


def test_object_changed_after_plan_is_refused_and_named(world: World) -> None:
    assert run("plan", "--out", "p.plan").exit_code == 0
    world.kind("org_setting").touch("org_setting.Alpha", {"value": False})
    result = run("apply", "p.plan")
    assert result.exit_code == 1
    assert "org_setting.Alpha: the object changed since the plan was made" in result.stderr
    assert "nothing was applied" in result.stderr
    assert not world.kind("approval").applied   # the whole plan is refused, not just the edited object
    assert world.kind("org_setting").live["org_setting.Alpha"] == {"value": False}


def test_a_held_lock_exits_4_naming_the_holder(world: World, tmp_path: Path) -> None:
    info = acquire(tmp_path / "state" / "test.lock", "apply")
    result = run("apply", "--auto-approve")
    assert result.exit_code == 4
    # the hint runs as printed: it names the config the run was given
    assert f"`sssctl state unlock {info['id']} -c sssctl.toml`" in result.stderr
    assert run("state", "unlock", "nope").exit_code == 1
    assert run("state", "unlock", info["id"]).exit_code == 0
    assert run("apply", "--auto-approve").exit_code == 0


def test_destroy_restores_originals_and_forgets(world: World) -> None:
    assert run("apply", "--auto-approve").exit_code == 0
    result = run("destroy", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert result.stdout.index("~ org_setting.Alpha") < result.stdout.index("~ approval")   # backwards
    assert world.kind("org_setting").live["org_setting.Alpha"] == {"value": False}
    restored = {"require_for_users": False, "require_for_queues": False}
    assert world.kind("approval").live["approval"] == restored
    assert run("state", "list").stdout == ""


def test_a_destroy_is_planned_saved_reviewed_then_applied(world: World) -> None:
    """A delete goes through the same review and policy gate as any plan."""
    assert run("apply", "--auto-approve").exit_code == 0
    planned = run("plan", "--destroy", "--out", "destroy.plan", "--json")
    assert planned.exit_code == 0, planned.output
    document = json.loads(planned.stdout)
    assert document["sssctl"]["destroy"] is True
    assert [rc["address"] for rc in document["resource_changes"]] == ["org_setting.Alpha", "approval"]
    assert world.kind("org_setting").live["org_setting.Alpha"] == {"value": True}   # nothing written yet
    assert "sssctl apply destroy.plan" in planned.stderr
    shown = run("show", "destroy.plan", "--markdown")
    assert "org_setting.Alpha" in shown.stdout
    applied = run("apply", "destroy.plan")
    assert applied.exit_code == 0, applied.output
    assert world.kind("org_setting").live["org_setting.Alpha"] == {"value": False}
    restored = {"require_for_users": False, "require_for_queues": False}
    assert world.kind("approval").live["approval"] == restored
    assert run("state", "list").stdout == ""
    assert run("plan", "--destroy", "--refresh-only").exit_code == 1


def test_refresh_reports_drift_without_changing_anything(world: World) -> None:
    assert run("apply", "--auto-approve").exit_code == 0
    assert "No drift" in run("refresh").output
    world.kind("org_setting").touch("org_setting.Alpha", {"value": False})
    result = run("refresh", "--detailed-exitcode")
    assert result.exit_code == 2
    assert "org_setting.Alpha" in result.output and "value: true -> false" in result.output
    assert "approval" not in result.output.split("Drift:")[0].replace("org_setting", "")
    assert run("plan", "--refresh-only").exit_code == 0


def test_guard_refusals_exit_1_listing_every_reason(world: World) -> None:
    world.kind("approval").refusals = ["would lock you out", "another reason"]
    result = run("plan")
    assert result.exit_code == 1
    assert "would lock you out" in result.stderr and "another reason" in result.stderr


def test_target_applies_only_the_selected_address(world: World) -> None:
    assert run("apply", "--auto-approve", "--target", "approval").exit_code == 0
    assert world.kind("approval").applied == ["approval"] and not world.kind("org_setting").applied


def test_show_without_plan_prints_the_state(world: World) -> None:
    assert "No state yet" in run("show").output
    run("apply", "--auto-approve")
    out = run("show").output
    assert "org_setting.Alpha:" in out and "value = true" in out
    assert json.loads(run("show", "--json").output)["serial"] == 2


def test_missing_config_is_an_error_not_a_traceback(world: World, tmp_path: Path) -> None:
    result = run("plan", "-c", str(tmp_path / "nope.toml"))
    assert result.exit_code == 1 and "Traceback" not in result.output + result.stderr


@pytest.mark.parametrize("answer", ["n", "y", "Y", "yes please", ""])
def test_apply_on_a_terminal_refuses_anything_but_yes(world: World, monkeypatch: pytest.MonkeyPatch,
                                                      answer: str) -> None:
    from sssctl.app import commands

    monkeypatch.setattr(commands, "stdin_is_terminal", lambda: True)
    declined = CliRunner().invoke(cli, ["apply"], input=f"{answer}\n")
    assert declined.exit_code == 1
    assert "Apply these 2 changes?" in declined.output and "Only 'yes' will be accepted" in declined.output
    assert "apply cancelled; nothing was changed" in declined.stderr
    assert not world.kind("approval").applied


def test_apply_on_a_terminal_applies_after_yes(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from sssctl.app import commands

    monkeypatch.setattr(commands, "stdin_is_terminal", lambda: True)
    accepted = CliRunner().invoke(cli, ["apply"], input="yes\n")
    assert accepted.exit_code == 0 and world.kind("approval").applied == ["approval"]


def test_audit_and_export_do_not_wait_for_the_lock(world: World, tmp_path: Path) -> None:
    acquire(tmp_path / "state" / "test.lock", "apply")
    assert run("audit").exit_code == 0
    assert run("export").exit_code == 0
    assert run("plan").exit_code == 0  # plan writes no state, so it takes no lock either
    assert run("apply", "--auto-approve").exit_code == 4


def test_timeout_and_parallelism_reach_the_clients_as_a_deadline_and_a_cap(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[dict[str, object]] = []
    services = world.services()
    real = services.open_clients

    def recording(desired: object, **kwargs: object) -> object:
        opened.append(kwargs)
        return real(desired, **kwargs)

    services.open_clients = recording
    monkeypatch.setattr(runner, "default_services", lambda: services)
    assert run("apply", "--auto-approve", "--timeout", "45m", "--parallelism", "8").exit_code == 0
    assert run("apply", "--auto-approve").exit_code == 0
    assert [(o["timeout"], o["max_concurrency"]) for o in opened] == [(2700.0, 8), (None, 52)]


@pytest.mark.parametrize(("args", "complaint"), [
    (("--timeout", "soon"), "'soon' is not a duration: write e.g. 45m, 2h, 1h30m or 0"),
    (("--parallelism", "53"), "53 is not in the range 1<=x<=52"),
])
def test_a_bad_timeout_or_parallelism_is_refused_before_anything_runs(
    world: World, args: tuple[str, str], complaint: str
) -> None:
    result = CliRunner().invoke(cli, ["apply", "--auto-approve", *args])
    assert result.exit_code == 2 and complaint in result.output
    assert not any(kind.applied for kind in world.kinds)


def test_one_change_is_asked_about_in_the_singular(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from sssctl.app import commands

    monkeypatch.setattr(commands, "stdin_is_terminal", lambda: True)
    declined = CliRunner().invoke(cli, ["apply", "--target", "approval"], input="no\n")
    assert "Apply this change?" in declined.output and "these 1 changes" not in declined.output


def test_an_apply_with_a_failure_does_not_call_itself_complete(world: World) -> None:
    world.kind("approval").apply_errors["approval"] = RuntimeError("HTTP 500 from the service")
    result = run("apply", "--auto-approve")
    assert result.exit_code == 1
    summary = "Apply finished with errors: 1 changed, 0 created, 0 destroyed, 0 refused, 1 failed."
    assert summary in result.output
    assert "Apply complete" not in result.output
