"""Microsoft Graph v1.0 ``/users`` and ``/groups``, read-only, as a Graph client meets them.

The directory's people (the signed-in administrator and one user object per seeded user
and shared (queue) mailbox) and its mail-enabled groups are listed with their
``members`` and ``transitiveMembers``. Property names are those Graph's v1.0 metadata
declares (``graph_schema``, from the msgraph-sdk models); a list answers each type's
documented default property set unless ``$select`` names others.

Query rules follow "Advanced query capabilities on Microsoft Entra ID objects"
(https://learn.microsoft.com/graph/aad-advanced-queries, section "Error handling for
advanced queries on directory objects"):

* ``/$count`` without ``ConsistencyLevel: eventual`` gets ``400 Request_BadRequest``
  "$count is not currently supported."; ``?$count=true`` without the header is *silently
  ignored* (no ``@odata.count``), as the page says. With the header both count.
* ``$search`` without the header gets ``400 Request_UnsupportedQuery`` "Request with
  $search query parameter only works through MSGraph with a special request header:
  'ConsistencyLevel: eventual'".
* ``ne``, ``not`` and ``endsWith`` need both advanced query parameters (header and
  ``$count=true``); without them ``400 Request_UnsupportedQuery`` "Operator '<op>' is not
  supported because the required parameters might be missing. ...". ``eq`` and
  ``startsWith`` work by default.
* An OData cast on a members list (``/members/microsoft.graph.user``) is served; the page
  lists the cast on *transitive* lists among the advanced-only scenarios, so
  ``/transitiveMembers/microsoft.graph.user`` needs the advanced query parameters too.

Reading needs ``User.Read.All`` / ``Group.Read.All`` / ``GroupMember.Read.All`` or
``Directory.Read.All`` (Graph permissions reference). Writes are not served (501).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from sssctl.emulator import constants as c
from sssctl.emulator import graph_query
from sssctl.emulator.directory import Directory, Recipient
from sssctl.emulator.graph_query import GraphError, _projection, _select, _selection, _skip, _top
from sssctl.emulator.graph_schema import DECLARED
from sssctl.emulator.graph_types import TYPES

PATH = re.compile(
    r"^/v1\.0/(?P<set>users|groups)(?:/(?P<count>\$count)|/(?P<id>[^/$][^/]*)"
    r"(?:/(?P<nav>members|transitiveMembers)(?:/(?P<cast>microsoft\.graph\.(?:user|group)))?"
    r"(?:/(?P<navcount>\$count))?)?)?/?$"
)
_READ = {
    "users": frozenset(
        {"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
    ),
    "groups": frozenset(
        {
            "Group.Read.All",
            "GroupMember.Read.All",
            "Group.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        }
    ),
}
# The properties a list returns by default (the user and group resource pages).
_USER_DEFAULT = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)
_GROUP_DEFAULT = (
    "id",
    "deletedDateTime",
    "classification",
    "createdDateTime",
    "description",
    "displayName",
    "expirationDateTime",
    "groupTypes",
    "isAssignableToRole",
    "mail",
    "mailEnabled",
    "mailNickname",
    "membershipRule",
    "membershipRuleProcessingState",
    "preferredDataLocation",
    "preferredLanguage",
    "proxyAddresses",
    "renewedDateTime",
    "resourceBehaviorOptions",
    "resourceProvisioningOptions",
    "securityEnabled",
    "securityIdentifier",
    "theme",
    "visibility",
)
_FILTERABLE = {
    "users": frozenset({"id", "displayName", "mail", "userPrincipalName", "mailNickname", "accountEnabled"}),
    "groups": frozenset({"id", "displayName", "mail", "mailNickname", "mailEnabled", "securityEnabled"}),
}
_ENDSWITH = frozenset({"mail", "userPrincipalName"})  # endsWith is documented for these (and more)
_CLAUSE = re.compile(
    r"^\s*(?P<not>not\s+)?(?:(?P<fn>startswith|endswith)\(\s*(?P<fprop>\w+)\s*,\s*'(?P<fval>(?:[^']|'')*)'\s*\)"
    r"|(?P<prop>\w+)\s+(?P<op>eq|ne)\s+(?:'(?P<sval>(?:[^']|'')*)'|(?P<bval>true|false|null)"
    r"|(?P<gval>[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})))\s*$",
    re.IGNORECASE,
)
_ADVICE = (
    "is not supported because the required parameters might be missing. Try adding $count=true "
    "query parameter and ConsistencyLevel:eventual header. Refer to "
    "https://aka.ms/graph-docs/advanced-queries for more information"
)
_NAMESPACE = uuid.UUID("8f1d7d0c-5b8a-4c51-9a57-2d0f4a8a3e10")  # stable ids for computed people


class DirectoryQueries:
    """The ``/users`` and ``/groups`` routes over one directory (called under its lock)."""

    def __init__(
        self, directory: Directory, base_url: str, error: Callable[[int, str, str], Exception]
    ) -> None:
        self.directory, self.base_url, self.error = directory, base_url, error

    def handle(self, request: Request, m: re.Match[str], roles: tuple[str, ...] | None) -> Response:
        """Answer one request; ``roles`` is None for a delegated administrator."""
        if request.method != "GET":
            raise self.error(501, "NotImplemented", f"The emulator serves {m['set']} read-only.")
        if roles is not None and not set(roles) & _READ[m["set"]]:
            raise self.error(
                403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
            )
        if m["id"] is None:
            items = self._users() if m["set"] == "users" else [self._group(r) for r in self._groups()]
            kind = m["set"][:-1]
        else:
            item = self._find(m["set"], m["id"])
            if m["nav"] is None:
                return self._one(request, m["set"], item)
            if m["cast"] and m["nav"] == "transitiveMembers" and not graph_query.counted(request):
                raise self.error(400, "Request_UnsupportedQuery", f"OData cast {_ADVICE}")
            items = self._members(item, transitive=m["nav"] == "transitiveMembers")
            if m["cast"]:
                wanted = m["cast"]
                items = [i for i in items if i["@odata.type"] == f"#{wanted}"]
            kind = m["cast"].removeprefix("microsoft.graph.") if m["cast"] else "directoryObject"
        if m["count"] or m["navcount"]:
            graph_query.require_eventual_for_count(request)
            matched = filtered(request, items, _FILTERABLE[m["set"]])
            return PlainTextResponse(str(len(matched)))
        return self._list(request, m, filtered(request, items, _FILTERABLE[m["set"]]), kind)

    # --- the directory's objects ---------------------------------------------------------
    def _users(self) -> list[dict[str, Any]]:
        people = [_user(u, u.get("displayName", "")) for u in self.directory.users.values()]
        for n in range(1, self.directory.user_mailboxes + 1):
            people.append(_mailbox_user(c.user_email(n), f"User {n}", enabled=True))
        for n in range(1, self.directory.queue_mailboxes + 1):
            people.append(_mailbox_user(c.queue_email(n), f"Queue {n}", enabled=False))  # shared mailbox
        return people

    def _groups(self) -> list[Recipient]:
        return [r for r in self.directory.recipients.values() if r.kind.endswith("Group")]

    def _group(self, r: Recipient) -> dict[str, Any]:
        return {
            "@odata.type": "#microsoft.graph.group",
            **dict.fromkeys(_GROUP_DEFAULT),
            "id": r.guid,
            "displayName": r.display_name or r.name,
            "groupTypes": [],
            "mail": r.address,
            "mailEnabled": True,
            "mailNickname": r.name,
            "proxyAddresses": [f"SMTP:{r.address}"],
            "resourceBehaviorOptions": [],
            "resourceProvisioningOptions": [],
            "securityEnabled": r.kind == "MailUniversalSecurityGroup",
        }

    def _find(self, entity_set: str, key: str) -> dict[str, Any]:
        wanted = key.lower()
        if entity_set == "users":
            found = next(
                (u for u in self._users() if wanted in (u["id"], u["userPrincipalName"].lower())), None
            )
        else:
            group = self.directory.recipients.get(wanted) or self.directory.recipients.get(key)
            found = self._group(group) if group is not None and group.kind.endswith("Group") else None
        if found is None:
            raise self.error(
                404,
                "Request_ResourceNotFound",
                f"Resource '{key}' does not exist or one of its queried reference-property objects "
                "are not present.",
            )
        return found

    def _members(self, group: dict[str, Any], *, transitive: bool) -> list[dict[str, Any]]:
        by_address = {u["mail"].lower(): u for u in self._users() if u.get("mail")}
        groups = {r.address.lower(): r for r in self._groups()}
        seen: set[str] = set()
        out: list[dict[str, Any]] = []
        pending = [self.directory.recipients[group["id"]]]
        while pending:
            for address in sorted(pending.pop(0).members):
                key = address.lower()
                if key in seen:
                    continue
                seen.add(key)
                if key in groups:
                    out.append(self._group(groups[key]))
                    if transitive:
                        pending.append(groups[key])
                elif key in by_address:
                    out.append(by_address[key])
        return out

    def _list(
        self, request: Request, m: re.Match[str], items: list[dict[str, Any]], kind: str
    ) -> Response:
        params = request.query_params
        selected = (
            _selection(request, kind) if kind in ("user", "group") else member_selection(request, self.error)
        )
        top, start = _top(params.get("$top")), _skip(params.get("$skiptoken"))
        page = items[start : start + top]
        path = request.url.path.removeprefix(c.GRAPH_PREFIX)
        context = f"{self.base_url}/v1.0/$metadata#{_context(m)}"
        body: dict[str, Any] = {"@odata.context": context + _projection(selected)}
        if graph_query.counted(request):
            body["@odata.count"] = len(items)  # silently ignored without the header [doc]
        body["value"] = [_select(_shown(i, selected), selected) for i in page]
        if start + top < len(items):
            query = {k: v for k, v in params.items() if k != "$skiptoken"}
            query.update({"$top": str(top), "$skiptoken": f"X{start + top}"})
            body["@odata.nextLink"] = f"{self.base_url}{path}?" + urlencode(query)
        return JSONResponse(body)

    def _one(self, request: Request, entity_set: str, item: dict[str, Any]) -> Response:
        selected = _selection(request, entity_set[:-1])
        context = f"{self.base_url}/v1.0/$metadata#{entity_set}{_projection(selected)}/$entity"
        shown = _select(_shown(item, selected), selected)
        shown.pop("@odata.type", None)
        return JSONResponse({"@odata.context": context, **shown})


def _user(data: dict[str, Any], name: str) -> dict[str, Any]:
    upn = str(data.get("userPrincipalName") or "")
    return {
        "@odata.type": "#microsoft.graph.user",
        **dict.fromkeys(_USER_DEFAULT),
        "businessPhones": [],
        "displayName": name,
        "mail": data.get("mail"),
        "userPrincipalName": upn,
        "id": data["id"],
        "accountEnabled": data.get("accountEnabled", True),
        "mailNickname": upn.partition("@")[0],
    }


def _mailbox_user(address: str, name: str, *, enabled: bool) -> dict[str, Any]:
    object_id = str(uuid.uuid5(_NAMESPACE, address))
    return _user(
        {"id": object_id, "userPrincipalName": address, "mail": address, "accountEnabled": enabled}, name
    )


def _shown(item: dict[str, Any], selected: list[str] | None) -> dict[str, Any]:
    """The default properties of the item's type, or the selected ones (null when not set)."""
    kind = item["@odata.type"].removeprefix("#microsoft.graph.")
    if selected and "*" not in selected:
        return {"@odata.type": item["@odata.type"], **{name: _value(item, kind, name) for name in selected}}
    default = _USER_DEFAULT if kind == "user" else _GROUP_DEFAULT
    return {"@odata.type": item["@odata.type"], **{name: _value(item, kind, name) for name in default}}


