"""An application user in a Dataverse environment with a custom role holding exactly its needs.

What bootstrap does in each environment, each step read first and written only when it
differs, so a second run writes nothing:

* the custom security role in the root business unit (business-unit copies follow it),
  created with ``POST roles`` and given exactly the computed privileges at their depth with
  ``ReplacePrivilegesRole`` (never ``AddPrivilegesRole``, which would keep extra privileges
  someone added by hand):
  https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/replaceprivilegesrole;
* the application user: a ``systemuser`` with ``applicationid`` set to the app's client id
  in the root business unit, which Dataverse makes a non-interactive user (access mode 4):
  https://learn.microsoft.com/power-platform/admin/manage-application-users,
  https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/systemuser;
* its roles: exactly the custom role (``systemuserroles_association``); any other role it
  holds, System Administrator included, is removed, so the user never holds more:
  https://learn.microsoft.com/power-apps/developer/data-platform/webapi/associate-disassociate-entities-using-web-api.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sssctl.clients.dataverse import DataverseClient

DEPTHS = ("Basic", "Local", "Deep", "Global")
MASKS = {"Basic": 1, "Local": 2, "Deep": 4, "Global": 8}


def odata_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Provisioned:
    """What one environment holds for one identity, and how many writes it took."""

    user_id: str
    role_id: str
    writes: int


def root_business_unit(dataverse: DataverseClient) -> str:
    rows = list(dataverse.query("businessunits", select=["businessunitid"],
                                filter="_parentbusinessunitid_value eq null", top=1))
    if not rows:
        raise LookupError("the environment shows no root business unit")
    return str(rows[0]["businessunitid"])


def privilege_ids(dataverse: DataverseClient, names: list[str]) -> dict[str, str]:
    """Privilege name -> id; ids differ between environments, so they are always looked up."""
    found: dict[str, str] = {}
    for start in range(0, len(names), 25):
        chunk = names[start:start + 25]
        text = " or ".join(f"name eq {odata_string(n)}" for n in chunk)
        for row in dataverse.query("privileges", select=["privilegeid", "name"], filter=text):
            found[str(row["name"])] = str(row["privilegeid"])
    unknown = sorted(set(names) - set(found))
    if unknown:
        raise LookupError(f"the environment has no privilege named {', '.join(unknown)}")
    return found


def current_privileges(dataverse: DataverseClient, role_id: str) -> dict[str, str]:
    answer = dataverse.function("RetrieveRolePrivilegesRole", {"RoleId": role_id}) or {}
    return {str(p.get("PrivilegeName")): str(p.get("Depth")) for p in answer.get("RolePrivileges", [])}


def ensure_role(
    dataverse: DataverseClient, name: str, privileges: Mapping[str, str], unit: str
) -> tuple[str, int]:
    """The custom role ``name`` in ``unit`` holding exactly ``privileges`` (name -> depth)."""
    writes = 0
    rows = list(dataverse.query("roles", select=["roleid", "name"],
                                filter=f"name eq {odata_string(name)} and _businessunitid_value eq {unit}"))
    if rows:
        role_id = str(rows[0]["roleid"])
    else:
        body = {"name": name, "businessunitid@odata.bind": f"/businessunits({unit})"}
        role_id = dataverse.create("roles", body)
        writes += 1
    if current_privileges(dataverse, role_id) != dict(privileges):
        ids = privilege_ids(dataverse, sorted(privileges))
        entries = [{"PrivilegeId": ids[n], "Depth": depth, "BusinessUnitId": unit, "PrivilegeName": n}
                   for n, depth in sorted(privileges.items())]
        dataverse.action("ReplacePrivilegesRole", {"Privileges": entries}, bound=("roles", role_id))
        writes += 1
    return role_id, writes


def ensure_application_user(
    dataverse: DataverseClient, app_id: str, name: str, unit: str
) -> tuple[str, int]:
    rows = list(dataverse.query("systemusers", select=["systemuserid", "isdisabled"],
                                filter=f"applicationid eq {app_id}"))
    if rows:
        return str(rows[0]["systemuserid"]), 0
    user_id = dataverse.create("systemusers", {
        "applicationid": app_id, "firstname": "#", "lastname": name,
        "businessunitid@odata.bind": f"/businessunits({unit})",
    })
    return user_id, 1


def ensure_only_role(dataverse: DataverseClient, user_id: str, role_id: str) -> int:
    """The user holds ``role_id`` and no other role."""
    held = [str(r["roleid"]) for r in
            dataverse.query(f"systemusers({user_id})/systemuserroles_association", select=["roleid"])]
    writes = 0
    if role_id not in held:
        dataverse.associate("systemusers", user_id, "systemuserroles_association", "roles", role_id)
        writes += 1
    for other in held:
        if other != role_id:
            dataverse.disassociate("systemusers", user_id, "systemuserroles_association", other)
            writes += 1
    return writes


def provision(dataverse: DataverseClient, *, app_id: str, user_name: str, role_name: str,
              privileges: Mapping[str, str]) -> Provisioned:
    unit = root_business_unit(dataverse)
    role_id, role_writes = ensure_role(dataverse, role_name, privileges, unit)
    user_id, user_writes = ensure_application_user(dataverse, app_id, user_name, unit)
    role_links = ensure_only_role(dataverse, user_id, role_id)
    return Provisioned(user_id, role_id, role_writes + user_writes + role_links)
