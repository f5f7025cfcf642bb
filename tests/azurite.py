"""Azurite, Microsoft's storage emulator, as a real server on a free loopback port.

Installed by ``make azurite`` (pinned, into the ignored ``.azurite/``); installed on
demand here when node is present, skipped with the reason only when node is missing, and
never skipped in CI, where a missing emulator must fail the run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / ".azurite" / "node_modules" / ".bin" / "azurite-blob"
# Azurite's documented development account (public, the same on every installation).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_LISTENING = re.compile(r"listens on https?://127\.0\.0\.1:(\d+)")


@dataclass(frozen=True)
class Tls:
    """Azurite over HTTPS with this certificate, accepting Entra bearer tokens (``--oauth basic``).

    ``ca_file`` is the CA that issued the certificate, for the clients to trust.
    """

    cert_file: Path
    key_file: Path
    ca_file: Path


@dataclass(frozen=True)
class Azurite:
    port: int
    tls: Tls | None = None

    @property
    def account_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol={'https' if self.tls else 'http'};AccountName={ACCOUNT};"
                f"AccountKey={ACCOUNT_KEY};BlobEndpoint={self.account_url};")

    def new_container(self) -> str:
        from azure.storage.blob import BlobServiceClient

        name = f"t{uuid.uuid4().hex[:20]}"
        verify = {"connection_verify": str(self.tls.ca_file)} if self.tls else {}
        BlobServiceClient.from_connection_string(self.connection_string, **verify).create_container(name)
        return name


def _ensure_installed() -> None:
    if BINARY.exists():
        return
    if shutil.which("node") is None or shutil.which("npm") is None:
        if os.environ.get("CI"):
            pytest.fail("node/npm are missing, so Azurite cannot run; CI must run the Azure Blob tests")
        pytest.skip("node/npm not found: Azurite (the Azure Storage emulator) cannot run here")
    subprocess.run(["make", "-s", "azurite"], cwd=ROOT, check=True, timeout=600)


@contextmanager
def running_azurite(location: Path, tls: Tls | None = None) -> Iterator[Azurite]:
    _ensure_installed()
    https = ["--cert", str(tls.cert_file), "--key", str(tls.key_file), "--oauth", "basic"] if tls else []
    process = subprocess.Popen(
        [str(BINARY), "--blobHost", "127.0.0.1", "--blobPort", "0", "--location", str(location),
         "--skipApiVersionCheck", "--loose", "--disableTelemetry", "--silent", *https],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield Azurite(_wait_for_port(process), tls)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_for_port(process: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 60
    seen: list[str] = []
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        match = _LISTENING.search(line)
        if match:
            return int(match.group(1))
    raise RuntimeError("Azurite did not start: " + "".join(seen)[-2000:])
