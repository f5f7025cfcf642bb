"""An unknown tenant, as Entra answers it: ``invalid_tenant`` with AADSTS90002, on discovery
and on the token endpoint, seen raw and through azure-identity (a client nobody here wrote)."""

from __future__ import annotations

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential

from sssctl.emulator.info import EmulatorInfo

from .msal_helpers import msal_http

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

UNKNOWN = "fabrikam.onmicrosoft.com"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "v2.0/.well-known/openid-configuration"), ("POST", "oauth2/v2.0/token")],
)
def test_unknown_tenant_is_invalid_tenant_90002(emulator: EmulatorInfo, method: str, path: str) -> None:
    form = {"grant_type": "client_credentials", "client_id": emulator.client_id, "scope": "x/.default"}
    with msal_http(emulator) as http:
        response = http.request(
            method, f"{emulator.login_url}/{UNKNOWN}/{path}", data=form if method == "POST" else None
        )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_tenant" and body["error_codes"] == [90002]
    assert body["error_description"].startswith(f"AADSTS90002: Tenant '{UNKNOWN}' not found.")


def test_azure_identity_reports_the_unknown_tenant(emulator: EmulatorInfo) -> None:
    """MSAL (under azure-identity) reads the failed discovery as it does against Entra."""
    credential = ClientSecretCredential(
        UNKNOWN,
        emulator.client_id,
        emulator.client_secret,
        authority=emulator.login_url,
        connection_verify=emulator.ca_file,
        disable_instance_discovery=True,
    )
    with pytest.raises(ClientAuthenticationError) as raised:
        credential.get_token(f"{emulator.graph_url}/.default")
    message = str(raised.value)
    assert f"Unable to get authority configuration for {emulator.login_url}/{UNKNOWN}" in message
    assert "tenant name or GUID" in message
