"""The ambient sign-in methods on azure-identity, with sssctl's own layer on top: the
Azure CLI through a fake ``az`` (azure-identity runs it from the process PATH), the GitHub
assertion request, the transport's origin check and the errors that say what to do.
The same methods sign in against the emulator in tests/integration/clients/test_sign_in.py
and tests/e2e/test_azure_devops_sign_in.py."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from sssctl.clients import ambient
from sssctl.clients.auth import MsalHttpAdapter, SignInSettings, build_token_provider
from sssctl.clients.clouds import resolve_cloud
from sssctl.clients.errors import AuthError
from sssctl.clients.http import HttpService, RequestStats
from sssctl.config.model import Auth, Environment

pytestmark = pytest.mark.timeout(30)


def _settings(method: str, environ: dict[str, str] | None = None, *, tenant: str | None = "tenant-1",
              client: httpx.Client | None = None) -> SignInSettings:
    return SignInSettings(auth=Auth(method=method, client_id="11111111-2222-4333-8444-555555555555"),
                          cloud=resolve_cloud(Environment()), tenant_id=tenant, environ=environ or {},
                          http_client=client or httpx.Client())


def _fake_az(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    az = bin_dir / "az"
    az.write_text("#!/bin/sh\n" + script)
    az.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))


def test_azure_cli_token_is_fetched_once_per_resource_for_the_tenant(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expires = int(time.time()) + 3600
    log = tmp_path / "calls"
    _fake_az(tmp_path, monkeypatch, f'echo "$@" >> {log}\n'
                                    f'echo \'{{"accessToken": "cli-token-abcdef", "expires_on": {expires}, '
                                    f'"expiresOn": "2020-01-01 00:00:00.000000", "tokenType": "Bearer"}}\'\n')
    provider = build_token_provider(_settings("azure_cli"))
    assert provider.token("https://org.example/.default") == "cli-token-abcdef"
    assert provider.token("https://org.example/.default") == "cli-token-abcdef"
    calls = log.read_text().splitlines()
    assert len(calls) == 1
    assert "--resource https://org.example" in calls[0] and "--tenant tenant-1" in calls[0]


def test_azure_cli_old_expires_on_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    later = (datetime.now() + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
    _fake_az(tmp_path, monkeypatch, f'echo \'{{"accessToken": "cli-token-old", "expiresOn": "{later}"}}\'\n')
    assert build_token_provider(_settings("azure_cli", tenant=None)).token("https://x.example/.default") \
        == "cli-token-old"


def test_azure_cli_not_logged_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_az(tmp_path, monkeypatch, "echo \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1\n")
    with pytest.raises(AuthError, match="not signed in") as caught:
        build_token_provider(_settings("azure_cli")).token("https://x.example/.default")
    assert caught.value.remedy is not None and "az login" in caught.value.remedy


def test_azure_cli_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(AuthError, match="not found on PATH"):
        build_token_provider(_settings("azure_cli")).token("https://x.example/.default")


def test_azure_cli_aadsts_answer_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_az(tmp_path, monkeypatch, "echo 'ERROR: AADSTS700016: Application not found.' >&2\nexit 1\n")
    with pytest.raises(AuthError) as caught:
        build_token_provider(_settings("azure_cli")).token("https://x.example/.default")
    assert caught.value.code == "AADSTS700016"


def _login(handler: httpx.MockTransport) -> MsalHttpAdapter:
    return MsalHttpAdapter(HttpService("login", httpx.Client(transport=handler), token=None,
                                       stats=RequestStats()))


def test_github_actions_oidc_token_is_requested_with_the_exchange_audience() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"count": 1, "value": "gh-oidc-jwt-value"})

    source = ambient._github_assertion("https://gh.example/token?api-version=2.0", "gh-request-token-123",
                                       _login(httpx.MockTransport(handler)))
    assert source() == "gh-oidc-jwt-value"
    request = seen[0]
    assert request.url.params["api-version"] == "2.0"
    assert request.url.params["audience"] == "api://AzureADTokenExchange"
    assert request.headers["Authorization"] == "bearer gh-request-token-123"


def test_workload_identity_without_any_token_source_is_explained() -> None:
    with pytest.raises(AuthError, match="federated token") as caught:
        build_token_provider(_settings("workload_identity"))
    assert caught.value.remedy and "id-token: write" in caught.value.remedy


def test_a_service_connection_outside_azure_pipelines_names_the_variable() -> None:
    settings = _settings("workload_identity")
    auth = Auth(method="workload_identity", client_id=settings.auth.client_id, service_connection_id="sc-1")
    with pytest.raises(AuthError, match="SYSTEM_OIDCREQUESTURI"):
        build_token_provider(SignInSettings(auth=auth, cloud=settings.cloud, tenant_id="t",
                                            environ={}, http_client=httpx.Client()))


def test_in_azure_pipelines_without_a_connection_or_job_token_it_says_what_to_set() -> None:
    job = {"SYSTEM_OIDCREQUESTURI": "https://dev.azure.com/org/_apis/oidc"}
    with pytest.raises(AuthError, match="no service connection") as caught:
        build_token_provider(_settings("workload_identity", job))
    assert caught.value.remedy and "SSSCTL_SERVICE_CONNECTION_ID" in caught.value.remedy
    settings = _settings("workload_identity", job)
    auth = Auth(method="workload_identity", client_id=settings.auth.client_id, service_connection_id="sc-1")
    with pytest.raises(AuthError, match="SYSTEM_ACCESSTOKEN") as caught:
        build_token_provider(SignInSettings(auth=auth, cloud=settings.cloud, tenant_id="t", environ=job,
                                            http_client=httpx.Client()))
    assert caught.value.remedy and "$(System.AccessToken)" in caught.value.remedy


def test_the_transport_sends_sign_in_requests_to_the_allowed_origins_only() -> None:
    from azure.core.rest import HttpRequest

    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        return httpx.Response(200, json={"ok": True})

    transport = ambient.CoreTransport(_login(httpx.MockTransport(handler)), {"https://login.example"})
    reply = transport.send(HttpRequest("POST", "https://login.example/t/oauth2/v2.0/token", data={"a": "b"}))
    assert reply.status_code == 200 and reply.json() == {"ok": True}
    with pytest.raises(AuthError, match=r"https://elsewhere\.example"):
        transport.send(HttpRequest("GET", "https://elsewhere.example/metadata"))
    assert sent == ["https://login.example/t/oauth2/v2.0/token"]
