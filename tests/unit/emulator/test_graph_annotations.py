"""How Graph writes treat OData control information and instance annotations."""

from __future__ import annotations

import pytest

from sssctl.emulator.graph import GraphError, _without_annotations


def test_matching_odata_type_and_annotations_are_dropped_at_every_level() -> None:
    body = {
        "@odata.type": "#microsoft.graph.application",
        "displayName": "x",
        "displayName@odata.type": "#String",
        "requiredResourceAccess": [
            {"@odata.type": "#microsoft.graph.requiredResourceAccess", "resourceAppId": "r", "@ns.term": 1}
        ],
    }
    assert _without_annotations(body, "application") == {
        "displayName": "x",
        "requiredResourceAccess": [{"resourceAppId": "r"}],
    }


def test_a_bind_is_kept_so_an_unsupported_reference_is_refused_not_ignored() -> None:
    assert _without_annotations({"owners@odata.bind": ["u"]}, "application") == {"owners@odata.bind": ["u"]}


def test_another_known_type_is_not_assignable() -> None:
    with pytest.raises(GraphError) as raised:
        _without_annotations({"@odata.type": "#microsoft.graph.user"}, "servicePrincipal")
    assert raised.value.status == 400 and raised.value.code == "Request_BadRequest"
    assert "not assignable to the expected type 'microsoft.graph.servicePrincipal'" in raised.value.message


@pytest.mark.parametrize(
    "name", ["#Microsoft.DirectoryServices.application", "#microsoft.graph.nonsense", ""]
)
def test_an_unknown_type_name_cannot_be_resolved(name: str) -> None:
    with pytest.raises(GraphError) as raised:
        _without_annotations({"@odata.type": name}, "application")
    assert "could not be resolved by the model" in raised.value.message
