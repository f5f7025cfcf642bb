"""The emulated Azure Pipelines OIDC endpoint answers as Azure DevOps does."""

from __future__ import annotations

import httpx
import jwt
import pytest

from sssctl.emulator import azure_devops
from sssctl.emulator import constants as c
from sssctl.emulator.admin_client import trusting_client
from sssctl.emulator.info import EmulatorInfo

pytestmark = pytest.mark.integration
KNOWN = f"?api-version=7.1&serviceConnectionId={azure_devops.SERVICE_CONNECTION_ID}"
UNKNOWN = "?api-version=7.1&serviceConnectionId=00000000-0000-4000-8000-000000000000"


def _post(emulator: EmulatorInfo, *, query: str, token: str | None = None) -> httpx.Response:
    job = azure_devops.pipeline_environ(emulator.url, emulator.admin_token)
    with trusting_client(emulator) as client:
        return client.post(f"{job['SYSTEM_OIDCREQUESTURI']}{query}",
                           headers={"Authorization": f"Bearer {token or job['SYSTEM_ACCESSTOKEN']}"})


def test_issues_a_short_lived_assertion_naming_the_service_connection(emulator: EmulatorInfo) -> None:
    response = _post(emulator, query=KNOWN)
    assert response.status_code == 200
    claims = jwt.decode(response.json()["oidcToken"], options={"verify_signature": False})
    assert claims["sub"] == c.AZURE_DEVOPS_SUBJECT
    assert claims["aud"] == c.FEDERATED_AUDIENCE
    assert 0 < claims["exp"] - claims["iat"] <= 3600


def test_refuses_a_request_without_api_version(emulator: EmulatorInfo) -> None:
    response = _post(emulator, query=f"?serviceConnectionId={azure_devops.SERVICE_CONNECTION_ID}")
    assert response.status_code == 400
    assert response.json()["typeKey"] == "VssVersionNotSpecifiedException"


def test_refuses_another_job_access_token(emulator: EmulatorInfo) -> None:
    response = _post(emulator, query="?api-version=7.1", token="someone-elses-token")
    assert response.status_code == 401


def test_refuses_an_unknown_service_connection(emulator: EmulatorInfo) -> None:
    response = _post(emulator, query=UNKNOWN)
    assert response.status_code == 404
    assert "not authorized" in response.json()["message"]
