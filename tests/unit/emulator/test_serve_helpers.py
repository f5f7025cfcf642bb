"""Env file rendering and the loopback rule of `sssctl emulator serve`."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from sssctl.emulator.info import EmulatorInfo
from sssctl.emulator.serve import default_data_dir, write_env_file
from sssctl.emulator.server import EmulatorError, check_loopback

INFO = EmulatorInfo(
    url="https://127.0.0.1:1",
    dataverse_url="https://127.0.0.1:1/dataverse",
    authority="https://127.0.0.1:1/t",
    login_url="https://127.0.0.1:1",
    graph_url="https://127.0.0.1:1/graph",
    exchange_url="https://127.0.0.1:1/exchange",
    tenant_id="t",
    ca_file="/tmp/a dir/ca.pem",
    client_id="id",
    client_secret="a'b\"c $HOME `x` ~.-_",
    client_certificate_file="/tmp/c.pem",
    admin_token="adm",
    msi_endpoint="https://127.0.0.1:1/msi/token",
    msi_header="h",
    federated_token_file="/tmp/f.jwt",
)


def test_env_file_survives_shell_metacharacters(tmp_path: Path) -> None:
    path = tmp_path / "env"
    info = replace(INFO)
    write_env_file(path, info)
    out = subprocess.run(
        ["bash", "-c", f'set -a; . "{path}"; set +a; printf %s "$SSSCTL_CLIENT_SECRET"'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == info.client_secret
    assert path.stat().st_mode & 0o077 == 0


def test_default_data_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_data_dir() == tmp_path / "sssctl" / "emulator"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "example.com"])
def test_non_loopback_hosts_are_refused(host: str) -> None:
    with pytest.raises(EmulatorError, match="only serves loopback"):
        check_loopback(host)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_loopback_hosts_are_accepted(host: str) -> None:
    check_loopback(host)


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/tenant/oauth2/v2.0/token", "token"),
        ("/tenant/oauth2/v2.0/devicecode", "devicecode"),
        ("/msi/token", "msi"),
        ("/_issuer/.well-known/jwks", "issuer"),
        ("/tenant/v2.0/.well-known/openid-configuration/", "openid-configuration"),
    ],
)
def test_login_requests_are_counted_by_what_they_ask_for(path: str, target: str) -> None:
    from sssctl.emulator.server import _login_target

    assert _login_target(path) == target
