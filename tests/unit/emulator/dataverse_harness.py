"""In-process harness for the Dataverse emulator: a fake token verifier and an httpx client.

Tokens are ``Bearer app:<app id>`` or ``Bearer user:<object id>``; anything else is invalid.
"""

from __future__ import annotations

import warnings

import httpx

with warnings.catch_warnings():  # starlette nags about its httpx backend; the client works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from sssctl.emulator import constants
from sssctl.emulator.context import Caller, Counters, Faults, InvalidToken
from sssctl.emulator.dataverse import DataverseService

BASE = "https://dataverse.test/dataverse"
API = f"{BASE}/api/data/v9.2"


# Directory roles the real identity side puts in "wids", as it does for these callers.
WIDS = {
    constants.SSSCTL_APP_ID: ["29232cdf-9323-42fd-ade2-1d097af3e4de"],  # Exchange Administrator
    constants.ADMIN_USER_OBJECT_ID: ["62e90394-69f5-4237-9190-012177145e10"],  # Global Administrator
}


class FakeVerifier:
    def verify(self, authorization: str | None, audience: str) -> Caller:
        if not authorization or not authorization.startswith("Bearer "):
            raise InvalidToken("no bearer token")
        kind, _, value = authorization[len("Bearer ") :].partition(":")
        if kind == "app":
            return Caller(
                app_id=value,
                object_id=value,
                tenant_id=constants.TENANT_ID,
                audience=audience,
                roles=(),
                claims={"wids": WIDS[value]} if value in WIDS else {},
            )
        if kind == "user":
            return Caller(
                app_id="public-client",
                object_id=value,
                tenant_id=constants.TENANT_ID,
                audience=audience,
                roles=(),
                claims={"wids": WIDS[value]} if value in WIDS else {},
            )
        raise InvalidToken("bad token")


def make_service(**reset: object) -> tuple[DataverseService, Counters, Faults]:
    counters, faults = Counters(), Faults()
    service = DataverseService(verifier=FakeVerifier(), counters=counters, faults=faults, base_url=BASE)
    if reset:
        service.reset(**reset)  # type: ignore[arg-type]
    return service, counters, faults


def client(service: DataverseService, token: str = f"app:{constants.SSSCTL_APP_ID}") -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "OData-Version": "4.0"}
    return TestClient(service.app, base_url=API + "/", headers=headers)
