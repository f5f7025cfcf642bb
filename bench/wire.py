"""Bytes on the wire, counted in the client process: what the request count alone hides.

A plan that reads whole tables may need fewer requests than one that asks precise
questions, yet move many times the data. Both ways use httpx underneath, so wrapping
``httpx.Client.send`` sees every request either way makes. A non-streamed response is
fully read inside ``send``, so its size is known when it returns; a streamed one (sssctl
streams every body to cap its size) is counted when it is closed, after it was read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Traffic:
    sent: int = 0
    received: int = 0


@contextmanager
def counting_traffic() -> Iterator[Traffic]:
    """Count request and response body bytes of every httpx client until the block ends."""
    traffic = Traffic()
    original = httpx.Client.send

    def send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        response = original(self, request, **kwargs)
        traffic.sent += len(request.content)
        if not kwargs.get("stream"):
            traffic.received += response.num_bytes_downloaded
            return response
        close = response.close

        def counted_close() -> None:
            if not response.is_closed:      # closing twice must not count twice
                traffic.received += response.num_bytes_downloaded
            close()

        response.close = counted_close  # type: ignore[method-assign]
        return response

    httpx.Client.send = send  # type: ignore[method-assign]
    try:
        yield traffic
    finally:
        httpx.Client.send = original  # type: ignore[method-assign]
