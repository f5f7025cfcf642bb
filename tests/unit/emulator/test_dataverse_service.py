"""The Dataverse service in-process (no TLS, fake verifier): seeds, security, metadata, limits."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from sssctl.emulator import constants as c
from sssctl.emulator.context import Faults
from sssctl.emulator.dataverse import orgsettings
from sssctl.emulator.dataverse.errors import DataverseFault
from sssctl.emulator.dataverse.limits import ServiceProtection
from sssctl.emulator.dataverse.seed import ROOT_BUSINESS_UNIT_ID

from .dataverse_harness import client, make_service

pytestmark = [pytest.mark.timeout(60), pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def _rows(service: Any, table: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = service.snapshot()["tables"][table]
    return rows


# -- seeds ---------------------------------------------------------------------------------


def test_small_seed_is_deterministic_and_has_the_documented_shape() -> None:
    first, _, _ = make_service()
    second, _, _ = make_service()
    assert first.snapshot()["tables"]["mailbox"] == second.snapshot()["tables"]["mailbox"]
    mailboxes = _rows(first, "mailbox")
    addresses = {m["emailaddress"] for m in mailboxes}
    assert len(mailboxes) == 30 and c.user_email(25) in addresses and c.queue_email(5) in addresses
    assert {m["emailrouteraccessapproval"] for m in mailboxes} >= {1, 2}
    assert len({m["_emailserverprofile_value"] for m in mailboxes}) == 2
    units = _rows(first, "businessunit")
    assert len(units) == 4 and sum(u["_parentbusinessunitid_value"] is None for u in units) == 1
    roles = _rows(first, "role")
    roots = [r for r in roles if r["_parentrootroleid_value"] == r["roleid"]]
    assert len(roots) >= 15 and len(roles) == len(roots) * 4
    approve = next(
        p["privilegeid"] for p in _rows(first, "privilege") if p["name"] == "prvApproveRejectEmailAddress"
    )
    holders = {r["name"] for r in roots if approve in first.snapshot()["role_privileges"][r["roleid"]]}
    assert {"System Administrator", "System Customizer", "Sales Manager", "Contoso Mailbox Admin"} <= holders
    settings = {s["incomingemailfilteringmethod"] for s in _rows(first, "usersettings")}
    assert settings == {0, 2}


def test_another_seed_gives_other_data() -> None:
    first, _, _ = make_service()
    other, _, _ = make_service(seed=7)
    assert _rows(first, "mailbox") != _rows(other, "mailbox")


@pytest.mark.timeout(120)
def test_large_seed_scales_and_builds_in_seconds() -> None:
    started = time.perf_counter()
    service, _, _ = make_service(dataset="large", mailboxes=20_000, business_units=50, roles=30)
    assert time.perf_counter() - started < 10
    tables = service.store.tables
    assert len(tables["mailbox"]) == 20_000
    assert len(tables["businessunit"]) == 51
    assert len(tables["role"]) == 30 * 51


def test_unknown_dataset_is_a_clear_error() -> None:
    service, _, _ = make_service()
    with pytest.raises(ValueError, match="unknown dataset 'huge'"):
        service.reset(dataset="huge")


def test_snapshot_keeps_write_only_columns_and_the_xml_verbatim() -> None:
    service, _, _ = make_service()
    with client(service) as dv:
        setting = "<SSSForceFilteringMethodForUserMailboxes>3</SSSForceFilteringMethodForUserMailboxes>"
        written = f"<OrgSettings>{setting}</OrgSettings>"
        dv.patch(f"organizations({c.ORGANIZATION_ID})", json={"orgdborgsettings": written})
        dv.patch(f"emailserverprofiles({c.DEFAULT_PROFILE_ID})", json={"oauthclientsecret": "kept-secret"})
    profile = next(
        p for p in _rows(service, "emailserverprofile") if p["emailserverprofileid"] == c.DEFAULT_PROFILE_ID
    )
    assert profile["oauthclientsecret"] == "kept-secret"
    organization = _rows(service, "organization")[0]
    assert (
        "<SSSForceFilteringMethodForUserMailboxes>3</SSSForceFilteringMethodForUserMailboxes>"
        in (organization["orgdborgsettings"])
    )


# -- orgdborgsettings merge ------------------------------------------------------------------


def test_merge_upserts_in_place_appends_new_and_keeps_text_as_written() -> None:
    stored = "<OrgSettings><A>True</A><B>1</B><C /></OrgSettings>"
    merged = orgsettings.merge(stored, "<orgSettings><B>0</B><D>x &amp; y</D></orgSettings>")
    assert merged == "<OrgSettings><A>True</A><B>0</B><C /><D>x &amp; y</D></OrgSettings>"
    assert orgsettings.merge(stored, "") == ""
    assert orgsettings.merge(stored, "<OrgSettings/>") == stored.replace("<OrgSettings>", "<OrgSettings>")
    assert (
        orgsettings.merge(None, "<OrgSettings><A>1</A></OrgSettings>")
        == "<OrgSettings><A>1</A></OrgSettings>"
    )
    declared = '<?xml version="1.0" encoding="utf-8"?>\n<OrgSettings>\n  <A>2</A>\n</OrgSettings>\n'
    assert orgsettings.merge(stored, declared) == "<OrgSettings><A>2</A><B>1</B><C /></OrgSettings>"


@pytest.mark.parametrize(
    "written",
    [
        "<OrgSettings><A>1</OrgSettings>",
        "<Settings><A>1</A></Settings>",
        "<OrgSettings><A><B>1</B></A></OrgSettings>",
        '<!DOCTYPE x [<!ENTITY e "boom">]><OrgSettings><A>&e;</A></OrgSettings>',
    ],
)
def test_merge_refuses_what_is_not_a_flat_orgsettings_document(written: str) -> None:
    with pytest.raises(DataverseFault) as refused:
        orgsettings.merge("<OrgSettings />", written)
    assert refused.value.status == 400 and "orgdborgsettings" in refused.value.message


# -- identity and security ---------------------------------------------------------------------


def test_unknown_caller_is_not_a_member_and_bad_token_is_challenged() -> None:
    service, counters, _ = make_service()
    with client(service, token=f"app:{uuid.uuid4()}") as stranger:
        response = stranger.get("WhoAmI")
    assert response.status_code == 403 and response.json()["error"]["code"] == "0x80072560"
    with client(service, token="garbage") as anonymous:
        response = anonymous.get("mailboxes")
    assert response.status_code == 401 and response.content == b""
    assert counters.snapshot()["by_route"]["GET dataverse:mailboxes"] == 1


def test_basic_depth_reads_only_own_records_and_admin_user_maps_by_object_id() -> None:
    service, _, _ = make_service()
    users = _rows(service, "systemuser")
    roles = service.snapshot()["user_roles"]
    salesperson_copies = {r["roleid"] for r in _rows(service, "role") if r["name"] == "Salesperson"}
    person = next(
        u
        for u in users
        if set(roles[u["systemuserid"]]) & salesperson_copies and len(roles[u["systemuserid"]]) == 1
    )
    with client(service, token=f"user:{person['azureactivedirectoryobjectid']}") as dv:
        mailboxes = dv.get("mailboxes?$select=emailaddress").json()["value"]
        assert [m["emailaddress"] for m in mailboxes] == [person["internalemailaddress"]]
        other = next(m for m in _rows(service, "mailbox") if m["_ownerid_value"] != person["systemuserid"])
        assert dv.get(f"mailboxes({other['mailboxid']})").status_code == 403
        assert dv.patch(f"organizations({c.ORGANIZATION_ID})", json={"name": "x"}).status_code == 403
    with client(service, token=f"user:{c.ADMIN_USER_OBJECT_ID}") as admin:
        assert admin.get("WhoAmI").json()["BusinessUnitId"] == ROOT_BUSINESS_UNIT_ID
        assert len(admin.get("mailboxes?$select=name").json()["value"]) == 30


# -- records, lookups, metadata ---------------------------------------------------------------


def test_expand_single_valued_lookup_and_annotations_preference_is_applied() -> None:
    service, _, _ = make_service()
    with client(service) as dv:
        response = dv.get(
            "mailboxes?$select=name&$top=2&$expand=emailserverprofile($select=name,statecode)",
            headers={"Prefer": 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'},
        )
        assert response.status_code == 200, response.text
        assert (
            response.headers["Preference-Applied"]
            == 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'
        )
        profile = response.json()["value"][0]["emailserverprofile"]
        assert set(profile) >= {"name", "statecode", "emailserverprofileid", "@odata.etag"}
        assert "statecode@OData.Community.Display.V1.FormattedValue" in profile
        assert dv.get("mailboxes?$expand=nosuchnav").status_code == 400


def test_bind_errors_name_the_problem() -> None:
    service, _, _ = make_service()
    mailbox = _rows(service, "mailbox")[0]["mailboxid"]
    with client(service) as dv:
        url = f"mailboxes({mailbox})"
        missing = dv.patch(
            url, json={"emailserverprofile@odata.bind": f"/emailserverprofiles({uuid.uuid4()})"}
        )
        assert missing.status_code == 404
        wrong_set = dv.patch(url, json={"emailserverprofile@odata.bind": f"/roles({uuid.uuid4()})"})
        assert (
            wrong_set.status_code == 400 and "expects a reference to 'emailserverprofile'" in wrong_set.text
        )
        read_only = dv.patch(
            url, json={"regardingobjectid@odata.bind": f"/systemusers({c.SSSCTL_APP_USER_ID})"}
        )
        assert read_only.status_code == 400
        unknown = dv.patch(url, json={"colour": "blue"})
        assert (
            unknown.status_code == 400
            and "Invalid property 'colour' was found in entity 'Microsoft.Dynamics.CRM.mailbox'"
            in unknown.text
        )
        wrong_type = dv.patch(url, json={"actdeliverymethod": "1"})
        assert wrong_type.status_code == 400 and "Edm.Int32" in wrong_type.text
        assert dv.patch(url, json={"emailserverprofile@odata.bind": None}).status_code == 204
        assert dv.get(f"{url}/emailserverprofile").status_code == 204


def test_methods_not_allowed_and_tables_without_create_or_delete() -> None:
    service, _, _ = make_service()
    with client(service) as dv:
        assert dv.patch("mailboxes", json={}).status_code == 405
        assert dv.delete("mailboxes").status_code == 405
        assert dv.delete(f"organizations({c.ORGANIZATION_ID})").status_code == 405
        assert dv.post("privileges", json={"name": "prvNew"}).status_code == 405
        assert dv.get("mailboxes(not-a-guid)").status_code == 400
        twice = dv.get("mailboxes?$select=name&$select=emailaddress")
        assert twice.status_code == 400 and "more than once" in twice.text
        value = dv.get(f"organizations({c.ORGANIZATION_ID})/requireapprovalforuseremail").json()
        assert value["value"] is False and value["@odata.context"].endswith("/requireapprovalforuseremail")


def test_entity_definitions_by_key_filter_and_picklist_options() -> None:
    service, _, _ = make_service()
    with client(service) as dv:
        one = dv.get(
            "EntityDefinitions(LogicalName='mailbox')?$select=EntitySetName,PrimaryIdAttribute"
        ).json()
        assert (
            one["EntitySetName"] == "mailboxes"
            and one["PrimaryIdAttribute"] == "mailboxid"
            and one["MetadataId"]
        )
        found = dv.get(
            "EntityDefinitions?$select=LogicalName,EntitySetName&$filter=LogicalName eq 'usersettings'"
        )
        assert found.json()["value"][0]["EntitySetName"] == "usersettingscollection"
        picklists = dv.get(
            "EntityDefinitions(LogicalName='mailbox')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata"
            "?$select=LogicalName&$expand=OptionSet($select=Options)"
        ).json()["value"]
        act = next(p for p in picklists if p["LogicalName"] == "actdeliverymethod")
        labels = {o["Value"]: o["Label"]["LocalizedLabels"][0]["Label"] for o in act["OptionSet"]["Options"]}
        assert labels == {
            0: "Microsoft Dynamics 365 for Outlook",
            1: "Server-Side Synchronization",
            2: "None",
        }
        assert dv.get("EntityDefinitions(LogicalName='nosuch')").status_code == 404


def test_role_created_at_the_root_is_copied_to_every_unit_and_deleted_with_them() -> None:
    service, _, _ = make_service()
    with client(service) as dv:
        created = dv.post(
            "roles", json={"name": "Contoso Auditor"}, headers={"Prefer": "return=representation"}
        )
        assert created.status_code == 201, created.text
        role = created.json()
        assert (
            role["_parentrootroleid_value"] == role["roleid"]
            and role["_businessunitid_value"] == ROOT_BUSINESS_UNIT_ID
        )
        copies = dv.get(f"roles?$filter=_parentrootroleid_value eq {role['roleid']}").json()["value"]
        assert len(copies) == 4
        copy = next(r for r in copies if r["roleid"] != role["roleid"])
        moved = dv.patch(
            f"roles({role['roleid']})",
            json={"businessunitid@odata.bind": f"/businessunits({copy['_businessunitid_value']})"},
        )
        assert moved.status_code == 400 and "not valid for update" in moved.text
        assert dv.delete(f"roles({copy['roleid']})").status_code == 400
        assert dv.delete(f"roles({role['roleid']})").status_code == 204
        assert dv.get(f"roles?$filter=_parentrootroleid_value eq {role['roleid']}").json()["value"] == []


def test_add_privileges_refuses_a_depth_the_privilege_cannot_have() -> None:
    service, _, _ = make_service()
    privileges = {p["name"]: p["privilegeid"] for p in _rows(service, "privilege")}
    root = next(
        r for r in _rows(service, "role") if r["name"] == "Basic User" and r["_parentroleid_value"] is None
    )
    with client(service) as dv:
        url = f"roles({root['roleid']})/Microsoft.Dynamics.CRM.AddPrivilegesRole"
        too_shallow = {
            "Privileges": [{"PrivilegeId": privileges["prvApproveRejectEmailAddress"], "Depth": "Basic"}]
        }
        assert dv.post(url, json=too_shallow).status_code == 400
        bad_depth = {"Privileges": [{"PrivilegeId": privileges["prvReadMailbox"], "Depth": "Everywhere"}]}
        assert dv.post(url, json=bad_depth).status_code == 400
        unknown = {"Privileges": [{"PrivilegeId": str(uuid.uuid4()), "Depth": "Global"}]}
        assert dv.post(url, json=unknown).status_code == 404
        fine = {
            "Privileges": [{"PrivilegeId": privileges["prvReadMailbox"], "Depth": 2, "PrivilegeName": "x"}]
        }
        assert dv.post(url, json=fine).status_code == 204
        held = dv.get(f"RetrieveRolePrivilegesRole(RoleId={root['roleid']})").json()["RolePrivileges"]
        assert next(p for p in held if p["PrivilegeId"] == privileges["prvReadMailbox"])["Depth"] == "Deep"
        replace = {"Privileges": [{"PrivilegeId": privileges["prvReadMailbox"], "Depth": "Global"}]}
        assert (
            dv.post(
                f"roles({root['roleid']})/Microsoft.Dynamics.CRM.ReplacePrivilegesRole", json=replace
            ).status_code
            == 204
        )
        held = dv.get(f"RetrieveRolePrivilegesRole(RoleId={root['roleid']})").json()["RolePrivileges"]
        assert [(p["PrivilegeName"], p["Depth"]) for p in held] == [("prvReadMailbox", "Global")]


# -- service protection ------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_execution_time_and_concurrency_limits_per_caller() -> None:
    faults = Faults(limit_execution_seconds=2.0, limit_window_seconds=60, limit_concurrent=2)
    clock = FakeClock()
    limits = ServiceProtection(faults, clock)
    limits.enter("a")
    headers = limits.leave("a", 2.5)
    assert headers["x-ms-ratelimit-time-remaining-xrm-requests"] == "0.00"
    with pytest.raises(DataverseFault) as busy:
        limits.enter("a")
    assert busy.value.status == 429 and busy.value.code == "0x80072321"
    assert busy.value.headers["Retry-After"] == "60"
    limits.enter("b")  # another caller has its own budget
    limits.enter("b")
    with pytest.raises(DataverseFault) as crowded:
        limits.enter("b")
    assert crowded.value.code == "0x80072326" and "limit of 2" in crowded.value.message
    clock.now += 61
    limits.enter("a")  # the window slid past the expensive request


def test_another_integration_takes_its_share_of_every_budget_first() -> None:
    faults = Faults(limit_requests=10, limit_execution_seconds=4.0, limit_concurrent=4, competing_share=0.5)
    limits = ServiceProtection(faults, FakeClock())
    limits.enter("a")
    headers = limits.leave("a", 1.0)
    assert headers["x-ms-ratelimit-burst-remaining-xrm-requests"] == "4"  # 5 of 10 left, one used
    assert headers["x-ms-ratelimit-time-remaining-xrm-requests"] == "1.00"
    limits.enter("a")
    limits.enter("a")
    with pytest.raises(DataverseFault) as crowded:
        limits.enter("a")
    assert crowded.value.code == "0x80072326"


def test_a_batch_counts_once_but_accrues_time_for_each_operation() -> None:
    service, counters, faults = make_service()
    faults.batch_operation_ms = 50
    faults.limit_execution_seconds = 0.2
    parts = "".join(
        "--b\r\nContent-Type: application/http\r\n\r\nGET /api/data/v9.2/WhoAmI HTTP/1.1\r\n\r\n\r\n"
        for _ in range(5)
    )
    with client(service) as dv:
        response = dv.post(
            "$batch", content=parts + "--b--\r\n", headers={"Content-Type": "multipart/mixed; boundary=b"}
        )
        assert response.status_code == 200 and response.text.count("HTTP/1.1 200 OK") == 5
        assert response.headers["x-ms-ratelimit-burst-remaining-xrm-requests"] == "5999"
        throttled = dv.get("WhoAmI")
    assert throttled.status_code == 429 and throttled.json()["error"]["code"] == "0x80072321"
    snapshot = counters.snapshot()
    assert (
        snapshot["by_route"]["GET dataverse:WhoAmI"] == 6  # five inside the batch, one refused
        and snapshot["by_route"]["POST dataverse:$batch"] == 1
    )
    assert snapshot["total"] == 2 and snapshot["throttled"] == 1


def test_self_approval_depends_on_require_privilege_to_self_approve() -> None:
    service, _, _ = make_service()
    users = {u["systemuserid"]: u for u in _rows(service, "systemuser")}
    mailboxes = [m for m in _rows(service, "mailbox") if m["_regardingobjectid_value"] in users]
    pending = [m for m in mailboxes if m["emailrouteraccessapproval"] != 1]
    holders = {
        r["roleid"] for r in _rows(service, "role") if r["name"] in ("Sales Manager", "System Administrator")
    }
    roles = service.snapshot()["user_roles"]
    mine, theirs = [m for m in pending if not set(roles[m["_regardingobjectid_value"]]) & holders][:2]
    token = f"user:{users[mine['_regardingobjectid_value']]['azureactivedirectoryobjectid']}"
    with client(service, token=token) as person, client(service) as admin:
        other = person.patch(f"mailboxes({theirs['mailboxid']})", json={"emailrouteraccessapproval": 1})
        assert other.status_code == 403
        name = "RequirePrivilegeToSelfApproveEmailAddress"
        setting = f"<OrgSettings><{name}>true</{name}></OrgSettings>"
        admin.patch(f"organizations({c.ORGANIZATION_ID})", json={"orgdborgsettings": setting})
        own = person.patch(f"mailboxes({mine['mailboxid']})", json={"emailrouteraccessapproval": 1})
        assert own.status_code == 403 and "prvApproveRejectEmailAddress" in own.text
        admin.patch(
            f"organizations({c.ORGANIZATION_ID})", json={"orgdborgsettings": setting.replace("true", "false")}
        )
        tested = person.patch(
            f"mailboxes({mine['mailboxid']})", json={"testemailconfigurationscheduled": True}
        )
        assert tested.status_code == 204  # Test & Enable approves one's own mailbox as a side effect
        read = admin.get(f"mailboxes({mine['mailboxid']})?$select=emailrouteraccessapproval").json()
        assert read["emailrouteraccessapproval"] == 1
        owner = admin.get(
            f"systemusers({mine['_regardingobjectid_value']})?$select=emailrouteraccessapproval"
        ).json()
        assert owner["emailrouteraccessapproval"] == 1


def test_batch_reference_to_an_undeclared_content_id_is_a_400() -> None:
    service, _, _ = make_service()
    body = (
        "--b\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n"
        "--cs\r\nContent-Type: application/http\r\nContent-ID: 1\r\n\r\n"
        'PATCH $3 HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{"name": "x"}\r\n--cs--\r\n--b--\r\n'
    )
    with client(service) as dv:
        response = dv.post("$batch", content=body, headers={"Content-Type": "multipart/mixed; boundary=b"})
    assert response.status_code == 400
    assert "Content-ID Reference: '$3' does not exist in the batch context." in response.text


def test_user_role_relationship_reads_expands_and_changes_through_ref() -> None:
    service, _, _ = make_service()
    root_roles = {r["name"]: r["roleid"] for r in _rows(service, "role") if r["_parentroleid_value"] is None}
    with client(service) as dv:
        me = dv.get("WhoAmI").json()["UserId"]
        url = f"systemusers({me})/systemuserroles_association"
        names = [r["name"] for r in dv.get(f"{url}?$select=name,roleid").json()["value"]]
        assert names == ["System Administrator"]
        reader = root_roles["Service Reader"]
        added = dv.post(f"{url}/$ref", json={"@odata.id": f"{dv.base_url}roles({reader})"})
        assert added.status_code == 204
        expanded = dv.get(
            f"systemusers({me})?$select=fullname&$expand=systemuserroles_association($select=name)"
        )
        assert {r["name"] for r in expanded.json()["systemuserroles_association"]} == {
            "System Administrator",
            "Service Reader",
        }
        holders = dv.get(f"roles({reader})/systemuserroles_association?$select=systemuserid").json()["value"]
        assert [h["systemuserid"] for h in holders] == [me]
        assert dv.delete(f"{url}({reader})/$ref").status_code == 204
        assert len(dv.get(url).json()["value"]) == 1
        other_unit = next(
            r["roleid"] for r in _rows(service, "role") if r["_businessunitid_value"] != ROOT_BUSINESS_UNIT_ID
        )
        refused = dv.post(f"{url}/$ref", json={"@odata.id": f"roles({other_unit})"})
        assert refused.status_code == 400 and "business unit" in refused.text
        privileges = dv.get(
            f"roles({reader})/roleprivileges_association?$select=name&$filter=startswith(name,'prvReadMail')"
        )
        assert [p["name"] for p in privileges.json()["value"]] == ["prvReadMailbox"]


@pytest.mark.parametrize(("knob", "value"), [("mailboxes", -1), ("business_units", "3"), ("roles", 2.5)])
def test_reset_refuses_sizes_that_are_not_counts(knob: str, value: object) -> None:
    service, _, _ = make_service()
    with pytest.raises(ValueError, match=f"{knob} must be a whole number"):
        service.reset(dataset="large", **{knob: value})  # type: ignore[arg-type]


def test_exchange_online_approval_needs_an_administrator_on_top_of_the_privilege() -> None:
    service, _, _ = make_service()
    users = {u["systemuserid"]: u for u in _rows(service, "systemuser")}
    roles = service.snapshot()["user_roles"]
    managers = {r["roleid"] for r in _rows(service, "role") if r["name"] == "Sales Manager"}
    mailboxes = [
        m
        for m in _rows(service, "mailbox")
        if m["emailrouteraccessapproval"] == 2 and m["_emailserverprofile_value"] == c.DEFAULT_PROFILE_ID
    ]
    manager, pending = next(
        (u, m)
        for u, held in roles.items()
        if set(held) & managers
        for m in mailboxes
        if m["_owningbusinessunit_value"] == users[u]["_businessunitid_value"] and m["_ownerid_value"] != u
    )  # a Sales Manager may write this mailbox and holds the approve privilege
    token = f"user:{users[manager]['azureactivedirectoryobjectid']}"
    with (
        client(service, token=token) as sales_manager,
        client(service, token=f"user:{c.ADMIN_USER_OBJECT_ID}") as admin,
    ):
        refused = sales_manager.patch(
            f"mailboxes({pending['mailboxid']})", json={"emailrouteraccessapproval": 1}
        )
        assert refused.status_code == 403, refused.text
        assert "Exchange Online" in refused.json()["error"]["message"]
        assert (
            admin.patch(
                f"mailboxes({pending['mailboxid']})", json={"emailrouteraccessapproval": 1}
            ).status_code
            == 204
        )
    with client(service, token=f"app:{c.SSSCTL_APP_ID}") as app:
        assert (
            app.patch(f"mailboxes({pending['mailboxid']})", json={"emailrouteraccessapproval": 3}).status_code
            == 204
        )


def test_urls_longer_than_32_kb_are_refused_but_fit_inside_a_batch() -> None:
    service, _, _ = make_service()
    ids = " or ".join(f"mailboxid eq {uuid.uuid4()}" for _ in range(600))  # about 33,000 characters
    with client(service) as dv:
        response = dv.get(f"mailboxes?$select=name&$filter={ids}")
        assert response.status_code == 414 and "$batch" in response.json()["error"]["message"]
        body = (
            "--b\r\nContent-Type: application/http\r\n\r\n"
            f"GET /api/data/v9.2/mailboxes?$select=name&$filter={ids.replace(' ', '%20')} HTTP/1.1"
            "\r\n\r\n\r\n"
            "--b--\r\n"
        )
        batched = dv.post("$batch", content=body, headers={"Content-Type": "multipart/mixed; boundary=b"})
        assert batched.status_code == 200 and "HTTP/1.1 200 OK" in batched.text


def test_impersonation_needs_act_on_behalf_and_then_acts_with_the_users_privileges() -> None:
    service, _, _ = make_service()
    person = next(u for u in _rows(service, "systemuser") if u["internalemailaddress"] == c.user_email(2))
    with client(service) as app, client(service, token=f"app:{c.LIMITED_APP_ID}") as limited:
        as_person = app.get("WhoAmI", headers={"CallerObjectId": person["azureactivedirectoryobjectid"]})
        assert as_person.json()["UserId"] == person["systemuserid"]
        by_id = app.get("WhoAmI", headers={"MSCRMCallerID": person["systemuserid"]})
        assert by_id.json()["UserId"] == person["systemuserid"]
        org = app.patch(
            f"organizations({c.ORGANIZATION_ID})",
            json={"requireapprovalforuseremail": True},
            headers={"CallerObjectId": person["azureactivedirectoryobjectid"]},
        )
        assert org.status_code == 403  # the person, not the application, lacks prvWriteOrganization
        refused = limited.get("WhoAmI", headers={"CallerObjectId": person["azureactivedirectoryobjectid"]})
        assert refused.status_code == 403 and "prvActOnBehalfOfAnotherUser" in refused.text
        unknown = app.get("WhoAmI", headers={"CallerObjectId": str(uuid.uuid4())})
        assert unknown.status_code == 403 and unknown.json()["error"]["code"] == "0x80072560"


def test_collection_expansion_takes_filter_orderby_and_top() -> None:
    service, _, _ = make_service()
    root = next(
        r
        for r in _rows(service, "role")
        if r["name"] == "Service Reader" and r["_parentroleid_value"] is None
    )
    options = "$select=name;$filter=startswith(name,'prvRead');$orderby=name desc;$top=3"
    with client(service) as dv:
        response = dv.get(
            f"roles({root['roleid']})?$select=name&$expand=roleprivileges_association({options})"
        )
        assert response.status_code == 200, response.text
        names = [p["name"] for p in response.json()["roleprivileges_association"]]
        assert names == ["prvReadUserSettings", "prvReadUser", "prvReadRole"]
        wrong = dv.get("mailboxes?$expand=emailserverprofile($top=1)")
        assert wrong.status_code == 400 and "not supported inside $expand" in wrong.text


def test_function_parameters_may_be_aliases() -> None:
    service, _, _ = make_service()
    root = next(
        r
        for r in _rows(service, "role")
        if r["name"] == "Service Reader" and r["_parentroleid_value"] is None
    )
    with client(service) as dv:
        direct = dv.get(f"RetrieveRolePrivilegesRole(RoleId={root['roleid']})").json()
        aliased = dv.get(f"RetrieveRolePrivilegesRole(RoleId=@p1)?@p1={root['roleid']}").json()
        assert aliased == direct and direct["RolePrivileges"]
        assert dv.get("RetrieveRolePrivilegesRole(RoleId=@p2)").status_code == 400
        assert dv.get("RetrieveRolePrivilegesRole(RoleId=not-a-guid)").status_code == 400


def test_metadata_document_describes_tables_keys_and_operations() -> None:
    from defusedxml import ElementTree

    service, _, _ = make_service()
    with client(service) as dv:
        response = dv.get("$metadata")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/xml")
    edm = "{http://docs.oasis-open.org/odata/ns/edm}"
    schema = ElementTree.fromstring(response.content).find(f".//{edm}Schema")
    types = {t.get("Name"): t for t in schema.findall(f"{edm}EntityType")}
    key = types["mailbox"].find(f"{edm}Key/{edm}PropertyRef")
    assert key is not None and key.get("Name") == "mailboxid"
    properties = {p.get("Name") for p in types["emailserverprofile"].findall(f"{edm}Property")}
    assert "isoauthclientsecretset" in properties and "oauthclientsecret" not in properties
    sets = {s.get("Name") for s in schema.findall(f"{edm}EntityContainer/{edm}EntitySet")}
    assert "usersettingscollection" in sets
    actions = {a.get("Name") for a in schema.findall(f"{edm}Action")}
    assert actions == {"AddPrivilegesRole", "RemovePrivilegeRole", "ReplacePrivilegesRole"}


def test_the_system_administrator_role_cannot_be_edited() -> None:
    service, _, _ = make_service()
    privileges = {p["name"]: p["privilegeid"] for p in _rows(service, "privilege")}
    admin = next(
        r
        for r in _rows(service, "role")
        if r["name"] == "System Administrator" and r["_parentroleid_value"] is None
    )
    with client(service) as dv:
        body = {"Privilege": {"privilegeid": privileges["prvApproveRejectEmailAddress"]}}
        refused = dv.post(f"roles({admin['roleid']})/Microsoft.Dynamics.CRM.RemovePrivilegeRole", json=body)
        assert refused.status_code == 400 and "System Administrator" in refused.json()["error"]["message"]
        assert dv.patch(f"roles({admin['roleid']})", json={"name": "Root"}).status_code == 400


def test_privilege_side_of_the_role_relationship_lists_every_copy_holding_it() -> None:
    service, _, _ = make_service()
    approve = next(
        p["privilegeid"] for p in _rows(service, "privilege") if p["name"] == "prvApproveRejectEmailAddress"
    )
    with client(service) as dv:
        holders = dv.get(f"privileges({approve})/roleprivileges_association?$select=name").json()["value"]
    names = {h["name"] for h in holders}
    assert {"System Administrator", "Sales Manager", "Delegated Mailbox Approver"} <= names
    assert "Basic User" not in names
    assert len(holders) == len(names) * 4  # the root copy and one per child business unit
