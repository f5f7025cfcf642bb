"""What a first script against the Web API does: whole tables, compared locally, one PATCH each.

It shares sssctl's signed-in HTTP layer (same TLS, connection pool, retries and token),
so the figures differ only by approach: which rows and columns travel, how many requests
carry the writes, and how much is held in memory at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import defusedxml.ElementTree as SafeET

from sssctl.clients.dataverse import ODATA_HEADERS, DataverseClient, etag_of
from sssctl.clients.graph import GraphClient

Row = dict[str, Any]


def get_all(dataverse: DataverseClient, entity_set: str) -> list[Row]:
    """Every row with every column, at the service's default page size, following nextLink."""
    rows: list[Row] = []
    url: str | None = dataverse.api_url + entity_set
    while url is not None:
        response = dataverse.http.request("GET", url, headers=ODATA_HEADERS, target=entity_set)
        if response.status_code >= 400:
            raise RuntimeError(f"GET {entity_set} failed with {response.status_code}: {response.text[:300]}")
        page = response.json()
        rows.extend(page.get("value", []))
        url = page.get("@odata.nextLink")
    return rows


def patch_each(dataverse: DataverseClient, entity_set: str, key: str, changes: list[tuple[Row, Row]]) -> int:
    """One PATCH per record, each guarded by the ETag it was read at."""
    for row, body in changes:
        dataverse.update(entity_set, str(row[key]), body, if_match=etag_of(row))
    return len(changes)


# --- scenario 1: mailboxes back on the org defaults -------------------------------------------


def org_defaults(dataverse: DataverseClient) -> Row:
    """Delivery methods and profile new mailboxes get, from the organization row."""
    organization = get_all(dataverse, "organizations")[0]
    settings = SafeET.fromstring(organization["defaultemailsettings"])
    return {
        "incoming": int(settings.findtext("IncomingEmailDeliveryMethod") or 0),
        "outgoing": int(settings.findtext("OutgoingEmailDeliveryMethod") or 0),
        "act": int(settings.findtext("ACTDeliveryMethod") or 0),
        "profile": str(organization["_defaultemailserverprofileid_value"]).lower(),
    }


def mailbox_revert(row: Mapping[str, Any], defaults: Mapping[str, Any], is_user: bool) -> Row | None:
    """The PATCH body that puts one mailbox back on the defaults, or None if it is already there.

    Queue mailboxes have no appointments/contacts/tasks synchronization, so ACT is judged
    and written for user mailboxes only (as sssctl does).
    """
    wanted: Row = {
        "incomingemaildeliverymethod": defaults["incoming"],
        "outgoingemaildeliverymethod": defaults["outgoing"],
    }
    if is_user:
        wanted["actdeliverymethod"] = defaults["act"]
    differs = any(row.get(column) != value for column, value in wanted.items())
    profile = str(row.get("_emailserverprofile_value") or "").lower()
    if not differs and profile == defaults["profile"]:
        return None
    wanted["emailserverprofile@odata.bind"] = f"/emailserverprofiles({defaults['profile']})"
    return wanted


def revert_mailboxes(dataverse: DataverseClient) -> int:
    defaults = org_defaults(dataverse)
    queues = {str(q["queueid"]).lower() for q in get_all(dataverse, "queues")}
    mailboxes = get_all(dataverse, "mailboxes")
    changes = []
    for row in mailboxes:
        is_user = str(row.get("_regardingobjectid_value") or "").lower() not in queues
        body = mailbox_revert(row, defaults, is_user)
        if body is not None:
            changes.append((row, body))
    return patch_each(dataverse, "mailboxes", "mailboxid", changes)


# --- scenario 3: every user on one email filtering method -------------------------------------


def set_user_filtering(dataverse: DataverseClient, value: int) -> int:
    """Disabled and application users are left alone, as sssctl does."""
    skipped = {
        str(u["systemuserid"]).lower()
        for u in get_all(dataverse, "systemusers")
        if u.get("isdisabled") or u.get("applicationid")
    }
    changes = [
        (row, {"incomingemailfilteringmethod": value})
        for row in get_all(dataverse, "usersettingscollection")
        if row.get("incomingemailfilteringmethod") != value
        and str(row["systemuserid"]).lower() not in skipped
    ]
    return patch_each(dataverse, "usersettingscollection", "systemuserid", changes)


# --- scenario 2: what a full plan would have to read -------------------------------------------

PLAN_TABLES = (
    "organizations",
    "emailserverprofiles",
    "businessunits",
    "roles",
    "privileges",
    "systemusers",
    "queues",
    "mailboxes",
    "usersettingscollection",
)


GRAPH_COLLECTIONS = ("applications", "servicePrincipals")


def read_everything(dataverse: DataverseClient, graph: GraphClient | None) -> int:
    """Every table the hardened config touches, whole, plus each root role's privileges.

    Reads only: the baseline neither diffs nor renders, so its figures flatter it.
    """
    rows = 0
    tables = {name: get_all(dataverse, name) for name in PLAN_TABLES}
    for name in PLAN_TABLES:
        rows += len(tables[name])
    for role in tables["roles"]:
        if str(role.get("_parentrootroleid_value") or role["roleid"]).lower() == str(role["roleid"]).lower():
            answer = dataverse.function("RetrieveRolePrivilegesRole", {"RoleId": str(role["roleid"])}) or {}
            rows += len(answer.get("RolePrivileges", []))
    if graph is not None:
        rows += sum(len(list(graph.list(collection))) for collection in GRAPH_COLLECTIONS)
    return rows
