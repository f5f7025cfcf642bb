"""The Exchange Online admin API (``/adminapi/beta/{tenant}/InvokeCommand``) for the
ApplicationAccessPolicy cmdlets sssctl uses to restrict its app to chosen mailboxes, the
RBAC for Applications cmdlets (:mod:`exchange_rbac`) and the EWS gate (:mod:`exchange_ews`).

The endpoint is what the ExchangeOnlineManagement v3 module speaks; Microsoft documents the
cmdlets, not the wire format, so the shapes come from these sources:

* cmdlets, parameters, the ~300-policy limit text and the evaluation order:
  https://learn.microsoft.com/en-us/powershell/module/exchange/new-applicationaccesspolicy,
  https://learn.microsoft.com/en-us/powershell/module/exchange/test-applicationaccesspolicy and
  https://learn.microsoft.com/en-us/graph/auth-limit-mailbox-access (identity reference §2.1);
* policy objects (``ScopeName``, ``ScopeIdentity``, ``Identity`` = ``<tenant>\\<app>:<raw>``,
  ``ScopeIdentityRaw`` = ``<SID>;<guid>``, ``AccessRight``, ``ShardType``, ``IsValid``): the
  New-ApplicationAccessPolicy output shown in auth-limit-mailbox-access above;
* answers ``{"@odata.context", "adminapi.warnings@odata.type", "@adminapi.warnings", "value"}``
  paged with ``@odata.nextLink`` (identity reference §2.3, as CIPP and ScubaGear read them);
* errors as the module prints them from the REST body (PowerShell/PowerShell issue 19793 and
  public scripts quoting it): ``error.code`` "NotFound" with HTTP 404 for
  ManagementObjectNotFoundException, else "BadRequest" with 400; the cmdlet's text in
  ``error.message``; ``details[0]`` = ``{"code": "Client", "target": "", "message":
  "Ex6F9304|<exception type>|<text>"}``; ``innererror`` typed
  ``Microsoft.Exchange.Admin.OData.Core.ODataServiceException`` with the
  DirectInvokeCmdletExecutionException as ``internalexception``. Only the not-found error's
  ``Ex…`` site code has been seen published; other errors carry the bare ``|Type|text`` form.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import get_route_path  # type: ignore[attr-defined]
from starlette.types import Receive, Scope, Send

from sssctl.emulator import constants as c
from sssctl.emulator import exchange_ews as ews
from sssctl.emulator import exchange_params as params
from sssctl.emulator import exchange_rbac as rbac
from sssctl.emulator import exchange_roles as roles
from sssctl.emulator.clock import Clock
from sssctl.emulator.context import Caller, Counters, Faults, InvalidToken
from sssctl.emulator.directory import SSS_GROUP_ID, Directory, Recipient
from sssctl.emulator.identity import Identity

_PATH = re.compile(r"^/adminapi/beta/(?P<tenant>[^/]+)/InvokeCommand/?$", re.IGNORECASE)
_MANAGE_ROLE = "Exchange.ManageAsApp"
_ADMIN_ROLES = frozenset({"29232cdf-9323-42fd-ade2-1d097af3e4de", "62e90394-69f5-4237-9190-012177145e10"})
_ACCESS_RIGHTS = ("RestrictAccess", "DenyAccess")
_SECURITY_GROUP = "MailUniversalSecurityGroup"
_PARAMETERS: dict[str, frozenset[str]] = {
    "New-ApplicationAccessPolicy": frozenset(
        {"AccessRight", "AppId", "PolicyScopeGroupId", "Description", "Confirm"}
    ),
    "Get-ApplicationAccessPolicy": frozenset({"Identity"}),
    "Set-ApplicationAccessPolicy": frozenset({"Identity", "Description", "Confirm"}),
    "Remove-ApplicationAccessPolicy": frozenset({"Identity", "Confirm"}),
    "Test-ApplicationAccessPolicy": frozenset({"Identity", "AppId"}),
    "Get-DistributionGroupMember": frozenset({"Identity", "ResultSize"}),
    "Get-Recipient": frozenset({"Identity", "ResultSize"}),
    **rbac.PARAMETERS,
    **roles.PARAMETERS,
    **ews.PARAMETERS,
}
_DEFAULT_PAGE = 1000
# Exchange stores policies in a fixed-size blob: about 300 fit when descriptions are short.
_POLICY_LIMIT = 300


_NOT_FOUND_TYPE = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
# Exchange prefixes a cmdlet error with the code of the site that threw it; only this one is public.
_SITE_CODES = {_NOT_FOUND_TYPE: "Ex6F9304"}
_STATUS_CODES = {400: "BadRequest", 404: "NotFound", 501: "NotImplemented"}
_INVOKE_EXCEPTION = "Microsoft.Exchange.Management.PSDirectInvoke.DirectInvokeCmdletExecutionException"


class CmdletError(Exception):
    """A cmdlet failure as PowerShell reports it: an exception type name and its text."""

    def __init__(self, type_name: str, text: str, status: int | None = None) -> None:
        super().__init__(text)
        self.type_name, self.text = type_name, text
        self.status = status or (404 if type_name == _NOT_FOUND_TYPE else 400)

    def body(self) -> dict[str, Any]:
        site = _SITE_CODES.get(self.type_name, "")
        return {
            "error": {
                "code": _STATUS_CODES.get(self.status, str(self.status)),
                "message": self.text,
                "details": [
                    {"code": "Client", "target": "", "message": f"{site}|{self.type_name}|{self.text}"}
                ],
                "innererror": {
                    "message": self.text,
                    "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
                    "internalexception": {
                        "message": f"Exception of type '{_INVOKE_EXCEPTION}' was thrown.",
                        "type": _INVOKE_EXCEPTION,
                    },
                },
                "adminapi.warnings@odata.type": "#Collection(String)",
                "@adminapi.warnings": [],
            }
        }


class ExchangeService:
    """ASGI app mounted at ``constants.EXCHANGE_PREFIX``; holds the access policies."""

    def __init__(
        self, *, directory: Directory, identity: Identity, counters: Counters, faults: Faults, base_url: str,
        clock: Clock | None = None,
    ) -> None:
        self.directory, self.identity, self.counters, self.faults = directory, identity, counters, faults
        self.base_url = base_url
        self.clock = clock or Clock()
        self.policies: list[dict[str, Any]] = []
        self._lock = threading.RLock()
        self._cmdlets: dict[str, Callable[[dict[str, Any]], list[dict[str, Any]]]] = {
            "New-ApplicationAccessPolicy": self._new,
            "Get-ApplicationAccessPolicy": self._get,
            "Set-ApplicationAccessPolicy": self._set,
            "Remove-ApplicationAccessPolicy": self._remove,
            "Test-ApplicationAccessPolicy": self._test,
            "Get-DistributionGroupMember": self._members,
            "Get-Recipient": self._get_recipient,
        }
        self.rbac = rbac.RbacStore(clock=self.clock.timestamp)
        self.roles = roles.ManagementRoles()
        self._rbac_cmdlets = rbac.RbacCmdlets(
            self.rbac, entra_sp=directory.sp_by_app_id, mailbox=self.mailbox_view, units=self._units,
            delay=lambda: faults.rbac_propagation_seconds, management_role=self.roles.name_of,
        )
        self._cmdlets.update(self._rbac_cmdlets.cmdlets)
        self._cmdlets.update(self.roles.cmdlets())
        self.ews = ews.EwsGate(self.clock, delay=lambda: faults.ews_propagation_seconds,
                               mailbox_exists=directory.mailbox_exists)
        self._cmdlets.update(self.ews.cmdlets())

    def reset(self) -> None:
        with self._lock:
            self.policies.clear()
            self.rbac.reset()
            self.roles.reset()
            self.ews.reset()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"applicationAccessPolicies": [dict(p) for p in self.policies], **self.rbac.snapshot(),
                    **self.roles.snapshot(), "ews": self.ews.snapshot()}

    def sync_reaches(self, app_id: str, mailbox: str, autodiscover: bool) -> bool:
        """Whether server-side sync signing in as the app opens ``mailbox``.

        Over Microsoft Graph when the app holds every Graph permission the emulator models
        for the profile (``graph_sync_permissions``), each reaching the mailbox; else over
        EWS, which must also pass the tenant's EWS gate (:mod:`exchange_ews`). Reach is
        additive, as Exchange decides it: an Entra consent counts as narrowed by any access
        policy; an RBAC role counts once in effect, never through AutoDiscover (documented
        limit), and not at all when ``sync_rejects_rbac_only`` plays the undocumented case
        of server-side sync refusing an app without Entra consent.
        """
        return self.sync_transport(app_id, mailbox, autodiscover) is not None

    def sync_transport(self, app_id: str, mailbox: str, autodiscover: bool) -> str | None:
        """``"graph"`` or ``"ews"``: how server-side sync gets into the mailbox; None: it does not."""
        with self._lock:
            view = self.mailbox_view(mailbox)
            if view is None:
                return None
            if self._graph_reaches(app_id, view, autodiscover):
                return "graph"
            if not self._reaches(app_id, view, autodiscover, rbac.EWS_CONSENT, "Application EWS.AccessAsApp"):
                return None
            return "ews" if self.ews.decide(app_id, view.address).allowed else None

    def graph_sync_permissions(self) -> list[str]:
        return [p.strip() for p in self.faults.graph_sync_permissions.split(",") if p.strip()]

    def _graph_reaches(self, app_id: str, view: rbac.Mailbox, autodiscover: bool) -> bool:
        wanted = self.graph_sync_permissions()
        return bool(wanted) and all(
            self._reaches(app_id, view, autodiscover, permission, f"Application {permission}",
                          resource=c.GRAPH_RESOURCE_APP_ID)
            for permission in wanted)

    def _reaches(self, app_id: str, view: rbac.Mailbox, autodiscover: bool, consent: str, role: str, *,
                 resource: str = c.EXCHANGE_RESOURCE_APP_ID) -> bool:
        if consent in self.directory.roles_for(app_id, resource) and \
                self._evaluate(app_id, view.address) == "Granted":
            return True
        if autodiscover or self.faults.sync_rejects_rbac_only:
            return False
        roles = frozenset(r for r, grants in rbac.APPLICATION_ROLES.items()
                          if r == role or role.removeprefix("Application ") in grants)
        return self._rbac_cmdlets.reaches(app_id, view, roles)

    def mailbox_view(self, raw: str) -> rbac.Mailbox | None:
        address = raw.strip().lower()
        if not self.directory.mailbox_exists(address):
            return None
        groups = frozenset(rbac.distinguished_name(r.name) for r in self.directory.recipients.values()
                           if r.kind != "UserMailbox" and address in r.members)
        sss = self.directory.recipients.get(SSS_GROUP_ID)
        attributes = dict([rbac.SSS_ATTRIBUTE]) if sss is not None and address in sss.members else {}
        return rbac.Mailbox(address, groups, attributes)

    def _units(self) -> dict[str, frozenset[str]]:
        sss = self.directory.recipients.get(SSS_GROUP_ID)
        members = sss.members if sss is not None else frozenset()
        return {rbac.AU_ID: members, rbac.AU_NAME: members}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self.handle(request, get_route_path(scope))
        await response(scope, receive, send)

    async def handle(self, request: Request, path: str) -> Response:
        match = _PATH.match(path)
        if match is None or request.method != "POST":
            return JSONResponse(
                {"error": {"code": "NotFound", "message": f"No endpoint at {path}."}}, status_code=404
            )
        caller = self._authorize(request.headers.get("authorization"))
        if isinstance(caller, Response):
            return caller
        if match["tenant"].lower() not in {c.TENANT_ID, c.TENANT_DOMAIN}:
            return JSONResponse(
                CmdletError(
                    "Microsoft.Exchange.Configuration.Core.TenantNotFoundException",
                    f"The tenant '{match['tenant']}' was not found.",
                    404,
                ).body(),
                status_code=404,
            )
        try:
            name, parameters = _cmdlet_input(await request.body())
            with self._lock:
                self._may_run(caller, name)
            self.counters.record(
                "POST", "exchange", name, write=name.split("-")[0] in {"New", "Set", "Remove"}
            )
            with self._lock:
                rows = self._run(name, parameters)
        except CmdletError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)
        return self._page(request, rows)

    def _may_run(self, caller: Caller, name: str) -> None:
        """Exchange RBAC: an administrator runs every cmdlet; an app without an admin role runs
        the cmdlets of the management roles assigned to its service principal pointer, and no
        other cmdlet exists for it."""
        if _is_exchange_admin(caller):
            return
        if name in self._cmdlets_of(caller.app_id):
            return
        raise CmdletError(
            "System.Management.Automation.CommandNotFoundException",
            f"The term '{name}' is not recognized as a name of a cmdlet, function, script file, "
            "or executable program.",
        )

    def _cmdlets_of(self, app_id: str) -> frozenset[str]:
        pointer = self.rbac.pointer(app_id)
        if pointer is None:
            return frozenset()
        allowed: set[str] = set()
        for assignment in self.rbac.assignments_of(pointer):
            allowed |= self.roles.cmdlets_of(str(assignment["Role"]))
        return frozenset(allowed)

    def _authorize(self, authorization: str | None) -> Caller | Response:
        try:
            caller = self.identity.verify(authorization, self.base_url)
        except InvalidToken as exc:
            response = JSONResponse(
                {"error": {"code": "Unauthorized", "message": exc.reason}}, status_code=401
            )
            response.headers["WWW-Authenticate"] = self.identity.challenge_header(self.base_url)
            return response
        if not _is_exchange_admin(caller) and not (
            _MANAGE_ROLE in caller.roles and self._cmdlets_of(caller.app_id)
        ):
            return JSONResponse(
                {
                    "error": {
                        "code": "Forbidden",
                        "message": "The caller holds neither the "
                        "Exchange.ManageAsApp application role and an Exchange administrator "
                        "role, so it cannot run admin cmdlets.",
                    }
                },
                status_code=403,
            )
        return caller

    def _run(self, name: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
        handler = self._cmdlets.get(name)
        if handler is None:
            raise CmdletError(
                "System.Management.Automation.CommandNotFoundException",
                f"The term '{name}' is not recognized as a name of a cmdlet, function, script file, "
                "or executable program.",
            )
        try:
            bound = params.bind(name, parameters, _PARAMETERS[name])
        except params.BindingError as exc:
            raise CmdletError(exc.type_name, exc.text, exc.status) from exc
        try:
            return handler(bound)
        except (rbac.RbacError, roles.RoleError, ews.EwsError) as exc:
            raise CmdletError(exc.type_name, exc.text) from exc

    def _page(self, request: Request, rows: list[dict[str, Any]]) -> Response:
        size = _page_size(request.headers.get("prefer", ""))
        token = request.query_params.get("$skiptoken", "0") or "0"
        if not token.isdigit():
            return JSONResponse(
                CmdletError(
                    "Microsoft.Exchange.Admin.OData.Core.ODataException", "The skip token is invalid."
                ).body(),
                status_code=400,
            )
        start = int(token)
        page = rows[start : start + size]
        selected = request.query_params.get("$select")
        if selected:
            keep = {s.strip() for s in selected.split(",")}
            page = [{k: v for k, v in row.items() if k in keep} for row in page]
        body: dict[str, Any] = {
            "@odata.context": f"{self.base_url}/adminapi/beta/{c.TENANT_ID}/$metadata#Collection"
            f"(Exchange.GenericHashTable)",
            "adminapi.warnings@odata.type": "#Collection(String)",
            "@adminapi.warnings": [],
            "value": page,
        }
        if start + size < len(rows):
            body["@odata.nextLink"] = (
                f"{self.base_url}/adminapi/beta/{c.TENANT_ID}/InvokeCommand?$skiptoken={start + size}"
            )
        return JSONResponse(body)

    # --- cmdlets -----------------------------------------------------------------------
    def _new(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        right = _access_right(p.get("AccessRight"))
        app_ids = _list_of(p.get("AppId"), "AppId")
        group = self._scope(p.get("PolicyScopeGroupId"))
        if len(self.policies) + len(app_ids) > _POLICY_LIMIT:
            raise CmdletError(
                "Microsoft.Exchange.Management.Tasks.ApplicationAccessPolicyLimitExceededException",
                "The total size of App Access Policies exceeded the limit.",
            )
        existing = {(x["AppId"].lower(), _scope_guid(x)) for x in self.policies}
        for app_id in app_ids:
            if (app_id.lower(), group.guid) in existing:
                raise CmdletError(
                    "Microsoft.Exchange.Management.Tasks.ApplicationAccessPolicyAlreadyExistsException",
                    f"An application access policy for app {app_id} and scope {group.address} "
                    "already exists.",
                )
        raw = f"{_sid(group.guid)};{group.guid}"
        created = [
            {
                "ScopeName": group.name,
                "ScopeIdentity": group.display_name or group.name,
                "Identity": f"{c.TENANT_ID}\\{app_id}:{raw}",
                "AppId": app_id,
                "ScopeIdentityRaw": raw,
                "Description": str(p.get("Description") or ""),
                "AccessRight": right,
                "ShardType": "All",
                "IsValid": True,
                "Guid": str(uuid.uuid4()),
            }
            for app_id in app_ids
        ]
        self.policies.extend(created)  # all or nothing, as one cmdlet call
        return [dict(policy) for policy in created]

    def _get(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        if p.get("Identity"):
            return [dict(self._policy(str(p["Identity"])))]
        return [dict(x) for x in self.policies]

    def _set(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        policy = self._policy(str(p.get("Identity") or ""))
        if "Description" in p:
            policy["Description"] = str(p["Description"] or "")
        return []

    def _remove(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        self.policies.remove(self._policy(str(p.get("Identity") or "")))
        return []

    def _test(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        mailbox = str(p.get("Identity") or "").strip().lower()
        app_id = str(p.get("AppId") or "")
        if not app_id:
            raise CmdletError(
                "System.Management.Automation.ParameterBindingException",
                "Cannot process command because of one or more missing mandatory parameters: AppId.",
            )
        if not self.directory.mailbox_exists(mailbox):
            raise _not_found(mailbox)
        return [
            {
                "AppId": app_id,
                "Mailbox": mailbox,
                "MailboxId": str(uuid.uuid5(uuid.NAMESPACE_URL, mailbox)),
                "MailboxSid": _sid(_mailbox_guid(mailbox)),
                "AccessCheckResult": self._evaluate(app_id, mailbox),
            }
        ]

    def _members(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        """Members of a mail-enabled group (security or distribution), sorted by address."""
        group = self._recipient(p.get("Identity"))
        if group is None or group.kind == "UserMailbox":
            raise _not_found(p.get("Identity"))
        return [
            {
                "Name": address.split("@")[0],
                "DisplayName": address.split("@")[0],
                "PrimarySmtpAddress": address,
                "RecipientType": "UserMailbox",
                "Identity": address.split("@")[0],
                "ExternalDirectoryObjectId": _mailbox_guid(address),
            }
            for address in sorted(group.members)
        ]

    def _get_recipient(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        """A recipient with the distinguished name a ``MemberOfGroup`` filter needs."""
        recipient = self._recipient(p.get("Identity"))
        if recipient is None:
            raise _not_found(p.get("Identity"))
        return [{
            "Name": recipient.name, "DisplayName": recipient.display_name or recipient.name,
            "PrimarySmtpAddress": recipient.address, "RecipientTypeDetails": recipient.kind,
            "DistinguishedName": rbac.distinguished_name(recipient.name), "Guid": recipient.guid,
            "ExternalDirectoryObjectId": recipient.guid, "Identity": recipient.name,
        }]

    def _evaluate(self, app_id: str, mailbox: str) -> str:
        """DenyAccess wins; a matching RestrictAccess grants; Restrict elsewhere denies; else granted."""
        mine = [x for x in self.policies if x["AppId"].lower() in {app_id.lower(), "*"}]
        covering = [x for x in mine if self._covers(_scope_guid(x), mailbox)]
        if any(x["AccessRight"] == "DenyAccess" for x in covering):
            return "Denied"
        if any(x["AccessRight"] == "RestrictAccess" for x in covering):
            return "Granted"
        if any(x["AccessRight"] == "RestrictAccess" for x in mine):
            return "Denied"
        return "Granted"

    def _covers(self, scope_guid: str, mailbox: str) -> bool:
        recipient = self.directory.recipients.get(scope_guid)
        if recipient is not None:
            return mailbox in recipient.members
        return scope_guid == _mailbox_guid(mailbox)

    # --- lookups -----------------------------------------------------------------------
    def _policy(self, identity: str) -> dict[str, Any]:
        wanted = identity.strip().lower()
        for policy in self.policies:
            if wanted in {policy["Identity"].lower(), policy["Guid"].lower()}:
                return policy
        raise _not_found(identity)

    def _recipient(self, raw: Any) -> Recipient | None:
        """A group by GUID, address, name or display name; else a seeded mailbox; else None."""
        wanted = str(raw or "").strip().lower()
        for recipient in self.directory.recipients.values():
            names = {
                recipient.guid,
                recipient.address,
                recipient.name.lower(),
                recipient.display_name.lower(),
            }
            if wanted in names:
                return recipient
        if self.directory.mailbox_exists(wanted):
            return Recipient(_mailbox_guid(wanted), wanted, wanted, "UserMailbox", frozenset({wanted}))
        return None

    def _scope(self, raw: Any) -> Recipient:
        if not str(raw or "").strip():
            raise CmdletError(
                "System.Management.Automation.ParameterBindingException",
                "Cannot process command because of one or more missing mandatory parameters: "
                "PolicyScopeGroupId.",
            )
        recipient = self._recipient(raw)
        if recipient is None:
            raise _not_found(raw)
        if recipient.kind not in {_SECURITY_GROUP, "UserMailbox"}:
            raise CmdletError(
                "Microsoft.Exchange.Configuration.Tasks.TaskArgumentException",
                f"The group {recipient.address} is a distribution group, not a mail-enabled security group. "
                "Only mail-enabled security groups, user mailboxes or mail users can be used as the "
                "PolicyScopeGroupId.",
            )
        return recipient


def _not_found(raw: Any) -> CmdletError:
    return CmdletError(
        "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
        f"The operation couldn't be performed because object '{raw}' couldn't be found on "
        f"'{c.TENANT_DOMAIN}'.",
    )


def _is_exchange_admin(caller: Caller) -> bool:
    if caller.claims.get("idtyp") == "user":
        return bool(set(caller.claims.get("wids", ())) & _ADMIN_ROLES)
    return _MANAGE_ROLE in caller.roles and bool(set(caller.claims.get("wids", ())) & _ADMIN_ROLES)


def _sid(guid: str) -> str:
    """A stable security identifier for a recipient, in the domain-SID form Exchange shows."""
    number = uuid.UUID(guid).int
    parts = [(number >> shift) % 4294967296 for shift in (0, 32, 64)]
    return f"S-1-5-21-{parts[0]}-{parts[1]}-{parts[2]}-{(number >> 96) % 100000}"


def _scope_guid(policy: dict[str, Any]) -> str:
    """``ScopeIdentityRaw`` is ``<SID>;<guid>``: the guid names the recipient."""
    return str(policy["ScopeIdentityRaw"]).rpartition(";")[2]


def _mailbox_guid(address: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, address.lower()))


def _cmdlet_input(raw: bytes) -> tuple[str, dict[str, Any]]:
    try:
        body = json.loads(raw or b"{}")
        cmdlet = body["CmdletInput"]
        name = str(cmdlet["CmdletName"])
        parameters = cmdlet.get("Parameters") or {}
    except (ValueError, KeyError, TypeError) as exc:
        raise CmdletError(
            "Microsoft.Exchange.Admin.OData.Core.ODataException",
            'The request body must be {"CmdletInput":{"CmdletName":...,"Parameters":{...}}}.',
        ) from exc
    if not isinstance(parameters, dict):
        raise CmdletError(
            "Microsoft.Exchange.Admin.OData.Core.ODataException", "Parameters must be an object."
        )
    return name, parameters


def _access_right(raw: Any) -> str:
    for right in _ACCESS_RIGHTS:
        if str(raw or "").lower() == right.lower():
            return right
    raise CmdletError(
        "System.Management.Automation.ParameterBindingException",
        f"Cannot process argument transformation on parameter 'AccessRight'. Cannot convert value "
        f'"{raw}" to type "Microsoft.Exchange.Data.ApplicationAccessPolicyRight". Error: "Unable '
        f"to match the identifier name {raw} to a valid enumerator name. Specify one of the following "
        'enumerator names and try again: RestrictAccess, DenyAccess"',
    )


def _list_of(raw: Any, name: str) -> list[str]:
    values = [str(v) for v in raw] if isinstance(raw, list) else [str(raw)] if raw else []
    if not values:
        raise CmdletError(
            "System.Management.Automation.ParameterBindingException",
            f"Cannot process command because of one or more missing mandatory parameters: {name}.",
        )
    return values


def _page_size(prefer: str) -> int:
    match = re.search(r"odata\.maxpagesize\s*=\s*(\d+)", prefer, re.IGNORECASE)
    return max(1, int(match[1])) if match else _DEFAULT_PAGE
