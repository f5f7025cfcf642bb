"""What a created row holds before the request's own values: Dataverse's column defaults.

Every row starts with each readable column null, booleans false, ``statecode`` 0 /
``statuscode`` 1, owned by the caller in the caller's business unit; the tables below add
the defaults the table reference documents for them (``mailbox`` delivery methods 2,
server-side synchronization, and so on).
"""

from __future__ import annotations

from .schema import Table
from .security import Principal
from .store import Row, Store

_DEFAULTS_BY_TABLE: dict[str, Row] = {
    "mailbox": {
        "incomingemaildeliverymethod": 2,
        "outgoingemaildeliverymethod": 2,
        "actdeliverymethod": 2,
        "emailrouteraccessapproval": 0,
        "enabledforincomingemail": True,
        "enabledforoutgoingemail": True,
        "enabledforact": True,
        "incomingemailstatus": 0,
        "outgoingemailstatus": 0,
        "actstatus": 0,
        "mailboxstatus": 0,
        "testemailconfigurationretrycount": 0,
        "processingstatecode": 0,
        "postponetestemailconfigurationuntil": "1900-01-01T00:00:00Z",
    },
    "emailserverprofile": {
        "servertype": 0,
        "usesamesettingsforoutgoingconnections": True,
        "usedefaulttenantid": True,
        "incomingcredentialretrieval": 2,
        "outgoingcredentialretrieval": 2,
    },
    "role": {"isinherited": 1, "componentstate": 0},
}


def organization_id(store: Store) -> str:
    """The id of the one organization row."""
    return next(iter(store.table("organization")), "")


def defaults(table: Table, who: Principal) -> Row:
    row: Row = {prop: None for prop in table.readable}
    for column in table.columns:
        if column.kind == "bool":
            row[column.prop] = False
    if "statecode" in table.by_prop:
        row.update(statecode=0, statuscode=1)
    if "_ownerid_value" in table.by_prop:
        row.update(
            {
                "_ownerid_value": who.id,
                "_ownerid_value@lt": "systemuser",
                "_owningbusinessunit_value": who.business_unit,
            }
        )
    if "_organizationid_value" in table.by_prop:
        row["_organizationid_value"] = None
    row.update(_DEFAULTS_BY_TABLE.get(table.logical, {}))
    return row


def new_role_links(store: Store, row: Row, record_id: str) -> Row:
    """A created role is the root copy of its business unit (the root unit when none is bound)."""
    unit = row.get("_businessunitid_value") or next(
        (u for u, r in store.table("businessunit").items() if r.get("_parentbusinessunitid_value") is None),
        None,
    )
    managed = {
        "Value": True,
        "CanBeChanged": True,
        "ManagedPropertyLogicalName": "iscustomizableanddeletable",
    }
    return {
        "_businessunitid_value": unit,
        "_parentroleid_value": None,
        "_parentrootroleid_value": record_id,
        "organizationid": organization_id(store),  # a plain Uniqueidentifier on role [doc]
        "ismanaged": False,
        "iscustomizable": row.get("iscustomizable") or managed,
        "canbedeleted": row.get("canbedeleted") or {**managed, "ManagedPropertyLogicalName": "canbedeleted"},
    }
