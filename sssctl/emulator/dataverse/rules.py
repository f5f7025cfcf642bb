"""Per-table write rules: what a create, update or delete of a row does beyond storing it.

Which tables refuse creates and deletes, the defaults of a new row, the approval check,
``statecode``/``statuscode`` pairs, organization settings merged key by key, roles edited
only through their root copy and copied to every business unit, application users always
non-interactive, Test & Enable of a mailbox, and a mailbox's approval mirrored on its user
or queue. The routing in ``api`` calls these hooks inside the store transaction, so a
refused write leaves nothing written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import email, orgsettings, roles
from .approval import APPROVAL_TABLES, check_approval, may_self_approve, sync_approval
from .defaults import defaults, new_role_links, organization_id
from .schema import Table
from .security import Principal
from .store import Row, Store
from .testenable import MailboxAccess, test_and_enable
from .writes import state_pair

NO_CREATE = {"organization", "usersettings", "privilege"}
NO_DELETE = {"organization", "usersettings", "privilege", "businessunit"}


def new_row(store: Store, who: Principal, table: Table, changes: Row, record_id: str) -> Row:
    """The row a create stores: defaults, then the request's values, then what the platform sets."""
    if table.logical in APPROVAL_TABLES and "emailrouteraccessapproval" in changes:
        check_approval(store, who, table, None, changes["emailrouteraccessapproval"])
    state_pair(table, None, changes)
    row = {**defaults(table, who), **changes, table.pk: record_id}
    if table.logical == "systemuser" and row.get("applicationid"):
        # An application user is always non-interactive (access mode 4), whatever was sent:
        # https://learn.microsoft.com/power-platform/admin/manage-application-users
        row["accessmode"] = 4
    if table.logical == "role":
        row.update(new_role_links(store, row, record_id))
    if table.logical == "systemuser":
        row["organizationid"] = organization_id(store)  # a plain Uniqueidentifier, set by the platform
    return row


def after_create(
    store: Store, table: Table, created: Row, parties: Any, resolve_content_id: Callable[[str], str]
) -> None:
    """Rows a create brings along: a role's business-unit copies, an email's activity parties."""
    if table.logical == "role":
        roles.create_copies(store, created)
    if parties is not None:
        email.add_parties(store, created, parties, resolve_content_id)


def before_update(
    store: Store,
    who: Principal,
    table: Table,
    row: Row,
    changes: Row,
    *,
    mailbox_access: MailboxAccess | None,
) -> None:
    """Check an update and complete its changes; raises, with nothing written, when refused."""
    state_pair(table, row, changes)
    if table.logical in APPROVAL_TABLES and "emailrouteraccessapproval" in changes:
        check_approval(store, who, table, row, changes["emailrouteraccessapproval"])
    if table.logical == "organization" and "orgdborgsettings" in changes:
        changes["orgdborgsettings"] = orgsettings.merge(
            row.get("orgdborgsettings"), changes["orgdborgsettings"]
        )
    if table.logical == "role":
        roles.require_root(row)
    if table.logical == "mailbox" and changes.get("testemailconfigurationscheduled") is True:
        if row.get("emailrouteraccessapproval") != 1 and may_self_approve(store, who, row):
            changes["emailrouteraccessapproval"] = 1  # Test & Enable approves your own mailbox
        changes.update(test_and_enable(store, {**row, **changes}, mailbox_access))


def after_update(store: Store, table: Table, row: Row, changes: Row) -> None:
    """What follows an update: role copies updated alike, approval mirrored on the partner row."""
    if table.logical == "role":
        roles.propagate_update(store, row, changes)
    if "emailrouteraccessapproval" in changes and table.logical in APPROVAL_TABLES:
        sync_approval(store, table, row, changes["emailrouteraccessapproval"])


def delete(store: Store, table: Table, row: Row) -> None:
    """Delete a row; a role takes its business-unit copies with it."""
    if table.logical == "role":
        roles.delete_role(store, row)
    else:
        store.delete(table.logical, row[table.pk])
