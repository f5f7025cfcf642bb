"""Build clients over httpx.MockTransport: one module under test, no network."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from sssctl.clients.http import HttpService, RequestStats, RetryPolicy

Handler = Callable[[httpx.Request], httpx.Response]


class Sleeps:
    """An injected sleeper that records instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def service(handler: Handler, *, name: str = "dataverse", policy: RetryPolicy | None = None,
            sleeps: Sleeps | None = None, token: str = "tok-abcdef-123456") -> tuple[HttpService, Sleeps]:
    sleeper = sleeps or Sleeps()
    client = httpx.Client(transport=httpx.MockTransport(handler))
    svc = HttpService(name, client, token=lambda: token, stats=RequestStats(),
                      policy=policy or RetryPolicy(), sleep=sleeper)
    return svc, sleeper
