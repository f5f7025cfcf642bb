"""``[watch]``: what watch reverts, how often, whom it tells; refused like every other key."""
# ruff: noqa: E501  (one case per row reads better than wrapped rows)

from __future__ import annotations

import pytest

# ruff: noqa: E501  (one case per row reads better than wrapped rows)
from tests.unit.config.conftest import Write, findings_of, load_ok, only

pytestmark = pytest.mark.timeout(30)


def test_defaults_revert_mailboxes_and_user_settings_every_minute(write: Write) -> None:
    watch = load_ok(write("")).watch
    assert (watch.interval_seconds, watch.revert, watch.webhook, watch.email_user) == (
        60.0, ("mailboxes", "user_settings"), None, False)


def test_a_full_section_is_read_into_the_model(write: Write) -> None:
    watch = load_ok(write('[watch]\ninterval = "1m30s"\nrevert = ["mailboxes", "org_setting.RequirePrivilegeToSelfApproveEmailAddress"]\n'
                          'notify = { webhook = "http://127.0.0.1:9000/hook", email_user = true, from = "q@contoso.com" }\n')).watch
    assert watch.interval_seconds == 90.0
    assert watch.revert == ("mailboxes", "org_setting.RequirePrivilegeToSelfApproveEmailAddress")
    assert (watch.webhook, watch.email_user, watch.email_from) == ("http://127.0.0.1:9000/hook", True, "q@contoso.com")


@pytest.mark.parametrize(("text", "key_path", "fragment", "suggestion"), [
    pytest.param('[watch]\ninterval = "1s"\n', "watch.interval", "minimum", None, id="too-short"),
    pytest.param('[watch]\ninterval = "soon"\n', "watch.interval", "duration", None, id="not-a-duration"),
    pytest.param('[watch]\nrevert = ["mailbox"]\n', "watch.revert[0]", "neither a kind", "mailboxes", id="typo"),
    pytest.param('[watch]\nrevert = ["app_registration.sss"]\n', "watch.revert[0]", "creates or deletes", None,
                 id="never-reverted"),
    pytest.param('[watch]\nintervall = "5s"\n', "watch.intervall", "unknown key", "interval", id="unknown-key"),
    pytest.param('[watch]\nnotify = { webhook = "http://hooks.example.com/x" }\n', "watch.notify.webhook",
                 "loopback", None, id="plain-http-elsewhere"),
    pytest.param('[watch]\nnotify = { email_user = true }\n', "watch.notify.from", "needs from", None,
                 id="email-without-sender"),
])
def test_refuses(write: Write, text: str, key_path: str, fragment: str, suggestion: str | None) -> None:
    finding = only(findings_of(write(text)))
    assert finding.key_path == key_path
    assert fragment in finding.message
    assert finding.suggestion == suggestion
