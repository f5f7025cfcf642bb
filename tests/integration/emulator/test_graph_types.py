"""Every Graph entity the emulator serves, value by value, against the types Graph declares.

The declared types come from Microsoft's Python Graph SDK models (generated from Graph's
v1.0 metadata), read by ``tests.support.graph_sdk_types``; the emulator's own table
(``sssctl.emulator.graph_types``) must be the same. Each value the emulator returns over
HTTPS must have the declared JSON form: ``Edm.String`` a string, ``Edm.Boolean`` a boolean,
``Edm.Guid`` a string in UUID form, ``Edm.DateTimeOffset`` an ISO 8601 string in UTC
(``Z``), ``Edm.Binary`` base64, an enum one of its members, a complex type an object of its
declared properties, a collection a list. Nullability as the metadata declares it
(``graph_schema.NON_NULLABLE``, an extract of the CSDL: ``id``, ``application.tags``,
``user.birthday``, ...); beyond that the emulator never answers ``null`` for a collection
(``[]`` is valid whether or not the CSDL allows null there).

A write giving a declared property a value of the wrong JSON type is refused with Graph's
``400 Request_BadRequest`` and nothing is written.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import uuid
from typing import Any

import httpx
import pytest

from sssctl.emulator import constants as c
from sssctl.emulator import graph_types
from sssctl.emulator.graph_schema import non_nullable
from tests.support.graph_sdk_types import all_types

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

_SDK_TYPES, _SDK_ENUMS = all_types()
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z$")
_COLLECTION = re.compile(r"^Collection\((?P<item>.+)\)$")


def test_the_emulator_table_is_the_sdk_models() -> None:
    assert graph_types.TYPES == _SDK_TYPES
    assert graph_types.ENUMS == _SDK_ENUMS


def _primitive_error(edm: str, value: Any) -> str | None:
    checks = {
        "Edm.String": lambda v: isinstance(v, str),
        "Edm.Boolean": lambda v: isinstance(v, bool),
        "Edm.Int32": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "Edm.Double": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "Edm.Guid": lambda v: isinstance(v, str) and str(uuid.UUID(v)) == v.lower(),
        "Edm.DateTimeOffset": lambda v: isinstance(v, str) and bool(_DATETIME.match(v))
        and dt.datetime.fromisoformat(v.replace("Z", "+00:00")) is not None,
        "Edm.Date": lambda v: isinstance(v, str) and dt.date.fromisoformat(v) is not None,
        "Edm.Binary": lambda v: isinstance(v, str) and base64.b64decode(v, validate=True) is not None,
    }
    try:
        ok = checks[edm](value) if edm in checks else isinstance(value, str)
    except (ValueError, binascii.Error):
        ok = False
    return None if ok else f"{value!r} is not {edm}"


def type_errors(type_name: str, value: Any, path: str) -> list[str]:
    """What in ``value`` disagrees with ``type_name`` as Graph declares it."""
    collection = _COLLECTION.match(type_name)
    if collection:
        if not isinstance(value, list):
            return [f"{path}: {value!r} is not a collection"]
        errors: list[str] = []
        for n, item in enumerate(value):
            if item is None:
                errors.append(f"{path}[{n}]: null in a collection")
            else:
                errors.extend(type_errors(collection["item"], item, f"{path}[{n}]"))
        return errors
    if type_name.startswith("graph."):
        name = type_name.removeprefix("graph.")
        if name in _SDK_ENUMS:
            members = set(_SDK_ENUMS[name])
            ok = isinstance(value, str) and all(v.strip() in members for v in value.split(","))
            return [] if ok else [f"{path}: {value!r} is not a member of {name}"]
        return object_errors(name, value, path)
    error = _primitive_error(type_name, value)
    return [f"{path}: {error}"] if error else []


def object_errors(type_name: str, value: Any, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: {value!r} is not a {type_name} object"]
    declared = _SDK_TYPES[type_name]
    errors: list[str] = []
    for name, item in value.items():
        if name.startswith("@"):
            continue
        if name not in declared:
            errors.append(f"{path}.{name}: not a declared property of {type_name}")
        elif item is None:
            if non_nullable(type_name, name) or declared[name].startswith("Collection("):
                errors.append(f"{path}.{name}: null, but declared Nullable=false (or a collection)")
        else:
            errors.extend(type_errors(declared[name], item, f"{path}.{name}"))
    return errors


def entity_errors(body: dict[str, Any], type_name: str, path: str) -> list[str]:
    """An entity answer; a directoryObject is typed by its ``@odata.type``."""
    sent = str(body.get("@odata.type") or "").removeprefix("#microsoft.graph.")
    return object_errors(sent or type_name, body, path)


def _app(graph: httpx.Client, name: str) -> dict[str, Any]:
    created = graph.patch(
        f"/applications(uniqueName='{name}')",
        json={"displayName": name},
        headers={"Prefer": "create-if-missing"},
    )
    assert created.status_code == 201, created.text
    app: dict[str, Any] = created.json()
    return app


def _answers(graph: httpx.Client) -> list[tuple[str, dict[str, Any], str]]:
    """Every kind of entity answer the emulator gives, as (type, body, where)."""
    answers: list[tuple[str, dict[str, Any], str]] = []

    def listed(path: str, type_name: str, **params: str) -> list[dict[str, Any]]:
        response = graph.get(path, params=params, headers={"ConsistencyLevel": "eventual"})
        assert response.status_code == 200, (path, response.text)
        items: list[dict[str, Any]] = response.json()["value"]
        answers.extend((type_name, item, f"{path}[{n}]") for n, item in enumerate(items))
        return items

    def one(path: str, type_name: str, **params: str) -> None:
        response = graph.get(path, params=params)
        assert response.status_code == 200, (path, response.text)
        answers.append((type_name, response.json(), path))

    created = _app(graph, "types-walk")
    answers.append(("application", created, "PATCH upsert"))
    secret = graph.post(f"/applications/{created['id']}/addPassword", json={"passwordCredential": {}})
    answers.append(("passwordCredential", secret.json(), "addPassword"))
    fic = {"name": "gh", "issuer": "https://token.actions.githubusercontent.com",
           "subject": "repo:contoso/sss:ref:refs/heads/main", "audiences": ["api://AzureADTokenExchange"]}
    added = graph.post(f"/applications/{created['id']}/federatedIdentityCredentials", json=fic)
    answers.append(("federatedIdentityCredential", added.json(), "POST fic"))
    sp = graph.post("/servicePrincipals", json={"appId": created["appId"]})
    answers.append(("servicePrincipal", sp.json(), "POST servicePrincipals"))

    structural = {  # application.logo is a stream, never inline
        t: ",".join(sorted(set(_SDK_TYPES[t]) - {"logo"})) for t in ("application", "servicePrincipal")
    }
    listed("/applications", "application", **{"$select": structural["application"]})
    listed("/servicePrincipals", "servicePrincipal", **{"$select": structural["servicePrincipal"]})
    one(f"/applications/{created['id']}", "application", **{"$select": structural["application"]})
    for app in listed("/applications", "application"):
        one(f"/applications/{app['id']}", "application")
        credentials = "id,keyCredentials,passwordCredentials"
        one(f"/applications/{app['id']}", "application", **{"$select": credentials})
        listed(f"/applications/{app['id']}/federatedIdentityCredentials", "federatedIdentityCredential")
        listed(f"/applications/{app['id']}/owners", "directoryObject")
    for principal in listed("/servicePrincipals", "servicePrincipal"):
        one(f"/servicePrincipals/{principal['id']}", "servicePrincipal")
        listed(f"/servicePrincipals/{principal['id']}/appRoleAssignments", "appRoleAssignment")
        listed(f"/servicePrincipals/{principal['id']}/appRoleAssignedTo", "appRoleAssignment")
    user_properties = ",".join(sorted(_SDK_TYPES["user"]))
    for user in listed("/users", "user", **{"$select": user_properties}):
        one(f"/users/{user['id']}", "user")
    listed("/users", "user")
    group_properties = ",".join(sorted(_SDK_TYPES["group"]))
    for group in listed("/groups", "group", **{"$select": group_properties}):
        one(f"/groups/{group['id']}", "group")
        listed(f"/groups/{group['id']}/members", "directoryObject")
        listed(f"/groups/{group['id']}/transitiveMembers", "directoryObject")
        listed(f"/groups/{group['id']}/members/microsoft.graph.user", "user")
    return answers


def test_every_served_entity_has_the_declared_types_and_nullability(graph: httpx.Client) -> None:
    answers = _answers(graph)
    served = {type_name for type_name, _, _ in answers}
    assert served >= {
        "application", "servicePrincipal", "appRoleAssignment", "federatedIdentityCredential",
        "passwordCredential", "user", "group", "directoryObject",
    }
    errors = [e for type_name, body, where in answers for e in entity_errors(body, type_name, where)]
    assert errors == []
    typed = {str(b.get("@odata.type")) for t, b, _ in answers if t == "directoryObject"}
    assert typed >= {"#microsoft.graph.user", "#microsoft.graph.servicePrincipal"}


def test_the_walk_itself_catches_a_wrong_type() -> None:
    """The checker is not vacuous: each kind of disagreement is reported."""
    bad = {
        "id": None,
        "displayName": 3,
        "tags": None,
        "isFallbackPublicClient": "true",
        "createdDateTime": "2024-01-01 10:00:00",
        "keyCredentials": [{"keyId": "not-a-guid", "customKeyIdentifier": "%%", "colour": "x"}],
        "api": {"requestedAccessTokenVersion": "2"},
        "nativeAuthenticationApisEnabled": "some",
    }
    flagged = {e.partition(":")[0] for e in object_errors("application", bad, "app")}
    assert flagged == {
        "app.id", "app.displayName", "app.tags", "app.isFallbackPublicClient", "app.createdDateTime",
        "app.keyCredentials[0].keyId", "app.keyCredentials[0].customKeyIdentifier",
        "app.keyCredentials[0].colour", "app.api.requestedAccessTokenVersion",
        "app.nativeAuthenticationApisEnabled",
    }


# --- writes ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"displayName": True}, "Cannot convert the literal 'True' to the expected type 'Edm.String'."),
        ({"isFallbackPublicClient": "yes"},
         "Cannot convert the literal 'yes' to the expected type 'Edm.Boolean'."),
        ({"tags": "one"}, "An unexpected 'PrimitiveValue' node was found when reading from the JSON reader. "
         "A 'StartArray' node was expected."),
        ({"tags": None}, "A null value was found for the property named 'tags', which has the expected type "
         "'Collection(Edm.String)[Nullable=False]'. The expected type "
         "'Collection(Edm.String)[Nullable=False]' does not allow null values."),
        ({"api": "v2"}, "An unexpected 'PrimitiveValue' node was found when reading from the JSON reader. "
         "A 'StartObject' node was expected."),
        ({"displayName": ["x"]},
         "An unexpected 'StartArray' node was found when reading from the JSON reader. "
         "A 'PrimitiveValue' node was expected."),
        ({"api": {"requestedAccessTokenVersion": "2"}},
         "Cannot convert the literal '2' to the expected type 'Edm.Int32'."),
        ({"web": {"redirectUris": ["https://a.test"], "colour": "blue"}},
         "The property 'colour' does not exist on type 'microsoft.graph.webApplication'. Make sure to only "
         "use property names that are defined by the type."),
    ],
)
def test_a_wrongly_typed_write_is_refused_and_nothing_changes(
    graph: httpx.Client, body: dict[str, Any], message: str
) -> None:
    app = _app(graph, "types-write")
    before = graph.get(f"/applications/{app['id']}").json()
    response = graph.patch(f"/applications/{app['id']}", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("Request_BadRequest", message)
    assert graph.get(f"/applications/{app['id']}").json() == before


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("addPassword", {"passwordCredential": {"endDateTime": 5}},
         "Cannot convert the literal '5' to the expected type 'Edm.DateTimeOffset'."),
        ("addPassword", {"passwordCredential": {"endDateTime": "next year"}},
         "Cannot convert the literal 'next year' to the expected type 'Edm.DateTimeOffset'."),
        ("removePassword", {"keyId": "abc"},
         "Cannot convert the literal 'abc' to the expected type 'Edm.Guid'."),
        ("federatedIdentityCredentials", {"name": "gh", "issuer": "https://i.test", "subject": "s",
                                          "audiences": "api://AzureADTokenExchange"},
         "An unexpected 'PrimitiveValue' node was found when reading from the JSON reader. "
         "A 'StartArray' node was expected."),
    ],
)
def test_wrongly_typed_action_and_child_writes_are_refused(
    graph: httpx.Client, path: str, body: dict[str, Any], message: str
) -> None:
    app = _app(graph, "types-action")
    response = graph.post(f"/applications/{app['id']}/{path}", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("Request_BadRequest", message)
    after = graph.get(f"/applications/{app['id']}").json()
    assert after["passwordCredentials"] == []
    assert graph.get(f"/applications/{app['id']}/federatedIdentityCredentials").json()["value"] == []


def test_every_write_path_refuses_an_undeclared_property(graph: httpx.Client) -> None:
    """Not only PATCH of an application: creating a service principal, assigning an app role,
    updating a federated credential and calling an action are read against the same types."""
    app = _app(graph, "types-undeclared")
    fic = graph.post(f"/applications/{app['id']}/federatedIdentityCredentials", json={
        "name": "gh", "issuer": "https://i.test", "subject": "s", "audiences": ["a"]}).json()
    sp = graph.post("/servicePrincipals", json={"appId": app["appId"], "colour": "blue"})
    patched = graph.patch(f"/applications/{app['id']}/federatedIdentityCredentials/{fic['id']}",
                          json={"subject": "t", "colour": "blue"})
    assigned = graph.post(
        f"/servicePrincipals/{c.SSSCTL_SP_OBJECT_ID}/appRoleAssignedTo",
        json={"principalId": c.SSSCTL_SP_OBJECT_ID, "resourceId": c.SSSCTL_SP_OBJECT_ID,
              "appRoleId": str(uuid.UUID(int=0)), "colour": "blue"},
    )
    for response, entity_type in ((sp, "servicePrincipal"), (patched, "federatedIdentityCredential"),
                                  (assigned, "appRoleAssignment")):
        assert response.status_code == 400, response.text
        assert response.json()["error"]["message"].startswith(
            f"The property 'colour' does not exist on type 'microsoft.graph.{entity_type}'.")
    action = graph.post(f"/applications/{app['id']}/addPassword", json={"passwordCredential": {}, "x": 1})
    assert action.status_code == 400
    assert action.json()["error"]["message"] == (
        "The parameter 'x' in the request payload is not a valid parameter for the operation 'addPassword'.")
    kept = graph.get(f"/applications/{app['id']}/federatedIdentityCredentials/{fic['id']}").json()
    assert kept["subject"] == "s"
    same_app = {"$filter": f"appId eq '{app['appId']}'"}
    assert graph.get("/servicePrincipals", params=same_app).json()["value"] == []
    assert graph.get(f"/applications/{app['id']}").json()["passwordCredentials"] == []
