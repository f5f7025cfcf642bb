"""``sssctl auth check``: can this identity do what this config asks, without changing anything?

The write probes never write. Dataverse privileges are read with ``RetrieveUserPrivileges``
on the caller's own user (falling back to ``RetrieveRolePrivilegesRole`` over the caller's
roles), which answers "could I write the organization / mailboxes / roles" exactly and
leaves no trace in audit history — a no-op PATCH would still bump version numbers and fire
plug-ins. Graph permissions are read from the ``roles`` claim of the app-only token Entra
just issued; Exchange access is proven by a read-only cmdlet.

Besides what is missing, the report records what the identity *holds* (``Report.held``:
Dataverse privileges with depth and roles, the Graph and Exchange ``roles`` claims, the
Entra directory roles in ``wids``), so the caller can name what it holds beyond the
config's needs (``auth check --strict``).
"""

from __future__ import annotations

import base64
import json
import shutil
import sys
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sssctl.clients.clouds import scope_for
from sssctl.clients.errors import AuthError, ClientError, PrivilegeDenied, ServiceError
from sssctl.clients.session import ClientOptions, Clients, open_clients
from sssctl.config.model import Desired

Result = Literal["ok", "missing", "error"]

GRAPH_APP_PERMISSIONS = (
    ("Application.ReadWrite.All", "Application.ReadWrite.OwnedBy"),
    ("AppRoleAssignment.ReadWrite.All",),
)


@dataclass(frozen=True)
class Check:
    name: str
    result: Result
    detail: str = ""
    remedy: str = ""


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    # What the identity holds, per service: "dataverse" (privilege -> depth), "dataverse_roles",
    # "graph" / "exchange" (app roles from the token), "directory_roles" (Entra role template ids).
    held: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.result == "ok" for c in self.checks)

    def add(self, check: Check) -> None:
        self.checks.append(check)

    def render(self, columns: int | None = None) -> str:
        """A table whose last column wraps to ``columns``, by default the terminal's width on
        a terminal; piped or in a CI log every line stays whole, so grep finds it.

        A failed check shows what the service said (the ``AADSTS`` code of a refused sign-in
        is what support and the Entra docs go by) and then the remedy, never only the remedy.
        """
        headers = ("check", "result", "detail / remedy")
        rows = [(c.name, c.result, f"{c.detail} -> {c.remedy}" if c.result != "ok" and c.remedy else c.detail)
                for c in self.checks]
        width = [max([len(headers[i]), *(len(r[i]) for r in rows)]) for i in (0, 1)]
        lines = [f"{headers[0]:<{width[0]}}  {headers[1]:<{width[1]}}  {headers[2]}",
                 f"{'-' * width[0]}  {'-' * width[1]}  {'-' * len(headers[2])}"]
        indent = width[0] + width[1] + 4
        if columns is None and sys.stdout.isatty():
            columns = shutil.get_terminal_size().columns
        room = max(40, columns - indent) if columns else None
        for name, result, text in rows:
            wrapped = (textwrap.wrap(text, room, break_on_hyphens=False) if room else [text]) or [""]
            lines.append(f"{name:<{width[0]}}  {result:<{width[1]}}  {wrapped[0]}".rstrip())
            lines += [" " * indent + more for more in wrapped[1:]]
        summary = "all checks passed" if self.ok else "some checks failed: fix them before plan/apply"
        return "\n".join([*lines, "", summary])

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [c.__dict__ for c in self.checks], "held": self.held}


def _failure(name: str, exc: ClientError) -> Check:
    """A failed probe as a row: 403 means "missing", anything else is an error to look at."""
    if isinstance(exc, PrivilegeDenied):
        return Check(name, "missing", str(exc), "give the identity a security role that grants this access")
    if isinstance(exc, ServiceError):
        if exc.status == 403:
            return Check(name, "missing", str(exc), "grant the identity this permission")
        return Check(name, "error", str(exc), f"the service answered: {exc}")
    if isinstance(exc, AuthError):
        return Check(name, "error", str(exc), exc.remedy or "")
    return Check(name, "error", str(exc), f"could not reach the service: {exc}")


