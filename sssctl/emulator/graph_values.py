"""A write's values against the types Graph v1.0 declares (``graph_types``), checked the way
Graph's OData reader checks them, before any handler runs: a refused write changes nothing.

Graph answers a type mismatch with ``400 Request_BadRequest`` and the text of the OData
library that reads the payload (Microsoft.OData.Core):

* a primitive of the wrong kind: "Cannot convert the literal 'True' to the expected type
  'Edm.String'." (as Graph answered it in
  https://github.com/microsoftgraph/msgraph-sdk-powershell/issues/3202; the same text with
  'Edm.DateTime' from the directory in
  https://github.com/Azure-Samples/service-fabric-aad-helpers/issues/5). A JSON boolean is
  quoted as .NET prints it (``True``).
* a value of the wrong shape (an object or array where a primitive belongs, a primitive
  where a collection or complex value belongs): "An unexpected 'StartArray' node was found
  when reading from the JSON reader. A 'PrimitiveValue' node was expected." and its
  variants, and null for a ``Nullable="false"`` property: "A null value was found for the
  property named 'tags', which has the expected type 'Collection(Edm.String)[Nullable=False]'.
  ...". These two texts are Microsoft.OData.Core's resource strings (ODataLib); no capture of
  Graph answering them was found, so they are the closest documented ones.
* a property the entity or complex type does not declare: "The property 'x' does not exist on
  type 'microsoft.graph.application'. Make sure to only use property names that are defined by
  the type." (the directory's text, captured in
  https://github.com/microsoftgraph/microsoft-graph-docs-contrib/issues/7960); an action
  parameter that does not exist: "The parameter 'x' in the request payload is not a valid
  parameter for the operation 'addPassword'." (Microsoft.OData.Core's text).

Null is refused where the metadata declares ``Nullable="false"`` (``graph_schema.NON_NULLABLE``,
e.g. ``application.tags``, ``appRoleAssignment.appRoleId``). Enum members and Int32 vs Int64
ranges are not checked on write.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import uuid
from typing import Any

from sssctl.emulator.graph_query import GraphError
from sssctl.emulator.graph_schema import DECLARED, non_nullable
from sssctl.emulator.graph_types import ENUMS, TYPES

_COLLECTION = re.compile(r"^Collection\((?P<item>.+)\)$")


def check_write(type_name: str | None, body: dict[str, Any]) -> None:
    """Refuse ``body`` if it names a property (or action parameter) ``type_name`` does not
    declare, or gives a declared one a value of the wrong type."""
    if type_name is None or type_name not in TYPES:
        return
    if type_name in DECLARED:
        undeclared = sorted(k for k in body if k not in DECLARED[type_name] and "@" not in k)
        if undeclared:
            raise _undeclared(undeclared[0], type_name)
    else:  # an action's parameters
        unknown = sorted(k for k in body if k not in TYPES[type_name] and "@" not in k)
        if unknown:
            raise _bad(
                f"The parameter '{unknown[0]}' in the request payload is not a valid parameter for "
                f"the operation '{type_name}'."
            )
    _check_object(type_name, body, top=True)


def _undeclared(name: str, type_name: str) -> GraphError:
    return _bad(
        f"The property '{name}' does not exist on type 'microsoft.graph.{type_name}'. "
        "Make sure to only use property names that are defined by the type."
    )


def _bad(message: str) -> GraphError:
    return GraphError(400, "Request_BadRequest", message)


def _node(value: Any) -> str:
    if isinstance(value, list):
        return "StartArray"
    if isinstance(value, dict):
        return "StartObject"
    return "PrimitiveValue"


def _shape(value: Any, expected: str) -> GraphError:
    return _bad(
        f"An unexpected '{_node(value)}' node was found when reading from the JSON reader. "
        f"A '{expected}' node was expected."
    )


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def _check_object(type_name: str, value: Any, *, top: bool = False) -> None:
    if not isinstance(value, dict):
        raise _shape(value, "StartObject")
    declared = TYPES[type_name]
    for name, item in value.items():
        if "@" in name:
            continue
        expected = declared.get(name)
        if expected is None:
            if top:
                continue  # a navigation property: the route refuses what it does not serve
            raise _undeclared(name, type_name)
        if item is None:
            if non_nullable(type_name, name):
                raise _bad(
                    f"A null value was found for the property named '{name}', which has the expected "
                    f"type '{expected}[Nullable=False]'. The expected type '{expected}[Nullable=False]' "
                    "does not allow null values."
                )
            continue
        _check_value(expected, item)


def _check_value(expected: str, value: Any) -> None:
    collection = _COLLECTION.match(expected)
    if collection:
        if not isinstance(value, list):
            raise _shape(value, "StartArray")
        for item in value:
            if item is not None:
                _check_value(collection["item"], item)
        return
    if expected.startswith("graph."):
        name = expected.removeprefix("graph.")
        if name in ENUMS:
            if not isinstance(value, str):
                raise _shape(value, "PrimitiveValue") if isinstance(value, (list, dict)) else _bad(
                    f"Cannot convert the literal '{_literal(value)}' to the expected type "
                    f"'microsoft.graph.{name}'."
                )
            return
        _check_object(name, value)
        return
    if isinstance(value, (list, dict)):
        raise _shape(value, "PrimitiveValue")
    if not _primitive_ok(expected, value):
        raise _bad(f"Cannot convert the literal '{_literal(value)}' to the expected type '{expected}'.")


def _primitive_ok(edm: str, value: Any) -> bool:
    if edm == "Edm.Boolean":
        return isinstance(value, bool)
    if edm == "Edm.Int32":
        return isinstance(value, int) and not isinstance(value, bool)
    if edm == "Edm.Double":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if not isinstance(value, str):
        return False
    try:
        if edm == "Edm.Guid":
            uuid.UUID(value)
            return len(value) == 36
        if edm == "Edm.DateTimeOffset":
            dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return "T" in value
        if edm == "Edm.Date":
            dt.date.fromisoformat(value)
        if edm == "Edm.Binary":
            base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        return False
    return True