def _value(item: dict[str, Any], kind: str, name: str) -> Any:
    """A property the emulator does not hold is empty: ``[]`` for a collection, which Graph's
    metadata declares ``Nullable="false"`` (graph_values), ``null`` for anything else."""
    if name in item:
        return item[name]
    if kind == "user" and name in _USER_UNSET:
        return _USER_UNSET[name]
    return [] if TYPES.get(kind, {}).get(name, "").startswith("Collection(") else None


# The user properties the metadata declares Nullable="false" that the directory does not hold:
# Graph answers the DateTimeOffset minimum for an unset birthday / hireDate, and the default
# enrollment limit (https://learn.microsoft.com/graph/api/resources/user: "Allowed values are
# 5 or 1000").
_USER_UNSET: dict[str, Any] = {
    "birthday": "0001-01-01T00:00:00Z",
    "hireDate": "0001-01-01T00:00:00Z",
    "deviceEnrollmentLimit": 5,
}


def member_selection(
    request: Request, error: Callable[[int, str, str], Exception], types: tuple[str, ...] = ("user", "group")
) -> list[str] | None:
    """A list of directory objects: a name any of its derived ``types`` declares may be selected."""
    raw = request.query_params.get("$select")
    names = [s.strip() for s in raw.split(",") if s.strip()] if raw else None
    declared = frozenset().union(*(DECLARED[t] for t in types))
    for name in names or ():
        if name != "*" and name not in declared:
            raise error(
                400,
                "BadRequest",
                "Parsing OData Select and Expand failed: Could not find a property named "
                f"'{name}' on type 'microsoft.graph.directoryObject'.",
            )
    return names



