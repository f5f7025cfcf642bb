"""The storage SDK's HTTP transport, trusting the same extra CA as every other sssctl call.

``environment.endpoints.ca_bundle`` (``SSSCTL_CA_BUNDLE``) adds a CA to the system store for
sign-in, Dataverse, Graph and Exchange (a corporate TLS-inspecting proxy, the emulator).
The storage SDK speaks through ``requests``, whose ``connection_verify`` path would
*replace* the trusted roots instead of adding one, so the same ``ssl.SSLContext`` is handed
to its connection pools instead. Verification is never switched off.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import requests
from azure.core.pipeline.transport import RequestsTransport
from requests.adapters import HTTPAdapter


class _ContextAdapter(HTTPAdapter):
    """Connection pools that verify with one given SSL context."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)


def storage_transport(ca_bundle: Path | None) -> RequestsTransport | None:
    """A transport trusting ``ca_bundle`` besides the system store; None keeps the SDK default."""
    if ca_bundle is None:
        return None
    from sssctl.clients.http import build_ssl_context

    session = requests.Session()
    session.mount("https://", _ContextAdapter(build_ssl_context(ca_bundle)))
    return RequestsTransport(session=session, session_owner=True)
