"""Turning a create/update body into row changes, with the checks Dataverse makes.

Read-only columns (``mailboxstatus``, ``regardingobjectid``, ``versionnumber`` …) are
refused with 400 rather than silently ignored: a client that believes it changed one
must find out. The code for that refusal, ``0x80040203`` InvalidArgument, is a guess (the
reference has no captured response). Lookups are written only through
``<nav>@odata.bind``; writing ``_x_value`` directly gets the real service's message.

Strings longer than the column's MaxLength and whole numbers outside MinValue..MaxValue
(the limits the table reference pages give, see ``tests/schemas/dataverse-reference.json``)
get ``0x80044331``, the validation error the reference names for a string that is too long
[doc]. The wording of the too-long message ("The length of the 'x' attribute of the 'y'
entity exceeded the maximum allowed length of 'n'.") is the one clients match on; the
out-of-range wording reuses the option-set message, whose shape for plain integers is
not documented.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .errors import INVALID_ARGUMENT, VALIDATION, DataverseFault, bad_request, invalid_body_property
from .schema import (
    BIGINT,
    BOOL,
    DATETIME,
    GUID,
    INT,
    LOOKUP,
    MANAGED,
    PICKLIST,
    STRING,
    TABLES,
    Column,
    Table,
    state_of_status,
)
from .store import Row

# Write-only columns and the readable flag that says they are set.
SECRET_FLAGS = {
    "password": "ispasswordset",
    "oauthclientsecret": "isoauthclientsecretset",
    "incomingpassword": "isincomingpasswordset",
    "outgoingpassword": "isoutgoingpasswordset",
}
_REFERENCE = re.compile(r"^(?:.*/api/data/v9\.\d/)?/?(\w+)\(([0-9a-fA-F-]{36})\)$")
BindResolver = Callable[[str], str]  # "$1" -> "mailboxes(<id>)"


def parse_guid(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError) as exc:
        raise bad_request(
            f"Cannot convert the literal '{value}' to the expected type 'Edm.Guid' ({what})."
        ) from exc


def _type_error(column: Column, edm: str) -> DataverseFault:
    return bad_request(
        f"Cannot convert a primitive value to the expected type '{edm}' for property "
        f"'{column.name}'. See the inner exception for more details."
    )


def _check_type(table: Table, column: Column, value: Any) -> Any:
    if value is None:
        return None
    kind = column.kind
    if kind in (INT, BIGINT, PICKLIST):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(column, "Edm.Int64" if kind == BIGINT else "Edm.Int32")
        if kind == PICKLIST and column.options is not None and value not in column.options:
            accepted = ",".join(str(v) for v in column.options)
            raise DataverseFault(
                400,
                VALIDATION,
                f"A validation error occurred. The value {value} of "
                f"'{column.name}' on record of type '{table.logical}' is outside the valid range. "
                f"Accepted Values: {accepted}",
            )
        _check_range(table, column, value)
        return value
    if kind == BOOL and not isinstance(value, bool):
        raise _type_error(column, "Edm.Boolean")
    if kind == STRING and not isinstance(value, str):
        raise _type_error(column, "Edm.String")
    if kind == STRING and column.max_length is not None and len(value) > column.max_length:
        raise DataverseFault(
            400,
            VALIDATION,
            f"A validation error occurred. The length of the '{column.name}' attribute of the "
            f"'{table.logical}' entity exceeded the maximum allowed length of '{column.max_length}'.",
        )
    if kind == GUID:
        if not isinstance(value, str):
            raise _type_error(column, "Edm.Guid")
        return parse_guid(value, column.name)
    if kind == DATETIME:
        try:
            datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise _type_error(column, "Edm.DateTimeOffset") from exc
    if kind == MANAGED and not (isinstance(value, dict) and isinstance(value.get("Value"), bool)):
        raise _type_error(column, "Microsoft.Dynamics.CRM.BooleanManagedProperty")
    return value


def _check_range(table: Table, column: Column, value: int) -> None:
    """Whole numbers outside the column's documented MinValue..MaxValue are refused like an
    option value outside the option set (the same validation error)."""
    low, high = column.min_value, column.max_value
    if (low is not None and value < low) or (high is not None and value > high):
        raise DataverseFault(
            400,
            VALIDATION,
            f"A validation error occurred. The value {value} of '{column.name}' on record of type "
            f"'{table.logical}' is outside the valid range.",
        )


def _not_valid(column: Column, table: Table, when: str) -> DataverseFault:
    return DataverseFault(
        400,
        INVALID_ARGUMENT,
        f"The attribute '{column.name}' of entity '{table.logical}' is not valid for {when}.",
    )


def resolve_reference(value: str, resolve_content_id: BindResolver) -> tuple[str, str]:
    """``/set(id)``, an absolute record URL, or ``$n`` -> (entity set, id)."""
    if value.startswith("$"):
        value = resolve_content_id(value)
    match = _REFERENCE.match(value)
    if match is None:
        raise bad_request(f"The @odata.bind value '{value}' is not a valid entity reference URL.")
    return match.group(1), str(uuid.UUID(match.group(2)))


def body_changes(
    table: Table,
    body: dict[str, Any],
    *,
    creating: bool,
    exists: Callable[[str, str], bool],
    resolve_content_id: BindResolver,
) -> Row:
    """Validate ``body`` against ``table`` and return the row changes it asks for."""
    changes: Row = {}
    for key, value in body.items():
        if key.startswith("@odata.") or key.startswith("@"):
            continue
        if key.endswith("@odata.bind"):
            _bind(
                table,
                key[: -len("@odata.bind")],
                value,
                changes=changes,
                exists=exists,
                resolve_content_id=resolve_content_id,
                creating=creating,
            )
            continue
        column = table.by_prop.get(key)
        if column is None:
            if key in table.by_nav:
                raise bad_request(
                    f"The property '{key}' is a navigation property; use '{key}@odata.bind' "
                    "with an entity reference to set it."
                )
            raise invalid_body_property(key, table.logical)
        if column.kind == LOOKUP:
            raise bad_request(
                "CRM do not support direct update of Entity Reference properties, Use Navigation "
                "properties instead."
            )
        if column.readonly:
            raise _not_valid(column, table, "create or update")
        if column.createonly and not creating and key != table.pk:
            raise _not_valid(column, table, "update")
        if column.updateonly and creating:
            raise _not_valid(column, table, "create")
        changes[key] = _check_type(table, column, value)
        if key in SECRET_FLAGS:
            changes[SECRET_FLAGS[key]] = bool(value)
    return changes


def _bind(
    table: Table,
    nav: str,
    value: Any,
    *,
    changes: Row,
    exists: Callable[[str, str], bool],
    resolve_content_id: BindResolver,
    creating: bool,
) -> None:
    column = table.by_nav.get(nav)
    if column is None:
        raise bad_request(
            f"An undeclared property '{nav}' which only has property annotations in the payload "
            "but no property value was found in the payload."
        )
    if column.readonly:
        raise _not_valid(column, table, "create or update")
    if column.createonly and not creating:
        raise _not_valid(column, table, "update")
    if value is None:
        changes[column.prop] = None
        changes[f"{column.prop}@lt"] = None
        return
    if not isinstance(value, str):
        raise bad_request(f"The value of '{nav}@odata.bind' must be an entity reference URL.")
    entity_set, target_id = resolve_reference(value, resolve_content_id)
    target = column.navs[nav]
    target_table = TABLES.get(entity_set)
    if target_table is None or target_table.logical != target:
        raise bad_request(
            f"The navigation property '{nav}' expects a reference to '{target}', not to '{entity_set}'."
        )
    if not exists(target, target_id):
        raise DataverseFault(404, "0x80040217", f"{target} With Id = {target_id} Does Not Exist")
    changes[column.prop] = target_id
    changes[f"{column.prop}@lt"] = target


def state_pair(table: Table, current: Row | None, changes: Row) -> None:
    """statecode/statuscode must form a valid pair: a status belongs to one state (0/1 Active and
    1/2 Inactive on most tables); a state sent alone takes its default status."""
    if "statecode" not in table.by_prop or ("statecode" not in changes and "statuscode" not in changes):
        return
    state_of, default_status = state_of_status(table)
    state: Any = changes.get("statecode", (current or {}).get("statecode", 0))
    status: Any = changes.get("statuscode")
    if status is None:
        status = default_status.get(state)
        changes["statuscode"] = status
    if state_of.get(status) != state:
        labels = table.by_prop["statecode"].options or {}
        state_name = str(labels.get(state, state)).replace(" ", "")
        record = (current or {}).get(table.pk, "")
        raise DataverseFault(
            400,
            INVALID_ARGUMENT,
            f"{status} is not a valid status code for state code "
            f"{table.logical.capitalize()}State.{state_name} on {table.logical} with Id {record}.",
        )
    changes["statecode"] = state
