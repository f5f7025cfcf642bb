"""JSON Schema (draft 2020-12) of format v1, generated from :mod:`sssctl.config.spec`.

The committed copy, ``configs/sssctl.schema.json``, lets editors validate and complete a
config; a test regenerates it and fails when it differs, so the file can never describe
a format that ``sssctl validate`` does not accept. Refresh it with::

    sssctl schema > configs/sssctl.schema.json
"""

from __future__ import annotations

import json
from typing import Any

from sssctl.catalog.orgdborgsettings import Setting, catalogue
from sssctl.config import spec

REFRESH_HINT = "sssctl schema > configs/sssctl.schema.json"


def _scalar(node: spec.Scalar) -> dict[str, Any]:
    out: dict[str, Any] = {"type": node.type, "description": node.doc}
    if node.enum is not None:
        out["enum"] = list(node.enum)
    if node.minimum is not None:
        out["minimum"] = node.minimum
    if node.maximum is not None:
        out["maximum"] = node.maximum
    if node.format is not None:
        out["pattern"] = node.format.pattern
    return out


def _secret_ref(node: spec.SecretRefSpec) -> dict[str, Any]:
    def one(key: str, what: str) -> dict[str, Any]:
        prop = {"type": "string", "minLength": 1, "description": what}
        return {"type": "object", "properties": {key: prop}, "required": [key], "additionalProperties": False}

    return {"description": node.doc + " A plain string is refused.",
            "oneOf": [one("env", "Environment variable holding the secret."),
                      one("file", "File holding the secret, relative to this config file.")]}


def _org_setting(setting: Setting) -> dict[str, Any]:
    kind = {"Boolean": "boolean", "Number": "integer", "Double": "number", "String": "string"}[setting.type]
    out: dict[str, Any] = {"type": kind, "description": setting.summary}
    if kind in ("integer", "number"):
        if setting.minimum is not None:
            out["minimum"] = setting.minimum
        if setting.maximum is not None:
            out["maximum"] = setting.maximum
    if setting.min_build:
        out["description"] += f" (min build {setting.min_build})"
    return out


def _org_settings(node: spec.OrgSettingsSpec) -> dict[str, Any]:
    settings = sorted(catalogue().stored_settings(), key=lambda s: s.name.casefold())
    return {"type": "object", "description": node.doc,
            "properties": {s.name: _org_setting(s) for s in settings}, "additionalProperties": False}


def node_schema(node: spec.Node) -> dict[str, Any]:
    if isinstance(node, spec.Scalar):
        return _scalar(node)
    if isinstance(node, spec.Array):
        out: dict[str, Any] = {"type": "array", "description": node.doc, "items": _scalar(node.item)}
        if node.min_items:
            out["minItems"] = node.min_items
        return out
    if isinstance(node, spec.SecretRefSpec):
        return _secret_ref(node)
    if isinstance(node, spec.OrgSettingsSpec):
        return _org_settings(node)
    if isinstance(node, spec.Table):
        table: dict[str, Any] = {"type": "object", "description": node.doc,
                                 "properties": {k: node_schema(v) for k, v in node.fields.items()},
                                 "additionalProperties": False}
        if node.required:
            table["required"] = sorted(node.required)
        if node.one_of:
            table["oneOf"] = [{"required": [key]} for key in node.one_of]
        return table
    mapping: dict[str, Any] = {"type": "object", "description": node.doc,
                               "additionalProperties": node_schema(node.value)}
    if node.key_format is not None:
        mapping["propertyNames"] = {"pattern": node.key_format.pattern}
    return mapping


def build_schema() -> dict[str, Any]:
    """The whole schema as a dict (stable key order, so the rendering is reproducible)."""
    root = node_schema(spec.DOCUMENT)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "sssctl desired state (format v1)", **root}


def render_schema() -> str:
    """The schema as committed: two-space indent, trailing newline."""
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"
