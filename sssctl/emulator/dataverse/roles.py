"""Role privilege actions (reference §8.6–8.9) and business-unit role copies.

Guesses, documented because the reference has no captured answer:

* Editing an inherited (child business unit) copy is refused with 400 ``0x80040227``
  (invalid operation); the decompiled status map would give that code 405, but no public
  capture shows which status the role actions really return.
* ``AddPrivilegesRole`` for a privilege the role already holds sets the new depth.
* ``RemovePrivilegeRole`` for a privilege the role does not hold succeeds without change.
* ``RemovePrivilegeRole`` with ``{"PrivilegeId": …}`` instead of ``{"Privilege": {…}}``
  is refused as an unknown action parameter, like any other unknown parameter.
* A role created through the API starts with a small bootstrap privilege set.
* The built-in System Administrator role cannot be edited (classic CRM help: "You cannot
  modify the System Administrator security role"); the refusal reuses 400 ``0x80040227``.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from .errors import INVALID_ARGUMENT, INVALID_OPERATION, DataverseFault, bad_request, not_found
from .seed import BASIC, DEEP, GLOBAL, LOCAL, NAMESPACE, copy_role_to_units, privilege_id
from .store import Row, Store
from .writes import parse_guid

DEPTH_NAMES = {"Basic": BASIC, "Local": LOCAL, "Deep": DEEP, "Global": GLOBAL}
DEPTH_VALUES = {"0": BASIC, "1": LOCAL, "2": DEEP, "3": GLOBAL}
MASK_NAMES = {mask: name for name, mask in DEPTH_NAMES.items()}
_CAN_BE = {BASIC: "canbebasic", LOCAL: "canbelocal", DEEP: "canbedeep", GLOBAL: "canbeglobal"}
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
SYSTEM_ADMINISTRATOR = "System Administrator"
BOOTSTRAP = ("prvReadOrganization", "prvReadUserSettings", "prvWriteUserSettings")


def inherited_refusal(role: Row) -> DataverseFault:
    return DataverseFault(
        400,
        INVALID_OPERATION,
        f"The role with Id = {role['roleid']} is inherited from the parent business unit "
        "and cannot be edited. "
        f"Edit the root business unit copy (Id = {role['_parentrootroleid_value']}); changes propagate to "
        "every business unit.",
    )


def require_root(role: Row) -> None:
    """Only the root copy of a role other than System Administrator can be edited."""
    if role["_parentrootroleid_value"] != role["roleid"]:
        raise inherited_refusal(role)
    if role["name"] == SYSTEM_ADMINISTRATOR and role.get("ismanaged"):
        raise DataverseFault(
            400,
            INVALID_OPERATION,
            "You cannot modify the System Administrator security role: it always holds every privilege. "
            "Copy it to a new role to change privileges.",
        )


def _check_parameters(action: str, body: dict[str, Any], allowed: set[str]) -> None:
    for key in body:
        if key not in allowed and not key.startswith("@"):
            raise bad_request(
                f"The parameter '{key}' in the request payload is not a valid parameter for the "
                f"operation '{action}'."
            )


def _depth(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        if value in DEPTH_NAMES:
            return DEPTH_NAMES[value]
        if value in DEPTH_VALUES:
            return DEPTH_VALUES[value]
        if value in ("RecordFilter", "4"):
            raise DataverseFault(400, INVALID_ARGUMENT, "RecordFilter depth needs a RecordFilterId.")
    raise bad_request(f"The value '{value}' is not a valid member of the enumeration 'PrivilegeDepth'.")


def _privilege(store: Store, raw: Any) -> Row:
    privilege = store.get("privilege", parse_guid(str(raw), "PrivilegeId"))
    if privilege is None:
        raise not_found("privilege", str(raw))
    return privilege


def parse_role_privileges(store: Store, action: str, body: dict[str, Any]) -> dict[str, int]:
    _check_parameters(action, body, {"Privileges", "SolutionUniqueName"})
    items = body.get("Privileges")
    if not isinstance(items, list):
        raise bad_request(
            f"The parameter 'Privileges' of operation '{action}' is required and must be a "
            "collection of RolePrivilege."
        )
    result: dict[str, int] = {}
    allowed = {
        "PrivilegeId",
        "Depth",
        "BusinessUnitId",
        "PrivilegeName",
        "RecordFilterId",
        "RecordFilterUniqueName",
    }
    for item in items:
        if not isinstance(item, dict) or "PrivilegeId" not in item or "Depth" not in item:
            raise bad_request("Each RolePrivilege needs PrivilegeId and Depth.")
        unknown = sorted(k for k in item if k not in allowed and not k.startswith("@"))
        if unknown:
            raise bad_request(
                f"The property '{unknown[0]}' does not exist on type 'Microsoft.Dynamics.CRM.RolePrivilege'."
            )
        privilege = _privilege(store, item["PrivilegeId"])
        mask = _depth(item["Depth"])
        if not privilege.get(_CAN_BE[mask]):
            raise DataverseFault(
                400,
                INVALID_ARGUMENT,
                f"The depth '{MASK_NAMES[mask]}' is not valid for "
                f"privilege {privilege['name']} (Id = {privilege['privilegeid']}).",
            )
        result[privilege["privilegeid"]] = mask
    return result


def add_privileges(store: Store, role: Row, body: dict[str, Any]) -> None:
    require_root(role)
    wanted = parse_role_privileges(store, "AddPrivilegesRole", body)
    current = dict(store.role_privileges.get(role["roleid"], {}))
    current.update(wanted)
    store.set_role_privileges(role["roleid"], current)
    _touch_copies(store, role)


def replace_privileges(store: Store, role: Row, body: dict[str, Any]) -> None:
    require_root(role)
    store.set_role_privileges(role["roleid"], parse_role_privileges(store, "ReplacePrivilegesRole", body))
    _touch_copies(store, role)


def remove_privilege(store: Store, role: Row, body: dict[str, Any]) -> None:
    require_root(role)
    _check_parameters("RemovePrivilegeRole", body, {"Privilege", "SolutionUniqueName"})
    entity = body.get("Privilege")
    if not isinstance(entity, dict) or "privilegeid" not in entity:
        raise bad_request(
            "The parameter 'Privilege' of operation 'RemovePrivilegeRole' is required and must be a "
            "privilege entity carrying 'privilegeid'."
        )
    odata_type = entity.get("@odata.type")
    if odata_type not in (None, "Microsoft.Dynamics.CRM.privilege", "#Microsoft.Dynamics.CRM.privilege"):
        raise bad_request(
            f"The entity type '{odata_type}' is not compatible with the parameter type "
            "'Microsoft.Dynamics.CRM.privilege'."
        )
    privilege = _privilege(store, entity["privilegeid"])
    current = dict(store.role_privileges.get(role["roleid"], {}))
    if current.pop(privilege["privilegeid"], None) is not None:
        store.set_role_privileges(role["roleid"], current)
        _touch_copies(store, role)


def _touch_copies(store: Store, root: Row) -> None:
    """A privilege change is a write on every copy: their versions move too."""
    for role in copies_of(store, root["roleid"]):
        store.update("role", role["roleid"], {})


def copies_of(store: Store, root_id: str) -> list[Row]:
    return [r for r in store.table("role").values() if r["_parentrootroleid_value"] == root_id]


def retrieve_role_privileges(store: Store, role: Row) -> list[dict[str, Any]]:
    names = store.table("privilege")
    result = []
    for privilege_id_, mask in store.privileges_of_role(role["roleid"]).items():
        privilege = names.get(privilege_id_)
        result.append(
            {
                "Depth": MASK_NAMES[mask],
                "PrivilegeId": privilege_id_,
                "BusinessUnitId": role["_businessunitid_value"],
                "PrivilegeName": privilege["name"] if privilege else None,
                "RecordFilterId": EMPTY_GUID,
                "RecordFilterUniqueName": None,
            }
        )
    return result


def create_copies(store: Store, root: Row) -> None:
    units = list(store.table("businessunit"))
    parent_of = {u: store.table("businessunit")[u]["_parentbusinessunitid_value"] for u in units}
    ordered = _parents_first(units, parent_of)
    copy_role_to_units(
        lambda key, row: store.insert("role", key, row),
        root,
        ordered,
        parent_of,
        lambda rid, unit: str(uuid.uuid5(NAMESPACE, f"{rid}:{unit}")),
    )
    store.set_role_privileges(root["roleid"], {privilege_id(n): GLOBAL for n in BOOTSTRAP})


def _parents_first(units: list[str], parent_of: dict[str, str | None]) -> list[str]:
    placed: list[str] = []
    seen: set[str | None] = {None}
    pending = list(units)
    while pending:
        rest = [u for u in pending if parent_of[u] not in seen]
        placed += [u for u in pending if parent_of[u] in seen]
        seen.update(placed)
        if len(rest) == len(pending):
            break
        pending = rest
    return placed


def propagate_update(store: Store, root: Row, changes: Row) -> None:
    shared = {
        k: v for k, v in changes.items() if k in ("name", "isinherited", "iscustomizable", "canbedeleted")
    }
    for role in copies_of(store, root["roleid"]):
        if role["roleid"] != root["roleid"]:
            store.update("role", role["roleid"], shared)


def delete_role(store: Store, role: Row) -> None:
    """Delete the root copy with every business-unit copy; users lose the role."""
    require_root(role)
    gone = {copy["roleid"] for copy in copies_of(store, role["roleid"])}
    for role_id in gone:
        store.delete("role", role_id)
    for user_id, held in list(store.user_roles.items()):
        if gone.intersection(held):
            store.set_user_roles(user_id, [r for r in held if r not in gone])
    store.set_role_privileges(role["roleid"], {})


_PRIVILEGE_EQ = re.compile(r"\bprivilegeid\s+eq\s+'?([0-9a-fA-F-]{36})'?", re.IGNORECASE)


def intersect_rows(store: Store, filter_text: str | None) -> list[Row]:
    """Rows of the role-privilege intersect table: one per role copy and privilege held.

    Business-unit copies hold what their root copy holds. A ``privilegeid eq <id>`` in the
    filter narrows which rows are built (the index a database would use); the filter
    itself is still applied to every row, so the answer is the same either way.
    """
    wanted = _PRIVILEGE_EQ.search(filter_text or "")
    only = wanted.group(1).lower() if wanted and " or " not in (filter_text or "").lower() else None
    rows: list[Row] = []
    for role_id, role in store.table("role").items():
        held = store.role_privileges.get(role["_parentrootroleid_value"], {})
        for held_id, mask in held.items() if only is None else ((only, held.get(only)),):
            if mask:
                rows.append({
                    "roleprivilegeid": str(uuid.uuid5(NAMESPACE, f"roleprivilege:{role_id}:{held_id}")),
                    "roleid": role_id,
                    "privilegeid": held_id,
                    "privilegedepthmask": mask,
                    "versionnumber": role.get("versionnumber", 0),
                })
    return rows