def _guarded(name: str, probe: Callable[[], Check]) -> Check:
    try:
        return probe()
    except ClientError as exc:
        return _failure(name, exc)


class PrivilegesUnreadable(ClientError):
    """Neither RetrieveUserPrivileges nor the user's role list is available on this server."""


def _privilege_entries(clients: Clients, user_id: str) -> list[dict[str, Any]]:
    """RetrieveUserPrivileges, else the union of RetrieveRolePrivilegesRole over the user's roles."""
    dataverse = clients.dataverse
    try:
        answer = dataverse.function("RetrieveUserPrivileges", bound=("systemusers", user_id))
        return list((answer or {}).get("RolePrivileges", []))
    except ServiceError as exc:
        if exc.status == 403:
            raise
        first = exc
    try:
        membership = f"systemusers({user_id})/systemuserroles_association"
        roles = list(dataverse.query(membership, select=["roleid"]))
    except ServiceError as exc:
        if exc.status == 403:
            raise
        raise PrivilegesUnreadable(
            f"cannot list the caller's privileges: RetrieveUserPrivileges answered {first}; "
            f"the user's roles answered {exc}") from exc
    entries: list[dict[str, Any]] = []
    for role in roles:
        result = dataverse.function("RetrieveRolePrivilegesRole", {"RoleId": role["roleid"]})
        entries.extend((result or {}).get("RolePrivileges", []))
    return entries


def _held_privileges(clients: Clients, user_id: str) -> dict[str, str]:
    """Privilege name -> depth the caller holds through any of its roles."""
    entries = _privilege_entries(clients, user_id)
    held: dict[str, str] = {}
    for entry in entries:
        name = str(entry.get("PrivilegeName") or "")
        if name:
            held[name] = str(entry.get("Depth", ""))
    return held


def token_claims(token: str) -> dict[str, Any]:
    """Claims of a JWT we were just issued, read without verification (only to report)."""
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _caller_roles(clients: Clients, user_id: str) -> list[str]:
    membership = f"systemusers({user_id})/systemuserroles_association"
    rows = clients.dataverse.query(membership, select=["name", "roleid"])
    return sorted({str(r.get("name")) for r in rows})


def _dataverse_checks(privileges: Mapping[str, str], clients: Clients, report: Report) -> None:
    dataverse = clients.dataverse
    who = dataverse.whoami()
    report.add(Check("sign in + WhoAmI", "ok", f"user {who.user_id}, organization {who.organization_id}"))

    def read_org() -> Check:
        rows = list(dataverse.query("organizations", select=["organizationid", "orgdborgsettings"], top=1))
        return Check("read organization", "ok" if rows else "missing", f"{len(rows)} row(s)",
                     "" if rows else "the identity cannot see the organization row")

    report.add(_guarded("read organization", read_org))

    def roles_probe() -> Check:
        roles = list(dataverse.query("roles", select=["roleid", "name"], top=1))
        if not roles:
            return Check("read roles + role privileges", "missing", "no role visible",
                         "grant Read on Security Role")
        dataverse.function("RetrieveRolePrivilegesRole", {"RoleId": roles[0]["roleid"]})
        return Check("read roles + role privileges", "ok",
                     f"RetrieveRolePrivilegesRole on {roles[0]['name']}")

    if "prvReadRole" in privileges:
        report.add(_guarded("read roles + role privileges", roles_probe))
    try:
        held = _held_privileges(clients, who.user_id)
        report.held["dataverse"] = dict(sorted(held.items()))
        report.held["dataverse_roles"] = _caller_roles(clients, who.user_id) if "prvReadRole" in held else []
    except PrivilegesUnreadable as exc:
        report.add(Check("Dataverse privileges", "error", str(exc),
                         "this server cannot say which privileges the identity holds; "
                         "check its security roles in the Power Platform admin center"))
        return
    except ClientError as exc:
        report.add(_failure("Dataverse privileges", exc))
        return
    for privilege, reason in privileges.items():
        if privilege in held:
            report.add(Check(f"{privilege}", "ok", f"{reason} (depth {held[privilege] or '?'})"))
        else:
            report.add(Check(f"{privilege}", "missing", reason,
                             f"add {privilege} to a security role of this identity (needed to {reason})"))


