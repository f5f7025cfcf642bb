"""State for teams as a pipeline meets it: lock-free plans, --lock-timeout, state in Azure Blob."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sssctl import exitcodes
from tests.azurite import ROOT, Azurite, running_azurite
from tests.e2e.conftest import Cli

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    with running_azurite(tmp_path_factory.mktemp("azurite")) as server:
        yield server


def hold_lock(cli: Cli, seconds: float) -> tuple[subprocess.Popen[str], str]:
    """Another process holding the state lock the way a running apply does."""
    holder = subprocess.Popen([sys.executable, "-m", "tests.state_holder", str(cli.config), str(seconds)],
                              env={**cli.env, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    return holder, holder.stdout.readline().strip()


def test_plan_and_refresh_run_while_another_process_holds_the_lock(cli: Cli) -> None:
    holder, lock_id = hold_lock(cli, 300)
    try:
        plan = cli.run("plan", "--detailed-exitcode")
        assert plan.returncode == exitcodes.CHANGES_PRESENT, plan.stderr
        assert cli.run("refresh").returncode == exitcodes.OK
        apply = cli.run("apply", "--auto-approve")
        assert apply.returncode == exitcodes.LOCKED and lock_id in apply.stderr
    finally:
        holder.kill()
        holder.wait()


def test_apply_waits_for_the_lock_with_lock_timeout(cli: Cli) -> None:
    holder, lock_id = hold_lock(cli, 5)
    applied = cli.run("apply", "--auto-approve", "--lock-timeout", "2m")
    assert holder.wait(timeout=60) == 0
    assert applied.returncode == exitcodes.OK, applied.stderr
    assert applied.stderr.count("Waiting up to 2m0s for the state lock") == 1 and lock_id in applied.stderr
    assert cli.run("plan", "--detailed-exitcode").returncode == exitcodes.OK


def test_apply_keeps_its_state_in_azure_blob(cli: Cli, azurite: Azurite, tmp_path: Path) -> None:
    container = azurite.new_container()
    cli.config.write_text(cli.config.read_text() + '\n[state]\nbackend = "azurerm"\n'
                          f'container = "{container}"\nconnection_string = {{ env = "STATE_CONNECTION" }}\n')
    cli.env["STATE_CONNECTION"] = azurite.connection_string
    applied = cli.run("apply", "--auto-approve")
    assert applied.returncode == exitcodes.OK, applied.stderr
    assert not cli.state_file.exists()  # SSSCTL_STATE_DIR belongs to the local backend only
    assert cli.run("plan", "--detailed-exitcode").returncode == exitcodes.OK
    listed = cli.run("state", "list")
    assert "approval" in listed.stdout, listed.stderr
    assert azurite.connection_string.split("AccountKey=")[1][:20] not in applied.stdout + applied.stderr


def test_a_backend_switch_before_migrate_is_refused_not_planned_from_nothing(
    cli: Cli, azurite: Azurite
) -> None:
    """As Terraform does: the configured backend is empty while the local default holds the state."""
    assert cli.run("apply", "--auto-approve").returncode == exitcodes.OK
    local = cli.config.read_text()
    cli.env["STATE_CONNECTION"] = azurite.connection_string
    attempts = (("never-created", ("plan",)), (azurite.new_container(), ("apply", "--auto-approve")))
    for container, command in attempts:
        cli.config.write_text(local + '\n[state]\nbackend = "azurerm"\nconnection_string = '
                              f'{{ env = "STATE_CONNECTION" }}\ncontainer = "{container}"\n')
        refused = cli.run(*command)
        assert refused.returncode == exitcodes.ERROR, refused.stdout
        said = refused.stdout + refused.stderr
        assert "holds no snapshot" in said and str(cli.state_file) in said
        assert f"sssctl state migrate --from local -c {cli.config}" in said
    assert cli.run("state", "migrate", "--from", "local").returncode == exitcodes.OK
    assert cli.run("plan", "--detailed-exitcode").returncode == exitcodes.OK


def test_a_new_local_path_before_migrate_is_refused(cli: Cli) -> None:
    del cli.env["SSSCTL_STATE_DIR"]  # the default: state/ beside the config
    assert cli.run("apply", "--auto-approve").returncode == exitcodes.OK
    cli.config.write_text(cli.config.read_text() + '\n[state]\npath = "moved"\n')
    refused = cli.run("plan")
    assert refused.returncode == exitcodes.ERROR
    assert "sssctl state migrate --from local:state" in refused.stdout + refused.stderr
    assert cli.run("state", "migrate", "--from", "local:state").returncode == exitcodes.OK
    assert cli.run("plan", "--detailed-exitcode").returncode == exitcodes.OK
