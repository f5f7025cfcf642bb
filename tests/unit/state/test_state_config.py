"""The [state] table: validated like every section, env wins, the default lives beside the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from sssctl.config import spec
from sssctl.config.errors import ConfigError
from sssctl.config.loader import load
from sssctl.config.model import Auth, SecretRef
from sssctl.state.backend import LocalBackend
from sssctl.state.errors import StateError
from sssctl.state.factory import backend_for, settings_from_spec

ENV = '[environment]\nname = "prod"\nurl = "https://contoso.crm.dynamics.com"\n'


def write(directory: Path, text: str, name: str = "sssctl.toml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("version = 1\n" + text)
    return path


def problems(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(path, environ or {})
    return [f"{f.key_path}:{f.line}: {f.message} {f.suggestion or ''}" for f in caught.value.findings]


def test_local_state_defaults_to_beside_the_file_that_names_the_environment(tmp_path: Path) -> None:
    write(tmp_path / "base", ENV, "base.toml")
    child = write(tmp_path / "envs" / "prod", 'extends = "../../base/base.toml"\n')
    backend = backend_for(load(child, {}), {})
    assert isinstance(backend, LocalBackend)
    assert backend.path.resolve() == tmp_path / "base" / "state" / "prod.json"


def test_path_is_relative_to_its_file_and_the_state_dir_variable_wins(tmp_path: Path) -> None:
    config = write(tmp_path, ENV + '[state]\npath = "snapshots"\n')
    assert backend_for(load(config, {}), {}).describe() == str(tmp_path / "snapshots" / "prod.json")
    environ = {"SSSCTL_STATE_DIR": str(tmp_path / "elsewhere")}
    assert backend_for(load(config, environ), environ).describe() == str(tmp_path / "elsewhere" / "prod.json")


def test_azurerm_keys_come_from_the_file_or_the_environment(tmp_path: Path) -> None:
    config = write(tmp_path, ENV + '[state]\nbackend = "azurerm"\ncontainer = "sssctl"\n'
                   'account_url = "https://contosotfstate.blob.core.windows.net"\n')
    backend = backend_for(load(config, {}), {})
    assert backend.describe() == "https://contosotfstate.blob.core.windows.net/sssctl/prod.sssctl.json"
    environ = {"SSSCTL_STATE_CONTAINER": "other", "SSSCTL_STATE_KEY": "teams/prod.json",
               "SSSCTL_STATE_ACCOUNT_URL": "https://b.blob.core.windows.net"}
    assert backend_for(load(config, environ), environ).describe() == \
        "https://b.blob.core.windows.net/other/teams/prod.json"
    local = write(tmp_path / "l", ENV)
    environ = {"SSSCTL_STATE_BACKEND": "azurerm", "SSSCTL_STATE_CONTAINER": "c0ntainer",
               "SSSCTL_STATE_ACCOUNT_URL": "https://b.blob.core.windows.net"}
    assert backend_for(load(local, environ), environ).describe().endswith("/c0ntainer/prod.sssctl.json")


def test_state_mistakes_are_findings_with_line_and_suggestion(tmp_path: Path) -> None:
    config = write(tmp_path, ENV + '[state]\nbackend = "azure"\ncontaner = "x"\n'
                   'account_url = "http://contoso.blob.core.windows.net"\nsas_token = "sv=2024&sig=abc"\n'
                   'lease_seconds = 600\n')
    found = problems(config)
    assert any(p.startswith("state.backend:6:") and "azurerm" in p for p in found)
    assert any(p.startswith("state.contaner:7:") and "container" in p for p in found)
    assert any(p.startswith("state.account_url:8:") and "https://" in p for p in found)
    assert any(p.startswith("state.sas_token:9:") and "inline secrets" in p for p in found)
    assert any(p.startswith("state.lease_seconds:10:") and "15..60" in p for p in found)
    assert not any("sig=abc" in p for p in found)


def test_azurerm_needs_a_container_and_at_most_one_credential(tmp_path: Path) -> None:
    config = write(tmp_path, ENV + '[state]\nbackend = "azurerm"\nsas_token = { env = "A" }\n'
                   'connection_string = { env = "B" }\n')
    found = problems(config)
    assert any(p.startswith("state.container:") and "SSSCTL_STATE_CONTAINER" in p for p in found)
    assert any(p.startswith("state.connection_string:") and "not sas_token and connection_string" in p
               for p in found)


def test_plain_http_is_refused_unless_loopback_even_from_a_connection_string(tmp_path: Path) -> None:
    config = write(tmp_path, ENV + '[state]\nbackend = "azurerm"\ncontainer = "sssctl"\n'
                   'connection_string = { env = "CONN" }\n')
    remote = {"CONN": "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=a2V5;"
                      "BlobEndpoint=http://a.blob.core.windows.net;"}
    with pytest.raises(StateError, match="not HTTPS") as caught:
        backend_for(load(config, remote), remote)
    assert "a2V5" not in str(caught.value)
    loopback = {"CONN": remote["CONN"].replace("a.blob.core.windows.net", "127.0.0.1:10000/a")}
    assert backend_for(load(config, loopback), loopback).describe() == "http://127.0.0.1:10000/a/sssctl/prod.sssctl.json"


def test_a_malformed_connection_string_is_never_echoed(tmp_path: Path) -> None:
    config = write(tmp_path, ENV + '[state]\nbackend = "azurerm"\ncontainer = "sssctl"\n')
    environ = {"SSSCTL_STATE_CONNECTION_STRING": "secret-value-without-structure"}
    with pytest.raises(StateError, match="malformed") as caught:
        backend_for(load(config, environ), environ)
    assert "secret-value" not in str(caught.value)


def test_migrate_sources(tmp_path: Path) -> None:
    config = write(tmp_path, ENV + '[state]\nbackend = "azurerm"\ncontainer = "sssctl"\n'
                   'account_url = "https://a.blob.core.windows.net"\n')
    current = load(config, {}).state
    assert settings_from_spec("local", current, tmp_path).path == tmp_path / "state"
    assert settings_from_spec("local:old", current, tmp_path).path == tmp_path / "old"
    moved = settings_from_spec("azurerm:archive/prod.json", current, tmp_path)
    assert (moved.container, moved.key, moved.account_url) == ("archive", "prod.json", current.account_url)
    for bad in ("s3:bucket", "azurerm:onlycontainer"):
        with pytest.raises(StateError, match="--from"):
            settings_from_spec(bad, current, tmp_path)



AZURERM = '[state]\nbackend = "azurerm"\ncontainer = "sssctl"\naccount_url = "https://a.blob.core.windows.net"\n'
MAIN_APP = "11111111-1111-1111-1111-111111111111"
STATE_APP = "22222222-2222-2222-2222-222222222222"
OTHER_APP = "33333333-3333-3333-3333-333333333333"


def test_state_auth_takes_the_auth_keys_paths_relative_to_its_file(tmp_path: Path) -> None:
    config = write(tmp_path, ENV + AZURERM + '[state.auth]\nmethod = "certificate"\n'
                   f'client_id = "{STATE_APP}"\ncertificate_file = "certs/state.pem"\n'
                   'certificate_password = { env = "STATE_PFX" }\n')
    state_auth = load(config, {}).state.auth
    assert state_auth is not None
    assert (state_auth.method, state_auth.client_id) == ("certificate", STATE_APP)
    assert state_auth.certificate_file == tmp_path / "certs" / "state.pem"
    assert state_auth.certificate_password == SecretRef(env="STATE_PFX")
    assert load(write(tmp_path / "none", ENV + AZURERM), {}).state.auth is None


def test_state_auth_mistakes_are_the_auth_findings_at_its_own_path(tmp_path: Path) -> None:
    config = write(tmp_path, ENV + AZURERM + '[state.auth]\nmethod = "client_secrett"\n'
                   'client_id = "not-a-guid"\nclient_secret = "hunter2-inline"\ncleint_id = "x"\n')
    found = problems(config)
    assert any(p.startswith("state.auth.method:10:") and p.endswith(" client_secret") for p in found)
    assert any(p.startswith("state.auth.client_id:11:") and "GUID" in p for p in found)
    assert any(p.startswith("state.auth.client_secret:12:") and "inline secrets" in p for p in found)
    assert any(p.startswith("state.auth.cleint_id:13:") and p.endswith(" client_id") for p in found)
    assert not any("hunter2" in p for p in found)


def test_state_auth_is_one_storage_credential_among_sas_and_connection_string(tmp_path: Path) -> None:
    config = write(tmp_path, ENV + AZURERM + 'sas_token = { env = "SAS" }\n[state.auth]\n'
                   'method = "managed_identity"\n')
    found = problems(config)
    assert any(p.startswith("state.auth:") and "not sas_token and auth" in p for p in found)


def test_sssctl_sign_in_variables_change_auth_and_never_state_auth(tmp_path: Path) -> None:
    config = write(tmp_path, ENV + f'[auth]\nclient_id = "{MAIN_APP}"\n' + AZURERM +
                   f'[state.auth]\nclient_id = "{STATE_APP}"\nclient_secret = {{ env = "STATE_SECRET" }}\n')
    environ = {"SSSCTL_CLIENT_ID": OTHER_APP, "SSSCTL_AUTH_METHOD": "certificate",
               "SSSCTL_CLIENT_SECRET": "from-the-variable", "AZURE_CLIENT_ID": OTHER_APP}
    desired = load(config, environ)
    assert (desired.auth.method, desired.auth.client_id) == ("certificate", OTHER_APP)
    assert desired.state.auth == Auth(method="client_secret", client_id=STATE_APP,
                                      client_secret=SecretRef(env="STATE_SECRET"))


def test_state_auth_has_exactly_the_auth_keys_and_promises_no_sssctl_variable() -> None:
    state_auth = spec.STATE.fields["auth"]
    assert isinstance(state_auth, spec.Table)
    assert list(state_auth.fields) == list(spec.AUTH.fields)
    assert all("SSSCTL_" not in node.doc for node in state_auth.fields.values())
    assert "SSSCTL_CLIENT_ID" in spec.AUTH.fields["client_id"].doc  # [auth] keeps its variables
