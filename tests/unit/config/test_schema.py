"""The committed JSON Schema is generated from the validator's tables and must stay in sync."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from sssctl.catalog.orgdborgsettings import catalogue
from sssctl.config import spec
from sssctl.config.loader import tomllib
from sssctl.config.schema import REFRESH_HINT, build_schema, render_schema
from tests.unit.config.conftest import CONFIGS
from tests.unit.config.test_validate import BAD

SCHEMA = Draft202012Validator(build_schema())


def test_committed_schema_matches_the_generated_one() -> None:
    committed = (CONFIGS / "sssctl.schema.json").read_text(encoding="utf-8")
    assert committed == render_schema(), f"configs/sssctl.schema.json is stale; refresh: {REFRESH_HINT}"


def test_schema_is_draft_2020_12_and_closed() -> None:
    schema = build_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(spec.DOCUMENT.fields)
    json.loads(render_schema())


def test_schema_carries_the_validator_rules() -> None:
    props = build_schema()["properties"]
    act = props["mailbox_defaults"]["properties"]["appointments_contacts_tasks"]
    assert act["enum"] == ["outlook", "server_side_sync", "none"]
    rotate = props["app_registrations"]["additionalProperties"]["properties"]["credential"]["properties"][
        "rotate_days"]
    assert (rotate["minimum"], rotate["maximum"]) == (1, 730)
    assert props["privileges"]["propertyNames"]["pattern"] == "^prv[A-Za-z0-9_]+$"
    assert props["privileges"]["additionalProperties"]["properties"]["allowed_roles"]["minItems"] == 1
    secret = props["auth"]["properties"]["client_secret"]
    assert all(option["type"] == "object" for option in secret["oneOf"])  # a plain string never matches


def test_org_settings_schema_lists_only_stored_settings_with_types_and_ranges() -> None:
    org = build_schema()["properties"]["org_settings"]
    assert org["additionalProperties"] is False
    stored = {s.name for s in catalogue().stored_settings()}
    assert set(org["properties"]) == stored
    assert "MaxRecordsForExportToExcel" not in org["properties"]
    force = org["properties"]["SSSForceFilteringMethodForUserMailboxes"]
    assert (force["type"], force["minimum"], force["maximum"]) == ("integer", -1, 4)
    assert org["properties"]["RequirePrivilegeToSelfApproveEmailAddress"]["type"] == "boolean"
    assert org["properties"]["DefaultHeightForWizardReports"]["type"] == "number"


# What the schema cannot say, and why: references between keys, checks JSON cannot see
# (3.0 and 3 are the same JSON number), and stricter string shapes kept in Python.
BEYOND_SCHEMA = {
    "custom-cloud-without-login-url", "dangling-profile", "dangling-app", "profile-named-default",
    "defaults-on-a-deactivated-profile", "scope-au-needs-rbac",
    "float-for-number", "secret-env-name",
    "ews-without-profile", "ews-enabled-alone", "ews-enabled-false",
}


@pytest.mark.parametrize(
    "text", [pytest.param(case.values[0], id=case.id) for case in BAD if case.id not in BEYOND_SCHEMA])
def test_schema_refuses_what_the_validator_refuses(text: str) -> None:
    assert list(SCHEMA.iter_errors(tomllib.loads(text))), text
