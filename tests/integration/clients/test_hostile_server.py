"""sssctl's clients against a hostile HTTPS server on loopback, with a token the emulator issued.

The hostile server offers next-page links and redirects to a second listener; that listener
counts every connection, proving the token never went there (not even a TCP handshake).
It also sends bodies over the size cap and trickles bodies past the deadline.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sssctl.clients.dataverse import DataverseClient
from sssctl.clients.errors import DeadlineExceeded, ForeignLink, ReplyTooLarge
from sssctl.clients.exchange import ExchangeClient
from sssctl.clients.graph import GraphClient
from sssctl.clients.http import HttpService, ReplyLimits, RequestStats, build_ssl_context, new_http_client
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


class CountingListener:
    """A TCP listener that accepts and counts connections, and answers nothing."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@dataclass
class Hostile:
    """What the hostile server answers, and the requests (path, Authorization) it received."""

    reply: Callable[[BaseHTTPRequestHandler], None] = lambda handler: None
    seen: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""


def _json(handler: BaseHTTPRequestHandler, body: bytes, status: int = 200, **headers: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def hostile(emulator: EmulatorInfo) -> Iterator[Hostile]:
    state = Hostile()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            state.seen.append((self.path, self.headers.get("Authorization", "")))
            state.reply(self)

        do_GET = do_POST = _any

        def log_message(self, *args: Any) -> None:
            """Quiet: the test reports what matters."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # The emulator's server certificate is valid for 127.0.0.1 and signed by its CA.
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    data_dir = Path(emulator.ca_file).parent
    context.load_cert_chain(data_dir / "server.pem", data_dir / "server-key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    state.url = f"https://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def foreign() -> Iterator[CountingListener]:
    listener = CountingListener()
    yield listener
    listener.close()


def _service(name: str, hostile: Hostile, emulator: EmulatorInfo, admin: AdminClient,
             limits: ReplyLimits | None = None) -> HttpService:
    token = admin.token(emulator.dataverse_url)  # a real token: exactly what must not leak
    return HttpService(name, new_http_client(build_ssl_context(emulator.ca_file)), token=lambda: token,
                       stats=RequestStats(), origin=hostile.url, limits=limits)


def _read_all(name: str, http: HttpService, base: str) -> Any:
    if name == "dataverse":
        return list(DataverseClient(base, http).query("mailboxes"))
    if name == "graph":
        return list(GraphClient(base, http).list("applications"))
    return ExchangeClient(base, "tenant", http).invoke("Get-ApplicationAccessPolicy")


@pytest.mark.parametrize("name", ["dataverse", "graph", "exchange"])
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_foreign_next_link_is_refused_and_the_foreign_host_hears_nothing(
        name: str, scheme: str, hostile: Hostile, foreign: CountingListener, emulator: EmulatorInfo,
        emulator_admin: AdminClient) -> None:
    link = f"{scheme}://127.0.0.1:{foreign.port}/steal?page=2"
    row = b'{"id": "00000000-0000-0000-0000-000000000001"}'  # a well-formed row: only the link is foreign
    hostile.reply = lambda h: _json(h, b'{"value": [%s], "@odata.nextLink": "%s"}' % (row, link.encode()))
    http = _service(name, hostile, emulator, emulator_admin)
    with pytest.raises(ForeignLink, match="token was not sent"):
        _read_all(name, http, hostile.url)
    http.close()
    time.sleep(0.3)  # the listener polls; give a stray connection time to be counted
    assert foreign.accepted == 0
    assert len(hostile.seen) == 1 and hostile.seen[0][1].startswith("Bearer ")


def test_a_redirect_to_another_host_is_not_followed(
        hostile: Hostile, foreign: CountingListener, emulator: EmulatorInfo,
        emulator_admin: AdminClient) -> None:
    location = f"https://127.0.0.1:{foreign.port}/api/data/v9.2/WhoAmI"
    hostile.reply = lambda h: _json(h, b"", 302, Location=location)
    http = _service("dataverse", hostile, emulator, emulator_admin)
    with pytest.raises(ForeignLink, match="redirect"):
        DataverseClient(hostile.url, http).whoami()
    http.close()
    time.sleep(0.3)
    assert foreign.accepted == 0 and len(hostile.seen) == 1


def test_a_reply_over_the_cap_is_cut_off(hostile: Hostile, emulator: EmulatorInfo,
                                         emulator_admin: AdminClient) -> None:
    def endless_page(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Connection", "close")  # no length: the body runs until the socket closes
        handler.end_headers()
        handler.wfile.write(b'{"value": [')
        try:
            for _ in range(4096):
                handler.wfile.write(b'{"mailboxid": "' + b"x" * 1000 + b'"},')
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the client stopped reading at its cap, as it should

    hostile.reply = endless_page
    http = _service("dataverse", hostile, emulator, emulator_admin, ReplyLimits(max_body_bytes=1024 * 1024))
    with pytest.raises(ReplyTooLarge, match="1,048,576-byte cap"):
        list(DataverseClient(hostile.url, http).query("mailboxes"))
    http.close()


def test_a_trickling_reply_ends_at_the_deadline(hostile: Hostile, emulator: EmulatorInfo,
                                                emulator_admin: AdminClient) -> None:
    def trickle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        try:
            for _ in range(40):
                handler.wfile.write(b" ")
                handler.wfile.flush()
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass

    hostile.reply = trickle
    http = _service("dataverse", hostile, emulator, emulator_admin, ReplyLimits(deadline=1.0))
    with pytest.raises(DeadlineExceeded, match="within 1 s"):
        DataverseClient(hostile.url, http).whoami()
    http.close()
    assert len(hostile.seen) == 1  # a reply that slow is not asked for again
