"""``EntityDefinitions``: the table and column metadata generic clients read before writing.

Only the slice clients use is served: table definitions (by ``LogicalName`` key or
MetadataId, or filtered), their ``Attributes``, and the ``PicklistAttributeMetadata``,
``StateAttributeMetadata`` and ``StatusAttributeMetadata`` casts with ``OptionSet``
options, which SDKs read to turn option labels into values. Attributes carry the
reference pages' AttributeType (State, Status, Owner and Memo included), MaxLength and
MinValue/MaxValue where the schema records them; ``tests/schemas/dataverse-reference.json``
holds what the pages say and a test compares. Metadata has no ETags and no paging, as in
the real service.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from .errors import DataverseFault, bad_request, no_property, no_segment
from .odata_filter import compile_filter
from .schema import (
    BIGINT,
    BOOL,
    DATETIME,
    GUID,
    INT,
    LOOKUP,
    MANAGED,
    PICKLIST,
    STRING,
    TABLES,
    Column,
    Table,
)

SCHEMA_NAMES = {
    "organization": "Organization",
    "mailbox": "Mailbox",
    "emailserverprofile": "EmailServerProfile",
    "role": "Role",
    "privilege": "Privilege",
    "businessunit": "BusinessUnit",
    "systemuser": "SystemUser",
    "queue": "Queue",
    "usersettings": "UserSettings",
    "roleprivileges": "RolePrivileges",
    "email": "Email",
    "activityparty": "ActivityParty",
}
ENTITY_COLUMNS = {
    "LogicalName": "string",
    "SchemaName": "string",
    "EntitySetName": "string",
    "PrimaryIdAttribute": "string",
    "PrimaryNameAttribute": "string",
    "MetadataId": "guid",
    "ObjectTypeCode": "int",
    "IsOptimisticConcurrencyEnabled": "bool",
}
ATTRIBUTE_COLUMNS = {
    "LogicalName": "string",
    "SchemaName": "string",
    "AttributeType": "string",
    "MetadataId": "guid",
    "IsValidForCreate": "bool",
    "IsValidForUpdate": "bool",
    "IsValidForRead": "bool",
}
_ATTRIBUTE_TYPES = {
    STRING: ("String", "StringAttributeMetadata"),
    INT: ("Integer", "IntegerAttributeMetadata"),
    BIGINT: ("BigInt", "BigIntAttributeMetadata"),
    BOOL: ("Boolean", "BooleanAttributeMetadata"),
    GUID: ("Uniqueidentifier", "UniqueIdentifierAttributeMetadata"),
    DATETIME: ("DateTime", "DateTimeAttributeMetadata"),
    PICKLIST: ("Picklist", "PicklistAttributeMetadata"),
    LOOKUP: ("Lookup", "LookupAttributeMetadata"),
    MANAGED: ("ManagedProperty", "ManagedPropertyAttributeMetadata"),
}
PICKLIST_CAST = "Microsoft.Dynamics.CRM.PicklistAttributeMetadata"
# Reference AttributeTypes that replace a kind's plain one, with their metadata class. State
# and Status columns have their own option-set casts; an Owner column is a lookup.
_TYPE_OVERRIDES = {
    "State": "StateAttributeMetadata",
    "Status": "StatusAttributeMetadata",
    "Owner": "LookupAttributeMetadata",
    "Memo": "MemoAttributeMetadata",
}
OPTION_CASTS = {
    PICKLIST_CAST: "Picklist",
    "Microsoft.Dynamics.CRM.StateAttributeMetadata": "State",
    "Microsoft.Dynamics.CRM.StatusAttributeMetadata": "Status",
}


def _metadata_id(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "dataverse:" + ":".join(parts)))


def definition(table: Table) -> dict[str, Any]:
    return {
        "LogicalName": table.logical,
        "SchemaName": SCHEMA_NAMES[table.logical],
        "EntitySetName": table.entity_set,
        "PrimaryIdAttribute": table.pk,
        "PrimaryNameAttribute": table.primary_name,
        "ObjectTypeCode": table.otc,
        "IsOptimisticConcurrencyEnabled": True,
        "MetadataId": _metadata_id("entity", table.logical),
    }


def attribute_type(column: Column) -> str:
    """The column's ``AttributeType`` as the table reference names it."""
    return column.attribute_type or _ATTRIBUTE_TYPES[column.kind][0]


