"""Layering with extends, environment overrides, digests and relative paths."""

from __future__ import annotations

import codecs
import os
from pathlib import Path

import pytest

from sssctl.config import spec
from sssctl.config.loader import MAX_EXTENDS, MAX_FILE_BYTES, MAX_KEYS, load, load_many, state_dir
from sssctl.config.model import SecretRef
from sssctl.logging import redact_text
from tests.unit.config.conftest import Write, findings_of, load_ok, only

BASE = """
[environment]
name = "contoso-base"
url = "https://base.crm.dynamics.com"
[org_settings]
RequirePrivilegeToSelfApproveEmailAddress = true
SSSForceFilteringMethodForUserMailboxes = 3
[mailboxes]
exclude = ["a@contoso.com", "b@contoso.com"]
[auth]
client_secret = { file = "secrets/base.txt" }
"""


@pytest.mark.timeout(30)
def test_later_file_wins_key_by_key_and_tables_merge(write: Write) -> None:
    write(BASE, "base.toml")
    top = write('extends = "base.toml"\n[environment]\nname = "contoso-prod"\n'
                "[org_settings]\nSSSForceFilteringMethodForUserMailboxes = 2\n")
    desired = load_ok(top)
    assert desired.environment.name == "contoso-prod"
    assert desired.environment.url == "https://base.crm.dynamics.com"
    assert dict(desired.org_settings) == {
        "RequirePrivilegeToSelfApproveEmailAddress": True, "SSSForceFilteringMethodForUserMailboxes": 2}
    assert desired.source == top


def test_arrays_are_replaced_not_appended(write: Write) -> None:
    write(BASE, "base.toml")
    top = write('extends = "base.toml"\n[mailboxes]\nexclude = ["c@contoso.com"]\n')
    assert load_ok(top).mailboxes is not None
    assert load_ok(top).mailboxes.exclude == ("c@contoso.com",)  # type: ignore[union-attr]


def test_secret_reference_is_replaced_whole(write: Write) -> None:
    write(BASE, "base.toml")
    top = write('extends = "base.toml"\n[auth]\nclient_secret = { env = "PIPELINE_SECRET" }\n')
    assert load_ok(top).auth.client_secret == SecretRef(env="PIPELINE_SECRET")


def test_extends_chains_relative_to_the_extending_file(write: Write, tmp_path: Path) -> None:
    write('[environment]\nname = "root"\nurl = "https://root.crm.dynamics.com"\n', "shared/root.toml")
    write('extends = "root.toml"\n[environment]\nname = "middle"\n', "shared/middle.toml")
    top = write('extends = "shared/middle.toml"\n')
    desired = load_ok(top)
    assert (desired.environment.name, desired.environment.url) == ("middle", "https://root.crm.dynamics.com")


def test_relative_paths_resolve_against_the_file_that_declared_them(write: Write, tmp_path: Path) -> None:
    write('[auth]\nclient_secret = { file = "secret.txt" }\ncertificate_file = "cert.pem"\n'
          '[environment.endpoints]\nca_bundle = "ca.pem"\n', "base/base.toml")
    top = write('extends = "base/base.toml"\n[environment.endpoints]\nca_bundle = "mine/ca.pem"\n',
                "top.toml")
    auth = load_ok(top).auth
    assert auth.client_secret == SecretRef(file=tmp_path / "base" / "secret.txt")
    assert auth.certificate_file == tmp_path / "base" / "cert.pem"
    assert load_ok(top).environment.endpoints.ca_bundle == tmp_path / "mine" / "ca.pem"


def test_extends_cycle_is_named(write: Write) -> None:
    write('extends = "b.toml"\n', "a.toml")
    write('extends = "c.toml"\n', "b.toml")
    write('extends = "a.toml"\n', "c.toml")
    finding = only(findings_of(write('extends = "a.toml"\n', "top.toml")))
    assert finding.key_path == "extends"
    assert "extends cycle" in finding.message
    assert finding.message.count("a.toml") == 2
    assert "b.toml" in finding.message and "c.toml" in finding.message


def test_file_extending_itself_is_a_cycle(write: Write) -> None:
    finding = only(findings_of(write('extends = "sssctl.toml"\n')))
    assert "extends cycle" in finding.message


def test_missing_base_file_points_at_extends_line(write: Write) -> None:
    path = write('extends = "nowhere.toml"\n')
    finding = only(findings_of(path))
    assert (finding.file, finding.key_path, finding.line) == (str(path), "extends", 2)
    assert "nowhere.toml not found" in finding.message


