"""Transport: TLS trust, the pooled client, and reading one answer whole.

Verification is always on and redirects are never followed (:mod:`._guards` says why);
the pool admits as many connections as Dataverse admits concurrent requests per user.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import quote

import httpx

from sssctl.clients.errors import TransportError

MAX_CONCURRENCY = 52  # Dataverse's documented concurrent-request limit per user
# Hop-by-hop framing of the original body; the copy handed on is already decoded and whole.
_FRAMING_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})

BodyReader = Callable[[httpx.Response], bytes]


def build_ssl_context(ca_bundle: Path | str | None = None) -> ssl.SSLContext:
    """Trust the system store plus, optionally, one extra CA file; verification stays on.

    There is deliberately no switch to turn verification off: the emulator publishes its CA
    file, and a corporate proxy's CA can be given the same way.
    """
    context = ssl.create_default_context()
    if ca_bundle is not None:
        try:
            context.load_verify_locations(cafile=str(ca_bundle))
        except (OSError, ssl.SSLError) as exc:
            raise TransportError(
                f"cannot load CA bundle {ca_bundle}: {exc}; "
                "check environment.endpoints.ca_bundle / SSSCTL_CA_BUNDLE points to a PEM file"
            ) from exc
    return context


def new_http_client(
    ssl_context: ssl.SSLContext, *, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """A pooled HTTP/1.1 client with the run's timeouts (connect 10 s, read 120 s)."""
    return httpx.Client(
        verify=ssl_context,
        http2=False,
        timeout=httpx.Timeout(120.0, connect=10.0),
        limits=httpx.Limits(max_connections=MAX_CONCURRENCY, max_keepalive_connections=MAX_CONCURRENCY),
        transport=transport,
        follow_redirects=False,
    )


def receive(client: httpx.Client, request: httpx.Request, read: BodyReader) -> httpx.Response:
    """Stream the answer, read it with ``read`` (which enforces the caps); return it fully read.

    The copy returned holds plain bytes, so a page lets go of its memory as soon as the
    caller drops it (a streamed httpx response lives in a cycle until the next full
    garbage collection).
    """
    streamed = client.send(request, stream=True)
    try:
        body = read(streamed)
    finally:
        streamed.close()
        streamed.stream = httpx.ByteStream(b"")  # break httpx's response <-> stream cycle
    headers = [(k, v) for k, v in streamed.headers.multi_items() if k.lower() not in _FRAMING_HEADERS]
    return httpx.Response(streamed.status_code, headers=headers, content=body, request=request,
                          extensions=streamed.extensions)


def encode_query(params: Mapping[str, str] | None) -> str:
    """``?$filter=a%20eq%201``: spaces as %20 and a literal ``+`` as %2B, never ``+`` for space.

    Form encoding (``+`` for space) is what httpx would do; OData servers are not obliged
    to read ``+`` as a space, so a value like ``'a+b'`` would silently change meaning.
    """
    if not params:
        return ""
    safe = "$'(),/:@*"
    return "?" + "&".join(f"{quote(k, safe='$')}={quote(str(v), safe=safe)}" for k, v in params.items())


def target_of(url: str) -> str:
    """The entity set / resource named by a URL, for logs (never query strings or ids)."""
    path = httpx.URL(url).path.rstrip("/")
    last = path.rsplit("/", 1)[-1]
    return last.split("(", 1)[0] or "/"
