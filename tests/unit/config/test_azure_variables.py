"""The standard Azure variables fill what neither SSSCTL_* nor the file sets."""

from __future__ import annotations

from pathlib import Path

from tests.unit.config.conftest import Write, findings_of, load_ok, only

TENANT = "0f6e2b8a-3c1d-4e5f-9a8b-7c6d5e4f3a2b"
CLIENT = "1a2b3c4d-0000-4000-8000-000000000001"
OTHER = "9f8e7d6c-0000-4000-8000-000000000002"
CONNECTION = "e0f1a2b3-c4d5-4e6f-9a7b-8c9d0e1f2a3b"
AZURE = {
    "AZURE_TENANT_ID": TENANT,
    "AZURE_CLIENT_ID": CLIENT,
    "AZURE_FEDERATED_TOKEN_FILE": "/var/run/secrets/azure/tokens/azure-identity-token",
    "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": CONNECTION,
}


def test_azure_variables_fill_keys_the_file_leaves_out(write: Write) -> None:
    desired = load_ok(write('[auth]\nmethod = "workload_identity"\n'), AZURE)
    assert desired.environment.tenant_id == TENANT
    assert desired.auth.client_id == CLIENT
    assert desired.auth.federated_token_file == Path(AZURE["AZURE_FEDERATED_TOKEN_FILE"])
    assert desired.auth.service_connection_id == CONNECTION


def test_the_file_wins_over_an_ambient_azure_variable(write: Write) -> None:
    path = write(f'[auth]\nclient_id = "{OTHER}"\nservice_connection_id = "{OTHER}"\n')
    auth = load_ok(path, AZURE).auth
    assert (auth.client_id, auth.service_connection_id) == (OTHER, OTHER)


def test_sssctl_variables_win_over_azure_ones(write: Write) -> None:
    environ = {**AZURE, "SSSCTL_CLIENT_ID": OTHER, "SSSCTL_SERVICE_CONNECTION_ID": OTHER}
    auth = load_ok(write(""), environ).auth
    assert (auth.client_id, auth.service_connection_id) == (OTHER, OTHER)


def test_a_malformed_azure_variable_is_reported_under_its_own_name(write: Write) -> None:
    finding = only(findings_of(write(""), {"AZURE_CLIENT_ID": "not-a-guid"}))
    assert finding.file == "$AZURE_CLIENT_ID"
    assert finding.key_path == "auth.client_id"


def test_a_malformed_service_connection_id_in_the_file_is_refused(write: Write) -> None:
    finding = only(findings_of(write('[auth]\nservice_connection_id = "sssctl-prod"\n')))
    assert finding.key_path == "auth.service_connection_id"
    assert "GUID" in finding.message



def test_the_azure_cli_task_variables_are_enough_for_a_pipeline(write: Write) -> None:
    environ = {"AZURESUBSCRIPTION_TENANT_ID": TENANT, "AZURESUBSCRIPTION_CLIENT_ID": CLIENT,
               "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": CONNECTION}
    desired = load_ok(write(""), environ)
    assert (desired.environment.tenant_id, desired.auth.client_id) == (TENANT, CLIENT)
    assert desired.auth.service_connection_id == CONNECTION


def test_azure_client_id_wins_over_the_task_variable(write: Write) -> None:
    environ = {"AZURE_CLIENT_ID": CLIENT, "AZURESUBSCRIPTION_CLIENT_ID": OTHER}
    assert load_ok(write(""), environ).auth.client_id == CLIENT
