"""Every sign-in method with real MSAL against the emulator's login endpoints."""

from __future__ import annotations

import io
import json
import stat
import threading
import time
from pathlib import Path

import jwt
import pytest

from sssctl.clients.clouds import scope_for
from sssctl.clients.errors import AuthError
from sssctl.clients.session import ClientOptions, open_clients
from sssctl.config.model import SecretRef
from sssctl.emulator import constants as c
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo

from .conftest import emulator_desired, secret_environ

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _claims(token: str) -> dict[str, object]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def _graph_token(info: EmulatorInfo, desired_kwargs: dict[str, object], environ: dict[str, str],
                 options: ClientOptions | None = None) -> str:
    desired = emulator_desired(info, **desired_kwargs)
    with open_clients(desired, need_graph=True, environ=environ, options=options) as clients:
        assert clients.graph is not None and clients.token_provider is not None
        me = clients.graph.get(f"servicePrincipals(appId='{info.client_id}')")
        assert me["appId"] == info.client_id
        return clients.token_provider.token(scope_for(info.graph_url))


def test_client_secret(emulator: EmulatorInfo) -> None:
    token = _graph_token(emulator, {}, secret_environ(emulator))
    assert _claims(token)["appid"] == emulator.client_id


def test_certificate_pem(emulator: EmulatorInfo) -> None:
    token = _graph_token(emulator, {"method": "certificate",
                                    "certificate_file": Path(emulator.client_certificate_file)}, {})
    assert _claims(token)["appidacr"] == "2"


def test_workload_identity_reads_the_token_file_each_time(emulator: EmulatorInfo, tmp_path: Path) -> None:
    token_file = tmp_path / "federated.jwt"
    token_file.write_text(Path(emulator.federated_token_file).read_text())
    desired = emulator_desired(emulator, method="workload_identity", client_id=emulator.client_id)
    environ = {"AZURE_FEDERATED_TOKEN_FILE": str(token_file)}
    with open_clients(desired, need_graph=True, environ=environ) as clients:
        assert clients.token_provider is not None
        token = clients.token_provider.token(scope_for(emulator.graph_url))
        assert _claims(token)["appid"] == emulator.client_id
        token_file.write_text("not-a-jwt")  # rotated: the next acquisition must read it again
        with pytest.raises(AuthError, match="AADSTS"):
            clients.token_provider.token(scope_for(emulator.exchange_url))


def test_workload_identity_from_the_github_actions_oidc_endpoint(emulator: EmulatorInfo,
                                                                 emulator_admin: AdminClient) -> None:
    """No token file: the assertion is asked of the job's OIDC endpoint, with Entra's audience."""
    from sssctl.emulator import github_actions

    desired = emulator_desired(emulator, method="workload_identity", client_id=emulator.client_id)
    environ = github_actions.actions_environ(emulator.url, emulator.admin_token)
    with open_clients(desired, need_graph=True, environ=environ) as clients:
        assert clients.token_provider is not None
        token = clients.token_provider.token(scope_for(emulator.graph_url))
    assert _claims(token)["appid"] == emulator.client_id
    routes = emulator_admin.counters()["by_route"]
    assert routes.get("GET login:idtoken", 0) >= 1 and routes.get("POST login:token", 0) >= 1


def test_managed_identity(emulator: EmulatorInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", emulator.msi_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", emulator.msi_header)
    token = _graph_token(emulator, {"method": "managed_identity", "client_id": None}, {})
    assert _claims(token)["appid"] == c.SSSCTL_APP_ID


