"""Key material of the emulator: its CA, the TLS server certificate, the sssctl client
certificate and the RSA keys that sign tokens and federated assertions.

Everything lives in the data directory and is reused on restart while still valid, so a
CA file a user already trusts (or a client certificate already registered elsewhere)
keeps working across ``sssctl emulator serve`` runs.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from filelock import FileLock

# Certificates are renewed when less than this is left, so a long-running server never
# presents an expired certificate mid-test.
_RENEW_BEFORE = dt.timedelta(days=7)
_LIFETIME = dt.timedelta(days=365)


@dataclass(frozen=True)
class KeyMaterial:
    """Paths and loaded keys the server needs."""

    ca_file: Path
    server_cert_file: Path
    server_key_file: Path
    client_certificate_file: Path  # PEM: private key + certificate (what sssctl reads)
    client_certificate_der: bytes
    token_key: rsa.RSAPrivateKey  # signs access/id tokens
    issuer_key: rsa.RSAPrivateKey  # signs federated assertions (the fake external issuer)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write atomically; by default readable only by its owner, as it may hold a private key."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _load_or_create_key(path: Path) -> rsa.RSAPrivateKey:
    if path.exists():
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if isinstance(loaded, rsa.RSAPrivateKey):
            return loaded
    key = _new_key()
    _write_private(path, _key_pem(key))
    return key


def _still_valid(path: Path) -> x509.Certificate | None:
    if not path.exists():
        return None
    try:
        cert = x509.load_pem_x509_certificates(path.read_bytes())[-1]
    except ValueError:
        return None
    if cert.not_valid_after_utc - _RENEW_BEFORE < _now():
        return None
    return cert


def _builder(subject: x509.Name, issuer: x509.Name, public_key: rsa.RSAPublicKey) -> x509.CertificateBuilder:
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _LIFETIME)
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca(data_dir: Path) -> tuple[x509.Certificate, rsa.RSAPrivateKey, bool]:
    """Return the CA and whether it was (re)created, which forces new leaf certificates."""
    key_path, cert_path = data_dir / "ca-key.pem", data_dir / "ca.pem"
    cert = _still_valid(cert_path)
    if cert is not None and key_path.exists():
        key = _load_or_create_key(key_path)
        if cert.public_key() == key.public_key():
            return cert, key, False
    key = _new_key()
    name = _name("sssctl emulator CA")
    cert = (
        _builder(name, name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key))
    _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert, key, True


def _server_cert(data_dir: Path, ca: x509.Certificate, ca_key: rsa.RSAPrivateKey, renew: bool) -> None:
    key_path, cert_path = data_dir / "server-key.pem", data_dir / "server.pem"
    if not renew and _still_valid(cert_path) is not None and key_path.exists():
        return
    _write_loopback_leaf(ca, ca_key, cert_path, key_path)


def _write_loopback_leaf(ca: x509.Certificate, ca_key: rsa.RSAPrivateKey, cert_path: Path,
                         key_path: Path) -> None:
    key = _new_key()
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    cert = (
        _builder(_name("localhost"), ca.subject, key.public_key())
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key))
    _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _client_cert(data_dir: Path) -> bytes:
    """Self-signed, as Entra app certificates usually are; returns its DER."""
    path = data_dir / "client-certificate.pem"
    cert = _still_valid(path)
    if cert is not None:
        return cert.public_bytes(serialization.Encoding.DER)
    key = _new_key()
    name = _name("sssctl")
    cert = _builder(name, name, key.public_key()).sign(key, hashes.SHA256())
    _write_private(path, _key_pem(key) + cert.public_bytes(serialization.Encoding.PEM))
    return cert.public_bytes(serialization.Encoding.DER)


def issue_server_certificate(data_dir: Path, cert_file: Path, key_file: Path) -> None:
    """A loopback TLS server certificate (localhost, 127.0.0.1, ::1) for another local server,
    issued by the CA under ``data_dir``: a client trusting the emulator's CA file (sssctl's
    ``ca_bundle``) then trusts that server too, Azurite for instance, with no second CA."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(data_dir / ".keys.lock")):
        ca, ca_key, renewed = _ca(data_dir)
        _server_cert(data_dir, ca, ca_key, renewed)  # a renewed CA must not strand the emulator's
    _write_loopback_leaf(ca, ca_key, cert_file, key_file)


def load_key_material(data_dir: Path) -> KeyMaterial:
    """Create what is missing or about to expire under ``data_dir`` and load the rest.

    A lock file serialises emulators starting at the same time on one data directory, so
    none of them reads a CA whose key another is still replacing.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(data_dir / ".keys.lock")):
        ca, ca_key, renewed = _ca(data_dir)
        _server_cert(data_dir, ca, ca_key, renewed)
        der = _client_cert(data_dir)
        token_key = _load_or_create_key(data_dir / "token-signing-key.pem")
        issuer_key = _load_or_create_key(data_dir / "issuer-signing-key.pem")
    return KeyMaterial(
        ca_file=data_dir / "ca.pem",
        server_cert_file=data_dir / "server.pem",
        server_key_file=data_dir / "server-key.pem",
        client_certificate_file=data_dir / "client-certificate.pem",
        client_certificate_der=der,
        token_key=token_key,
        issuer_key=issuer_key,
    )


def thumbprints(der: bytes) -> tuple[str, str]:
    """``x5t`` and ``x5t#S256`` of a certificate as MSAL sends them (base64url, padding kept)."""
    sha1 = base64.urlsafe_b64encode(hashlib.sha1(der).digest()).decode()  # noqa: S324 - x5t is SHA-1 by definition
    sha256 = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode()
    return sha1, sha256


def sha1_hex(der: bytes) -> str:
    """Thumbprint as Entra shows it (``customKeyIdentifier``) and MSAL takes it (hex)."""
    return hashlib.sha1(der).hexdigest().upper()  # noqa: S324 - certificate thumbprints are SHA-1