def test_findings_in_a_base_file_name_that_file_and_line(write: Write) -> None:
    base = write("[org_settings]\n\nDisableSmartMatching = 1\n", "base.toml", versioned=False)
    finding = only(findings_of(write('extends = "base.toml"\n')))
    where = (finding.file, finding.line, finding.key_path)
    assert where == (str(base), 3, "org_settings.DisableSmartMatching")


def test_extends_must_be_a_string(write: Write) -> None:
    finding = only(findings_of(write('extends = ["a.toml"]\n')))
    assert finding.key_path == "extends"


def test_toml_syntax_error_reports_line_and_column(write: Write) -> None:
    finding = only(findings_of(write("[environment\nname = 1\n")))
    assert finding.line == 2
    assert "column" in finding.message and "TOML syntax error" in finding.message


def test_missing_and_undecodable_files(tmp_path: Path) -> None:
    assert only(findings_of(tmp_path / "none.toml")).message == "file not found"
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    assert "UTF-8" in only(findings_of(binary)).message
    assert "cannot read" in only(findings_of(tmp_path)).message  # a directory


ENV = {
    "SSSCTL_URL": "https://127.0.0.1:8443",
    "SSSCTL_TENANT_ID": "0f6e2b8a-3c1d-4e5f-9a8b-7c6d5e4f3a2b",
    "SSSCTL_CLOUD": "custom",
    "SSSCTL_LOGIN_URL": "https://127.0.0.1:8443/login",
    "SSSCTL_GRAPH_URL": "https://127.0.0.1:8443/graph",
    "SSSCTL_EXCHANGE_URL": "https://127.0.0.1:8443/exchange",
    "SSSCTL_CA_BUNDLE": "emulator-ca.pem",
    "SSSCTL_AUTH_METHOD": "certificate",
    "SSSCTL_CLIENT_ID": "1a2b3c4d-0000-4000-8000-000000000001",
    "SSSCTL_CLIENT_SECRET": "pipeline-secret-value-123",
    "SSSCTL_CLIENT_CERTIFICATE": "/etc/sssctl/cert.pem",
    "SSSCTL_STATE_DIR": "/var/lib/sssctl",
}


def test_environment_variables_win_over_the_file(write: Write) -> None:
    path = write('[environment]\nname = "contoso-prod"\nurl = "https://contoso.crm.dynamics.com"\n'
                 '[auth]\nclient_secret = { file = "s.txt" }\n')
    desired = load_ok(path, ENV)
    env, auth = desired.environment, desired.auth
    assert env.name == "contoso-prod"
    assert (env.url, env.tenant_id, env.cloud) == (ENV["SSSCTL_URL"], ENV["SSSCTL_TENANT_ID"], "custom")
    assert env.endpoints.login_url == ENV["SSSCTL_LOGIN_URL"]
    assert env.endpoints.graph_url == ENV["SSSCTL_GRAPH_URL"]
    assert env.endpoints.exchange_url == ENV["SSSCTL_EXCHANGE_URL"]
    assert env.endpoints.ca_bundle == Path.cwd() / "emulator-ca.pem"
    assert (auth.method, auth.client_id) == ("certificate", ENV["SSSCTL_CLIENT_ID"])
    assert auth.client_secret == SecretRef(env="SSSCTL_CLIENT_SECRET")
    assert auth.certificate_file == Path("/etc/sssctl/cert.pem")
    assert desired.state_dir == Path("/var/lib/sssctl")
    # the secret we were handed is masked in logs from now on
    assert ENV["SSSCTL_CLIENT_SECRET"] not in redact_text(f"oops {ENV['SSSCTL_CLIENT_SECRET']}")


def test_environment_override_does_not_hide_a_broken_section(write: Write) -> None:
    path = write('environment = "prod"\n')
    finding = only(findings_of(path, {"SSSCTL_URL": "https://contoso.crm.dynamics.com"}))
    assert (finding.file, finding.key_path) == (str(path), "environment")


def test_empty_environment_variables_are_ignored(write: Write) -> None:
    path = write('[environment]\nurl = "https://contoso.crm.dynamics.com"\n')
    assert load_ok(path, {"SSSCTL_URL": ""}).environment.url == "https://contoso.crm.dynamics.com"


def test_digest_ignores_environment_overrides_and_extends_but_follows_content(write: Write) -> None:
    path = write('[environment]\nname = "contoso-prod"\n')
    plain = load_ok(path).digest
    assert plain.startswith("sha256:") and len(plain) == 7 + 64
    assert load_ok(path, ENV).digest == plain
    write('[environment]\nname = "contoso-prod"\n', "base.toml")
    assert load_ok(write('extends = "base.toml"\n', "layered.toml")).digest == plain
    assert load_ok(write('[environment]\nname = "contoso-test"\n', "other.toml")).digest != plain


