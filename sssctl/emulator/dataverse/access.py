"""``RetrievePrincipalAccess``: which rights a user holds on one record, from its roles.

Bound to a systemuser, with the record as a ``Target`` entity reference, usually through a
parameter alias (``RetrievePrincipalAccess(Target=@tid)?@tid={'@odata.id':'accounts(<id>)'}``).
The answer is the ``AccessRights`` flags enum serialised as OData does, names joined with
", " in ascending flag order:
https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/reference/retrieveprincipalaccess
https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/reference/accessrights
"""

from __future__ import annotations

import re

from .errors import bad_request, no_segment
from .schema import TABLES, Table
from .security import PRIVILEGE_ENTITY, Reach, principal_of
from .store import Row, Store
from .writes import resolve_reference

# AccessRights flag -> the privilege verb that grants it, in ascending flag order.
_RIGHTS = (
    ("ReadAccess", "Read"),  # 1
    ("WriteAccess", "Write"),  # 2
    ("AppendAccess", "Append"),  # 4
    ("AppendToAccess", "AppendTo"),  # 16
    ("CreateAccess", "Create"),  # 32
    ("DeleteAccess", "Delete"),  # 65536
    ("ShareAccess", "Share"),  # 262144
    ("AssignAccess", "Assign"),  # 524288
)
_PARAMETERS = re.compile(r"^\s*Target\s*=\s*(?P<value>.+?)\s*$")
_REFERENCE = re.compile(r"""^\{\s*(['"])@odata\.id\1\s*:\s*(['"])(?P<ref>[^'"]+)\2\s*\}$""")


def target_reference(parameters: str | None, aliases: dict[str, str]) -> tuple[Table, str]:
    """The (table, id) the ``Target`` parameter names, given inline or through an alias."""
    match = _PARAMETERS.match(parameters or "")
    if match is None:
        raise bad_request(
            "RetrievePrincipalAccess needs the parameter Target, e.g. "
            "RetrievePrincipalAccess(Target=@tid) with ?@tid={'@odata.id':'accounts(<guid>)'}."
        )
    value = match["value"]
    if value.startswith("@"):
        aliased = aliases.get(value)
        if aliased is None:
            raise bad_request(f"The parameter alias '{value}' has no value in the query string.")
        value = aliased
    reference = _REFERENCE.match(value.strip())
    if reference is None:
        raise bad_request(
            f"The Target value '{value}' is not an entity reference such as "
            "{'@odata.id':'accounts(<guid>)'}."
        )
    entity_set, record_id = resolve_reference(reference["ref"], lambda ref: ref)
    table = TABLES.get(entity_set)
    if table is None:
        raise no_segment(entity_set)
    return table, record_id


def access_rights(store: Store, user: Row, table: Table, record: Row) -> str:
    """The rights ``user``'s roles give it on ``record``; "None" when there are none."""
    if not store.user_roles.get(user["systemuserid"]):
        return "None"
    principal = principal_of(store, user, ())
    entity = PRIVILEGE_ENTITY.get(table.logical)
    held = [
        name
        for name, verb in _RIGHTS
        if entity is not None and Reach(store, principal, f"prv{verb}{entity}", table).reaches(record)
    ]
    return ", ".join(held) or "None"
