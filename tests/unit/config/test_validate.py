"""Every validation rule with an input it accepts and one it refuses."""
# ruff: noqa: E501  (one case per row reads better than wrapped rows)

from __future__ import annotations

import pytest

from tests.unit.config.conftest import Write, findings_of, load_ok, only

GOOD = [
    pytest.param("", id="empty-document"),
    pytest.param('[environment]\nname = "contoso-prod"\nurl = "https://contoso.crm.dynamics.com"\n'
                 'tenant_id = "0f6e2b8a-3c1d-4e5f-9a8b-7c6d5e4f3a2b"\ncloud = "usgovhigh"\n', id="environment"),
    pytest.param('[environment]\nurl = "https://127.0.0.1:8443/"\n', id="loopback-https"),
    pytest.param('[auth]\nmethod = "certificate"\ncertificate_file = "cert.pem"\n'
                 'certificate_password = { file = "pw.txt" }\n', id="certificate-auth"),
    pytest.param('[auth]\nclient_secret = { file = "secret.txt" }\n', id="secret-file"),
    pytest.param("[server_profiles.default]\nactive = false\n", id="default-profile"),
    pytest.param("[approval]\nrequire_for_users = true\n", id="approval"),
    pytest.param("[org_settings]\nSSSForceFilteringMethodForUserMailboxes = -1\n"
                 "DefaultHeightForWizardReports = 1.5\nJumpBarAlphabetOverride = \"ABC\"\n"
                 "TraceLogPersistenceTimeInDays = 3650\n", id="org-settings-types-and-bounds"),
    pytest.param("[org_settings]\nDefaultHeightForWizardReports = 2\n", id="int-is-ok-for-double"),
    pytest.param('[privileges.prvApproveRejectEmailAddress]\nallowed_roles = ["System Administrator"]\n',
                 id="privilege"),
    pytest.param('[mailbox_defaults]\nserver_profile = "default"\nincoming_email = "forward_mailbox"\n'
                 'outgoing_email = "outlook"\nappointments_contacts_tasks = "none"\n', id="mailbox-defaults"),
    pytest.param('[mailboxes]\nenforce = "report"\nscope = "queues"\nexclude = ["Svc-Archive@Contoso.com"]\n',
                 id="mailboxes"),
    pytest.param('[user_settings]\nincoming_email_filtering = "none"\n', id="user-settings"),
    pytest.param('[server_profiles.default]\nactive = false\n[mailbox_defaults]\nserver_profile = "default"\n'
                 'incoming_email = "none"\noutgoing_email = "none"\nappointments_contacts_tasks = "none"\n',
                 id="lockdown-may-keep-the-deactivated-default"),
    pytest.param('[app_registrations.sss]\ndisplay_name = "SSS"\npermissions = ["exchange:full_access_as_app", '
                 '"graph:User.Read.All", "00000002-0000-0ff1-ce00-000000000000:full_access_as_app"]\n'
                 'credential = { rotate_days = 730 }\n', id="app-registration"),
    pytest.param('[app_registrations.sss]\ndisplay_name = "SSS"\ncredential = { rotate_days = 1 }\n'
                 '[server_profiles.custom."Own app"]\napp_registration = "sss"\n'
                 'tenant_id = "0f6e2b8a-3c1d-4e5f-9a8b-7c6d5e4f3a2b"\n'
                 '[mailbox_defaults]\nserver_profile = "Own app"\n', id="custom-profile-references"),
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("text", GOOD)
def test_accepts(write: Write, text: str) -> None:
    load_ok(write(text))


BAD = [
    # (document, key path, fragment of the message, suggestion)
    pytest.param("version = 2\n", "version", "must be 1", None, id="version-2"),
    pytest.param('version = "1"\n', "version", "expected an integer", None, id="version-string"),
    pytest.param("colour = 1\n", "colour", "unknown key at the top level", None, id="unknown-top-level"),
    pytest.param("[enviroment]\nname = \"x\"\n", "enviroment", "unknown key", "environment", id="typo-section"),
    pytest.param('[environment]\nnmae = "x"\n', "environment.nmae", "unknown key in [environment]", "name",
                 id="typo-key"),
    pytest.param('environment = "prod"\n', "environment", "expected a table, got string", None,
                 id="section-not-table"),
    pytest.param('[environment]\nurl = "http://contoso.crm.dynamics.com"\n', "environment.url", "https://",
                 None, id="http-url"),
    pytest.param('[environment]\nurl = "http://127.0.0.1:8443"\n', "environment.url", "TLS is always", None,
                 id="http-loopback"),
    pytest.param('[environment]\nurl = "contoso.crm.dynamics.com"\n', "environment.url", "https://", None,
                 id="url-without-scheme"),
    pytest.param('[environment]\ntenant_id = "contoso.onmicrosoft.com"\n', "environment.tenant_id", "GUID",
                 None, id="tenant-not-guid"),
    pytest.param('[environment]\ncloud = "gcc"\n', "environment.cloud", "not one of", None, id="cloud"),
    pytest.param('[environment]\ncloud = "custom"\n', "environment.endpoints.login_url", "SSSCTL_LOGIN_URL",
                 None, id="custom-cloud-without-login-url"),
    pytest.param('[environment]\nname = "contoso prod"\n', "environment.name", "letters, digits", None,
                 id="name-with-space"),
    pytest.param('[auth]\nclient_id = "sssctl"\n', "auth.client_id", "GUID", None, id="client-id-not-guid"),
    pytest.param('[auth]\nmethod = "password"\n', "auth.method", "not one of", None, id="auth-method"),
    pytest.param('[auth]\nclient_secret = { env = "A", file = "b" }\n', "auth.client_secret",
                 "exactly one of env or file", None, id="secret-both"),
    pytest.param("[auth]\nclient_secret = {}\n", "auth.client_secret", "exactly one of env or file", None,
                 id="secret-empty"),
    pytest.param('[auth]\nclient_secret = { env = "MY-SECRET" }\n', "auth.client_secret.env",
                 "not a valid environment variable name", None, id="secret-env-name"),
    pytest.param('[auth]\ncertificate_password = "pfx-pass-123"\n', "auth.certificate_password",
                 "inline secrets are refused", None, id="inline-certificate-password"),
    pytest.param("[server_profiles.default]\nactive = 0\n", "server_profiles.default.active",
                 "expected true or false, got integer", None, id="active-int"),
    pytest.param("[server_profiles.default]\n", "server_profiles.default.active", "missing required key",
                 None, id="active-missing"),
    pytest.param('[approval]\nrequire_for_users = "yes"\n', "approval.require_for_users", "true or false",
                 None, id="approval-string"),
    pytest.param("[org_settings]\nRequirePrivilegeToSelfApproveEmailAddres = true\n",
                 "org_settings.RequirePrivilegeToSelfApproveEmailAddres", "unknown OrgDBOrgSetting",
                 "RequirePrivilegeToSelfApproveEmailAddress", id="setting-typo"),
    pytest.param("[org_settings]\nrequireprivilegetoselfapproveemailaddress = true\n",
                 "org_settings.requireprivilegetoselfapproveemailaddress", "exactly as Dataverse",
                 "RequirePrivilegeToSelfApproveEmailAddress", id="setting-case"),
    pytest.param("[org_settings]\nRequirePrivilegeToSelfApproveEmailAddress = 1\n",
                 "org_settings.RequirePrivilegeToSelfApproveEmailAddress", "Boolean setting", None,
                 id="boolean-setting-int"),
    pytest.param("[org_settings]\nSSSForceFilteringMethodForUserMailboxes = true\n",
                 "org_settings.SSSForceFilteringMethodForUserMailboxes", "got boolean", None,
                 id="bool-is-not-a-number"),
    pytest.param("[org_settings]\nSSSForceFilteringMethodForUserMailboxes = 3.0\n",
                 "org_settings.SSSForceFilteringMethodForUserMailboxes", "expected an integer, got float", None,
                 id="float-for-number"),
    pytest.param("[org_settings]\nSSSForceFilteringMethodForUserMailboxes = 5\n",
                 "org_settings.SSSForceFilteringMethodForUserMailboxes", "out of range", None, id="above-max"),
    pytest.param("[org_settings]\nSSSForceFilteringMethodForUserMailboxes = -2\n",
                 "org_settings.SSSForceFilteringMethodForUserMailboxes", "-1..4", None, id="below-min"),
    pytest.param("[org_settings]\nJumpBarAlphabetOverride = 3\n", "org_settings.JumpBarAlphabetOverride",
                 "String setting", None, id="string-setting-int"),
    pytest.param("[org_settings]\nDefaultHeightForWizardReports = true\n",
                 "org_settings.DefaultHeightForWizardReports", "expected a number", None, id="double-bool"),
    pytest.param("[org_settings]\nrequireapprovalforqueueemail = true\n",
                 "org_settings.requireapprovalforqueueemail", "[approval] require_for_queues", None,
                 id="approval-column-in-org-settings"),
    pytest.param("[org_settings]\nMaxRecordsForExportToExcel = 6000\n",
                 "org_settings.MaxRecordsForExportToExcel", "column of the organization table", None,
                 id="catalogue-org-column"),
    pytest.param('[privileges.ApproveRejectEmailAddress]\nallowed_roles = ["System Administrator"]\n',
                 "privileges.ApproveRejectEmailAddress", 'starting with "prv"', None, id="privilege-name"),
    pytest.param("[privileges.prvApproveRejectEmailAddress]\nallowed_roles = []\n",
                 "privileges.prvApproveRejectEmailAddress.allowed_roles", "at least 1", None, id="roles-empty"),
    pytest.param('[privileges.prvApproveRejectEmailAddress]\nallowed_roles = "System Administrator"\n',
                 "privileges.prvApproveRejectEmailAddress.allowed_roles", "expected an array", None,
                 id="roles-string"),
    pytest.param("[privileges.prvApproveRejectEmailAddress]\nallowed_roles = [1]\n",
                 "privileges.prvApproveRejectEmailAddress.allowed_roles[0]", "expected a string", None,
                 id="roles-int"),
    pytest.param("[privileges.prvApproveRejectEmailAddress]\n",
                 "privileges.prvApproveRejectEmailAddress.allowed_roles", "missing required key", None,
                 id="roles-missing"),
    pytest.param('[mailbox_defaults]\nincoming_email = "server-side-sync"\n', "mailbox_defaults.incoming_email",
                 "not one of", "server_side_sync", id="option-typo"),
    pytest.param('[mailbox_defaults]\noutgoing_email = "forward_mailbox"\n', "mailbox_defaults.outgoing_email",
                 "not one of: none, outlook, server_side_sync", None, id="outgoing-has-no-forward"),
    pytest.param("[mailbox_defaults]\nappointments_contacts_tasks = 1\n",
                 "mailbox_defaults.appointments_contacts_tasks", "expected a string", None, id="act-integer"),
    pytest.param('[mailbox_defaults]\nserver_profile = "Contoso EXO"\n', "mailbox_defaults.server_profile",
                 'neither "default"', None, id="dangling-profile"),
    pytest.param('[server_profiles.default]\nactive = false\n[mailbox_defaults]\nserver_profile = "default"\n'
                 'incoming_email = "server_side_sync"\n', "mailbox_defaults.server_profile",
                 "switches off", None, id="defaults-on-a-deactivated-profile"),
    pytest.param('[mailboxes]\nexclude = ["svc-archive"]\n', "mailboxes.exclude[0]", "email address", None,
                 id="exclude-not-email"),
    pytest.param('[mailboxes]\nenforce = "on"\n', "mailboxes.enforce", "not one of", None, id="enforce"),
    pytest.param('[user_settings]\nincoming_email_filtering = "email_enabled"\n',
                 "user_settings.incoming_email_filtering", "not one of", "email_enabled_records",
                 id="filtering-typo"),
    pytest.param('[app_registrations.sss]\npermissions = []\n', "app_registrations.sss.display_name",
                 "missing required key", None, id="app-without-name"),
    pytest.param('[app_registrations."my app"]\ndisplay_name = "x"\n', 'app_registrations."my app"',
                 "app registration key", None, id="app-key"),
    pytest.param('[app_registrations.sss]\ndisplay_name = "x"\npermissions = ["full_access_as_app"]\n',
                 "app_registrations.sss.permissions[0]", "<resource>:<app role>", None, id="permission-shape"),
    pytest.param('[app_registrations.sss]\ndisplay_name = "x"\npermissions = ["sharepoint:Sites.Read.All"]\n',
                 "app_registrations.sss.permissions[0]", "exchange, graph or an appId GUID", None,
                 id="permission-resource"),
    pytest.param('[app_registrations.sss]\ndisplay_name = "x"\ncredential = { rotate_days = 0 }\n',
                 "app_registrations.sss.credential.rotate_days", "out of range 1..730", None, id="rotate-0"),
    pytest.param('[app_registrations.sss]\ndisplay_name = "x"\ncredential = { rotate_days = 731 }\n',
                 "app_registrations.sss.credential.rotate_days", "out of range 1..730", None, id="rotate-731"),
    pytest.param('[app_registrations.sss]\ndisplay_name = "x"\ncredential = { type = "certificate" }\n',
                 "app_registrations.sss.credential.type", "not one of", None, id="credential-type"),
    pytest.param('[app_registrations.sss]\ndisplay_name = "x"\nmailbox_scope = { grop = "g@contoso.com" }\n',
                 "app_registrations.sss.mailbox_scope.grop", "unknown key", "group", id="scope-typo"),
    pytest.param('[app_registrations.sss]\ndisplay_name = "x"\n'
                 'mailbox_scope = { group = "g@contoso.com", filter = "Office -eq \'x\'", method = "rbac" }\n',
                 "app_registrations.sss.mailbox_scope", "exactly one of group, administrative_unit, filter",
                 None, id="scope-two-targets"),
    pytest.param('[app_registrations.sss]\ndisplay_name = "x"\nmailbox_scope = { method = "rbac" }\n',
                 "app_registrations.sss.mailbox_scope", "exactly one of", None, id="scope-no-target"),
    pytest.param('[app_registrations.sss]\ndisplay_name = "x"\nmailbox_scope = { group = "g@c.com", method = "rbca" }\n',
                 "app_registrations.sss.mailbox_scope.method", "not one of", "rbac", id="scope-method-typo"),
    pytest.param('[app_registrations.sss]\ndisplay_name = "x"\nmailbox_scope = { administrative_unit = "EU" }\n',
                 "app_registrations.sss.mailbox_scope.administrative_unit", 'needs method = "rbac"', None,
                 id="scope-au-needs-rbac"),
    pytest.param('[server_profiles.custom."Own app"]\napp_registration = "sss"\n',
                 'server_profiles.custom."Own app".app_registration', "no [app_registrations.sss]", None,
                 id="dangling-app"),
    pytest.param('[server_profiles.custom."Own app"]\ntype = "exchange_online"\n',
                 'server_profiles.custom."Own app".app_registration', "missing required key", None,
                 id="profile-without-app"),
    pytest.param('[app_registrations.sss]\ndisplay_name = "x"\n'
                 '[server_profiles.custom.default]\napp_registration = "sss"\n',
                 "server_profiles.custom.default", "reserved", None, id="profile-named-default"),
    pytest.param('[server_profiles.custom."Own app"]\napp_registration = "sss"\ntenant_id = "x"\n'
                 '[app_registrations.sss]\ndisplay_name = "x"\n',
                 'server_profiles.custom."Own app".tenant_id', "GUID", None, id="profile-tenant"),
    pytest.param('[app_registrations.sss]\ndisplay_name = "x"\news = "allow"\n',
                 "app_registrations.sss.ews", "no [server_profiles.custom", None, id="ews-without-profile"),
    pytest.param('[app_registrations.sss]\ndisplay_name = "x"\news = "alow"\n'
                 '[server_profiles.custom.p]\napp_registration = "sss"\n',
                 "app_registrations.sss.ews", "not one of", "allow", id="ews-typo"),
    pytest.param('[app_registrations.sss]\ndisplay_name = "x"\news = "allow"\news_enabled = false\n'
                 '[server_profiles.custom.p]\napp_registration = "sss"\n',
                 "app_registrations.sss.ews_enabled", "can only be true", None, id="ews-enabled-false"),
    pytest.param('[app_registrations.sss]\ndisplay_name = "x"\news_enabled = true\n'
                 '[server_profiles.custom.p]\napp_registration = "sss"\n',
                 "app_registrations.sss.ews_enabled", 'needs ews = "allow"', None, id="ews-enabled-alone"),
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("text", "key_path", "fragment", "suggestion"), BAD)
def test_refuses(write: Write, text: str, key_path: str, fragment: str, suggestion: str | None) -> None:
    path = write(text, versioned=not text.startswith("version"))
    finding = only(findings_of(path))
    assert finding.key_path == key_path
    assert fragment in finding.message
    assert finding.file == str(path)
    if suggestion is not None:
        assert finding.suggestion == suggestion


def test_reports_every_problem_at_once_with_lines(write: Write) -> None:
    path = write(
        "[environment]\n"            # 2
        'tenant_id = "nope"\n'       # 3
        "[org_settings]\n"           # 4
        "DisableSmartMatching = 1\n"  # 5
        "[mailboxes]\n"              # 6
        'enforc = "defaults"\n'      # 7
    )
    found = {f.key_path: f for f in findings_of(path)}
    assert set(found) == {"environment.tenant_id", "org_settings.DisableSmartMatching", "mailboxes.enforc"}
    assert [found[k].line for k in sorted(found)] == [3, 7, 5]
    assert found["mailboxes.enforc"].suggestion == "enforce"


def test_inline_secret_is_refused_without_echoing_it(write: Write) -> None:
    finding = only(findings_of(write('[auth]\nclient_secret = "s3cr3t-value-xyz"\n')))
    assert finding.key_path == "auth.client_secret"
    assert "{ env =" in finding.message and "{ file =" in finding.message
    assert "s3cr3t-value-xyz" not in finding.render()


def test_secret_of_another_type_is_refused_without_echoing_it(write: Write) -> None:
    finding = only(findings_of(write("[auth]\nclient_secret = 982451653\n")))
    assert "got integer" in finding.message and "982451653" not in finding.render()


def test_custom_cloud_without_graph_or_exchange_is_valid_the_plan_marks_them_unknown(write: Write) -> None:
    text = ('[environment]\ncloud = "custom"\n[environment.endpoints]\nlogin_url = "https://127.0.0.1:9443"\n'
            '[app_registrations.sss]\ndisplay_name = "x"\nmailbox_scope = { group = "g@contoso.com" }\n')
    desired = load_ok(write(text))
    assert desired.environment.endpoints.graph_url is None and desired.app_registrations["sss"].mailbox_scope


def test_rbac_scope_by_filter_is_read_into_the_model(write: Write) -> None:
    text = ('[app_registrations.sss]\ndisplay_name = "x"\n'
            'mailbox_scope = { filter = "CustomAttribute1 -eq \'SSS\'", method = "rbac", canary = "a@contoso.com" }\n')
    scope = load_ok(write(text)).app_registrations["sss"].mailbox_scope
    assert scope is not None and scope.rbac and scope.group is None
    assert (scope.filter, scope.canary, scope.propagation_minutes) == ("CustomAttribute1 -eq 'SSS'", "a@contoso.com", 120)


def test_missing_endpoint_points_at_the_cloud_line(write: Write) -> None:
    finding = only(findings_of(write('[environment]\nname = "x"\ncloud = "custom"\n')))
    assert (finding.key_path, finding.line) == ("environment.endpoints.login_url", 4)


def test_custom_cloud_endpoints_may_come_from_the_environment(write: Write) -> None:
    path = write('[environment]\ncloud = "custom"\n')
    desired = load_ok(path, {"SSSCTL_LOGIN_URL": "https://127.0.0.1:9443"})
    assert desired.environment.endpoints.login_url == "https://127.0.0.1:9443"


def test_bad_value_from_the_environment_names_the_variable(write: Write) -> None:
    finding = only(findings_of(write(""), {"SSSCTL_URL": "http://contoso.crm.dynamics.com"}))
    assert finding.file == "$SSSCTL_URL"
    assert finding.key_path == "environment.url"
    assert finding.line is None


def test_missing_secret_is_not_a_validation_error(write: Write, tmp_path: object) -> None:
    desired = load_ok(write('[auth]\nclient_secret = { env = "NOT_SET_ANYWHERE" }\n'
                            'certificate_password = { file = "missing.txt" }\n'))
    assert desired.auth.client_secret is not None
    assert desired.auth.client_secret.env == "NOT_SET_ANYWHERE"


def test_setting_in_the_wrong_section_points_to_org_settings(write: Write) -> None:
    finding = only(findings_of(write("[approval]\nRequirePrivilegeToSelfApproveEmailAddress = true\n")))
    assert finding.key_path == "approval.RequirePrivilegeToSelfApproveEmailAddress"
    assert "put it under [org_settings]" in finding.message


def test_secret_reference_with_unknown_key(write: Write) -> None:
    found = {f.key_path: f.message for f in findings_of(write('[auth]\nclient_secret = { vault = "kv" }\n'))}
    assert "unknown key in a secret reference" in found["auth.client_secret.vault"]
    assert "exactly one of env or file" in found["auth.client_secret"]
