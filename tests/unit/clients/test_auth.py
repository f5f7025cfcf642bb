from __future__ import annotations

import json
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from sssctl.clients.auth import (
    default_token_cache,
    explain,
    load_certificate,
    write_private_file,
)
from sssctl.clients.clouds import CLOUDS, resolve_cloud, scope_for
from sssctl.clients.errors import AuthError
from sssctl.config.model import Endpoints, Environment

pytestmark = pytest.mark.timeout(30)


def _certificate(tmp_path: Path, *, days: int, pfx_password: bytes | None = None) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sssctl-test")])
    now = datetime.now(timezone.utc)
    start, end = (now - timedelta(days=2), now + timedelta(days=days)) if days > 0 else \
        (now - timedelta(days=10), now - timedelta(days=1))
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(start).not_valid_after(end).sign(key, hashes.SHA256()))
    if pfx_password is not None:
        path = tmp_path / "client.pfx"
        path.write_bytes(pkcs12.serialize_key_and_certificates(
            b"c", key, cert, None, serialization.BestAvailableEncryption(pfx_password)))
        return path
    path = tmp_path / "client.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
                     + cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_pem_certificate_thumbprints(tmp_path: Path) -> None:
    path = _certificate(tmp_path, days=30)
    credential = load_certificate(path, None)
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    assert credential.sha1_thumbprint == cert.fingerprint(hashes.SHA1()).hex().upper()
    assert credential.sha256_thumbprint == cert.fingerprint(hashes.SHA256()).hex().upper()
    msal_form = credential.for_msal()
    assert msal_form["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert "public_certificate" in msal_form or "thumbprint" in msal_form


def test_pfx_certificate_with_password(tmp_path: Path) -> None:
    path = _certificate(tmp_path, days=30, pfx_password=b"pfx-pass-123")
    assert load_certificate(path, "pfx-pass-123").certificate_pem.startswith("-----BEGIN CERTIFICATE-----")
    with pytest.raises(AuthError, match="not a usable PEM"):
        load_certificate(path, "wrong-password")


def test_expired_certificate_is_explained_before_signing_in(tmp_path: Path) -> None:
    path = _certificate(tmp_path, days=-1)
    with pytest.raises(AuthError, match="expired on") as caught:
        load_certificate(path, None)
    assert caught.value.remedy and "new certificate" in caught.value.remedy


def test_missing_certificate_file(tmp_path: Path) -> None:
    with pytest.raises(AuthError, match="cannot read certificate file"):
        load_certificate(tmp_path / "nope.pem", None)


@pytest.mark.parametrize(
    ("code", "words"),
    [(7000215, "secret VALUE"), (7000222, "new client secret"), (700016, "client_id"), (90002, "tenant_id"),
     (700027, "public part"), (700024, "clock"), (70021, "federated credential"), (500011, "environment.url"),
     (65001, "admin consent")],
)
def test_aadsts_codes_are_explained_with_a_remedy(code: int, words: str) -> None:
    result = {"error": "invalid_client", "error_description": f"AADSTS{code}: something.\r\nTrace ID: x",
              "error_codes": [code]}
    error = explain(result, method="client_secret", client_id="app-1")
    assert error.code == f"AADSTS{code}"
    assert error.remedy is not None and words in error.remedy
    assert "Trace ID" not in str(error)


def test_unknown_aadsts_code_still_names_it() -> None:
    result = {"error": "invalid_request", "error_description": "AADSTS123: odd"}
    error = explain(result, method="m", client_id=None)
    assert error.code == "AADSTS123" and "odd" in str(error)


def test_private_file_is_owner_only(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "cache.json"
    write_private_file(target, "{}")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    write_private_file(target, '{"a": 1}')
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and json.loads(target.read_text()) == {"a": 1}


def test_default_token_cache_location() -> None:
    import platformdirs

    platform_cache = platformdirs.user_cache_path("sssctl", appauthor=False)
    assert default_token_cache({}) == platform_cache / "msal-token-cache.json"
    assert default_token_cache({"XDG_CACHE_HOME": "/c"}) == Path("/c/sssctl/msal-token-cache.json")


def test_clouds_table_and_custom_endpoints() -> None:
    assert CLOUDS["dod"].graph_url == "https://dod-graph.microsoft.us"
    assert CLOUDS["china"].exchange_url == "https://partner.outlook.cn"
    assert CLOUDS["usgovhigh"].login_url == "https://login.microsoftonline.us"
    custom = resolve_cloud(Environment(cloud="custom", endpoints=Endpoints(
        login_url="https://127.0.0.1:9/", graph_url="https://127.0.0.1:9/graph",
        exchange_url="https://127.0.0.1:9/exchange")))
    assert custom.authority("t1") == "https://127.0.0.1:9/t1"
    assert scope_for("https://127.0.0.1:9/graph/") == "https://127.0.0.1:9/graph/.default"
    with pytest.raises(AuthError, match="login_url"):
        resolve_cloud(Environment(cloud="custom"))
    with pytest.raises(AuthError, match="https"):
        resolve_cloud(Environment(cloud="custom", endpoints=Endpoints(login_url="http://x")))


