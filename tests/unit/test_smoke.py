from pathlib import Path

from click.testing import CliRunner

from sssctl.cli import cli


def test_version_prints_the_package_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert "sssctl" in result.output


def test_usage_errors_exit_1_never_the_changes_present_code() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "sssctl", "plan", "--no-such-flag"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 1
    assert "No such option" in result.stderr


def test_engine_commands_without_a_config_say_how_to_name_one(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "SSSCTL_CONFIG"}
    result = subprocess.run(
        [sys.executable, "-m", "sssctl", "state", "list"],
        capture_output=True, text=True, check=False, cwd=tmp_path, env=env,
    )
    assert result.returncode == 1
    assert "-c FILE" in result.stderr and "SSSCTL_CONFIG" in result.stderr
