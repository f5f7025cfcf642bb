"""Email address approval of mailboxes, users and queues (reference §4.3).

Approving needs prvApproveRejectEmailAddress, except a user approving the own mailbox at
the own address while the organization's ``RequirePrivilegeToSelfApproveEmailAddress``
setting is off. Approving a mailbox on an Exchange Online profile also needs an
administrator on top. The platform keeps a mailbox and its user or queue agreeing.
"""

from __future__ import annotations

from typing import Any

from . import orgsettings
from .defaults import organization_id
from .errors import PRIVILEGE_DENIED, DataverseFault
from .schema import Table
from .security import APPROVE, Principal, may_approve_exchange_online, require
from .store import Row, Store

APPROVAL_TABLES = {"mailbox", "systemuser", "queue"}


def check_approval(store: Store, who: Principal, table: Table, row: Row | None, value: Any) -> None:
    """Approving needs prvApproveRejectEmailAddress, except for self-approval (reference §4.3);
    approving an Exchange Online mailbox needs an administrator on top."""
    if row is not None and table.logical == "mailbox" and may_self_approve(store, who, row):
        return
    require(store, who, APPROVE, table)
    if (
        value == 1
        and row is not None
        and _exchange_online(store, table, row)
        and not may_approve_exchange_online(who)
    ):
        raise DataverseFault(
            403,
            PRIVILEGE_DENIED,
            f"Principal user (Id={who.id}) cannot approve the email address of {table.logical} "
            f"{row[table.pk]}: mailboxes that synchronize with Exchange Online can only be approved by a "
            "System Administrator who is also a Global administrator or Exchange administrator, or who "
            "holds the Delegated Mailbox Approver role.",
        )


def _exchange_online(store: Store, table: Table, row: Row) -> bool:
    mailbox = (
        row if table.logical == "mailbox" else store.get("mailbox", row.get("_defaultmailbox_value") or "")
    )
    profile = store.get("emailserverprofile", (mailbox or {}).get("_emailserverprofile_value") or "")
    return profile is not None and profile.get("emailservertypename") == "Exchange Online"


def may_self_approve(store: Store, who: Principal, mailbox: Row) -> bool:
    """Own user mailbox at own address, unless RequirePrivilegeToSelfApproveEmailAddress is on."""
    own = (
        mailbox.get("_regardingobjectid_value@lt") == "systemuser"
        and mailbox.get("_regardingobjectid_value") == who.id
        and str(who.user.get("internalemailaddress") or "").casefold()
        == str(mailbox.get("emailaddress") or "").casefold()
    )
    if not own:
        return False
    organization = store.get("organization", organization_id(store)) or {}
    setting = orgsettings.value_of(
        organization.get("orgdborgsettings"), "RequirePrivilegeToSelfApproveEmailAddress"
    )
    return (setting or "").strip().lower() not in ("true", "1")


def sync_approval(store: Store, table: Table, row: Row, value: int) -> None:
    """The platform keeps a mailbox and its user/queue agreeing on approval."""
    if table.logical == "mailbox":
        logical, partner = row.get("_regardingobjectid_value@lt"), row.get("_regardingobjectid_value")
    else:
        logical, partner = "mailbox", row.get("_defaultmailbox_value")
    if not logical or not partner:
        return
    other = store.get(logical, partner)
    if other is not None and other.get("emailrouteraccessapproval") != value:
        store.update(logical, partner, {"emailrouteraccessapproval": value})
