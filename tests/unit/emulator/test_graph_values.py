"""A Graph write's values against the declared types (``graph_values``), without a server."""

from __future__ import annotations

from typing import Any

import pytest

from sssctl.emulator.graph_query import GraphError
from sssctl.emulator.graph_values import check_write

_UNEXPECTED = "An unexpected '{}' node was found when reading from the JSON reader. A '{}' node was expected."


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"displayName": "x", "tags": [], "isFallbackPublicClient": None, "description": None},
        {"api": {"requestedAccessTokenVersion": 2, "oauth2PermissionScopes": []}},
        {"keyCredentials": [{"keyId": "5f0c2f7e-7c58-4d0e-9e4e-2f0c1b9a8a11", "key": "QUJD",
                             "endDateTime": "2030-01-01T00:00:00Z", "type": "AsymmetricX509Cert"}]},
        {"requiredResourceAccess": [{"resourceAppId": "00000003-0000-0000-c000-000000000000",
                                     "resourceAccess": [{"id": "5f0c2f7e-7c58-4d0e-9e4e-2f0c1b9a8a11",
                                                         "type": "Role"}]}]},
        {"owners@odata.bind": ["https://graph.microsoft.com/v1.0/directoryObjects/x"]},
    ],
)
def test_well_typed_application_writes_pass(body: dict[str, Any]) -> None:
    check_write("application", body)


@pytest.mark.parametrize(
    ("type_name", "body", "message"),
    [
        ("application", {"displayName": 1},
         "Cannot convert the literal '1' to the expected type 'Edm.String'."),
        ("application", {"isFallbackPublicClient": False, "displayName": False},
         "Cannot convert the literal 'False' to the expected type 'Edm.String'."),
        ("application", {"identifierUris": {"a": 1}}, _UNEXPECTED.format("StartObject", "StartArray")),
        ("application", {"web": ["x"]}, _UNEXPECTED.format("StartArray", "StartObject")),
        ("application", {"keyCredentials": [{"keyId": "1234"}]},
         "Cannot convert the literal '1234' to the expected type 'Edm.Guid'."),
        ("application", {"keyCredentials": [{"key": "not base64!"}]},
         "Cannot convert the literal 'not base64!' to the expected type 'Edm.Binary'."),
        ("application", {"api": {"requestedAccessTokenVersion": True}},
         "Cannot convert the literal 'True' to the expected type 'Edm.Int32'."),
        ("application", {"colour": "blue"},
         "The property 'colour' does not exist on type 'microsoft.graph.application'. Make sure to only use "
         "property names that are defined by the type."),
        ("servicePrincipal", {"accountEnabled": "false"},
         "Cannot convert the literal 'false' to the expected type 'Edm.Boolean'."),
        ("appRoleAssignment", {"principalId": "me"},
         "Cannot convert the literal 'me' to the expected type 'Edm.Guid'."),
        ("addPassword", {"passwordCredential": {"displayName": "x", "colour": 1}},
         "The property 'colour' does not exist on type 'microsoft.graph.passwordCredential'. "
         "Make sure to only use property names that are defined by the type."),
        ("addPassword", {"secret": "x"},
         "The parameter 'secret' in the request payload is not a valid parameter for the operation "
         "'addPassword'."),
        ("removePassword", {"keyId": None}, None),
    ],
)
def test_wrong_values_get_the_readers_error(
    type_name: str, body: dict[str, Any], message: str | None
) -> None:
    if message is None:
        check_write(type_name, body)  # a nullable property may be null
        return
    with pytest.raises(GraphError) as caught:
        check_write(type_name, body)
    error = caught.value
    assert (error.status, error.code, error.message) == (400, "Request_BadRequest", message)


def test_null_is_refused_only_where_the_metadata_says_not_nullable() -> None:
    with pytest.raises(GraphError) as caught:
        check_write("application", {"identifierUris": None})
    assert caught.value.message.startswith(
        "A null value was found for the property named 'identifierUris', which has the expected type "
        "'Collection(Edm.String)[Nullable=False]'."
    )
    with pytest.raises(GraphError):
        check_write("appRoleAssignment", {"appRoleId": None})
    check_write("application", {"description": None, "api": None})


def test_segments_without_a_declared_type_are_not_checked() -> None:
    check_write(None, {"anything": 1})
    check_write("owners", {"anything": 1})
