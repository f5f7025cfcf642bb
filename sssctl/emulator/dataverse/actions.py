"""Functions and actions: ``WhoAmI``, the role-privilege functions, ``RetrievePrincipalAccess``,
the role actions (``AddPrivilegesRole``, ``RemovePrivilegeRole``, ``ReplacePrivilegesRole``),
role association through ``systemuserroles_association/$ref``, and ``SendEmail``.

Each checks the privilege Dataverse asks for: Read of the record for the functions, Write
of the role for the role actions, prvAssignRole for an association, Write of the email for
``SendEmail``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from . import access, email, roles
from .defaults import organization_id
from .errors import DataverseFault, bad_request, no_http_resource, no_segment
from .messages import ApiRequest, ApiResponse, aliases, json_body, json_response, no_content, not_allowed
from .reads import existing, request_uri
from .schema import TABLES, Table
from .security import Principal, require
from .store import Row, Store
from .writes import parse_guid, resolve_reference

ROLE_ACTIONS = {"AddPrivilegesRole", "RemovePrivilegeRole", "ReplacePrivilegesRole"}
_ROLE_HANDLERS: dict[str, Callable[[Store, Row, dict[str, Any]], None]] = {
    "AddPrivilegesRole": roles.add_privileges,
    "RemovePrivilegeRole": roles.remove_privilege,
    "ReplacePrivilegesRole": roles.replace_privileges,
}


class Actions:
    """The functions and actions over one store; ``api`` is the service root URL."""

    def __init__(self, store: Store, api: str) -> None:
        self.store = store
        self.api = api

    def _answer(self, response_type: str, body: dict[str, Any]) -> ApiResponse:
        context = f"{self.api}/$metadata#Microsoft.Dynamics.CRM.{response_type}"
        return json_response(200, {"@odata.context": context, **body})

    def whoami(
        self, request: ApiRequest, who: Principal, key: str | None, segments: list[str]
    ) -> ApiResponse:
        if request.method.upper() != "GET":
            raise no_http_resource(request_uri(self.api, request))
        if len(segments) > 1 or key not in (None, ""):
            raise not_allowed(request.method, "WhoAmI")
        return self._answer(
            "WhoAmIResponse",
            {
                "BusinessUnitId": who.business_unit,
                "UserId": who.id,
                "OrganizationId": organization_id(self.store),
            },
        )

    def retrieve_role_privileges(self, request: ApiRequest, who: Principal, key: str | None) -> ApiResponse:
        if request.method.upper() != "GET":
            raise no_http_resource(request_uri(self.api, request))
        match = re.fullmatch(r"\s*RoleId\s*=\s*(@?[\w-]+)\s*", key or "")
        if match is None:
            raise bad_request(
                "RetrieveRolePrivilegesRole needs the parameter RoleId, e.g. "
                "RetrieveRolePrivilegesRole(RoleId=<guid>) or RoleId=@p1 with ?@p1=<guid>."
            )
        value = match.group(1)
        if value.startswith("@"):  # a parameter alias, given in the query string
            aliased = request.param(value)
            if aliased is None:
                raise bad_request(f"The parameter alias '{value}' has no value in the query string.")
            value = aliased
        role = existing(self.store, TABLES["roles"], parse_guid(value, "RoleId"))
        require(self.store, who, "Read", TABLES["roles"], role)
        return self._answer(
            "RetrieveRolePrivilegesRoleResponse",
            {"RolePrivileges": roles.retrieve_role_privileges(self.store, role)},
        )

    def bound(
        self,
        request: ApiRequest,
        who: Principal,
        table: Table,
        record_id: str,
        *,
        action: str,
        rest: list[str],
    ) -> ApiResponse:
        """``<set>(<id>)/Microsoft.Dynamics.CRM.<action>``."""
        if table.logical == "systemuser" and action in ("RetrieveUserPrivileges", "RetrieveUserPrivileges()"):
            return self._retrieve_user_privileges(request, who, table, record_id, rest)
        if table.logical == "systemuser" and action.startswith("RetrievePrincipalAccess("):
            return self._retrieve_principal_access(request, who, record_id, rest)
        if table.logical == "email" and action == "SendEmail" and len(rest) == 1:
            return self._send_email(request, who, table, record_id)
        if table.logical != "role" or action not in ROLE_ACTIONS or len(rest) > 1:
            raise no_segment(rest[0])
        if request.method.upper() != "POST":
            raise not_allowed(request.method, action)
        role = existing(self.store, table, record_id)
        require(self.store, who, "Write", table, role)
        _ROLE_HANDLERS[action](self.store, role, json_body(request))
        return no_content()

    def assign_role(self, who: Principal, user: Row, reference: Any, *, assign: bool) -> ApiResponse:
        """Associate or disassociate a security role (needs prvAssignRole); same business unit only."""
        if not isinstance(reference, str):
            raise bad_request("The request needs the role's reference as '@odata.id' (or '$id').")
        entity_set, role_id = resolve_reference(reference, lambda ref: ref)
        if entity_set != "roles":
            raise bad_request(f"'{reference}' is not a reference to a role.")
        role = existing(self.store, TABLES["roles"], role_id)
        require(self.store, who, "prvAssignRole", TABLES["roles"])
        held = list(self.store.user_roles.get(user["systemuserid"], []))
        if assign:
            if role["_businessunitid_value"] != user["_businessunitid_value"]:
                raise DataverseFault(
                    400,
                    "0x80040203",
                    f"The role {role_id} belongs to another business unit than the user "
                    f"{user['systemuserid']}; assign the role copy of the user's business unit.",
                )
            if role_id not in held:
                held.append(role_id)
        elif role_id in held:
            held.remove(role_id)
        self.store.set_user_roles(user["systemuserid"], held)
        self.store.update("systemuser", user["systemuserid"], {})
        return no_content()

    def _retrieve_user_privileges(
        self, request: ApiRequest, who: Principal, table: Table, record_id: str, rest: list[str]
    ) -> ApiResponse:
        """The privileges a user holds through its roles (how ``auth check`` probes without writing)."""
        if request.method.upper() != "GET" or len(rest) > 1:
            raise no_http_resource(request_uri(self.api, request))
        user = existing(self.store, table, record_id)
        require(self.store, who, "Read", table, user)
        role_rows = self.store.table("role")
        entries = [
            entry
            for role_id in self.store.user_roles.get(user["systemuserid"], [])
            if role_id in role_rows
            for entry in roles.retrieve_role_privileges(self.store, role_rows[role_id])
        ]
        return self._answer("RetrieveUserPrivilegesResponse", {"RolePrivileges": entries})

    def _retrieve_principal_access(
        self, request: ApiRequest, who: Principal, user_id: str, rest: list[str]
    ) -> ApiResponse:
        if request.method.upper() != "GET" or len(rest) > 1:
            raise no_http_resource(request_uri(self.api, request))
        users = TABLES["systemusers"]
        user = existing(self.store, users, user_id)
        require(self.store, who, "Read", users, user)
        parameters = rest[0].removeprefix("Microsoft.Dynamics.CRM.RetrievePrincipalAccess")
        target, record_id = access.target_reference(parameters[1:-1], aliases(request))
        record = existing(self.store, target, record_id)
        return self._answer(
            "RetrievePrincipalAccessResponse",
            {"AccessRights": access.access_rights(self.store, user, target, record)},
        )

    def _send_email(self, request: ApiRequest, who: Principal, table: Table, record_id: str) -> ApiResponse:
        if request.method.upper() != "POST":
            raise not_allowed(request.method, "SendEmail")
        row = existing(self.store, table, record_id)
        require(self.store, who, "Write", table, row)
        return self._answer("SendEmailResponse", email.send(self.store, row, json_body(request)))
