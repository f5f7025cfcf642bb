"""What a pipeline sees from the command line: targets, refused plans, colour and log settings."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sssctl.cli import cli
from tests.unit.app.fakes import World
from tests.unit.app.test_cli import run, world

__all__ = ["world"]   # the fixture, shared with the other CLI tests

pytestmark = pytest.mark.timeout(60)


def test_target_warns_terraform_style_and_plans_only_it(world: World) -> None:
    result = run("plan", "--json", "--target", "approval")
    assert result.exit_code == 0
    assert "Warning: Resource targeting is in effect" in result.stderr
    assert [rc["address"] for rc in json.loads(result.stdout)["resource_changes"]] == ["approval"]


def test_a_target_that_matches_nothing_fails_and_names_it(world: World) -> None:
    result = run("plan", "--target", "approval", "--target", "org_settings.Alpha")
    assert result.exit_code == 1
    assert "--target org_settings.Alpha matches no address" in result.stderr
    assert "No changes" not in result.output
    assert run("apply", "--auto-approve", "--target", "aproval").exit_code == 1
    assert not world.kind("approval").applied


@pytest.mark.parametrize("fmt", ["--json", "--markdown"])
def test_a_refused_plan_still_prints_its_document_and_exits_1(world: World, fmt: str) -> None:
    world.kind("approval").refusals = ["mailboxes still use the default profile"]
    result = run("plan", fmt)
    assert result.exit_code == 1
    assert "the plan is refused" in result.stderr
    if fmt == "--json":
        document = json.loads(result.stdout)
        assert document["errored"] is True and document["applyable"] is False
        assert document["sssctl"]["refused"] == ["mailboxes still use the default profile"]
        assert document["sssctl"]["environment"]["name"] == "test"
    else:
        assert "The plan is refused" in result.stdout and "mailboxes still use the default" in result.stdout


@pytest.mark.parametrize("fmt", ["--json", "--markdown"])
def test_a_plan_that_cannot_be_made_still_prints_an_errored_document(
    world: World, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """A sign-in refused: a pipeline posting the JSON or Markdown gets a document, not 0 bytes."""
    from sssctl.app import runner
    from sssctl.clients.errors import AuthError

    def refused(*_: object, **__: object) -> object:
        raise AuthError("AADSTS7000215: Invalid client secret provided.")

    services = dataclasses.replace(world.services(), open_clients=refused)
    monkeypatch.setattr(runner, "default_services", lambda: services)
    result = run("plan", fmt)
    assert result.exit_code == 1
    assert "AADSTS7000215" in result.stderr
    if fmt == "--json":
        document = json.loads(result.stdout)
        assert (document["errored"], document["applyable"], document["complete"]) == (True, False, False)
        assert document["format_version"].startswith("1.")
        assert "AADSTS7000215" in document["sssctl"]["error"]
    else:
        assert "No plan could be made" in result.stdout and "AADSTS7000215" in result.stdout


@pytest.mark.parametrize("command", [["plan"], ["show"], ["refresh"], ["fleet", "plan", "f.toml"]])
def test_json_and_markdown_together_are_refused(world: World, command: list[str]) -> None:
    result = run(*command, "--json", "--markdown")
    assert result.exit_code != 0 and "--json and --markdown cannot be combined" in result.output


@pytest.mark.parametrize("fmt", ["sarif", "markdown", "table"])
def test_audit_formats(world: World, fmt: str) -> None:
    result = run("audit", "--format", fmt)
    assert result.exit_code == 0, result.output
    if fmt == "sarif":
        assert json.loads(result.stdout)["version"] == "2.1.0"
    elif fmt == "markdown":
        assert result.stdout.startswith("### sssctl audit")
    assert json.loads(run("audit", "--format", "json").stdout)["format_version"] == "1.0"


def test_sarif_locations_are_relative_to_the_repository_root(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step in `working-directory: infra` must still point code scanning at infra/sssctl.toml."""
    (tmp_path / ".git").mkdir()
    infra = tmp_path / "infra"
    infra.mkdir()
    (tmp_path / "sssctl.toml").rename(infra / "sssctl.toml")
    monkeypatch.chdir(infra)
    result = run("audit", "--format", "sarif")
    assert result.exit_code == 0, result.output
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"]
            for r in json.loads(result.stdout)["runs"][0]["results"] for loc in r["locations"]}
    assert uris == {"infra/sssctl.toml"}


