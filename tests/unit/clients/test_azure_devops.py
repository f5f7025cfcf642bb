"""The Azure Pipelines OIDC token request: its shape, and every answer that is refused."""

from __future__ import annotations

import httpx
import pytest

from sssctl.clients.azure_devops import pipeline_assertion_source
from sssctl.clients.errors import AuthError
from sssctl.logging import redact_text

URI = "https://dev.azure.com/contoso/p1/_apis/distributedtask/hubs/build/plans/pl/jobs/j/oidctoken"
CONNECTION = "e0f1a2b3-c4d5-4e6f-9a7b-8c9d0e1f2a3b"
JOB_TOKEN = "job-access-token-0123456789abcdef"
JOB = {"SYSTEM_OIDCREQUESTURI": URI, "SYSTEM_ACCESSTOKEN": JOB_TOKEN}


def _fetch_with(response: httpx.Response, environ: dict[str, str] | None = None) -> str:
    client = httpx.Client(transport=httpx.MockTransport(lambda request: response))
    source = pipeline_assertion_source(CONNECTION, environ or JOB, client)
    assert source is not None
    return source()


def test_posts_to_the_request_uri_with_api_version_connection_and_job_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"oidcToken": "header.claims.signature"})

    source = pipeline_assertion_source(CONNECTION, JOB, httpx.Client(transport=httpx.MockTransport(handler)))
    assert source is not None
    assert source() == "header.claims.signature"
    request = seen[0]
    assert request.method == "POST"
    assert str(request.url).startswith(URI + "?")
    assert dict(request.url.params) == {"api-version": "7.1", "serviceConnectionId": CONNECTION}
    assert request.headers["authorization"] == f"Bearer {JOB_TOKEN}"


def test_every_call_asks_again_because_the_assertion_is_short_lived() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, json={"oidcToken": f"token-{len(calls)}"})

    source = pipeline_assertion_source(CONNECTION, JOB, httpx.Client(transport=httpx.MockTransport(handler)))
    assert source is not None
    assert (source(), source()) == ("token-1", "token-2")


def test_outside_azure_pipelines_without_a_connection_it_stands_aside() -> None:
    assert pipeline_assertion_source(None, {}, httpx.Client()) is None


def test_a_connection_id_outside_azure_pipelines_is_an_error_naming_the_variable() -> None:
    with pytest.raises(AuthError, match="SYSTEM_OIDCREQUESTURI is not"):
        pipeline_assertion_source(CONNECTION, {}, httpx.Client())


def test_in_azure_pipelines_without_a_connection_id_it_says_which_setting_is_missing() -> None:
    with pytest.raises(AuthError) as caught:
        pipeline_assertion_source(None, JOB, httpx.Client())
    assert "SSSCTL_SERVICE_CONNECTION_ID" in str(caught.value.remedy)


def test_an_unmapped_job_access_token_is_named_with_the_yaml_that_maps_it() -> None:
    with pytest.raises(AuthError) as caught:
        pipeline_assertion_source(CONNECTION, {"SYSTEM_OIDCREQUESTURI": URI}, httpx.Client())
    assert "SYSTEM_ACCESSTOKEN" in str(caught.value)
    assert "$(System.AccessToken)" in str(caught.value.remedy)


@pytest.mark.parametrize("status", [401, 203])
def test_a_refused_job_token_is_reported_without_the_token(status: int) -> None:
    with pytest.raises(AuthError) as caught:
        _fetch_with(httpx.Response(status, text="<html>Sign in</html>"))
    assert "job access token" in str(caught.value)
    assert JOB_TOKEN not in str(caught.value)
    assert JOB_TOKEN not in redact_text(f"leak {JOB_TOKEN}")


def test_an_unknown_connection_quotes_azure_devops_message_and_names_the_setting() -> None:
    body = {"message": "Service connection not found.", "typeKey": "ServiceEndpointNotFoundException"}
    with pytest.raises(AuthError) as caught:
        _fetch_with(httpx.Response(404, json=body))
    assert CONNECTION in str(caught.value)
    assert "Service connection not found." in str(caught.value)
    assert "auth.service_connection_id" in str(caught.value.remedy)


@pytest.mark.parametrize("response", [
    httpx.Response(200, text="not json"),
    httpx.Response(200, json=["oidcToken"]),
    httpx.Response(200, json={"value": "a.b.c"}),
    httpx.Response(200, json={"oidcToken": 42}),
    httpx.Response(200, json={"oidcToken": "  "}),
    httpx.Response(200, json={"oidcToken": "x" * 20_000}),
], ids=["not-json", "list", "no-oidcToken", "number", "blank", "oversized"])
def test_an_answer_without_a_usable_token_is_refused(response: httpx.Response) -> None:
    with pytest.raises(AuthError, match="without a usable oidcToken"):
        _fetch_with(response)


def test_an_unreachable_endpoint_is_an_auth_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    source = pipeline_assertion_source(CONNECTION, JOB, httpx.Client(transport=httpx.MockTransport(handler)))
    assert source is not None
    with pytest.raises(AuthError, match="could not be reached"):
        source()
