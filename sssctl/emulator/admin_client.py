"""A small client for the emulator's admin API, shared by tests and benchmarks."""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from sssctl.emulator import constants as c
from sssctl.emulator.context import Faults
from sssctl.emulator.info import EmulatorInfo


def trusting_client(info: EmulatorInfo, **kwargs: Any) -> httpx.Client:
    """An httpx client that trusts the emulator's CA (and nothing else)."""
    return httpx.Client(verify=ssl.create_default_context(cafile=info.ca_file), **kwargs)


class AdminClient:
    """``reset``, ``counters``, ``faults``, ``snapshot``, device-code approval and token minting."""

    def __init__(self, info: EmulatorInfo, *, timeout: float = 30.0) -> None:
        self.info = info
        self._http = trusting_client(
            info,
            base_url=f"{info.url}{c.ADMIN_PREFIX}",
            timeout=timeout,
            headers={"Authorization": f"Bearer {info.admin_token}"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, json=body)
        if response.status_code >= 400:
            raise RuntimeError(
                f"emulator admin {method} {path} failed with {response.status_code}: {response.text}"
            )
        return response.json()

    def reset(self, **seed: Any) -> None:
        """Reseed everything (dataset, seed, mailboxes, business_units, roles) and zero counters."""
        self._call("POST", "/reset", seed)

    def counters(self) -> dict[str, Any]:
        return dict(self._call("GET", "/counters"))

    def reset_counters(self) -> None:
        self._call("POST", "/counters/reset")

    def faults(self, **knobs: Any) -> dict[str, Any]:
        """Change fault knobs (see ``context.Faults``); without arguments, read them."""
        if knobs:
            return dict(self._call("POST", "/faults", knobs))
        return dict(self._call("GET", "/faults"))

    def clear_faults(self) -> dict[str, Any]:
        """Every knob back to the emulator's defaults: faults, costs, limits and the competing
        integration alike, so nothing set for one run leaks into the next."""
        return self.faults(**Faults().to_dict())

    def clock(self, now: str | None = None, *, real: bool = False) -> dict[str, Any]:
        """Set the emulator's "now" (ISO 8601), put it back on real time (``real=True``), or read it."""
        if now is not None or real:
            return dict(self._call("POST", "/clock", {"now": now}))
        return dict(self._call("GET", "/clock"))

    def snapshot(self, *services: str) -> dict[str, Any]:
        """The whole store, or only the named parts (``"dataverse"``, ``"directory"``, ``"exchange"``)."""
        path = f"/snapshot?services={','.join(services)}" if services else "/snapshot"
        return dict(self._call("GET", path))

    def add_group(self, name: str, members: list[str], *, security: bool = True) -> dict[str, str]:
        """Add a mail-enabled group (members by address, groups included) until the next reset:
        ``{"id", "mail"}``."""
        answer: dict[str, str] = self._call("POST", "/groups", {"name": name, "members": members,
                                                                "security": security})
        return answer

    def act(self, upn: str, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One Dataverse request made as the user ``upn``: ``{"status", "headers", "body"}``."""
        answer: dict[str, Any] = self._call("POST", "/act", {"as": upn, "method": method, "path": path,
                                                             "body": body})
        return answer

    def approve_device_codes(self, user_code: str | None = None) -> list[str]:
        body = {"user_code": user_code} if user_code else {}
        return list(self._call("POST", "/device-codes/approve", body)["approved"])

    def token(
        self, audience: str, *, client_id: str | None = None, lifetime: int | None = None, user: bool = False
    ) -> str:
        """A token minted without a sign-in flow, e.g. one that already expired (``lifetime=-60``)."""
        body: dict[str, Any] = {"audience": audience, "user": user}
        if client_id:
            body["client_id"] = client_id
        if lifetime is not None:
            body["lifetime"] = lifetime
        return str(self._call("POST", "/tokens", body)["access_token"])


def admin(info: EmulatorInfo) -> AdminClient:
    return AdminClient(info)
