"""``sssctl validate`` and ``sssctl schema`` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sssctl.cli import cli
from sssctl.config import spec
from sssctl.config.schema import render_schema
from tests.unit.config.conftest import CONFIGS, Write

TYPO = '[org_settings]\nRequirePrivilegeToSelfApproveEmailAddres = true\n'


# whatever the shell running the tests exports, these tests see no SSSCTL_* override
NO_OVERRIDES: dict[str, str | None] = dict.fromkeys(spec.ENV_OVERRIDES)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=NO_OVERRIDES)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.mark.timeout(30)
def test_valid_examples_exit_0() -> None:
    examples = sorted(CONFIGS.glob("*.toml"))
    code, output = run("validate", *[str(p) for p in examples])
    assert code == 0
    assert output.count(": valid (sha256:") == len(examples) >= 3


def test_typo_names_file_key_path_line_and_suggestion(write: Write) -> None:
    path = write(TYPO)
    code, output = run("validate", str(path))
    assert code == 1
    where = f"{path}:3: org_settings.RequirePrivilegeToSelfApproveEmailAddres"
    assert f"{where}: unknown OrgDBOrgSetting" in output
    assert 'did you mean "RequirePrivilegeToSelfApproveEmailAddress"?' in output


def stdout_of(*args: str) -> tuple[int, str]:
    """What a pipe reads: warnings (placeholder GUIDs) go to stderr, the JSON alone to stdout."""
    result = CliRunner().invoke(cli, list(args), env=NO_OVERRIDES)
    return result.exit_code, result.stdout


def test_json_output_lists_findings(write: Write) -> None:
    path = write(TYPO)
    code, output = stdout_of("validate", "--json", str(path), str(CONFIGS / "minimal.toml"))
    assert code == 1
    assert json.loads(output) == [{
        "file": str(path), "key_path": "org_settings.RequirePrivilegeToSelfApproveEmailAddres", "line": 3,
        "message": "unknown OrgDBOrgSetting (not in the catalogue)",
        "suggestion": "RequirePrivilegeToSelfApproveEmailAddress"}]


def test_json_output_of_valid_files_is_an_empty_list() -> None:
    code, output = stdout_of("validate", "--json", str(CONFIGS / "minimal.toml"))
    assert (code, json.loads(output)) == (0, [])


def test_missing_file_and_syntax_error_are_findings_not_tracebacks(write: Write, tmp_path: Path) -> None:
    broken = write('[environment\nname = "x"\n')
    code, output = run("validate", str(tmp_path / "absent.toml"), str(broken))
    assert code == 1
    assert "absent.toml: file not found" in output
    assert f"{broken}:2: TOML syntax error" in output and "column" in output
    assert "Traceback" not in output


def test_no_file_or_a_directory_exits_1_with_a_message(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate"], env=NO_OVERRIDES)
    assert result.exit_code == 1 and "name the files to check" in result.output
    code, output = run("validate", str(tmp_path))
    assert code == 1 and "cannot read file" in output


def test_validate_applies_environment_overrides(write: Write) -> None:
    env = {**NO_OVERRIDES, "SSSCTL_URL": "http://insecure"}
    result = CliRunner().invoke(cli, ["validate", str(write(""))], env=env)
    assert result.exit_code == 1
    assert "$SSSCTL_URL: environment.url" in result.output


def test_schema_prints_the_committed_schema() -> None:
    code, output = run("schema")
    assert code == 0
    assert output == render_schema()


@pytest.mark.parametrize("command", ["validate", "schema"])
def test_help_shows_an_example(command: str) -> None:
    code, output = run(command, "--help")
    assert code == 0
    assert f"sssctl {command}" in output


@pytest.mark.timeout(60)
def test_extends_of_standard_input_is_refused_while_a_writer_keeps_it_open(write: Write) -> None:
    """A pipe that never ends must not hang validate: it is not a regular file, so not read."""
    path = write('extends = "/dev/stdin"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSSCTL_")}
    with subprocess.Popen([sys.executable, "-m", "sssctl", "validate", str(path)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
        assert proc.wait(timeout=45) == 1          # stdin is still open: nothing waited for EOF
        assert proc.stdout is not None
        out = proc.stdout.read()
    assert f"{path}:2: extends: base file /dev/stdin cannot be read: it is a FIFO (named pipe)" in out


INLINE_SECRET = ('[auth]\nmethod = "client_secret"\nclient_id = "11111111-1111-1111-1111-111111111111"\n'
                 'client_secret = "committed-to-git"\n')


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_inline_secret_is_refused_even_when_the_variable_is_set(write: Write, command: str) -> None:
    """CI sets SSSCTL_CLIENT_SECRET, and that is exactly where validate gates a pull request."""
    path = write(INLINE_SECRET)
    env = {**NO_OVERRIDES, "SSSCTL_CLIENT_SECRET": "from-the-pipeline"}
    args = [command, str(path)] if command == "validate" else [command, "-c", str(path)]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 1
    assert f"{path}:5: auth.client_secret: inline secrets are refused" in result.output
    assert "committed-to-git" not in result.output
