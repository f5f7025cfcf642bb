"""Entra sign-in to Blob storage for real: MSAL gets a storage token from the emulator's
login, and HTTPS Azurite (``--oauth basic``, certificate from the emulator's CA) accepts it
for the conditional writes and the lease lock of the azurerm backend."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.storage.blob import BlobServiceClient

from sssctl.clients.errors import AuthError
from sssctl.config.loader import load
from sssctl.emulator import constants as c
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.certs import issue_server_certificate
from sssctl.emulator.info import EmulatorInfo
from sssctl.state.backend import Backend
from sssctl.state.errors import LockHeld, StateConflict
from sssctl.state.factory import backend_for
from sssctl.state.model import Snapshot
from tests.azurite import Azurite, Tls, running_azurite

pytestmark = pytest.mark.integration
ORG = "11111111-2222-3333-4444-555555555555"


@pytest.fixture(scope="module")
def entra_azurite(emulator: EmulatorInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    certs = tmp_path_factory.mktemp("azurite-tls")
    ca_file = Path(emulator.ca_file)
    issue_server_certificate(ca_file.parent, certs / "azurite.pem", certs / "azurite-key.pem")
    tls = Tls(cert_file=certs / "azurite.pem", key_file=certs / "azurite-key.pem", ca_file=ca_file)
    with running_azurite(tmp_path_factory.mktemp("azurite-data"), tls) as server:
        yield server


def config(directory: Path, info: EmulatorInfo, azurite: Azurite, *, state_auth: str = "") -> Path:
    """[auth] signs in with the secret in $MAIN_SECRET; no SAS or connection string anywhere."""
    path = directory / "entra.toml"
    path.write_text(
        f'version = 1\n[environment]\nname = "entraenv"\nurl = "{info.dataverse_url}"\n'
        f'tenant_id = "{info.tenant_id}"\ncloud = "custom"\n'
        f'[environment.endpoints]\nlogin_url = "{info.login_url}"\nca_bundle = "{info.ca_file}"\n'
        f'[auth]\nmethod = "client_secret"\nclient_id = "{info.client_id}"\n'
        'client_secret = { env = "MAIN_SECRET" }\n'
        f'[state]\nbackend = "azurerm"\naccount_url = "{azurite.account_url}"\n'
        f'container = "{azurite.new_container()}"\nlease_seconds = 15\n{state_auth}')
    return path


def open_backend(path: Path, environ: dict[str, str]) -> Backend:
    return backend_for(load(path, environ), environ)


def write_under_lease_twice(backend: Backend, rival: Backend) -> Snapshot:
    """A conditional first write and its successor under the lease, while a rival is locked out."""
    lock_id = backend.lock("apply")
    with pytest.raises(LockHeld):
        rival.lock("apply")
    first = Snapshot.new(url="https://contoso.crm.dynamics.com", organization_id=ORG, name="entraenv")
    backend.write(first, replaces=None)
    with pytest.raises(StateConflict):
        backend.write(first.with_resources({}), replaces=None)  # the stored one would be lost
    second = first.with_resources({"approval": {"kind": "approval", "managed": {"u": True}}})
    backend.write(second, replaces=first)
    backend.unlock(lock_id)
    return second


def test_the_auth_identity_signs_in_to_storage_and_locks_and_writes(
        tmp_path: Path, emulator: EmulatorInfo, entra_azurite: Azurite) -> None:
    path = config(tmp_path, emulator, entra_azurite)
    environ = {"MAIN_SECRET": emulator.client_secret}
    backend, rival = open_backend(path, environ), open_backend(path, environ)
    written = write_under_lease_twice(backend, rival)
    assert rival.read() == written and rival.read_previous() is not None
    assert backend.describe().startswith("https://127.0.0.1:")


def test_state_auth_signs_in_to_storage_instead_of_auth(
        tmp_path: Path, emulator: EmulatorInfo, entra_azurite: Azurite) -> None:
    state_auth = (f'[state.auth]\nmethod = "client_secret"\nclient_id = "{c.LIMITED_APP_ID}"\n'
                  'client_secret = { env = "STATE_SECRET" }\n')
    path = config(tmp_path, emulator, entra_azurite, state_auth=state_auth)
    # [auth]'s secret is wrong: only the [state.auth] identity can get the storage token
    environ = {"MAIN_SECRET": "not-the-secret", "STATE_SECRET": c.LIMITED_APP_SECRET}
    backend, rival = open_backend(path, environ), open_backend(path, environ)
    assert rival.read() is None
    assert write_under_lease_twice(backend, rival) == rival.read()


def test_a_refused_storage_sign_in_names_the_identity_and_the_entra_error(
        tmp_path: Path, emulator: EmulatorInfo, entra_azurite: Azurite) -> None:
    path = config(tmp_path, emulator, entra_azurite)
    backend = open_backend(path, {"MAIN_SECRET": "not-the-secret"})
    with pytest.raises(AuthError, match=r"state storage with the \[auth\] identity.*AADSTS7000215") as caught:
        backend.lock("apply")
    assert "not-the-secret" not in str(caught.value)


class StaticToken:
    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 600)


@pytest.mark.parametrize(("audience", "lifetime", "accepted"), [
    ("https://storage.azure.com", None, True),
    ("https://storage.azure.com", -120, False),   # expired
    ("graph", None, False),                          # another resource's token
])
def test_azurite_checks_the_emulator_tokens_audience_and_lifetime(
        emulator: EmulatorInfo, emulator_admin: AdminClient, entra_azurite: Azurite, audience: str,
        lifetime: int | None, accepted: bool) -> None:
    token = emulator_admin.token(emulator.graph_url if audience == "graph" else audience, lifetime=lifetime)
    service = BlobServiceClient(entra_azurite.account_url, credential=StaticToken(token),
                                connection_verify=emulator.ca_file)
    container = service.get_container_client(entra_azurite.new_container())
    if accepted:
        assert list(container.list_blobs()) == []
    else:
        with pytest.raises(ClientAuthenticationError, match="AuthenticationFailed"):
            list(container.list_blobs())
