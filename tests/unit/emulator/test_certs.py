"""Key material: created once, reused while valid, private files private."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from sssctl.emulator.certs import issue_server_certificate, load_key_material, sha1_hex, thumbprints


def test_material_is_created_private_and_reused(tmp_path: Path) -> None:
    first = load_key_material(tmp_path)
    for name in ("ca-key.pem", "server-key.pem", "client-certificate.pem", "token-signing-key.pem"):
        assert (tmp_path / name).stat().st_mode & 0o077 == 0, name
    again = load_key_material(tmp_path)
    assert first.ca_file.read_bytes() == again.ca_file.read_bytes()
    assert first.client_certificate_der == again.client_certificate_der
    assert first.token_key.private_numbers() == again.token_key.private_numbers()


def test_server_certificate_names_loopback_and_chains_to_the_ca(tmp_path: Path) -> None:
    material = load_key_material(tmp_path)
    ca = x509.load_pem_x509_certificate(material.ca_file.read_bytes())
    server = x509.load_pem_x509_certificate(material.server_cert_file.read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)][:1] == ["127.0.0.1"]
    server.verify_directly_issued_by(ca)


def test_a_new_ca_forces_a_new_server_certificate(tmp_path: Path) -> None:
    load_key_material(tmp_path)
    old_server = (tmp_path / "server.pem").read_bytes()
    (tmp_path / "ca.pem").unlink()
    material = load_key_material(tmp_path)
    assert (tmp_path / "server.pem").read_bytes() != old_server
    ca = x509.load_pem_x509_certificate(material.ca_file.read_bytes())
    x509.load_pem_x509_certificate(material.server_cert_file.read_bytes()).verify_directly_issued_by(ca)


def test_thumbprints_match_what_msal_sends(tmp_path: Path) -> None:
    material = load_key_material(tmp_path)
    cert = x509.load_pem_x509_certificate(material.client_certificate_file.read_bytes())
    der = cert.public_bytes(serialization.Encoding.DER)
    hex_sha1 = cert.fingerprint(hashes.SHA1()).hex()
    msal_x5t = base64.urlsafe_b64encode(binascii.a2b_hex(hex_sha1)).decode()
    assert thumbprints(der)[0] == msal_x5t
    assert sha1_hex(der) == hex_sha1.upper()


def test_concurrent_starts_agree_on_one_ca(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: load_key_material(tmp_path), range(4)))
    ca = results[0].ca_file.read_bytes()
    server = x509.load_pem_x509_certificate((tmp_path / "server.pem").read_bytes())
    server.verify_directly_issued_by(x509.load_pem_x509_certificate(ca))
    assert len({r.token_key.private_numbers().d for r in results}) == 1


def test_a_certificate_for_another_loopback_server_chains_to_the_same_ca(tmp_path: Path) -> None:
    material = load_key_material(tmp_path / "emulator")
    issue_server_certificate(tmp_path / "emulator", tmp_path / "azurite.pem", tmp_path / "azurite-key.pem")
    ca = x509.load_pem_x509_certificate(material.ca_file.read_bytes())
    leaf = x509.load_pem_x509_certificate((tmp_path / "azurite.pem").read_bytes())
    leaf.verify_directly_issued_by(ca)
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.1" in [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]
    assert (tmp_path / "azurite-key.pem").stat().st_mode & 0o077 == 0
    emulator_server = x509.load_pem_x509_certificate(material.server_cert_file.read_bytes())
    assert leaf.public_key() != emulator_server.public_key()  # its own key, not the emulator's
