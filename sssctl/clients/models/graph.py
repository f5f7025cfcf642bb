"""Microsoft Graph v1.0 replies sssctl acts on: applications, service principals, app-role
assignments, password credentials.

Shapes from the Graph v1.0 reference: ``application`` (id, appId, displayName,
passwordCredentials, requiredResourceAccess), ``passwordCredential`` (keyId is a Guid;
secretText is returned only by ``addPassword`` and null everywhere else),
``servicePrincipal`` (id, appId, appRoles), ``appRoleAssignment`` (its own id is an opaque
string, not a GUID; principalId, resourceId and appRoleId are Guids). See
https://learn.microsoft.com/graph/api/resources/application,
https://learn.microsoft.com/graph/api/application-addpassword and
https://learn.microsoft.com/graph/api/resources/approleassignment.

:func:`model_for` maps a request (method and path below ``/v1.0/``) to the model of its
answer, so :class:`~sssctl.clients.graph.GraphClient` checks every reply the same way.
"""

from __future__ import annotations

import re

import msgspec

from sssctl.clients.models import UNSET, Guid, NonEmpty, Reply, UnsetType


class PasswordCredential(Reply):
    keyId: Guid
    displayName: str | None = None
    hint: str | None = None
    startDateTime: str | None = None
    endDateTime: str | None = None


class NewPasswordCredential(PasswordCredential, kw_only=True):
    """``addPassword``'s answer: the only time the secret's text is ever returned."""

    secretText: NonEmpty


class ResourceAccess(Reply):
    id: Guid
    type: NonEmpty


class RequiredResourceAccess(Reply):
    resourceAppId: Guid
    resourceAccess: list[ResourceAccess]


class Application(Reply):
    id: Guid
    appId: Guid
    displayName: str | None
    passwordCredentials: list[PasswordCredential]
    requiredResourceAccess: list[RequiredResourceAccess]


class ApplicationId(Reply):
    """A row of ``applications?$select=id`` (the sign-in probe)."""

    id: Guid


class AppRole(Reply):
    id: Guid
    value: str | None = None
    allowedMemberTypes: list[str] = msgspec.field(default_factory=list)
    isEnabled: bool = True

    def __post_init__(self) -> None:
        # An application role is named by its value in configs and plans; one without a
        # value would be written back as the text "None".
        if "Application" in self.allowedMemberTypes and self.isEnabled and not self.value:
            raise ValueError(f"application role {self.id} has no value")


class ServicePrincipal(Reply):
    id: Guid
    appId: Guid
    displayName: str | None = None
    appRoles: list[AppRole] | UnsetType = UNSET


class AppRoleAssignment(Reply):
    id: NonEmpty              # opaque (base64url), not a GUID
    principalId: Guid
    resourceId: Guid
    appRoleId: Guid


_KEY = r"(?:\([^/]*\)|/[^/()]+)"   # applications(uniqueName='x') or applications/<id>
_ROUTES: tuple[tuple[str, re.Pattern[str], type[Reply]], ...] = (
    ("GET", re.compile(rf"^applications{_KEY}$"), Application),
    ("GET", re.compile(r"^applications$"), ApplicationId),
    ("GET", re.compile(rf"^servicePrincipals{_KEY}$"), ServicePrincipal),
    ("GET", re.compile(rf"^servicePrincipals{_KEY}/(?:appRoleAssignments|appRoleAssignedTo)$"),
     AppRoleAssignment),
    ("POST", re.compile(r"^servicePrincipals$"), ServicePrincipal),
    ("POST", re.compile(rf"^servicePrincipals{_KEY}/(?:appRoleAssignedTo|appRoleAssignments)$"),
     AppRoleAssignment),
    ("POST", re.compile(rf"^applications{_KEY}/addPassword$"), NewPasswordCredential),
    # An upsert that created the app answers 201 with it (an update answers 204, no body).
    ("PATCH", re.compile(rf"^applications{_KEY}$"), Application),
)


def model_for(method: str, path: str) -> type[Reply] | None:
    """The model of the answer (of each row, for a collection) to ``method path``, if declared.

    ``path`` is relative to ``/v1.0/`` and may carry a query string.
    """
    bare = path.lstrip("/").split("?", 1)[0]
    for verb, pattern, model in _ROUTES:
        if verb == method and pattern.match(bare):
            return model
    return None