def _graph_checks(clients: Clients, report: Report, wanted: Sequence[Sequence[str]]) -> None:
    graph = clients.graph
    provider = clients.token_provider
    if graph is None or provider is None:
        return

    def read_applications() -> Check:
        next(iter(graph.list("applications", params={"$top": "1", "$select": "id"})), None)
        return Check("Graph: read applications", "ok", "GET applications")

    report.add(_guarded("Graph: read applications", read_applications))

    def permissions() -> Check:
        claims = token_claims(provider.token(scope_for(graph.graph_url)))
        roles = set(claims.get("roles") or [])
        report.held["graph"] = sorted(roles)
        report.held["directory_roles"] = sorted(set(claims.get("wids") or []))
        missing = [" or ".join(options) for options in wanted if not roles & set(options)]
        if missing:
            return Check("Graph: application permissions", "missing", ", ".join(sorted(roles)) or "none",
                         "grant (with admin consent) the Microsoft Graph application permissions: "
                         + "; ".join(missing))
        return Check("Graph: application permissions", "ok", ", ".join(sorted(roles)))

    report.add(_guarded("Graph: application permissions", permissions))


def _exchange_checks(clients: Clients, report: Report) -> None:
    exchange = clients.exchange
    if exchange is None:
        return
    provider = clients.token_provider
    if provider is not None:
        try:
            claims = token_claims(provider.token(scope_for(exchange.exchange_url)))
            report.held["exchange"] = sorted(set(claims.get("roles") or []))
            report.held["directory_roles"] = sorted(set(report.held.get("directory_roles", []))
                                                    | set(claims.get("wids") or []))
        except ClientError as exc:
            report.add(_failure("Exchange: sign in", exc))

    def policies() -> Check:
        rows = exchange.invoke("Get-ApplicationAccessPolicy")
        return Check("Exchange: admin API", "ok", f"Get-ApplicationAccessPolicy: {len(rows)} policies")

    check = _guarded("Exchange: admin API", policies)
    if check.result == "missing":
        check = Check(check.name, "missing", check.detail,
                      "grant the app the Office 365 Exchange Online permission Exchange.ManageAsApp and "
                      "the Exchange Administrator role in Entra")
    report.add(check)


def run_checks(
    desired: Desired,
    *,
    privileges: Mapping[str, str],
    need_graph: bool,
    need_exchange: bool,
    graph_permissions: Sequence[Sequence[str]] = GRAPH_APP_PERMISSIONS,
    environ: Mapping[str, str] | None = None,
    options: ClientOptions | None = None,
) -> Report:
    """Sign in and probe ``privileges`` (name -> why) and the services the config needs.

    What a config needs is the resource kinds' knowledge, so the caller asks them
    (:meth:`sssctl.engine.registry.Registry.needs`) and hands the answer in.
    """
    report = Report()
    try:
        with open_clients(desired, need_graph=need_graph, need_exchange=need_exchange, environ=environ,
                          options=options) as clients:
            _dataverse_checks(privileges, clients, report)
            _graph_checks(clients, report, graph_permissions)
            _exchange_checks(clients, report)
    except AuthError as exc:
        report.add(Check("sign in", "error", str(exc), exc.remedy or ""))
    except ClientError as exc:
        report.add(_failure("sign in + WhoAmI", exc))
    return report
