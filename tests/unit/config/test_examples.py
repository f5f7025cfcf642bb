"""The example configs teach by example, so they must always be valid and mean what they say."""

from __future__ import annotations

from pathlib import Path

import pytest

from sssctl.catalog import options
from tests.unit.config.conftest import CONFIGS, load_ok

EXAMPLES = sorted(CONFIGS.glob("*.toml"))

EMULATOR_ENV = {
    "SSSCTL_URL": "https://127.0.0.1:8443",
    "SSSCTL_TENANT_ID": "0f6e2b8a-3c1d-4e5f-9a8b-7c6d5e4f3a2b",
    "SSSCTL_CLOUD": "custom",
    "SSSCTL_LOGIN_URL": "https://127.0.0.1:8443",
    "SSSCTL_GRAPH_URL": "https://127.0.0.1:8443",
    "SSSCTL_EXCHANGE_URL": "https://127.0.0.1:8443",
    "SSSCTL_CLIENT_ID": "1a2b3c4d-0000-4000-8000-000000000001",
    "SSSCTL_CLIENT_SECRET": "emulator-secret-value",
}


def test_the_three_examples_exist() -> None:
    assert {p.name for p in EXAMPLES} >= {"hardened.toml", "lockdown.toml", "minimal.toml"}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_valid_alone_and_pointed_at_the_emulator(path: Path) -> None:
    alone = load_ok(path)
    at_emulator = load_ok(path, EMULATOR_ENV)
    assert at_emulator.environment.name == alone.environment.name
    assert at_emulator.environment.url == EMULATOR_ENV["SSSCTL_URL"]
    assert at_emulator.digest == alone.digest
    assert alone.auth.client_secret is not None and alone.auth.client_secret.env == "SSSCTL_CLIENT_SECRET"


def test_hardened_covers_all_five_controls() -> None:
    desired = load_ok(CONFIGS / "hardened.toml")
    assert desired.default_profile is not None and desired.default_profile.active is False
    assert desired.approval is not None
    assert (desired.approval.require_for_users, desired.approval.require_for_queues) == (True, True)
    assert desired.org_settings == {"RequirePrivilegeToSelfApproveEmailAddress": True,
                                    "SSSForceFilteringMethodForUserMailboxes": 3}
    assert desired.privileges["prvApproveRejectEmailAddress"].allowed_roles == ("System Administrator",)
    defaults = desired.mailbox_defaults
    assert defaults is not None and defaults.server_profile == "Contoso EXO (own app)"
    assert {defaults.incoming_email, defaults.outgoing_email, defaults.appointments_contacts_tasks} == {
        "server_side_sync"}
    assert desired.mailboxes is not None
    assert (desired.mailboxes.enforce, desired.mailboxes.scope) == ("defaults", "all")
    assert desired.user_settings is not None
    assert desired.user_settings.incoming_email_filtering == "email_enabled_records"
    app = desired.app_registrations["sss"]
    assert app.permissions == ("exchange:full_access_as_app",)
    assert app.credential.rotate_days == 180
    assert app.mailbox_scope is not None and app.mailbox_scope.group == "sss-mailboxes@contoso.com"
    assert desired.custom_profiles["Contoso EXO (own app)"].app_registration == "sss"


def test_lockdown_stops_all_synchronization() -> None:
    desired = load_ok(CONFIGS / "lockdown.toml")
    assert desired.default_profile is not None and desired.default_profile.active is False
    defaults = desired.mailbox_defaults
    assert defaults is not None
    assert options.INCOMING_EMAIL[defaults.incoming_email or ""] == 0
    assert options.OUTGOING_EMAIL[defaults.outgoing_email or ""] == 0
    act = defaults.appointments_contacts_tasks or ""
    assert options.APPOINTMENTS_CONTACTS_TASKS[act] == 2
    assert desired.mailboxes is not None and desired.mailboxes.scope == "all"


def test_layered_example_changes_only_what_it_says() -> None:
    base = load_ok(CONFIGS / "hardened.toml")
    layered = load_ok(CONFIGS / "contoso-test.toml")
    assert layered.environment.name == "contoso-test"
    assert layered.mailboxes is not None and layered.mailboxes.enforce == "report"
    assert layered.mailboxes.scope == "all"
    assert layered.privileges == base.privileges and layered.custom_profiles == base.custom_profiles
    assert layered.digest != base.digest


def test_minimal_manages_one_setting_only() -> None:
    desired = load_ok(CONFIGS / "minimal.toml")
    assert len(desired.org_settings) == 1
    assert desired.approval is None and desired.mailbox_defaults is None and not desired.privileges
