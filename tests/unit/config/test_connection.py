from __future__ import annotations

import pytest

from sssctl.config.connection import require_connection
from sssctl.config.errors import ConfigError
from tests.unit.config.conftest import CONFIGS, Write, load_ok


def test_complete_config_passes() -> None:
    require_connection(load_ok(CONFIGS / "hardened.toml"), need_graph=True, need_exchange=True)


def test_every_missing_setting_is_named_with_its_variable(write: Write) -> None:
    desired = load_ok(write('[environment]\ncloud = "custom"\n'), {"SSSCTL_LOGIN_URL": "https://127.0.0.1:1"})
    with pytest.raises(ConfigError) as caught:
        require_connection(desired, need_graph=True)
    messages = {f.key_path: f.message for f in caught.value.findings}
    assert set(messages) == {"environment.url", "environment.tenant_id", "auth.client_id",
                             "auth.client_secret", "environment.endpoints.graph_url"}
    assert "SSSCTL_URL" in messages["environment.url"]
    assert "SSSCTL_CLIENT_ID" in messages["auth.client_id"]
    assert "SSSCTL_GRAPH_URL" in messages["environment.endpoints.graph_url"]
    assert all(f.file == str(desired.source) for f in caught.value.findings)


def test_certificate_and_managed_identity_needs(write: Write) -> None:
    base = ('[environment]\nurl = "https://c.crm.dynamics.com"\n'
            'tenant_id = "0f6e2b8a-3c1d-4e5f-9a8b-7c6d5e4f3a2b"\n')
    with pytest.raises(ConfigError) as caught:
        require_connection(load_ok(write(base + '[auth]\nmethod = "certificate"\n'
                                         'client_id = "0f6e2b8a-3c1d-4e5f-9a8b-7c6d5e4f3a2b"\n', "c.toml")))
    assert [f.key_path for f in caught.value.findings] == ["auth.certificate_file"]
    require_connection(load_ok(write(base + '[auth]\nmethod = "managed_identity"\n', "m.toml")))
