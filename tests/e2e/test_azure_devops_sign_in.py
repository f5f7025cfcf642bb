"""Signing in from an Azure Pipelines job through a workload identity federation service
connection: the emulator plays the job's OIDC endpoint, MSAL exchanges the assertion."""

from __future__ import annotations

from pathlib import Path

import pytest

from sssctl.emulator import azure_devops
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo
from tests.e2e.conftest import Cli

pytestmark = pytest.mark.e2e

# No tenant, client or secret in the file: the pipeline supplies them, as an AzureCLI@2 step does.
PIPELINE_CONFIG = """
version = 1

[environment]
name = "e2e"

[auth]
method = "workload_identity"

[org_settings]
RequirePrivilegeToSelfApproveEmailAddress = true
"""


def _pipeline_cli(cli: Cli, emulator: EmulatorInfo, tmp_path: Path, **changes: str) -> Cli:
    config = tmp_path / "pipeline.toml"
    config.write_text(PIPELINE_CONFIG)
    env = {k: v for k, v in cli.env.items()
           if k not in ("SSSCTL_AUTH_METHOD", "SSSCTL_CLIENT_ID", "SSSCTL_CLIENT_SECRET", "SSSCTL_TENANT_ID",
                        "SSSCTL_CLIENT_CERTIFICATE")}
    env.update(azure_devops.pipeline_environ(emulator.url, emulator.admin_token))
    env.update(AZURE_CLIENT_ID=emulator.client_id, AZURE_TENANT_ID=emulator.tenant_id, **changes)
    return Cli(env=env, config=config, state_dir=cli.state_dir, workdir=cli.workdir)


def test_auth_check_signs_in_through_the_service_connection(
        cli: Cli, emulator: EmulatorInfo, admin: AdminClient, tmp_path: Path) -> None:
    done = _pipeline_cli(cli, emulator, tmp_path).run("auth", "check")
    assert done.returncode == 0, done.stdout + done.stderr
    routes = admin.counters()["by_route"]
    assert routes.get("POST login:oidctoken", 0) >= 1
    assert routes.get("POST login:token", 0) >= 1


def test_plan_runs_on_the_service_connection_without_any_stored_secret(
        cli: Cli, emulator: EmulatorInfo, admin: AdminClient, tmp_path: Path) -> None:
    done = _pipeline_cli(cli, emulator, tmp_path).run("plan", "--detailed-exitcode")
    assert done.returncode in (0, 2), done.stdout + done.stderr
    assert "org_setting.RequirePrivilegeToSelfApproveEmailAddress" in done.stdout


def test_a_wrong_job_access_token_fails_with_the_remedy_and_never_prints_the_token(
        cli: Cli, emulator: EmulatorInfo, admin: AdminClient, tmp_path: Path) -> None:
    wrong = "not-the-job-access-token-0123456789"
    done = _pipeline_cli(cli, emulator, tmp_path, SYSTEM_ACCESSTOKEN=wrong).run("plan")
    assert done.returncode == 1
    assert "refused the job access token" in done.stdout + done.stderr
    assert "$(System.AccessToken)" in done.stdout + done.stderr
    assert wrong not in done.stdout + done.stderr


def test_an_unknown_service_connection_is_named(
        cli: Cli, emulator: EmulatorInfo, admin: AdminClient, tmp_path: Path) -> None:
    unknown = "00000000-1111-4222-8333-444444444444"
    done = _pipeline_cli(cli, emulator, tmp_path, SSSCTL_SERVICE_CONNECTION_ID=unknown).run("plan")
    assert done.returncode == 1
    assert unknown in done.stdout + done.stderr
    assert "not authorized to use it" in done.stdout + done.stderr


def test_a_placeholder_tenant_in_the_file_names_the_azure_cli_task_value_it_beat(
        cli: Cli, emulator: EmulatorInfo, tmp_path: Path) -> None:
    """The AzureCLI@2 task exports AZURESUBSCRIPTION_TENANT_ID, but a tenant written in the
    file wins (an explicit choice is never swapped for an ambient one): the failed sign-in
    says so and how to use the task's value."""
    pipeline = _pipeline_cli(cli, emulator, tmp_path)
    pipeline.config.write_text(PIPELINE_CONFIG.replace(
        'name = "e2e"', 'name = "e2e"\ntenant_id = "00000000-0000-0000-0000-000000000000"'))
    env = {k: v for k, v in pipeline.env.items() if k != "AZURE_TENANT_ID"}
    env["AZURESUBSCRIPTION_TENANT_ID"] = emulator.tenant_id
    done = Cli(env=env, config=pipeline.config, state_dir=cli.state_dir, workdir=cli.workdir).run("plan")
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert f"AZURESUBSCRIPTION_TENANT_ID was set to {emulator.tenant_id}" in output
    assert "SSSCTL_TENANT_ID=$AZURESUBSCRIPTION_TENANT_ID" in output
    assert "environment.tenant_id is the placeholder" in output
