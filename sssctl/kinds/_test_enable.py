"""Test & Enable of one mailbox: the proof that server-side sync really reaches it.

Setting ``testemailconfigurationscheduled`` on a mailbox makes Dataverse test its profile's
connection to that mailbox; ``mailboxstatus`` then says whether it worked. The RBAC canary
(:mod:`sssctl.kinds.canary`) moves one mailbox onto a new profile and tests it; a
migration from an access policy to RBAC (:mod:`sssctl.kinds._control5.rbac_scope`) tests a
mailbox already on the profile once the tenant-wide consent is gone, before the access
policy (the way back) is removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sssctl.engine.kind import Context
from sssctl.kinds._shared import etag_of, odata_string

SUCCESS = 1                      # mailbox.mailboxstatus after a Test & Enable that worked
MAILBOX_COLUMNS = ["mailboxid", "emailaddress", "_emailserverprofile_value", "mailboxstatus",
                   "emailrouteraccessapproval"]


class TestEnableFailed(RuntimeError):
    """Test & Enable failed: everything that would build on that mailbox's sync is skipped."""


def mailbox_by_address(ctx: Context, address: str) -> dict[str, Any] | None:
    rows = list(ctx.dataverse.query("mailboxes", select=MAILBOX_COLUMNS,
                                    filter=f"emailaddress eq {odata_string(address)}", top=2))
    return dict(rows[0]) if rows else None


def mailboxes_on(ctx: Context, profile_id: str, top: int) -> list[dict[str, Any]]:
    return [dict(r) for r in ctx.dataverse.query(
        "mailboxes", select=MAILBOX_COLUMNS, filter=f"_emailserverprofile_value eq {profile_id}", top=top)]


def test_on(ctx: Context, row: Mapping[str, Any], profile_id: str) -> dict[str, Any]:
    """Put the mailbox on the profile (where it may already be) and run Test & Enable; the
    mailbox as Dataverse shows it afterwards."""
    body = {"emailserverprofile@odata.bind": f"/emailserverprofiles({profile_id})",
            "testemailconfigurationscheduled": True}
    ctx.dataverse.update("mailboxes", str(row["mailboxid"]), body, if_match=etag_of(row))
    return dict(ctx.dataverse.get("mailboxes", str(row["mailboxid"]), select=MAILBOX_COLUMNS) or {})


def passed(tested: Mapping[str, Any]) -> bool:
    return tested.get("mailboxstatus") == SUCCESS