def test_digest_does_not_depend_on_key_order_or_comments(write: Write) -> None:
    one = write('[approval]\nrequire_for_users = true\nrequire_for_queues = false\n', "one.toml")
    two = write('# comment\n[approval]\nrequire_for_queues = false\nrequire_for_users = true\n', "two.toml")
    assert load_ok(one).digest == load_ok(two).digest


def test_version_defaults_to_1_with_the_same_digest(write: Write) -> None:
    implicit = load_ok(write("", "implicit.toml", versioned=False))
    assert implicit.version == 1
    assert implicit.digest == load_ok(write("", "explicit.toml")).digest


def test_state_dir_helper() -> None:
    assert state_dir({"SSSCTL_STATE_DIR": "/x"}) == Path("/x")
    assert state_dir({}) is None


def test_load_many_keeps_going_after_a_broken_file(write: Write, tmp_path: Path) -> None:
    good = write("", "good.toml")
    bad = write("[nope]\n", "bad.toml")
    results = load_many([bad, tmp_path / "missing.toml", good], {})
    assert [r.ok for r in results] == [False, False, True]
    assert results[0].findings[0].key_path == "nope"
    assert results[2].desired is not None


def test_load_uses_os_environ_by_default(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in spec.ENV_OVERRIDES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SSSCTL_URL", "https://from-env.crm.dynamics.com")
    assert load(write("")).environment.url == "https://from-env.crm.dynamics.com"


# --- hostile files: only regular files, bounded, refused with the project's own error ----------


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_extends_pointing_at_a_device_is_refused_at_the_extends_line(write: Write, device: str) -> None:
    path = write(f'extends = "{device}"\n')
    finding = only(findings_of(path))
    assert (finding.file, finding.key_path, finding.line) == (str(path), "extends", 2)
    assert f"base file {device} cannot be read: it is" in finding.message


@pytest.mark.timeout(10)
def test_a_fifo_without_writer_is_refused_without_blocking(write: Write, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.toml")
    assert "FIFO" in only(findings_of(tmp_path / "pipe.toml")).message
    assert "FIFO" in only(findings_of(write('extends = "pipe.toml"\n'))).message


def test_a_directory_is_named_as_such(tmp_path: Path) -> None:
    message = only(findings_of(tmp_path)).message
    assert message == "cannot read file: it is a directory; name a regular TOML file"


def test_a_file_over_the_size_cap_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_bytes(b"# " + b"x" * MAX_FILE_BYTES + b"\n")
    assert "file too large" in only(findings_of(big)).message


def test_a_utf8_byte_order_mark_is_accepted_and_utf16_is_named(tmp_path: Path) -> None:
    text = 'version = 1\n[environment]\nname = "bom"\n'
    bom = tmp_path / "bom.toml"
    bom.write_bytes(codecs.BOM_UTF8 + text.encode())
    assert load_ok(bom).environment.name == "bom"
    wide = tmp_path / "wide.toml"
    wide.write_text(text, encoding="utf-16")
    assert "UTF-16" in only(findings_of(wide)).message


@pytest.mark.parametrize(("text", "key_path", "line", "message"), [
    ("[org_settings]\nX = 0x" + "f" * 40 + "\n", "org_settings.X", 3, "integer out of range"),
    ("[approval]\nrequire_for_users = " + "9" * 5000 + "\n", "", None, "thousands of digits"),
    ('[org_settings]\n"' + "k" * 40_000 + '" = 1\n', "org_settings." + "k" * 39 + "…", 3,
     "key longer than 256 characters"),
    ("a = " + "[" * 5000 + "]" * 5000 + "\n", "", None, "nested too deeply"),
    ("a = " + "[" * 17 + "]" * 17 + "\n", "a", 2, "nested too deeply (more than 16 levels)"),
    ("[" + ".".join(["a"] * 100_000) + "]\n", "", 2, "dotted key of more than 32 parts"),
    ("".join(f"k{i} = 1\n" for i in range(MAX_KEYS + 1)), "", None, f"more than {MAX_KEYS} keys"),
])
def test_hostile_documents_name_file_key_path_and_line(
    write: Write, text: str, key_path: str, line: int | None, message: str
) -> None:
    path = write(text)
    finding = only(findings_of(path))
    assert (finding.file, finding.key_path, finding.line) == (str(path), key_path, line)
    assert message in finding.message


def test_an_extends_chain_has_a_length_limit(write: Write) -> None:
    write("", "f0.toml")
    for i in range(1, MAX_EXTENDS + 2):
        last = write(f'extends = "f{i - 1}.toml"\n', f"f{i}.toml")
    assert f"longer than {MAX_EXTENDS} files" in only(findings_of(last)).message