def test_device_code_caches_tokens_owner_only_and_reuses_them(emulator: EmulatorInfo,
                                                              emulator_admin: AdminClient,
                                                              tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "msal.json"
    prompts = io.StringIO()
    desired = emulator_desired(emulator, method="device_code", token_cache=cache)

    approver = threading.Thread(target=_approve_when_asked, args=(emulator_admin, prompts), daemon=True)
    approver.start()
    with open_clients(desired, need_graph=True, environ={},
                      options=ClientOptions(prompt=prompts)) as clients:
        assert clients.token_provider is not None
        first = clients.token_provider.token(scope_for(emulator.graph_url))
    approver.join(5)
    assert "code" in prompts.getvalue()
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert json.loads(cache.read_text())["RefreshToken"]
    assert _claims(first).get("scp")

    second_prompts = io.StringIO()
    with open_clients(desired, need_graph=True, environ={},
                      options=ClientOptions(prompt=second_prompts)) as clients:
        assert clients.token_provider is not None
        clients.token_provider.token(scope_for(emulator.graph_url))
    assert second_prompts.getvalue() == ""  # silent: no new device code


def test_device_code_acts_as_the_signed_in_person_not_the_client_app(emulator: EmulatorInfo,
                                                                       emulator_admin: AdminClient,
                                                                       tmp_path: Path) -> None:
    """Dataverse maps a delegated token to the person (oid), never to the app's application user."""
    prompts = io.StringIO()
    desired = emulator_desired(emulator, method="device_code", token_cache=tmp_path / "msal.json")
    approver = threading.Thread(target=_approve_when_asked, args=(emulator_admin, prompts), daemon=True)
    approver.start()
    with open_clients(desired, environ={}, options=ClientOptions(prompt=prompts)) as clients:
        me = clients.dataverse.whoami()
        user = clients.dataverse.get("systemusers", me.user_id, select=["azureactivedirectoryobjectid"])
    approver.join(5)
    assert user["azureactivedirectoryobjectid"] == c.ADMIN_USER_OBJECT_ID
    assert me.user_id != c.SSSCTL_APP_USER_ID


def _approve_when_asked(admin: AdminClient, prompts: io.StringIO) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if prompts.getvalue() and admin.approve_device_codes():
            return
        time.sleep(0.05)


def test_azure_cli_with_a_fake_az(emulator: EmulatorInfo, emulator_admin: AdminClient,
                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """azure-identity's AzureCliCredential runs `az` from the process PATH, as in a real shell."""
    token = emulator_admin.token(emulator.dataverse_url, client_id=emulator.client_id)
    graph_token = emulator_admin.token(emulator.graph_url, client_id=emulator.client_id)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    az = bin_dir / "az"
    expires = int(time.time()) + 3600
    az.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *{emulator.graph_url}*) t={graph_token} ;; *) t={token} ;; esac\n'
        f'echo "{{\\"accessToken\\": \\"$t\\", \\"expires_on\\": {expires}}}"\n'
    )
    az.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    desired = emulator_desired(emulator, method="azure_cli", client_id=None)
    with open_clients(desired, need_graph=True, environ={}) as clients:
        assert clients.graph is not None
        me = clients.graph.get(f"servicePrincipals(appId='{emulator.client_id}')")
        assert me["appId"] == emulator.client_id


def test_wrong_secret_is_explained(emulator: EmulatorInfo) -> None:
    with pytest.raises(AuthError) as caught:
        _graph_token(emulator, {}, {"SSSCTL_CLIENT_SECRET": "definitely-not-the-secret"})
    assert caught.value.code == "AADSTS7000215"
    assert caught.value.remedy and "secret VALUE" in caught.value.remedy


def test_unknown_app_and_tenant_are_explained(emulator: EmulatorInfo) -> None:
    with pytest.raises(AuthError) as caught:
        _graph_token(emulator, {"client_id": "00000000-1111-2222-3333-444444444444"},
                     secret_environ(emulator))
    assert caught.value.code == "AADSTS700016"


def test_missing_secret_reference_fails_before_any_request(emulator: EmulatorInfo) -> None:
    desired = emulator_desired(emulator, client_secret=SecretRef(env="NOT_SET_ANYWHERE"))
    with pytest.raises(AuthError, match="NOT_SET_ANYWHERE") as caught, open_clients(desired, environ={}):
        pass
    assert caught.value.remedy


def test_region_variables_cannot_redirect_sign_in(emulator: EmulatorInfo,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSAL_FORCE_REGION", "westus")
    monkeypatch.setenv("REGION_NAME", "westus")
    assert _graph_token(emulator, {}, secret_environ(emulator))


def test_certificate_pfx_with_password(emulator: EmulatorInfo, tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    pem = Path(emulator.client_certificate_file).read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    cert = x509.load_pem_x509_certificate(pem)
    pfx = tmp_path / "client.pfx"
    pfx.write_bytes(pkcs12.serialize_key_and_certificates(
        b"sssctl", key, cert, None, serialization.BestAvailableEncryption(b"pfx-passphrase-1")))  # type: ignore[arg-type]
    token = _graph_token(emulator, {"method": "certificate", "certificate_file": pfx,
                                    "certificate_password": SecretRef(env="PFX_PASSWORD")},
                         {"PFX_PASSWORD": "pfx-passphrase-1"})
    assert _claims(token)["appid"] == emulator.client_id


def test_device_code_with_an_unreadable_cache_signs_in_again(emulator: EmulatorInfo,
                                                             emulator_admin: AdminClient,
                                                             tmp_path: Path) -> None:
    cache = tmp_path / "msal.json"
    cache.write_text("{ not json")
    prompts = io.StringIO()
    approver = threading.Thread(target=_approve_when_asked, args=(emulator_admin, prompts), daemon=True)
    approver.start()
    desired = emulator_desired(emulator, method="device_code", token_cache=cache)
    with open_clients(desired, environ={}, options=ClientOptions(prompt=prompts)) as clients:
        assert clients.dataverse.whoami().user_id
    approver.join(5)
    assert json.loads(cache.read_text())["RefreshToken"]
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600


def test_untrusted_tls_is_explained_at_once(emulator: EmulatorInfo) -> None:
    from dataclasses import replace

    desired = emulator_desired(emulator)
    desired = replace(desired, environment=replace(
        desired.environment, endpoints=replace(desired.environment.endpoints, ca_bundle=None)))
    started = time.monotonic()
    with pytest.raises(AuthError, match="not trusted") as caught, open_clients(
            desired, environ=secret_environ(emulator)) as clients:
        clients.dataverse.whoami()
    assert caught.value.remedy and "ca_bundle" in caught.value.remedy
    assert time.monotonic() - started < 5
