"""Who changed a drifted row, and when: Dataverse's ``modifiedby`` and ``modifiedon``.

Every table carries ``modifiedon`` and the ``modifiedby`` lookup to the systemuser whose
request last wrote the row (the impersonated user when an app acts for someone) [doc:
learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/mailbox,
"_modifiedby_value ... Unique identifier of the user who last modified the record"].
A row whose drift is about to be reverted was last written by whoever made the drift,
so reading those two columns *before* the revert names them; after the revert they name
sssctl. The audit table would say more (each column's old value) but is off by default
and costs a query per row; the drifted values read here are the old values.

Only the first ``limit`` rows are attributed: a mass change of thousands of rows is one
event about a few named rows plus a count, not thousands of reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sssctl.engine.kind import Context
from sssctl.kinds._shared import rows_by_id

AUTHOR_COLUMNS = ("modifiedon", "_modifiedby_value")
_PER_QUERY = 25  # ids per "or" filter: keeps the URL far below Dataverse's limit


def authored_rows(ctx: Context, entity_set: str, key: str, ids: Iterable[str],
                  select: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The rows with these ids (``select`` plus author columns), by lower-case id."""
    return rows_by_id(ctx, entity_set, key, ids, [*select, *AUTHOR_COLUMNS], per_query=_PER_QUERY,
                      expand="modifiedby($select=systemuserid,domainname,fullname)")


def author_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """``changed_by`` / ``changed_on`` of one row, as every drift record carries them."""
    user = row.get("modifiedby") if isinstance(row.get("modifiedby"), Mapping) else {}
    return {
        "changed_by": {
            "id": row.get("_modifiedby_value"),
            "upn": (user or {}).get("domainname"),
            "name": (user or {}).get("fullname"),
        },
        "changed_on": row.get("modifiedon"),
    }