def filtered(
    request: Request, items: list[dict[str, Any]], filterable: frozenset[str]
) -> list[dict[str, Any]]:
    """The items ``$search`` (header required) and ``$filter`` keep, by the advanced query rules:
    ``eq`` and ``startsWith`` by default; ``ne``, ``not`` and ``endsWith`` only with the header
    and ``$count=true``; a property outside ``filterable`` is refused."""
    params = request.query_params
    if params.get("$search") is not None:
        graph_query.require_eventual_for_search(request)
        items = searched(items, params["$search"])
    expression = params.get("$filter")
    if not expression:
        return items
    tests = [_clause(clause, filterable, request) for clause in re.split(r"\s+and\s+", expression)]
    return [i for i in items if all(test(i) for test in tests)]


def _clause(text: str, filterable: frozenset[str], request: Request) -> Callable[[dict[str, Any]], bool]:
    match = _CLAUSE.match(text)
    prop = (match["fprop"] or match["prop"]) if match else None
    if (
        match is None
        or prop not in filterable
        or ((match["fn"] or "").lower() == "endswith" and prop not in _ENDSWITH)
    ):
        raise GraphError(
            400,
            "Request_UnsupportedQuery",
            "Unsupported or invalid query filter clause specified for property "
            f"'{text.strip()}' of resource.",
        )
    operator = (
        "not"
        if match["not"]
        else "endsWith"
        if (match["fn"] or "").lower() == "endswith"
        else ("ne" if (match["op"] or "").lower() == "ne" else None)
    )
    if operator is not None and not graph_query.counted(request):
        raise GraphError(400, "Request_UnsupportedQuery", f"Operator '{operator}' {_ADVICE}")
    negate = bool(match["not"]) != ((match["op"] or "").lower() == "ne")
    if match["fn"]:
        value = match["fval"].replace("''", "'").lower()
        starts = match["fn"].lower() == "startswith"

        def test(item: dict[str, Any]) -> bool:
            text = str(item.get(prop) or "").lower()
            return (text.startswith(value) if starts else text.endswith(value)) != negate

        return test
    literal: Any = (
        match["sval"].replace("''", "'").lower()
        if match["sval"] is not None
        else match["gval"].lower()
        if match["gval"]
        else {"true": True, "false": False, "null": None}[match["bval"].lower()]
    )

    def compare(item: dict[str, Any]) -> bool:
        value = item.get(prop)
        return bool(((value.lower() if isinstance(value, str) else value) == literal) != negate)

    return compare

def searched(items: list[dict[str, Any]], raw: str) -> list[dict[str, Any]]:
    """``$search="property:token"``: a word of the property starts with the token."""
    terms = re.findall(r'"(\w+):([^"]*)"', raw)

    def hit(item: dict[str, Any]) -> bool:
        return all(
            any(
                word.startswith(token.lower())
                for word in re.split(r"[\s@._-]+", str(item.get(p) or "").lower())
            )
            for p, token in terms
        )

    return [i for i in items if hit(i)]


def _context(m: re.Match[str]) -> str:
    if m["nav"] is None:
        return m["set"]
    return m["cast"].removeprefix("microsoft.graph.") + "s" if m["cast"] else "directoryObjects"
