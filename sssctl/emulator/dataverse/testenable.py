"""Test & Enable of a mailbox, finished at once instead of in the asynchronous job (reference §4.2).

A mailbox passes when its profile is active and the profile's own app (if it signs in as
one) is let in by Exchange; mail also needs approval when the organization requires it.
Each delivery method in use gets status 1 (success) or 2 (failure) and is enabled or not.
"""

from __future__ import annotations

from collections.abc import Callable

from .defaults import organization_id
from .store import Row, Store, now_iso

# (app id, mailbox address, uses AutoDiscover) -> whether the profile's app can open that mailbox.
MailboxAccess = Callable[[str, str, bool], bool]


def test_and_enable(store: Store, mailbox: Row, mailbox_access: MailboxAccess | None) -> Row:
    """The columns the finished Test & Enable job sets on the mailbox."""
    profile = store.get("emailserverprofile", mailbox.get("_emailserverprofile_value") or "")
    organization = store.get("organization", organization_id(store)) or {}
    is_queue = mailbox.get("_regardingobjectid_value@lt") == "queue"
    needs_approval = organization.get(
        "requireapprovalforqueueemail" if is_queue else "requireapprovalforuseremail"
    )
    ok = (
        profile is not None
        and profile.get("statecode") == 0
        and _app_reaches(profile, mailbox, mailbox_access)
    )
    mail_ok = ok and not (needs_approval and mailbox.get("emailrouteraccessapproval") != 1)
    result: Row = {
        "testemailconfigurationscheduled": False,
        "testmailboxaccesscompletedon": now_iso(),
        "mailboxstatus": 1 if mail_ok else 2,
    }
    methods = (
        (
            "incomingemailstatus",
            "enabledforincomingemail",
            mailbox.get("incomingemaildeliverymethod") != 0,
            mail_ok,
        ),
        (
            "outgoingemailstatus",
            "enabledforoutgoingemail",
            mailbox.get("outgoingemaildeliverymethod") != 0,
            mail_ok,
        ),
        ("actstatus", "enabledforact", mailbox.get("actdeliverymethod") != 2, ok),
    )
    for status, enabled, used, success in methods:
        if used:
            result[status] = 1 if success else 2
            result[enabled] = success
        else:
            result[status] = 0
    return result


def _app_reaches(profile: Row, mailbox: Row, mailbox_access: MailboxAccess | None) -> bool:
    """A profile signing in as its own app connects only if Exchange lets that app in."""
    client_id = profile.get("oauthclientid")
    if not client_id or mailbox_access is None:
        return True
    address = str(mailbox.get("emailaddress") or "")
    return mailbox_access(str(client_id), address, bool(profile.get("useautodiscover")))
