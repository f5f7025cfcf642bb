"""State for teams as a pipeline meets it: lock-free plans, --lock-timeout, state in Azure Blob."""

from __future__ import annotations

import json
import re
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


def hold_lock(cli: Cli, seconds: float, *, until_input: bool = False) -> tuple[subprocess.Popen[str], str]:
    """Another process holding the state lock the way a running apply does; with
    ``until_input`` it lets go once its stdin is closed (``seconds`` is then only a bound)."""
    holder = subprocess.Popen([sys.executable, "-m", "tests.state_holder", str(cli.config), str(seconds),
                               *(["--until-input"] if until_input else [])],
                              env={**cli.env, "PYTHONPATH": str(ROOT)}, cwd=ROOT, text=True,
                              stdin=subprocess.PIPE if until_input else None, stdout=subprocess.PIPE)
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
    # The holder lets go only once the apply has said it waits: how long a process takes to
    # start on a busy machine must not decide whether the wait is seen.
    holder, lock_id = hold_lock(cli, 90, until_input=True)
    assert holder.stdin is not None
    applying = cli.start("apply", "--auto-approve", "--lock-timeout", "2m")
    assert applying.stderr is not None
    before = ""
    try:
        while "Waiting up to" not in before and (line := applying.stderr.readline()):
            before += line
    finally:
        holder.stdin.close()
    assert holder.wait(timeout=60) == 0
    _, after = applying.communicate(timeout=120)
    assert applying.returncode == exitcodes.OK, before + after
    waited = before + after
    assert waited.count("Waiting up to 2m0s for the state lock") == 1 and lock_id in waited
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


def on_blob(local: str, container: str) -> str:
    """The e2e config with its state in ``container``; the credential comes from the environment."""
    return local + f'\n[state]\nbackend = "azurerm"\ncontainer = "{container}"\n'


def migrate_named(said: str, cli: Cli) -> list[str]:
    """The ``state migrate`` arguments a refusal prints, checked to name the config in use."""
    match = re.search(r"`sssctl (state migrate --from \S+) -c (\S+)`", said)
    assert match is not None and match.group(2) == str(cli.config), said
    return match.group(1).split()


def test_a_move_to_another_container_before_migrate_is_refused(cli: Cli, azurite: Azurite) -> None:
    """The snapshot's old container is known from the breadcrumb the last write left beside the config."""
    local = cli.config.read_text()
    cli.env["SSSCTL_STATE_CONNECTION_STRING"] = azurite.connection_string
    first, second = azurite.new_container(), azurite.new_container()
    cli.config.write_text(on_blob(local, first))
    assert cli.run("apply", "--auto-approve").returncode == exitcodes.OK
    assert not cli.state_file.exists()
    cli.config.write_text(on_blob(local, second))
    for command in (("plan",), ("refresh",), ("apply", "--auto-approve"), ("destroy", "--auto-approve")):
        refused = cli.run(*command)
        assert refused.returncode == exitcodes.ERROR, refused.stdout
        said = refused.stdout + refused.stderr
        assert "holds no snapshot" in said and f"/{first}/e2e.sssctl.json" in said, said
        assert azurite.connection_string.split("AccountKey=")[1][:20] not in said
    assert migrate_named(said, cli) == ["state", "migrate", "--from", f"azurerm:{first}/e2e.sssctl.json"]
    assert cli.run(*migrate_named(said, cli)).returncode == exitcodes.OK
    assert cli.run("plan", "--detailed-exitcode").returncode == exitcodes.OK
    pulled = json.loads(cli.run("state", "pull").stdout)
    assert pulled["location"]["container"] == second and pulled["location"]["kind"] == "azurerm"
    assert set(pulled["location"]) == {"kind", "account_url", "container", "key"}  # and no credential
    crumb = (cli.state_dir / "e2e.location").read_text()
    assert second in crumb and "AccountKey" not in crumb


def test_a_move_from_blob_back_to_local_before_migrate_is_refused(cli: Cli, azurite: Azurite) -> None:
    local = cli.config.read_text()
    container = azurite.new_container()
    cli.env["SSSCTL_STATE_CONNECTION_STRING"] = azurite.connection_string
    cli.config.write_text(on_blob(local, container))
    assert cli.run("apply", "--auto-approve").returncode == exitcodes.OK
    cli.config.write_text(local)

    without = {k: v for k, v in cli.env.items() if k != "SSSCTL_STATE_CONNECTION_STRING"}
    blind = subprocess.run(cli.command("plan", "-c", str(cli.config)), env=without, cwd=cli.workdir,
                           capture_output=True, text=True, timeout=120, check=False)
    assert blind.returncode == exitcodes.ERROR  # the old blob cannot be read: nobody can say it is gone
    assert "cannot be read" in blind.stderr and str(cli.state_dir / "e2e.location") in blind.stderr

    refused = cli.run("plan")
    assert refused.returncode == exitcodes.ERROR
    args = migrate_named(refused.stdout + refused.stderr, cli)
    assert args == ["state", "migrate", "--from", f"azurerm:{container}/e2e.sssctl.json"]
    assert cli.run(*args).returncode == exitcodes.OK
    assert cli.run("plan", "--detailed-exitcode").returncode == exitcodes.OK
    assert json.loads(cli.state_file.read_text())["location"] == {"kind": "local", "path": "state"}
