"""The JSON types Graph v1.0 declares, read from Microsoft's Python Graph SDK (``msgraph-sdk``).

The SDK's models are generated from Graph's published metadata (the CSDL); each model's
``get_field_deserializers()`` maps a JSON property name to a function that asks a Kiota
``ParseNode`` for a value of the declared type. Calling those functions with a node that
records what it was asked for recovers the declared type without hand-writing a table:
``get_bool_value`` is ``Edm.Boolean``, ``get_uuid_value`` ``Edm.Guid``,
``get_collection_of_object_values(AppRole)`` ``Collection(graph.appRole)``, and so on.
Navigation properties (values whose model derives from ``entity``) are left out: Graph
never returns them inline without ``$expand`` and a write sets them only by reference.

Run as a script to print the table ``sssctl.emulator.graph_types`` carries.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

_PRIMITIVES = {
    "get_str_value": "Edm.String",
    "get_bool_value": "Edm.Boolean",
    "get_int_value": "Edm.Int32",
    "get_float_value": "Edm.Double",
    "get_uuid_value": "Edm.Guid",
    "get_datetime_value": "Edm.DateTimeOffset",
    "get_date_value": "Edm.Date",
    "get_time_value": "Edm.TimeOfDay",
    "get_timedelta_value": "Edm.Duration",
    "get_bytes_value": "Edm.Binary",
}
_PYTHON_PRIMITIVES = {
    str: "Edm.String",
    bool: "Edm.Boolean",
    int: "Edm.Int32",
    float: "Edm.Double",
    uuid.UUID: "Edm.Guid",
    dt.datetime: "Edm.DateTimeOffset",
    dt.date: "Edm.Date",
}


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


class _Recorder:
    """A ParseNode that remembers which typed getter a deserializer called."""

    def __init__(self) -> None:
        self.call: tuple[str, tuple[Any, ...]] | None = None

    def __getattr__(self, name: str) -> Any:
        def record(*args: Any) -> None:
            self.call = (name, args)

        return record


def _entity_base() -> type:
    from msgraph.generated.models.entity import Entity

    return Entity


def property_types(
    model: type,
) -> tuple[dict[str, str], list[type], dict[str, tuple[str, ...]]]:
    """The model's structural properties with their declared types, the complex models
    they reach, and the members of the enums they use."""
    entity = _entity_base()
    types: dict[str, str] = {}
    reached: list[type] = []
    enums: dict[str, tuple[str, ...]] = {}
    for name, deserialize in model().get_field_deserializers().items():
        if name.startswith("@"):
            continue
        node = _Recorder()
        deserialize(node)
        assert node.call is not None, name
        getter, args = node.call
        if getter in _PRIMITIVES:
            types[name] = _PRIMITIVES[getter]
        elif getter == "get_collection_of_primitive_values":
            types[name] = f"Collection({_PYTHON_PRIMITIVES[args[0]]})"
        elif getter in ("get_enum_value", "get_collection_of_enum_values"):
            enum_type: type[enum.Enum] = args[0]
            enums[_camel(enum_type.__name__)] = tuple(str(m.value) for m in enum_type)
            types[name] = f"graph.{_camel(enum_type.__name__)}"  # a flags enum is one comma-joined string
        elif getter in ("get_object_value", "get_collection_of_object_values"):
            target: type = args[0]
            if issubclass(target, entity):
                continue  # a navigation property
            reached.append(target)
            named = f"graph.{_camel(target.__name__)}"
            types[name] = f"Collection({named})" if getter.startswith("get_collection") else named
        else:
            raise AssertionError(f"{model.__name__}.{name}: unknown getter {getter}")
    return types, reached, enums


def roots() -> dict[str, type]:
    """The types the emulator serves or accepts, by Graph's name (actions by their own)."""
    from msgraph.generated.applications.item.add_password.add_password_post_request_body import (
        AddPasswordPostRequestBody,
    )
    from msgraph.generated.applications.item.remove_password.remove_password_post_request_body import (
        RemovePasswordPostRequestBody,
    )
    from msgraph.generated.models.app_role_assignment import AppRoleAssignment
    from msgraph.generated.models.application import Application
    from msgraph.generated.models.directory_object import DirectoryObject
    from msgraph.generated.models.federated_identity_credential import FederatedIdentityCredential
    from msgraph.generated.models.group import Group
    from msgraph.generated.models.service_principal import ServicePrincipal
    from msgraph.generated.models.user import User

    return {
        "application": Application,
        "servicePrincipal": ServicePrincipal,
        "appRoleAssignment": AppRoleAssignment,
        "federatedIdentityCredential": FederatedIdentityCredential,
        "user": User,
        "group": Group,
        "directoryObject": DirectoryObject,
        "addPassword": AddPasswordPostRequestBody,
        "removePassword": RemovePasswordPostRequestBody,
    }


def all_types() -> tuple[dict[str, dict[str, str]], dict[str, tuple[str, ...]]]:
    """Every served type and every complex type it reaches, with the enums they use."""
    out: dict[str, dict[str, str]] = {}
    enums: dict[str, tuple[str, ...]] = {}
    pending: list[tuple[str, type]] = list(roots().items())
    while pending:
        name, model = pending.pop(0)
        if name in out:
            continue
        types, reached, used = property_types(model)
        out[name] = types
        enums.update(used)
        pending.extend((_camel(m.__name__), m) for m in reached)
    return dict(sorted(out.items())), dict(sorted(enums.items()))


_HEADER = '''"""The JSON types Microsoft Graph v1.0 declares for what the emulator serves and accepts.

Generated from the models of Microsoft's Python Graph SDK (``msgraph-sdk``), which are built
from Graph's published v1.0 metadata (https://graph.microsoft.com/v1.0/$metadata), by
``python -m tests.support.graph_sdk_types``; ``tests/integration/emulator/test_graph_types.py``
re-derives it from the installed SDK, so the two cannot drift apart unnoticed. Do not edit by
hand: regenerate.

``TYPES`` maps each served entity type (``application``, ``servicePrincipal``, ...), each
action's parameters (``addPassword``, ``removePassword``) and every complex type they reach
to its structural properties: ``Edm.*`` primitives, ``graph.<name>`` complex or enum types,
``Collection(...)``. Navigation properties are not listed. ``ENUMS`` gives each enum's members.
``Edm.Int32`` stands for any integer (the SDK reads Int32 and Int64 alike).
"""

from __future__ import annotations

'''


if __name__ == "__main__":  # pragma: no cover - regenerates the emulator's table
    import pprint
    import sys

    table, members = all_types()
    sys.stdout.write(_HEADER)
    print("TYPES: dict[str, dict[str, str]] = " + pprint.pformat(table, width=100, sort_dicts=True))
    print("ENUMS: dict[str, tuple[str, ...]] = " + pprint.pformat(members, width=100, sort_dicts=True))
