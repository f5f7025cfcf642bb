"""Dataverse Web API replies sssctl acts on: table rows, function answers, ``$batch`` parts.

Rows are checked column by column against :data:`COLUMNS`, the declared type of every
column sssctl reads (from the Dataverse table reference: the primary keys are
``Edm.Guid`` and never null; lookups come back as ``_<name>_value`` holding a Guid or
null; choice columns are ``Edm.Int32``; ``Two Options`` columns are ``Edm.Boolean``).
Dataverse returns every ``$select``-ed column, null when empty
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/select-columns),
so a selected column missing from a row is a malformed reply too. One Struct per set of
selected columns is built from the table and cached, so a 5,000-row read converts each
row once, in C.

Function answers (``RetrieveRolePrivilegesRole``, ``RetrieveUserPrivileges``: a
``RolePrivileges`` list of ``RolePrivilege`` complex values, PrivilegeId a Guid, Depth a
``PrivilegeDepth`` member by name or number) and ``WhoAmI`` have declared models too.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from sssctl.clients.errors import MalformedReply
from sssctl.clients.models import UNSET, Guid, NonEmpty, Reply, UnsetType, check, in_words

_PRIMARY_KEYS = ("mailboxid", "emailserverprofileid", "organizationid", "roleid", "privilegeid",
                 "businessunitid", "systemuserid", "queueid")
_LOOKUP = re.compile(r"^_[a-z0-9_]+_value$")

COLUMNS: dict[str, Any] = {
    **{key: Guid for key in _PRIMARY_KEYS},
    # text
    "emailaddress": str | None,
    "name": str | None,
    "domainname": str | None,
    "oauthclientid": str | None,
    "exchangeonlinetenantid": str | None,
    "orgdborgsettings": str | None,
    "defaultemailsettings": str | None,
    # choices the table requires (never null)
    "statecode": int,
    "incomingemaildeliverymethod": int,
    "outgoingemaildeliverymethod": int,
    "actdeliverymethod": int,
    "emailrouteraccessapproval": int,
    "mailboxstatus": int,
    "incomingemailfilteringmethod": int,
    "privilegedepthmask": int,
    "incomingcredentialretrieval": int,
    "outgoingcredentialretrieval": int,
    # choices that may be empty
    "incomingauthenticationprotocol": int | None,
    "outgoingauthenticationprotocol": int | None,
    # two options
    "isoauthclientsecretset": bool,
    "usedefaulttenantid": bool,
    "requireapprovalforuseremail": bool,
    "requireapprovalforqueueemail": bool,
    # the row version If-Match sends back
    "@odata.etag": NonEmpty,
}


def column_type(column: str) -> Any:
    """The declared type of ``column``; an undeclared one may hold anything but must be present."""
    if column in COLUMNS:
        return COLUMNS[column]
    if _LOOKUP.match(column):
        return Guid | None
    return Any


@functools.lru_cache(maxsize=256)
def row_model(selected: frozenset[str]) -> type[msgspec.Struct]:
    """A Struct whose selected columns are required, every other declared column optional."""
    wire: dict[str, str] = {}       # attribute name -> column name ("@odata.etag" is no identifier)

    def attribute(column: str) -> str:
        name = f"c{len(wire)}"
        wire[name] = column
        return name

    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = [
        (attribute(column), column_type(column)) for column in sorted(selected)
    ]
    fields += [(attribute(column), kind | UnsetType, UNSET) for column, kind in COLUMNS.items()
               if column not in selected]
    return msgspec.defstruct("Row", fields, bases=(Reply,), rename=wire, forbid_unknown_fields=False)


def check_row_page(rows: Sequence[Any], selected: Iterable[str] | None, *, call: str) -> None:
    """Each row of a page against the model of its ``$select`` (the page fails as a whole)."""
    model = row_model(frozenset(selected or ()))
    for index, row in enumerate(rows):
        try:
            msgspec.convert(row, model, strict=True)
        except msgspec.ValidationError as exc:
            raise _malformed(f"row {index + 1} of the answer to {call}", exc) from exc


def check_row(row: Any, selected: Iterable[str] | None, *, call: str) -> None:
    try:
        msgspec.convert(row, row_model(frozenset(selected or ())), strict=True)
    except msgspec.ValidationError as exc:
        raise _malformed(f"the answer to {call}", exc) from exc


def _malformed(what: str, exc: msgspec.ValidationError) -> MalformedReply:
    return MalformedReply(f"dataverse: {what} does not have the documented shape: {in_words(str(exc))}; "
                          "it was not used", service="dataverse")


# -- functions and actions ---------------------------------------------------------------------
DEPTHS = ("Basic", "Local", "Deep", "Global", "RecordFilter")


class RolePrivilege(Reply):
    PrivilegeId: Guid
    Depth: str | int
    PrivilegeName: str | None = None
    BusinessUnitId: Guid | None = None

    def __post_init__(self) -> None:
        known = (isinstance(self.Depth, int) and 0 <= self.Depth < len(DEPTHS)) or self.Depth in DEPTHS
        if not known:
            raise ValueError(f"Depth {self.Depth!r} is not a PrivilegeDepth member")


class RolePrivileges(Reply):
    RolePrivileges: list[RolePrivilege]


class WhoAmIResponse(Reply):
    UserId: Guid
    BusinessUnitId: Guid
    OrganizationId: Guid


FUNCTIONS: dict[str, type[Reply]] = {
    "RetrieveRolePrivilegesRole": RolePrivileges,
    "RetrieveUserPrivileges": RolePrivileges,
    "WhoAmI": WhoAmIResponse,
}


def check_function(name: str, answer: Any) -> None:
    """A function's answer against its declared model, when it has one."""
    model = FUNCTIONS.get(name)
    if model is not None:
        check(answer, model, service="dataverse", call=name)


# -- $batch ------------------------------------------------------------------------------------
def batch_status_ok(status: int) -> bool:
    """A part's status line must carry an HTTP status; anything else is not an answer."""
    return 100 <= status <= 599
