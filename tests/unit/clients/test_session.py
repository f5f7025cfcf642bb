"""Configuration problems are reported before any request, each with a remedy."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sssctl.clients.clouds import resolve_cloud
from sssctl.clients.errors import AuthError, TransportError
from sssctl.clients.session import _unavailable, open_clients
from sssctl.config.model import Auth, Desired, Endpoints, Environment, SecretRef

pytestmark = pytest.mark.timeout(30)

BASE = Desired(
    version=1, source=Path("x.toml"), digest="d",
    environment=Environment(url="https://org.example", tenant_id="t1", cloud="custom",
                            endpoints=Endpoints(login_url="https://login.example",
                                                graph_url="https://graph.example",
                                                exchange_url="https://exo.example")),
    auth=Auth(method="client_secret", client_id="c1", client_secret=SecretRef(env="SECRET_X")),
)


def _env(**changes: object) -> Desired:
    return replace(BASE, environment=replace(BASE.environment, **changes))  # type: ignore[arg-type]


def _auth(**changes: object) -> Desired:
    return replace(BASE, auth=replace(BASE.auth, **changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("desired", "message"),
    [
        (_env(url=None), "environment.url is not configured"),
        (_env(url="http://org.example"), "must be an https:// URL"),
        (_env(endpoints=Endpoints()), "login_url"),
        (_env(tenant_id=None), "environment.tenant_id"),
        (_auth(client_id=None), "auth.client_id"),
        (_auth(), "SECRET_X"),
        (_auth(client_secret=None), "auth.client_secret is not configured"),
        (_auth(method="certificate"), "auth.certificate_file is not configured"),
        (_auth(method="certificate", certificate_file=Path("/nonexistent/c.pem")), "cannot read certificate"),
        (_auth(method="workload_identity"), "federated token"),
    ],
)
def test_bad_settings_fail_early_with_a_remedy(desired: Desired, message: str) -> None:
    with pytest.raises(AuthError, match=message) as caught, open_clients(desired, environ={}):
        pass
    assert caught.value.remedy


def test_exchange_needs_a_tenant() -> None:
    with pytest.raises(AuthError, match="tenant_id"), open_clients(_env(tenant_id=None), need_exchange=True,
                                                                    environ={"SECRET_X": "s3cret-value"}):
        pass


def test_bad_ca_bundle_is_named(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate")
    desired = _env(endpoints=replace(BASE.environment.endpoints, ca_bundle=bundle))
    with pytest.raises(TransportError, match=r"ca\.pem"), open_clients(desired, environ={"SECRET_X": "x"}):
        pass



def test_a_missing_endpoint_names_the_setting_and_the_variable_to_add() -> None:
    desired = _env(endpoints=replace(BASE.environment.endpoints, graph_url=None, exchange_url=None))
    with pytest.raises(AuthError, match="Graph URL") as caught, open_clients(
            desired, need_graph=True, environ={"SECRET_X": "x"}):
        pass
    assert caught.value.remedy and "SSSCTL_GRAPH_URL" in caught.value.remedy
    cloud = resolve_cloud(desired.environment)
    missing = _unavailable(cloud, None, need_graph=True, need_exchange=True)
    assert "SSSCTL_GRAPH_URL" in missing["graph"][1]
    assert "environment.endpoints.exchange_url" in missing["exchange"][1]
    assert "SSSCTL_EXCHANGE_URL" in missing["exchange"][1]
    assert _unavailable(cloud, None, need_graph=False, need_exchange=False) == {}
