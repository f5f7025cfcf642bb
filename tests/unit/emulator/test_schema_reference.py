"""The emulator's Dataverse schema against the checked-in extract of Microsoft's table reference.

``tests/schemas/dataverse-reference.json`` holds, per table, what the reference pages on
Microsoft Learn say about each column the emulator serves (type, IsValidForCreate / Update /
Read, MaxLength, MinValue / MaxValue, option labels), with the page and version it came
from. These tests read the emulator's ``$metadata`` and ``EntityDefinitions`` over HTTP and
compare them with it, so a change on either side that makes them disagree fails here. A
column the emulator serves must be in the extract, either checked or listed as unchecked.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from sssctl.emulator.dataverse.schema import BY_LOGICAL

from .dataverse_harness import client, make_service

pytestmark = [pytest.mark.timeout(60), pytest.mark.filterwarnings("ignore::DeprecationWarning")]

EXTRACT = json.loads(
    (Path(__file__).parents[2] / "schemas" / "dataverse-reference.json").read_text(encoding="utf-8")
)
TABLES: dict[str, Any] = EXTRACT["tables"]
EDM = {
    "String": "Edm.String",
    "Memo": "Edm.String",
    "Integer": "Edm.Int32",
    "Picklist": "Edm.Int32",
    "State": "Edm.Int32",
    "Status": "Edm.Int32",
    "BigInt": "Edm.Int64",
    "Boolean": "Edm.Boolean",
    "DateTime": "Edm.DateTimeOffset",
    "Uniqueidentifier": "Edm.Guid",
    "Lookup": "Edm.Guid",
    "Owner": "Edm.Guid",
    "ManagedProperty": "mscrm.BooleanManagedProperty",
}
OPTION_CASTS = {"Picklist": "PicklistAttributeMetadata", "State": "StateAttributeMetadata",
                "Status": "StatusAttributeMetadata"}
EDM_NS = "{http://docs.oasis-open.org/odata/ns/edm}"


@pytest.fixture(scope="module")
def served() -> dict[str, Any]:
    """What the emulator publishes: CSDL properties per table, attributes and option sets."""
    service, _, _ = make_service()
    out: dict[str, Any] = {"csdl": {}, "attributes": {}, "options": {}}
    with client(service) as dv:
        response = dv.get("$metadata", headers={"Accept": "application/xml"})
        assert response.status_code == 200
        root = ET.fromstring(response.text)
        for entity in root.iter(f"{EDM_NS}EntityType"):
            out["csdl"][entity.get("Name")] = {
                p.get("Name"): p.get("Type") for p in entity.findall(f"{EDM_NS}Property")
            }
        for logical in TABLES:
            rows = dv.get(f"EntityDefinitions(LogicalName='{logical}')/Attributes").json()["value"]
            out["attributes"][logical] = {r["LogicalName"]: r for r in rows}
            for attribute_type, cast in OPTION_CASTS.items():
                url = (f"EntityDefinitions(LogicalName='{logical}')/Attributes/Microsoft.Dynamics.CRM.{cast}"
                       "?$select=LogicalName&$expand=OptionSet($select=Options)")
                for row in dv.get(url).json()["value"]:
                    labels = {str(o["Value"]): o["Label"]["UserLocalizedLabel"]["Label"]
                              for o in row["OptionSet"]["Options"]}
                    out["options"][(logical, row["LogicalName"])] = (attribute_type, labels)
    return out


def _columns() -> list[tuple[str, str]]:
    return [(t, c) for t, table in TABLES.items() for c in table["columns"]]


def test_the_extract_names_its_sources() -> None:
    for logical, table in TABLES.items():
        assert table["sources"], logical
        for source in table["sources"]:
            assert source["url"].startswith("https://learn.microsoft.com/")
            assert len(source["commit"] or "") == 40 or (source["stored_copy"] and source["note"])


def test_every_served_column_of_a_covered_table_is_in_the_extract() -> None:
    for logical, table in TABLES.items():
        served_columns = {c.name for c in BY_LOGICAL[logical].columns}
        known = set(table["columns"]) | set(table["unchecked"])
        assert served_columns - known == set(), f"{logical}: columns not on the reference extract"
        assert set(table["columns"]) - served_columns == set(), f"{logical}: extract names columns not served"


def test_tables_not_in_the_extract_are_listed_as_unchecked() -> None:
    assert set(BY_LOGICAL) == set(TABLES) | set(EXTRACT["unchecked_tables"])


@pytest.mark.parametrize(("logical", "name"), _columns())
def test_entity_definitions_match_the_reference(served: dict[str, Any], logical: str, name: str) -> None:
    page = TABLES[logical]["columns"][name]
    attribute = served["attributes"][logical][name]
    assert attribute["AttributeType"] == page["type"]
    assert (attribute["IsValidForCreate"], attribute["IsValidForUpdate"], attribute["IsValidForRead"]) == (
        page["create"], page["update"], page["read"]
    )
    for limit, key in (("MaxLength", "max_length"), ("MinValue", "min_value"), ("MaxValue", "max_value")):
        assert attribute.get(limit) == page.get(key), limit
    if "options" in page:
        assert served["options"][(logical, name)] == (page["type"], page["options"])
    if "targets" in page:  # the tables a lookup's navigation properties lead to are among its Targets
        column = next(c for c in BY_LOGICAL[logical].columns if c.name == name)
        assert set(column.navs.values()) <= set(page["targets"])
        assert column.navs or not set(page["targets"]) & set(BY_LOGICAL), "a served target has no navigation"


@pytest.mark.parametrize(("logical", "name"), _columns())
def test_metadata_property_matches_the_reference(served: dict[str, Any], logical: str, name: str) -> None:
    page = TABLES[logical]["columns"][name]
    properties = served["csdl"][logical]
    lookup = page["type"] in ("Lookup", "Owner")
    prop = f"_{name}_value" if lookup else name
    if not page["read"]:
        assert prop not in properties
        return
    assert properties.get(prop) == EDM[page["type"]]
    if not lookup:
        assert f"_{name}_value" not in properties


def test_writes_outside_the_documented_limits_are_refused_and_change_nothing() -> None:
    service, _, _ = make_service()
    with client(service) as dv:
        mailbox = dv.get("mailboxes?$select=mailboxid,name,testemailconfigurationretrycount&$top=1").json()
        row = mailbox["value"][0]
        url = f"mailboxes({row['mailboxid']})"
        too_long = dv.patch(url, json={"name": "x" * 201, "ewsurl": "https://ews.test/EWS/Exchange.asmx"})
        assert too_long.status_code == 400
        error = too_long.json()["error"]
        assert error["code"] == "0x80044331"
        assert "'name' attribute of the 'mailbox' entity exceeded the maximum allowed length of '200'" in (
            error["message"]
        )
        negative = dv.patch(url, json={"testemailconfigurationretrycount": -1})
        assert negative.status_code == 400 and negative.json()["error"]["code"] == "0x80044331"
        assert dv.patch(url, json={"name": "x" * 200}).status_code == 204
        after = dv.get(f"{url}?$select=name,ewsurl,testemailconfigurationretrycount").json()
        assert after["name"] == "x" * 200 and after["ewsurl"] != "https://ews.test/EWS/Exchange.asmx"
        assert after["testemailconfigurationretrycount"] == row["testemailconfigurationretrycount"]


def test_statecode_is_not_valid_for_create() -> None:
    service, _, _ = make_service()
    with client(service) as dv:
        created = dv.post("emailserverprofiles", json={"name": "Refused", "statecode": 0})
        assert created.status_code == 400
        names = [r["name"] for r in dv.get("emailserverprofiles?$select=name").json()["value"]]
        assert "Refused" not in names


FORMATTED = "OData.Community.Display.V1.FormattedValue"
LOOKUP_ANNOTATIONS = (
    FORMATTED,
    "Microsoft.Dynamics.CRM.lookuplogicalname",
    "Microsoft.Dynamics.CRM.associatednavigationproperty",
)
# Lookups whose target table the emulator does not serve: no row to name, so no annotations.
UNSERVED_TARGETS = {("organization", "basecurrencyid"), ("role", "roletemplateid")}


def test_every_lookup_and_choice_is_annotated_when_asked() -> None:
    service, _, _ = make_service()
    missing: list[str] = []
    with client(service) as dv:
        for table in BY_LOGICAL.values():
            prefer = {"Prefer": 'odata.include-annotations="*"'}
            response = dv.get(f"{table.entity_set}?$top=5", headers=prefer)
            assert response.status_code == 200, table.entity_set
            for row in response.json()["value"]:
                for column in table.columns:
                    if row.get(column.prop) is None or (table.logical, column.name) in UNSERVED_TARGETS:
                        continue
                    if column.kind == "lookup":
                        wanted: tuple[str, ...] = LOOKUP_ANNOTATIONS
                    elif column.kind == "picklist":
                        wanted = (FORMATTED,)
                    else:
                        continue
                    absent = [a for a in wanted if f"{column.prop}@{a}" not in row]
                    missing += [f"{table.logical}.{column.prop}@{a}" for a in absent]
    assert sorted(set(missing)) == []


def test_select_names_the_projection_and_refuses_unknown_properties() -> None:
    service, _, _ = make_service()
    with client(service) as dv:
        listed = dv.get("mailboxes?$select=mailboxid,name&$top=1").json()
        assert listed["@odata.context"].endswith("/$metadata#mailboxes(mailboxid,name)")
        one = dv.get(f"mailboxes({listed['value'][0]['mailboxid']})?$select=name").json()
        assert one["@odata.context"].endswith("/$metadata#mailboxes(name)/$entity")
        refused = dv.get("mailboxes?$select=mailboxid,nosuchcolumn")
        assert refused.status_code == 400
        assert refused.json()["error"]["message"] == (
            "Could not find a property named 'nosuchcolumn' on type 'Microsoft.Dynamics.CRM.mailbox'."
        )


def test_email_writes_follow_the_page_limits_and_state_pairs() -> None:
    """subject MaxLength 800; statecode not valid for create; a status belongs to one state and a
    state sent alone takes its DefaultStatus (Canceled -> 5), as the email page lists them."""
    service, _, _ = make_service()
    with client(service) as dv:
        too_long = dv.post("emails", json={"subject": "x" * 801})
        assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "0x80044331"
        assert dv.post("emails", json={"subject": "Opened", "statecode": 0}).status_code == 400
        created = dv.post("emails", json={"subject": "x" * 800})
        assert created.status_code == 204
        url = created.headers["OData-EntityId"].rsplit("/", 1)[1]
        mismatched = dv.patch(url, json={"statecode": 1, "statuscode": 1})
        assert mismatched.status_code == 400
        assert "EmailState.Completed" in mismatched.json()["error"]["message"]
        assert dv.patch(url, json={"statecode": 2}).status_code == 204
        row = dv.get(f"{url}?$select=statecode,statuscode").json()
        assert (row["statecode"], row["statuscode"]) == (2, 5)
        assert len(dv.get("emails?$select=subject").json()["value"]) == 1


def test_plain_uniqueidentifiers_are_returned_under_their_own_name() -> None:
    """systemuser.organizationid and usersettings.businessunitid are Uniqueidentifier, not Lookup;
    azureactivedirectoryobjectid is on the systemuser page's read-only list."""
    service, _, _ = make_service()
    with client(service) as dv:
        users = dv.get("systemusers?$select=organizationid,azureactivedirectoryobjectid&$top=1").json()
        user = users["value"][0]
        assert user["organizationid"] == dv.get("WhoAmI").json()["OrganizationId"]
        assert dv.get("systemusers?$select=_organizationid_value").status_code == 400
        refused = dv.patch(f"systemusers({user['systemuserid']})",
                           json={"azureactivedirectoryobjectid": "00000000-0000-0000-0000-000000000001"})
        assert refused.status_code == 400
        settings = dv.get("usersettingscollection?$select=businessunitid&$top=1").json()["value"][0]
        assert "businessunitid" in settings and "_businessunitid_value" not in settings


def test_organization_tracking_columns_keep_the_page_limits() -> None:
    service, _, _ = make_service()
    with client(service) as dv:
        org = dv.get("WhoAmI").json()["OrganizationId"]
        before = dv.get(f"organizations({org})?$select=maximumtrackingnumber,trackingprefix").json()
        for change in ({"maximumtrackingnumber": -1}, {"trackingprefix": "x" * 257}):
            refused = dv.patch(f"organizations({org})", json=change)
            assert refused.status_code == 400 and refused.json()["error"]["code"] == "0x80044331", change
        after = dv.get(f"organizations({org})?$select=maximumtrackingnumber,trackingprefix").json()
        assert after == before
