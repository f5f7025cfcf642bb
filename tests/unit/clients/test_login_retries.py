"""Sign-in requests get the HTTP layer's retries and budget, and honest errors when they run out."""

from __future__ import annotations

import httpx
import pytest

from sssctl.clients.auth import MsalHttpAdapter, is_transient_login_answer
from sssctl.clients.errors import AuthError
from sssctl.clients.http import HttpService, RequestStats, RetryPolicy

from .helpers import Sleeps

pytestmark = pytest.mark.timeout(30)

TOKEN_URL = "https://login.example/tenant/oauth2/v2.0/token"
TOKEN = httpx.Response(200, json={"access_token": "at", "token_type": "Bearer", "expires_in": 3600})
LOOP = {"error": "temporarily_unavailable", "error_codes": [50196],
        "error_description": "AADSTS50196: The server terminated an operation because it encountered a loop."}


def _adapter(*answers: httpx.Response,
             policy: RetryPolicy | None = None) -> tuple[MsalHttpAdapter, list[bytes]]:
    sent: list[bytes] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        return queue.pop(0)

    login = HttpService("login", httpx.Client(transport=httpx.MockTransport(handler)), token=None,
                        stats=RequestStats(), policy=policy or RetryPolicy(), sleep=Sleeps(),
                        retry_when=is_transient_login_answer)
    return MsalHttpAdapter(login), sent


def test_a_503_429_burst_is_retried_and_the_form_is_sent_each_time() -> None:
    adapter, sent = _adapter(httpx.Response(503), httpx.Response(429, headers={"Retry-After": "0"}), TOKEN)
    form = {"client_assertion": b"eyJ.a.b", "grant_type": "client_credentials"}
    response = adapter.post(TOKEN_URL, data=form)
    assert response.status_code == 200
    assert len(sent) == 3 and all(b"client_assertion=eyJ.a.b" in body for body in sent)


def test_entra_throttling_codes_are_retried_even_with_status_400() -> None:
    adapter, sent = _adapter(httpx.Response(400, json=LOOP), TOKEN)
    assert adapter.post(TOKEN_URL, data={"grant_type": "client_credentials"}).status_code == 200
    assert len(sent) == 2


def test_a_wrong_secret_is_not_retried_and_reaches_msal_as_is() -> None:
    wrong = {"error": "invalid_client", "error_codes": [7000215], "error_description": "AADSTS7000215: bad"}
    adapter, sent = _adapter(httpx.Response(401, json=wrong))
    assert adapter.post(TOKEN_URL, data={}).status_code == 401
    assert len(sent) == 1


def test_an_unavailable_login_service_says_so_not_check_your_tenant() -> None:
    adapter, sent = _adapter(*[httpx.Response(503, text="<html>Service Unavailable</html>")] * 3,
                             policy=RetryPolicy(max_attempts=3))
    with pytest.raises(AuthError, match="HTTP 503 Service Unavailable") as caught:
        adapter.get("https://login.example/tenant/v2.0/.well-known/openid-configuration")
    assert "unavailable or throttling" in str(caught.value) and "tenant" not in str(caught.value.remedy)
    assert len(sent) == 3


def test_sign_in_retries_draw_on_the_run_budget() -> None:
    policy = RetryPolicy(run_retry_budget=1)
    adapter, sent = _adapter(httpx.Response(400, json=LOOP), httpx.Response(400, json=LOOP), policy=policy)
    with pytest.raises(AuthError, match="AADSTS50196") as caught:
        adapter.post(TOKEN_URL, data={})
    assert caught.value.code == "AADSTS50196"
    assert len(sent) == 2 and not policy.take_from_run_budget()


def test_a_dropped_connection_that_persists_is_an_auth_error_naming_the_host() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    login = HttpService("login", httpx.Client(transport=httpx.MockTransport(refuse)), token=None,
                        stats=RequestStats(), policy=RetryPolicy(max_attempts=2), sleep=Sleeps())
    with pytest.raises(AuthError, match=r"could not reach https://login\.example"):
        MsalHttpAdapter(login).post(TOKEN_URL, data={})
