"""The server side of the Dataverse contract, proved with a placeholder service: what it is
built with, where it is mounted, and that the verifier it gets accepts only its audience."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import get_route_path  # type: ignore[attr-defined]
from starlette.types import Receive, Scope, Send

from sssctl.emulator.admin_client import AdminClient, trusting_client
from sssctl.emulator.context import InvalidToken, TokenVerifier
from sssctl.emulator.server import serving

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


class Placeholder:
    def __init__(self, *, verifier: TokenVerifier, base_url: str, **shared: Any) -> None:
        self.verifier, self.base_url, self.shared = verifier, base_url, shared
        self.resets: list[dict[str, Any]] = []

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            caller = self.verifier.verify(request.headers.get("authorization"), self.base_url)
            body: dict[str, Any] = {"path": get_route_path(scope), "app_id": caller.app_id}
            status = 200
        except InvalidToken as exc:
            body, status = {"error": exc.reason}, 401
        await JSONResponse(body, status_code=status)(scope, receive, send)

    def reset(self, **args: Any) -> None:
        self.resets.append(args)

    def snapshot(self) -> dict[str, Any]:
        return {"resets": len(self.resets)}


def test_dataverse_service_is_built_mounted_and_reset_as_agreed() -> None:
    built: list[Placeholder] = []

    def factory(**kwargs: Any) -> Placeholder:
        built.append(Placeholder(**kwargs))
        return built[-1]

    with serving(dataverse_factory=factory, dataset="large", mailboxes=100) as emulator:
        service = built[0]
        assert service.base_url == emulator.info.dataverse_url
        assert set(service.shared) == {"counters", "faults"}
        assert service.resets == [
            {"dataset": "large", "seed": 1, "mailboxes": 100, "business_units": None, "roles": None}
        ]
        info = emulator.info
        with AdminClient(info) as admin:
            good = admin.token(info.dataverse_url)
            wrong = admin.token(info.graph_url)
            admin.reset(seed=7)
            assert service.resets[-1]["seed"] == 7 and service.resets[-1]["dataset"] == "large"
            assert admin.snapshot()["dataverse"] == {"resets": 2}
        with trusting_client(info) as http:
            ok = http.get(
                f"{info.dataverse_url}/api/data/v9.2/WhoAmI", headers={"Authorization": f"Bearer {good}"}
            )
            refused = http.get(
                f"{info.dataverse_url}/api/data/v9.2/WhoAmI", headers={"Authorization": f"Bearer {wrong}"}
            )
        assert ok.json() == {"path": "/api/data/v9.2/WhoAmI", "app_id": info.client_id}
        assert refused.status_code == 401
