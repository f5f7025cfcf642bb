"""Graph entities on the emulator against Graph's published v1.0 metadata.

The declared property names (``sssctl.emulator.graph_schema``) are compared with the
generated models of Microsoft's Python Graph SDK, which are built from that metadata; the
emulator's answers are then held to them: only declared properties come back, ``$select``
of an undeclared one is refused, a projection is named in ``@odata.context``, and a write
naming an undeclared property gets a 400 that names it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sssctl.emulator.graph_schema import DECLARED

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def _sdk_properties(entity_type: str) -> set[str]:
    from msgraph.generated.models.app_role_assignment import AppRoleAssignment
    from msgraph.generated.models.application import Application
    from msgraph.generated.models.federated_identity_credential import FederatedIdentityCredential
    from msgraph.generated.models.group import Group
    from msgraph.generated.models.service_principal import ServicePrincipal
    from msgraph.generated.models.user import User

    model: Any = {
        "application": Application,
        "servicePrincipal": ServicePrincipal,
        "federatedIdentityCredential": FederatedIdentityCredential,
        "appRoleAssignment": AppRoleAssignment,
        "user": User,
        "group": Group,
    }[entity_type]
    return {k for k in model().get_field_deserializers() if not k.startswith("@")}


@pytest.mark.parametrize("entity_type", sorted(DECLARED))
def test_declared_properties_are_the_sdk_models(entity_type: str) -> None:
    assert DECLARED[entity_type] == _sdk_properties(entity_type)


def _app(graph: httpx.Client, name: str) -> dict[str, Any]:
    created = graph.patch(
        f"/applications(uniqueName='{name}')",
        json={"displayName": name},
        headers={"Prefer": "create-if-missing"},
    )
    assert created.status_code == 201
    app: dict[str, Any] = created.json()
    return app


def _undeclared(body: dict[str, Any], entity_type: str) -> set[str]:
    return {k for k in body if not k.startswith("@") and k not in DECLARED[entity_type]}


def test_only_declared_properties_come_back(graph: httpx.Client) -> None:
    app = _app(graph, "schema-read")
    assert _undeclared(graph.get(f"/applications/{app['id']}").json(), "application") == set()
    fic = {"name": "gh", "issuer": "https://token.actions.githubusercontent.com",
           "subject": "repo:contoso/sss:ref:refs/heads/main", "audiences": ["api://AzureADTokenExchange"]}
    added = graph.post(f"/applications/{app['id']}/federatedIdentityCredentials", json=fic)
    assert added.status_code == 201
    assert _undeclared(added.json(), "federatedIdentityCredential") == set()
    sp = graph.post("/servicePrincipals", json={"appId": app["appId"]})
    assert sp.status_code == 201
    assert _undeclared(graph.get(f"/servicePrincipals/{sp.json()['id']}").json(), "servicePrincipal") == set()
    for path, entity_type in (("/applications", "application"), ("/servicePrincipals", "servicePrincipal")):
        for item in graph.get(path).json()["value"]:
            assert _undeclared(item, entity_type) == set(), item.get("displayName")


@pytest.mark.parametrize(
    ("path", "entity_type"),
    [("/applications", "application"), ("/servicePrincipals", "servicePrincipal")],
)
def test_select_of_an_undeclared_property_is_refused(
    graph: httpx.Client, path: str, entity_type: str
) -> None:
    response = graph.get(path, params={"$select": "displayName,notAProperty"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "BadRequest"
    assert error["message"] == (
        "Parsing OData Select and Expand failed: Could not find a property named 'notAProperty' on type "
        f"'microsoft.graph.{entity_type}'."
    )


def test_a_projection_is_named_in_the_context(graph: httpx.Client) -> None:
    app = _app(graph, "schema-select")
    listed = graph.get("/applications", params={"$select": "displayName"}).json()
    assert listed["@odata.context"].endswith("/$metadata#applications(displayName)")
    assert all(set(item) <= {"displayName", "id"} for item in listed["value"])
    one = graph.get(f"/applications/{app['id']}", params={"$select": "displayName,appId"}).json()
    assert one["@odata.context"].endswith("/$metadata#applications(displayName,appId)/$entity")
    plain = graph.get(f"/applications/{app['id']}").json()
    assert plain["@odata.context"].endswith("/$metadata#applications/$entity")


@pytest.mark.parametrize(
    ("write", "entity_type"),
    [("patch-app", "application"), ("post-fic", "federatedIdentityCredential")],
)
def test_a_write_naming_an_undeclared_property_is_refused(
    graph: httpx.Client, write: str, entity_type: str
) -> None:
    app = _app(graph, f"schema-{write}")
    if write == "patch-app":
        response = graph.patch(f"/applications/{app['id']}", json={"displayName": "x", "colour": "blue"})
    else:
        body = {"name": "gh", "issuer": "https://issuer.test", "subject": "s", "audiences": ["a"]}
        body["colour"] = "blue"
        response = graph.post(f"/applications/{app['id']}/federatedIdentityCredentials", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "Request_BadRequest"
    assert error["message"].startswith(
        f"The property 'colour' does not exist on type 'microsoft.graph.{entity_type}'."
    )
    after = graph.get(f"/applications/{app['id']}").json()
    assert after["displayName"] == f"schema-{write}"
    assert graph.get(f"/applications/{app['id']}/federatedIdentityCredentials").json()["value"] == []
