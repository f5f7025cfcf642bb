"""The emulator's OPATH subset for management scopes: what it accepts and what it matches."""

from __future__ import annotations

import pytest

from sssctl.emulator.exchange_rbac import (
    Mailbox,
    RbacError,
    check_filter,
    distinguished_name,
    evaluate_filter,
)

MEMBER = Mailbox("a@contoso.com", frozenset({distinguished_name("sss-mailboxes")}),
                 {"CustomAttribute1": "SSS"})
OTHER = Mailbox("b@contoso.com", frozenset(), {})


@pytest.mark.parametrize("text", [
    f"MemberOfGroup -eq '{distinguished_name('sss-mailboxes')}'",
    "CustomAttribute1 -eq 'sss'",
    "PrimarySmtpAddress -like 'a@*' -and CustomAttribute1 -ne 'x'",
    "PrimarySmtpAddress -eq 'z@contoso.com' -or CustomAttribute1 -eq 'SSS'",
])
def test_filters_match_the_member_and_not_the_other(text: str) -> None:
    check_filter(text)
    assert evaluate_filter(text, MEMBER) and not evaluate_filter(text, OTHER)


@pytest.mark.parametrize("text", ["Office = 'x'", "Title -eq 'VP'",
                                  "CustomAttribute1 -eq 'a' -and CustomAttribute2 -eq 'b' -or Name -eq 'c'"])
def test_filters_exchange_would_refuse_are_refused(text: str) -> None:
    with pytest.raises(RbacError):
        check_filter(text)