@pytest.mark.parametrize(("args", "env", "coloured"), [
    (["--color", "always"], {}, True),
    ([], {"FORCE_COLOR": "1"}, True),
    (["--no-color"], {"FORCE_COLOR": "1"}, False),
    (["--color", "always", "--no-color"], {}, True),
    ([], {"NO_COLOR": "1", "FORCE_COLOR": "1"}, False),
])
def test_colour_of_the_plan(world: World, args: list[str], env: dict[str, str], coloured: bool) -> None:
    result = CliRunner(env={"NO_COLOR": None, "FORCE_COLOR": None, **env}).invoke(
        cli, [*args, "plan"], catch_exceptions=False)
    assert result.exit_code == 0
    assert ("\x1b[" in result.stdout) is coloured


def test_a_bad_log_setting_is_exit_1_with_the_fix(world: World) -> None:
    result = CliRunner(env={"SSSCTL_LOG": "chatty"}).invoke(cli, ["plan"])
    assert result.exit_code == 1
    assert "SSSCTL_LOG='chatty' is not a log level" in result.output


def test_plan_out_into_a_missing_directory_fails_before_planning_naming_the_users_path(
    world: World, tmp_path: Path
) -> None:
    world.kind("approval").fail_read = "read although the plan could never be saved"
    out = tmp_path / "plans" / "prod.plan"
    result = run("plan", "--out", str(out))
    assert result.exit_code == 1
    assert f"cannot write the plan file {out}: the directory {out.parent} does not exist" in result.stderr
    assert "read although" not in result.output
    assert "[Errno" not in result.output and ".tmp" not in result.output


def test_an_unusable_state_directory_names_it_and_the_remedy(world: World, tmp_path: Path) -> None:
    # as root no permission is ever denied, so something else makes the directory unusable
    (tmp_path / "state" / ".test.lock.guard").mkdir(parents=True)
    result = run("apply", "--auto-approve")
    assert result.exit_code == 1
    assert "cannot write in the state directory state: " in result.stderr
    assert "SSSCTL_STATE_DIR" in result.stderr
    assert "[Errno" not in result.output and ".guard" not in result.output
    assert not world.kind("approval").applied


def test_a_plan_file_that_cannot_be_written_names_it_not_its_temp_file(tmp_path: Path) -> None:
    from sssctl.engine import planfile
    from sssctl.engine.errors import EngineError
    from tests.unit.engine.test_render import plan_of

    target = tmp_path / "a-directory.plan"
    (tmp_path / ".a-directory.plan.tmp").mkdir()   # the write itself fails, not the early check
    with pytest.raises(EngineError) as caught:
        planfile.save(target, plan_of(), environment_name="e", config_path=tmp_path / "c.toml")
    assert str(caught.value).startswith(f"cannot write the plan file {target}: ")
    assert ".tmp" not in str(caught.value) and "[Errno" not in str(caught.value)


def test_permission_denied_says_who_runs_sssctl_and_the_container_remedy(tmp_path: Path) -> None:
    from sssctl.errors import cannot_write

    denied = PermissionError(13, "Permission denied", str(tmp_path / ".x.plan.tmp"))
    text = cannot_write(tmp_path / "x.plan", denied, what="the plan file", remedy="Choose another.")
    target = tmp_path / "x.plan"
    assert text.startswith(f"cannot write the plan file {target}: Permission denied. Choose another.")
    assert "uid 10001" in text and ".tmp" not in text
