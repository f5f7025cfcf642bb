"""Origin and size guards: every byte that comes back is untrusted.

A request (and so its token) only goes to the origin the service was configured with,
redirects are never followed, and each attempt is bounded in wall-clock time and body
size (:class:`ReplyLimits`). :class:`sssctl.clients.http.HttpService` calls these at the
edges of every attempt; nothing here sends anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from sssctl.clients._transport import target_of
from sssctl.clients.errors import DeadlineExceeded, ForeignLink, MalformedReply, ReplyTooLarge

DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class ReplyLimits:
    """Bounds on one attempt: wall-clock time from connecting to the last body byte, and body size.

    httpx's own timeouts apply per network operation, so a server that trickles a byte every
    few seconds would otherwise hold a run forever; the size cap stops a huge or endless body
    before it fills memory (the largest legitimate page, 5,000 rows, is a few MiB).
    """

    deadline: float = 300.0
    max_body_bytes: int = 64 * 1024 * 1024


def origin_of(url: str | httpx.URL) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in, for comparisons."""
    parsed = httpx.URL(url)
    scheme = parsed.scheme.lower()
    return scheme, parsed.host.lower(), parsed.port or DEFAULT_PORTS.get(scheme)


def describe_origin(url: str | httpx.URL) -> str:
    scheme, host, port = origin_of(url)
    return f"{scheme}://{host}:{port}" if port else f"{scheme}://{host}"


def check_same_origin(url: str | httpx.URL, allowed: str, *, service: str, what: str) -> None:
    """Refuse ``url`` unless scheme, host and port equal those of ``allowed``.

    Tokens are issued for one resource; anything else (another host, plain http, another
    port on the same host) could be a different party, so it never sees the token.
    """
    try:
        same = origin_of(url) == origin_of(allowed)
    except (httpx.InvalidURL, TypeError, ValueError):
        same = False
    if not same:
        shown = describe_origin(url) if parses(url) else repr(str(url)[:200])
        raise ForeignLink(
            f"{service}: refused to follow {what} to {shown}: it is not {describe_origin(allowed)}, "
            "the address this run signed in for, so the access token was not sent; if the service "
            "really moved, correct the endpoint in the configuration",
            service=service, url=str(allowed),
        )


def parses(url: str | httpx.URL) -> bool:
    try:
        httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return False
    return True



def read_capped(
    response: httpx.Response, limits: ReplyLimits, started: float, clock: Callable[[], float],
    *, service: str, method: str, target: str,
) -> bytes:
    """The whole body of a streamed answer, or an error once it passes the size cap or the deadline."""
    cap = limits.max_body_bytes
    announced = response.headers.get("Content-Length", "")
    if announced.isdigit() and int(announced) > cap:
        raise too_large(limits, service, method, target, f"it announced {int(announced):,} bytes")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            raise too_large(limits, service, method, target, f"reading stopped after {size:,} bytes")
        if clock() - started > limits.deadline:
            raise too_slow(limits, service, method, target)
    return b"".join(chunks)


def too_large(limits: ReplyLimits, service: str, method: str, target: str, detail: str) -> ReplyTooLarge:
    return ReplyTooLarge(
        f"{method} {service}:{target}: the answer is larger than the "
        f"{limits.max_body_bytes:,}-byte cap ({detail}); nothing was taken from it. A page "
        "this size is not what the service sends; check the endpoint in the configuration",
        service=service)


def too_slow(limits: ReplyLimits, service: str, method: str, target: str) -> DeadlineExceeded:
    return DeadlineExceeded(
        f"{method} {service}:{target}: no complete answer within {limits.deadline:g} s "
        "(connect, send and every read together); it was not retried, because a reply this slow "
        "would only hold the run longer. Check the network and the service's health, then run again")


def redirect_refused(response: httpx.Response, url: str, service: str) -> ForeignLink | MalformedReply:
    """The error a redirect answer ends in: the services never redirect API calls."""
    location = response.headers.get("Location", "")
    where = httpx.URL(url).join(location) if location and parses(location) else None
    if where is not None and origin_of(where) != origin_of(url):
        try:
            check_same_origin(where, url, service=service,
                              what=f"a redirect (HTTP {response.status_code})")
        except ForeignLink as refused:
            return refused
    return MalformedReply(
        f"{service}: answered HTTP {response.status_code} (a redirect) to {target_of(url)}; "
        "sssctl does not follow redirects with a token, and the service does not send them for "
        "API calls: check the endpoint in the configuration",
        service=service, url=url.split("?", 1)[0])