def attribute(table: Table, column: Column) -> dict[str, Any]:
    kind_type, odata_type = _ATTRIBUTE_TYPES[column.kind]
    attribute_type = column.attribute_type or kind_type
    odata_type = _TYPE_OVERRIDES.get(attribute_type, odata_type)
    limits: dict[str, Any] = {}
    if column.max_length is not None:
        limits["MaxLength"] = column.max_length
    if column.min_value is not None:
        limits["MinValue"] = column.min_value
    if column.max_value is not None:
        limits["MaxValue"] = column.max_value
    return {
        "@odata.type": f"#Microsoft.Dynamics.CRM.{odata_type}",
        "LogicalName": column.name,
        "SchemaName": column.name,
        "AttributeType": attribute_type,
        "MetadataId": _metadata_id("attribute", table.logical, column.name),
        "IsValidForCreate": not column.readonly and not column.updateonly,
        "IsValidForUpdate": not column.readonly and not column.createonly,
        "IsValidForRead": not column.writeonly,
        **limits,
    }


def option_set(column: Column) -> dict[str, Any]:
    options = []
    for value, label in (column.options or {}).items():
        localized = {"Label": label, "LanguageCode": 1033}
        options.append(
            {"Value": value, "Label": {"LocalizedLabels": [localized], "UserLocalizedLabel": localized}}
        )
    return {"Name": column.name, "OptionSetType": attribute_type(column), "Options": options}


def find_table(key: str) -> Table:
    match = re.fullmatch(r"\s*LogicalName\s*=\s*'([^']*)'\s*", key)
    for table in TABLES.values():
        if (match and table.logical == match.group(1)) or (
            not match and definition(table)["MetadataId"] == key
        ):
            return table
    raise DataverseFault(404, "0x80040217", f"Could not find entity with key '{key}'.")


def select_names(value: str | None, columns: dict[str, str], logical: str) -> list[str] | None:
    if value is None:
        return None
    names = [n.strip() for n in value.split(",") if n.strip()]
    for name in names:
        if name not in columns:
            raise no_property(name, logical)
    return names


