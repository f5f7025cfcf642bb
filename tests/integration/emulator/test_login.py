"""Sign-in against the emulator with real MSAL, over HTTPS, for every supported flow."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import jwt
import msal
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from sssctl.emulator import constants as c
from sssctl.emulator.admin_client import AdminClient, trusting_client
from sssctl.emulator.directory import EXPIRED_SECRET
from sssctl.emulator.info import EmulatorInfo

from .msal_helpers import certificate_credential as _certificate_credential
from .msal_helpers import msal_http as _http

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def _cca(
    info: EmulatorInfo, credential: Any, client_id: str | None = None, **kw: Any
) -> msal.ClientApplication:
    return msal.ConfidentialClientApplication(
        client_id or info.client_id,
        client_credential=credential,
        authority=info.authority,
        instance_discovery=False,
        http_client=_http(info),
        **kw,
    )


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def test_client_secret_gets_a_dataverse_token_without_roles(emulator: EmulatorInfo) -> None:
    result = _cca(emulator, emulator.client_secret).acquire_token_for_client(
        [f"{emulator.dataverse_url}/.default"]
    )
    assert "access_token" in result, result
    claims = _claims(result["access_token"])
    assert claims["aud"] == emulator.dataverse_url
    assert claims["appid"] == emulator.client_id
    assert claims["ver"] == "1.0" and claims["iss"] == f"https://sts.windows.net/{c.TENANT_ID}/"
    assert claims["tid"] == c.TENANT_ID
    assert claims["oid"] == c.SSSCTL_SP_OBJECT_ID
    assert "roles" not in claims  # Entra omits an empty roles claim
    assert 3500 <= result["expires_in"] <= 3600
    assert "scope" not in result or result.get("token_source") == "cache"


def test_second_request_is_served_from_the_msal_cache(emulator: EmulatorInfo) -> None:
    app = _cca(emulator, emulator.client_secret)
    scopes = [f"{emulator.graph_url}/.default"]
    first = app.acquire_token_for_client(scopes)
    second = app.acquire_token_for_client(scopes)
    assert first["token_source"] == "identity_provider"
    assert second["token_source"] == "cache"


def test_graph_and_exchange_tokens_carry_the_granted_roles(emulator: EmulatorInfo) -> None:
    app = _cca(emulator, emulator.client_secret)
    graph = _claims(app.acquire_token_for_client([f"{emulator.graph_url}/.default"])["access_token"])
    exchange = _claims(app.acquire_token_for_client([f"{emulator.exchange_url}/.default"])["access_token"])
    assert set(graph["roles"]) == {
        "Application.ReadWrite.All",
        "AppRoleAssignment.ReadWrite.All",
        "Directory.Read.All",
    }
    assert exchange["roles"] == ["Exchange.ManageAsApp"]
    assert exchange["wids"]


def test_trailing_slash_on_the_resource_is_tolerated(emulator: EmulatorInfo) -> None:
    result = _cca(emulator, emulator.client_secret).acquire_token_for_client(
        [f"{emulator.graph_url}//.default".replace("//.", "/.")]
    )
    assert "access_token" in result
    with _http(emulator) as http:
        response = http.post(
            f"{emulator.authority}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": emulator.client_id,
                "client_secret": emulator.client_secret,
                "scope": f"{emulator.dataverse_url}//.default",
            },
        )
    assert response.status_code == 200
    assert _claims(response.json()["access_token"])["aud"] == emulator.dataverse_url


def test_certificate_assertion_signs_in(emulator: EmulatorInfo) -> None:
    result = _cca(emulator, _certificate_credential(emulator)).acquire_token_for_client(
        [f"{emulator.dataverse_url}/.default"]
    )
    assert "access_token" in result, result
    assert _claims(result["access_token"])["appidacr"] == "2"


def test_certificate_assertion_with_sha256_thumbprint_signs_in(emulator: EmulatorInfo) -> None:
    pem = Path(emulator.client_certificate_file).read_text()
    credential = {"private_key": pem, "public_certificate": pem}
    result = _cca(emulator, credential).acquire_token_for_client([f"{emulator.graph_url}/.default"])
    assert "access_token" in result, result


def test_unregistered_certificate_is_refused_with_700027(emulator: EmulatorInfo, tmp_path: Path) -> None:
    from sssctl.emulator.certs import load_key_material

    other = load_key_material(tmp_path)
    pem = other.client_certificate_file.read_bytes()
    cert = x509.load_pem_x509_certificate(pem)
    credential = {"private_key": pem.decode(), "thumbprint": cert.fingerprint(hashes.SHA1()).hex()}
    result = _cca(emulator, credential).acquire_token_for_client([f"{emulator.graph_url}/.default"])
    assert result["error"] == "invalid_client"
    assert 700027 in result["error_codes"]


def test_federated_assertion_from_the_token_file_signs_in(emulator: EmulatorInfo) -> None:
    credential = {"client_assertion": lambda: Path(emulator.federated_token_file).read_text()}
    result = _cca(emulator, credential).acquire_token_for_client([f"{emulator.exchange_url}/.default"])
    assert "access_token" in result, result
    assert _claims(result["access_token"])["appid"] == emulator.client_id


def test_federated_assertion_for_an_app_without_matching_credential_fails_with_70021(
    emulator: EmulatorInfo,
) -> None:
    credential = {"client_assertion": lambda: Path(emulator.federated_token_file).read_text()}
    result = _cca(emulator, credential, client_id=c.LIMITED_APP_ID).acquire_token_for_client(
        [f"{emulator.graph_url}/.default"]
    )
    assert 70021 in result["error_codes"]


def test_wrong_secret_fails_with_7000215(emulator: EmulatorInfo) -> None:
    result = _cca(emulator, "not-the-secret").acquire_token_for_client([f"{emulator.graph_url}/.default"])
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]
    assert result["error_description"].startswith("AADSTS7000215:")
    assert "Trace ID:" in result["error_description"]


def test_expired_secret_fails_with_7000222(emulator: EmulatorInfo) -> None:
    result = _cca(emulator, EXPIRED_SECRET).acquire_token_for_client([f"{emulator.graph_url}/.default"])
    assert result["error_codes"] == [7000222]


def test_unknown_app_fails_with_700016(emulator: EmulatorInfo) -> None:
    result = _cca(
        emulator, "x" * 20, client_id="00000000-1111-2222-3333-444444444444"
    ).acquire_token_for_client([f"{emulator.graph_url}/.default"])
    assert result["error_codes"] == [700016]


def test_unknown_resource_fails_with_500011(emulator: EmulatorInfo) -> None:
    result = _cca(emulator, emulator.client_secret).acquire_token_for_client(
        ["https://contoso.crm.dynamics.com/.default"]
    )
    assert result["error"] == "invalid_resource"
    assert result["error_codes"] == [500011]


def test_unknown_tenant_fails_with_90002(emulator: EmulatorInfo) -> None:
    with _http(emulator) as http:
        response = http.get(
            f"{emulator.login_url}/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration"
        )
    assert response.status_code == 400
    assert response.json()["error_codes"] == [90002]


def test_discovery_tolerates_a_double_slash(emulator: EmulatorInfo) -> None:
    with _http(emulator) as http:
        response = http.get(f"{emulator.authority}//v2.0/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.json()["issuer"] == f"{emulator.authority}/v2.0"


def test_managed_identity_maps_to_the_sssctl_app(
    emulator: EmulatorInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", emulator.msi_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", emulator.msi_header)
    client = msal.ManagedIdentityClient(msal.SystemAssignedManagedIdentity(), http_client=_http(emulator))
    result = client.acquire_token_for_client(resource=emulator.dataverse_url)
    assert "access_token" in result, result
    claims = _claims(result["access_token"])
    assert claims["appid"] == c.SSSCTL_APP_ID
    assert claims["aud"] == emulator.dataverse_url


def test_managed_identity_refuses_a_wrong_identity_header(emulator: EmulatorInfo) -> None:
    with _http(emulator) as http:
        response = http.get(
            emulator.msi_endpoint,
            params={"api-version": "2019-08-01", "resource": emulator.graph_url},
            headers={"X-IDENTITY-HEADER": "wrong"},
        )
    assert response.status_code == 401


def _device_flow(
    emulator: EmulatorInfo, cache: msal.SerializableTokenCache, approve: Any
) -> tuple[msal.PublicClientApplication, dict[str, Any]]:
    app = msal.PublicClientApplication(
        emulator.client_id,
        authority=emulator.authority,
        instance_discovery=False,
        http_client=_http(emulator),
        token_cache=cache,
    )
    flow = app.initiate_device_flow(scopes=[f"{emulator.dataverse_url}/user_impersonation"])
    assert "user_code" in flow, flow
    assert flow["user_code"] in flow["message"]
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(app.acquire_token_by_device_flow(flow)))
    worker.start()
    approve(flow["user_code"])
    worker.join(timeout=20)
    return app, result


def test_device_code_is_pending_until_approved_then_delegated(
    emulator: EmulatorInfo, emulator_admin: AdminClient
) -> None:
    cache = msal.SerializableTokenCache()
    app, result = _device_flow(emulator, cache, emulator_admin.approve_device_codes)
    assert "access_token" in result, result
    claims = _claims(result["access_token"])
    assert claims["oid"] == c.ADMIN_USER_OBJECT_ID
    assert claims["upn"] == c.ADMIN_USER_UPN
    assert claims["scp"] == "user_impersonation"
    assert "refresh_token" in result
    assert [a["username"] for a in app.get_accounts()] == [c.ADMIN_USER_UPN]


def test_pending_device_code_answers_authorization_pending(emulator: EmulatorInfo) -> None:
    with _http(emulator) as http:
        flow = http.post(
            f"{emulator.authority}/oauth2/v2.0/devicecode",
            data={"client_id": emulator.client_id, "scope": f"{emulator.graph_url}/.default offline_access"},
        ).json()
        poll = http.post(
            f"{emulator.authority}/oauth2/v2.0/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                "client_id": emulator.client_id,
                "device_code": flow["device_code"],
            },
        )
    assert poll.status_code == 400
    assert poll.json()["error"] == "authorization_pending"


def test_persisted_cache_refreshes_for_another_resource(
    emulator: EmulatorInfo, emulator_admin: AdminClient
) -> None:
    cache = msal.SerializableTokenCache()
    _device_flow(emulator, cache, emulator_admin.approve_device_codes)
    saved = cache.serialize()

    reloaded = msal.SerializableTokenCache()
    reloaded.deserialize(saved)
    app = msal.PublicClientApplication(
        emulator.client_id,
        authority=emulator.authority,
        instance_discovery=False,
        http_client=_http(emulator),
        token_cache=reloaded,
    )
    account = app.get_accounts()[0]
    result = app.acquire_token_silent([f"{emulator.graph_url}/.default"], account=account)
    assert result is not None and "access_token" in result, result
    assert result["token_source"] == "identity_provider"
    assert _claims(result["access_token"])["aud"] == emulator.graph_url


def test_token_for_one_audience_is_refused_by_another_service(emulator: EmulatorInfo) -> None:
    token = _cca(emulator, emulator.client_secret).acquire_token_for_client(
        [f"{emulator.dataverse_url}/.default"]
    )["access_token"]
    with trusting_client(emulator) as http:
        response = http.get(
            f"{emulator.graph_url}/v1.0/applications", headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge == (
        f"Bearer authorization_uri={emulator.authority}/oauth2/authorize, resource_id={emulator.graph_url}"
    )
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_expired_token_is_refused(emulator: EmulatorInfo, emulator_admin: AdminClient) -> None:
    token = emulator_admin.token(emulator.graph_url, lifetime=-60)
    with trusting_client(emulator) as http:
        response = http.get(
            f"{emulator.graph_url}/v1.0/applications", headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


def test_missing_token_is_refused_with_a_challenge(emulator: EmulatorInfo) -> None:
    with trusting_client(emulator) as http:
        response = http.post(
            f"{emulator.exchange_url}/adminapi/beta/{c.TENANT_ID}/InvokeCommand",
            json={"CmdletInput": {"CmdletName": "Get-ApplicationAccessPolicy"}},
        )
    assert response.status_code == 401
    assert f"resource_id={emulator.exchange_url}" in response.headers["WWW-Authenticate"]


def test_token_signature_is_checked_against_the_published_keys(emulator: EmulatorInfo) -> None:
    token = _cca(emulator, emulator.client_secret).acquire_token_for_client(
        [f"{emulator.graph_url}/.default"]
    )["access_token"]
    with _http(emulator) as http:
        keys = http.get(f"{emulator.authority}/discovery/v2.0/keys").json()["keys"]
    key = jwt.PyJWK(keys[0]).key
    claims = jwt.decode(
        token, key, algorithms=["RS256"], audience=emulator.graph_url,
        issuer=f"https://sts.windows.net/{c.TENANT_ID}/",
    )
    assert claims["ver"] == "1.0"  # access tokens for first-party APIs are v1, as Entra issues them


def test_auto_approved_device_code_and_short_token_lifetime() -> None:
    from sssctl.emulator import running_emulator

    with running_emulator(auto_approve_device_codes=True, token_lifetime=120) as info:
        app = msal.PublicClientApplication(
            info.client_id, authority=info.authority, instance_discovery=False, http_client=_http(info)
        )
        flow = app.initiate_device_flow(scopes=[f"{info.graph_url}/.default"])
        result = app.acquire_token_by_device_flow(flow)
        assert "access_token" in result, result
        assert result["expires_in"] == 120
        assert _claims(result["access_token"])["exp"] - _claims(result["access_token"])["iat"] == 120


def test_consent_through_the_client_side_assignment_path(
    emulator: EmulatorInfo, emulator_admin: AdminClient
) -> None:
    from sssctl.emulator.directory import GRAPH_ROLES, GRAPH_SP_OBJECT_ID, LIMITED_SP_OBJECT_ID

    emulator_admin.reset()
    token = emulator_admin.token(emulator.graph_url)
    body = {
        "principalId": LIMITED_SP_OBJECT_ID,
        "resourceId": GRAPH_SP_OBJECT_ID,
        "appRoleId": GRAPH_ROLES["Directory.Read.All"],
    }
    with trusting_client(emulator, headers={"Authorization": f"Bearer {token}"}) as http:
        created = http.post(
            f"{emulator.graph_url}/v1.0/servicePrincipals/{LIMITED_SP_OBJECT_ID}/appRoleAssignments",
            json=body,
        )
    assert created.status_code == 201
    result = _cca(emulator, c.LIMITED_APP_SECRET, client_id=c.LIMITED_APP_ID).acquire_token_for_client(
        [f"{emulator.graph_url}/.default"]
    )
    assert _claims(result["access_token"])["roles"] == ["Directory.Read.All"]
    emulator_admin.reset()


def test_v1_resource_parameter_and_basic_client_authentication(emulator: EmulatorInfo) -> None:
    with _http(emulator) as http:
        response = http.post(
            f"{emulator.authority}/oauth2/token",
            data={"grant_type": "client_credentials", "resource": emulator.graph_url},
            auth=(emulator.client_id, emulator.client_secret),
        )
    assert response.status_code == 200, response.text
    assert _claims(response.json()["access_token"])["aud"] == emulator.graph_url


def test_managed_identity_with_an_unknown_client_id_is_refused(emulator: EmulatorInfo) -> None:
    with _http(emulator) as http:
        response = http.get(
            emulator.msi_endpoint,
            params={"api-version": "2019-08-01", "resource": emulator.graph_url, "client_id": "nobody"},
            headers={"X-IDENTITY-HEADER": emulator.msi_header},
        )
    assert response.status_code == 400
