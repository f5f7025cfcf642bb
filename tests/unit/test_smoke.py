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