def pick(row: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    if select is None:
        return dict(row)
    return {k: row[k] for k in ["@odata.type", *select, "MetadataId"] if k in row}


def _ctx(select: list[str] | None) -> str:
    return f"({','.join(select)})" if select else ""


def entity_definitions(
    api: str, key: str | None, rest: list[str], params: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    """Answer ``GET EntityDefinitions…``; ``rest`` holds the segments after the first."""
    if rest:
        if key is None or rest[0] != "Attributes":
            raise no_segment(rest[0])
        return 200, _attributes(api, find_table(key), rest[1:], params)
    select = select_names(params.get("$select"), ENTITY_COLUMNS, "EntityMetadata")
    if key is not None:
        found = definition(find_table(key))
        return 200, {
            "@odata.context": f"{api}/$metadata#EntityDefinitions{_ctx(select)}/$entity",
            **pick(found, select),
        }
    rows = [definition(t) for t in TABLES.values()]
    if params.get("$filter"):
        predicate = compile_filter(params["$filter"], ENTITY_COLUMNS, "EntityMetadata")
        rows = [r for r in rows if predicate(r)]
    return 200, {
        "@odata.context": f"{api}/$metadata#EntityDefinitions{_ctx(select)}",
        "value": [pick(r, select) for r in rows],
    }


def _attributes(api: str, table: Table, rest: list[str], params: dict[str, str]) -> dict[str, Any]:
    columns = table.columns
    picklists_only = False
    if rest:
        if len(rest) != 1 or rest[0] not in OPTION_CASTS:
            raise no_segment(rest[0])
        picklists_only = True
        columns = [c for c in columns if c.kind == PICKLIST and attribute_type(c) == OPTION_CASTS[rest[0]]]
    select = select_names(params.get("$select"), ATTRIBUTE_COLUMNS, "AttributeMetadata")
    expand = params.get("$expand")
    with_options = False
    if expand:
        if not picklists_only or not re.fullmatch(
            r"OptionSet(\(\$select=Options\))?", expand.replace(" ", "")
        ):
            raise bad_request(f"The $expand '{expand}' is not supported on these attributes.")
        with_options = True
    rows = [attribute(table, c) for c in columns]
    if params.get("$filter"):
        predicate = compile_filter(params["$filter"], ATTRIBUTE_COLUMNS, "AttributeMetadata")
        keep = [predicate(r) for r in rows]
        columns = [c for c, k in zip(columns, keep, strict=True) if k]
        rows = [r for r, k in zip(rows, keep, strict=True) if k]
    value = []
    for column, row in zip(columns, rows, strict=True):
        item = pick(row, select)
        if with_options:
            item["OptionSet"] = option_set(column)
        value.append(item)
    cast = f"/{rest[0]}" if picklists_only else ""
    context = f"{api}/$metadata#EntityDefinitions('{table.logical}')/Attributes{cast}{_ctx(select)}"
    return {"@odata.context": context, "value": value}


# -- $metadata (CSDL) --------------------------------------------------------------------------

_EDM = {
    STRING: "Edm.String",
    INT: "Edm.Int32",
    BIGINT: "Edm.Int64",
    BOOL: "Edm.Boolean",
    GUID: "Edm.Guid",
    DATETIME: "Edm.DateTimeOffset",
    PICKLIST: "Edm.Int32",
    LOOKUP: "Edm.Guid",
    MANAGED: "mscrm.BooleanManagedProperty",
}
_PRIVILEGE_ROW = {
    "BusinessUnitId": "Edm.Guid",
    "Depth": "mscrm.PrivilegeDepth",
    "PrivilegeId": "Edm.Guid",
    "PrivilegeName": "Edm.String",
    "RecordFilterId": "Edm.Guid",
    "RecordFilterUniqueName": "Edm.String",
}
_COMPLEX_TYPES = {
    "BooleanManagedProperty": {
        "Value": "Edm.Boolean",
        "CanBeChanged": "Edm.Boolean",
        "ManagedPropertyLogicalName": "Edm.String",
    },
    "WhoAmIResponse": {"BusinessUnitId": "Edm.Guid", "UserId": "Edm.Guid", "OrganizationId": "Edm.Guid"},
    "RolePrivilege": _PRIVILEGE_ROW,
    "RetrieveRolePrivilegesRoleResponse": {"RolePrivileges": "Collection(mscrm.RolePrivilege)"},
    "RetrieveUserPrivilegesResponse": {"RolePrivileges": "Collection(mscrm.RolePrivilege)"},
}
# Collection-valued (N:N) navigation properties: (table, navigation) -> target table.
MANY_TO_MANY = {
    ("role", "roleprivileges_association"): "privilege",
    ("privilege", "roleprivileges_association"): "role",
    ("role", "systemuserroles_association"): "systemuser",
    ("systemuser", "systemuserroles_association"): "role",
}


def _entity_type(table: Table) -> list[str]:
    lines = [
        f'<EntityType Name="{table.logical}" BaseType="mscrm.crmbaseentity">',
        f'<Key><PropertyRef Name="{table.pk}"/></Key>',
    ]
    for column in table.columns:
        if not column.writeonly:
            lines.append(f'<Property Name="{column.prop}" Type="{_EDM[column.kind]}"/>')
    for column in table.columns:
        for nav, target in column.navs.items():
            lines.append(f'<NavigationProperty Name="{nav}" Type="mscrm.{target}"/>')
    for (logical, nav), target in MANY_TO_MANY.items():
        if logical == table.logical:
            lines.append(f'<NavigationProperty Name="{nav}" Type="Collection(mscrm.{target})"/>')
    lines.append("</EntityType>")
    return lines


def _parameter(name: str, edm: str, required: bool = True) -> str:
    return f'<Parameter Name="{name}" Type="{edm}"' + (' Nullable="false"/>' if required else "/>")


def _function(name: str, returns: str, parameters: list[str], bound: bool = False) -> str:
    binding = ' IsBound="true"' if bound else ""
    result = f'<ReturnType Type="{returns}" Nullable="false"/>'
    return f'<Function Name="{name}"{binding}>' + "".join(parameters) + result + "</Function>"


def _action(name: str, parameters: list[str]) -> str:
    entity = _parameter("entity", "mscrm.role")
    solution = _parameter("SolutionUniqueName", "Edm.String", required=False)
    return f'<Action Name="{name}" IsBound="true">' + entity + "".join(parameters) + solution + "</Action>"


def _operations() -> list[str]:
    depths = ("Basic", "Local", "Deep", "Global", "RecordFilter")
    members = "".join(f'<Member Name="{name}" Value="{value}"/>' for value, name in enumerate(depths))
    privileges = _parameter("Privileges", "Collection(mscrm.RolePrivilege)")
    return [
        f'<EnumType Name="PrivilegeDepth">{members}</EnumType>',
        _function("WhoAmI", "mscrm.WhoAmIResponse", []),
        _function(
            "RetrieveRolePrivilegesRole",
            "mscrm.RetrieveRolePrivilegesRoleResponse",
            [_parameter("RoleId", "Edm.Guid")],
        ),
        _function(
            "RetrieveUserPrivileges",
            "mscrm.RetrieveUserPrivilegesResponse",
            [_parameter("entity", "mscrm.systemuser")],
            bound=True,
        ),
        _action("AddPrivilegesRole", [privileges]),
        _action("ReplacePrivilegesRole", [privileges]),
        _action("RemovePrivilegeRole", [_parameter("Privilege", "mscrm.privilege")]),
    ]


def _container() -> list[str]:
    lines = ['<EntityContainer Name="System">']
    for table in TABLES.values():
        lines.append(
            f'<EntitySet Name="{table.entity_set}" EntityType="Microsoft.Dynamics.CRM.{table.logical}">'
        )
        for column in table.columns:
            for nav, target in column.navs.items():
                lines.append(f'<NavigationPropertyBinding Path="{nav}" Target="{_set_of(target)}"/>')
        for (logical, nav), target in MANY_TO_MANY.items():
            if logical == table.logical:
                lines.append(f'<NavigationPropertyBinding Path="{nav}" Target="{_set_of(target)}"/>')
        lines.append("</EntitySet>")
    for name in ("WhoAmI", "RetrieveRolePrivilegesRole"):
        lines.append(
            f'<FunctionImport Name="{name}" Function="Microsoft.Dynamics.CRM.{name}" '
            'IncludeInServiceDocument="false"/>'
        )
    lines.append("</EntityContainer>")
    return lines


def _set_of(logical: str) -> str:
    return next(t.entity_set for t in TABLES.values() if t.logical == logical)


def csdl() -> str:
    """The service's ``$metadata`` document: the emulated tables, their keys, properties,
    navigation properties, and the functions and actions the emulator serves."""
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>',
        '<Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">',
        '<EntityType Name="crmbaseentity" Abstract="true"/>',
    ]
    for name, properties in _COMPLEX_TYPES.items():
        lines.append(f'<ComplexType Name="{name}">')
        lines += [f'<Property Name="{p}" Type="{t}"/>' for p, t in properties.items()]
        lines.append("</ComplexType>")
    for table in TABLES.values():
        lines += _entity_type(table)
    lines += _operations()
    lines += _container()
    lines += ["</Schema>", "</edmx:DataServices></edmx:Edmx>"]
    return "\n".join(lines)
