"""What MSAL needs to talk to the emulator in tests: an httpx client trusting its CA, and
the sssctl app's certificate credential."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from sssctl.emulator.info import EmulatorInfo


class MsalHttp(httpx.Client):
    """MSAL hands certificate assertions over as bytes; httpx would form-encode them as
    "b'...'", so decode them first (requests does this by itself)."""

    def post(self, url: Any, *, data: Any = None, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        if isinstance(data, dict):
            data = {k: v.decode() if isinstance(v, bytes) else v for k, v in data.items()}
        return super().post(url, data=data, **kwargs)


def msal_http(info: EmulatorInfo) -> httpx.Client:
    return MsalHttp(verify=ssl.create_default_context(cafile=info.ca_file), timeout=10)


def certificate_credential(info: EmulatorInfo) -> dict[str, str]:
    pem = Path(info.client_certificate_file).read_bytes()
    cert = x509.load_pem_x509_certificate(pem)
    return {"private_key": pem.decode(), "thumbprint": cert.fingerprint(hashes.SHA1()).hex()}
