"""One lock per token scope, so sign-in for one service never holds up another.

A token provider locks while it fetches, so threads that need the same token at once
send one request to the sign-in endpoint, not one each. One lock for every scope went
further than that: while the token for one service waited out the sign-in endpoint's
``Retry-After`` (Entra throttles with 429 like any service), every request to the
other services, whose tokens sat in the cache, waited behind it. MSAL's token cache
locks itself (``msal.TokenCache`` holds an ``RLock`` around every read and write), so
fetches for different scopes may run side by side.
"""

from __future__ import annotations

import threading


class ScopeLocks:
    """``locks.of(scope)``: the lock for that scope, made on first use."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def of(self, scope: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(scope, threading.Lock())
