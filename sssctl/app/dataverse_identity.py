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

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from sssctl.clients.dataverse import DataverseClient

DEPTHS = ("Basic", "Local", "Deep", "Global")
T = TypeVar("T")


def odata_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass
class Provisioned:
    """What one environment holds for one identity, the steps it took (or would take) and its writes."""

    user_id: str | None = None
    role_id: str | None = None
    writes: int = 0
    steps: list[str] = field(default_factory=list)
    dry: bool = False

    def step(self, text: str, write: Callable[[], T]) -> T | None:
        self.steps.append(text)
        if self.dry:
            return None
        self.writes += 1
        return write()


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


def ensure_role(out: Provisioned, dataverse: DataverseClient, name: str, privileges: Mapping[str, str],
                unit: str) -> None:
    """The custom role ``name`` in ``unit`` holding exactly ``privileges`` (name -> depth)."""
    rows = list(dataverse.query("roles", select=["roleid", "name"],
                                filter=f"name eq {odata_string(name)} and _businessunitid_value eq {unit}"))
    if rows:
        out.role_id = str(rows[0]["roleid"])
    else:
        body = {"name": name, "businessunitid@odata.bind": f"/businessunits({unit})"}
        out.role_id = out.step(f"create security role {name!r} in the root business unit",
                               lambda: dataverse.create("roles", body))
    role_id = out.role_id
    if role_id is None or current_privileges(dataverse, role_id) != dict(privileges):
        ids = privilege_ids(dataverse, sorted(privileges))
        entries = [{"PrivilegeId": ids[n], "Depth": depth, "BusinessUnitId": unit, "PrivilegeName": n}
                   for n, depth in sorted(privileges.items())]
        out.step(f"give security role {name!r} exactly {len(entries)} privileges",
                 lambda: dataverse.action("ReplacePrivilegesRole", {"Privileges": entries},
                                          bound=("roles", str(role_id))))


def ensure_application_user(out: Provisioned, dataverse: DataverseClient, app_id: str, name: str,
                            unit: str) -> None:
    rows = list(dataverse.query("systemusers", select=["systemuserid", "isdisabled"],
                                filter=f"applicationid eq {app_id}"))
    if rows:
        out.user_id = str(rows[0]["systemuserid"])
        return
    body = {"applicationid": app_id, "firstname": "#", "lastname": name,
            "businessunitid@odata.bind": f"/businessunits({unit})"}
    out.user_id = out.step(f"create application user {name!r}", lambda: dataverse.create("systemusers", body))


def ensure_only_role(out: Provisioned, dataverse: DataverseClient, role_name: str) -> None:
    """The user holds the role and no other one (System Administrator included)."""
    user_id, role_id = out.user_id, out.role_id
    if user_id is None or role_id is None:
        out.steps.append(f"give the application user only the role {role_name!r}")
        return
    held = {str(r["roleid"]): str(r.get("name")) for r in
            dataverse.query(f"systemusers({user_id})/systemuserroles_association", select=["roleid", "name"])}
    if role_id not in held:
        out.step(f"give the application user the role {role_name!r}",
                 lambda: dataverse.associate("systemusers", user_id, "systemuserroles_association", "roles",
                                             role_id))
    for other, other_name in sorted(held.items()):
        if other != role_id:
            out.step(f"take the role {other_name!r} from the application user",
                     partial(dataverse.disassociate, "systemusers", user_id,
                             "systemuserroles_association", other))


def provision(dataverse: DataverseClient, *, app_id: str, user_name: str, role_name: str,
              privileges: Mapping[str, str], dry: bool = False) -> Provisioned:
    out = Provisioned(dry=dry)
    unit = root_business_unit(dataverse)
    ensure_role(out, dataverse, role_name, privileges, unit)
    ensure_application_user(out, dataverse, app_id, user_name, unit)
    ensure_only_role(out, dataverse, role_name)
    return out
