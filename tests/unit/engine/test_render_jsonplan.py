"""The JSON plan is Terraform's plan representation, with sssctl's extras under their own key."""

from __future__ import annotations

import dataclasses
import json

import pytest

from sssctl.engine.plan import Action, Change
from sssctl.engine.render import jsonplan
from tests.unit.engine.test_render import CHANGES, plan_of


def _document(*changes: Change, refresh_only: bool = False) -> dict[str, object]:
    plan = plan_of(*changes, refresh_only=refresh_only)
    document = json.loads(jsonplan.render(plan, environment_name="contoso"))
    assert isinstance(document, dict)
    return document


def test_every_resource_change_has_terraforms_keys() -> None:
    changes = _document(*CHANGES)["resource_changes"]
    assert isinstance(changes, list)
    for rc in changes:
        assert {"address", "mode", "type", "name", "provider_name", "change"} <= rc.keys()
        assert rc["mode"] == "managed" and rc["provider_name"] == jsonplan.PROVIDER_NAME
        assert {"actions", "before", "after", "after_unknown", "before_sensitive",
                "after_sensitive"} <= rc["change"].keys()
        assert "kind" not in rc and "reason" not in rc      # sssctl's own words live under "sssctl"
        assert rc["sssctl"]["symbol"] in "+~-.?"


def test_actions_use_terraforms_words_and_unknown_reads() -> None:
    changes = _document(*CHANGES)["resource_changes"]
    assert [rc["change"]["actions"] for rc in changes] == [  # type: ignore[union-attr]
        ["create"], ["update"], ["update"], ["delete"], ["read"], ["no-op"]]
    unknown = changes[4]  # type: ignore[index]
    assert unknown["change"]["after_unknown"] is True and unknown["change"]["before"] is None


@pytest.mark.parametrize(("address", "kind", "type_", "name", "index"), [
    ('server_profile.custom["EXO (own app) v1.2"]', "server_profile_custom", "server_profile_custom",
     "custom", "EXO (own app) v1.2"),
    ("server_profile.default", "server_profile_default", "server_profile_default", "default", None),
    ("org_setting.RequirePrivilegeToSelfApproveEmailAddress", "org_setting", "org_setting",
     "RequirePrivilegeToSelfApproveEmailAddress", None),
    ("app_registration.sss", "app_registration", "app_registration", "sss", None),
    ("app_registration.sss.credential", "app_registration", "app_registration_credential", "sss", None),
    ('canary["EXO"]', "canary", "canary", "canary", "EXO"),
    ("approval", "approval", "approval", "approval", None),
])
def test_type_name_and_index_come_from_the_address(address: str, kind: str, type_: str, name: str,
                                                   index: str | None) -> None:
    """Each kind of object its own type, and a name free of dots, as Terraform's TYPE.NAME[INDEX]."""
    rc = jsonplan.resource_change(Change(address, Action.NOOP, {"a": 1}, {"a": 1}, "", kind=kind))
    assert (rc["type"], rc["name"], rc.get("index")) == (type_, name, index)
    assert "." not in rc["name"]


def test_format_version_is_terraforms_major_1_and_sssctls_own_lives_under_sssctl() -> None:
    """hashicorp/terraform-json accepts ">= 0.1, < 2.0" and readers must reject an unknown major."""
    for document in (_document(*CHANGES), jsonplan.refused_document(["no"], environment_name="e")):
        major, minor = str(document["format_version"]).split(".")
        assert (major, minor.isdigit()) == ("1", True)
        assert document["sssctl"]["format_version"] == jsonplan.SSSCTL_FORMAT_VERSION  # type: ignore[index]
        assert "terraform_version" not in document


def test_planned_values_and_prior_state_hold_each_object_once() -> None:
    document = _document(*CHANGES)
    planned = document["planned_values"]["root_module"]["resources"]  # type: ignore[index]
    prior = document["prior_state"]["values"]["root_module"]["resources"]  # type: ignore[index]
    assert document["prior_state"]["format_version"] == "1.0"  # type: ignore[index]
    # the deleted object and the unreadable one are not planned; the created one had no prior
    assert [r["address"] for r in planned] == [
        'server_profile.custom["EXO"]', "approval", "mailboxes", "org_setting.Same"]
    assert [r["address"] for r in prior] == ["approval", "mailboxes", "org_setting.Gone", "org_setting.Same"]
    approval = planned[1]
    assert approval["values"] == {"require_for_users": True, "require_for_queues": True}
    assert {"mode", "type", "name", "provider_name", "schema_version", "sensitive_values"} <= approval.keys()


def test_secret_fields_are_marked_sensitive_and_absent_sides_are_false() -> None:
    rc = jsonplan.resource_change(Change("app_registration.sss", Action.CREATE, None,
                                         {"display_name": "SSS", "secret": "new secret"}, "missing"))
    assert rc["change"]["before_sensitive"] is False
    assert rc["change"]["after_sensitive"] == {"secret": True}


def test_top_level_flags_say_whether_apply_may_proceed() -> None:
    incomplete = _document(*CHANGES)
    assert (incomplete["errored"], incomplete["applyable"], incomplete["complete"]) == (False, False, False)
    extras = incomplete["sssctl"]
    assert isinstance(extras, dict)
    assert extras["incomplete"] == ["privilege.prvX: could not be read: 403 denied"]
    assert extras["summary"] == {"add": 1, "change": 2, "destroy": 1, "unknown": 1, "no_op": 1}
    assert extras["environment"] == {"name": "contoso", "url": "https://x", "organization_id": "org"}
    ready = _document(CHANGES[1])
    assert (ready["applyable"], ready["complete"], ready["resource_drift"]) == (True, True, [])
    nothing = _document(CHANGES[5])
    assert nothing["applyable"] is False and nothing["complete"] is True


def test_drift_seen_by_a_normal_plan_is_in_resource_drift() -> None:
    drift = Change("approval", Action.UPDATE, {"require_for_users": True}, {"require_for_users": False},
                   "changed outside sssctl (recorded -> live)", kind="approval")
    plan = dataclasses.replace(plan_of(*CHANGES[:2]), drift=(drift,))
    document = json.loads(jsonplan.render(plan, environment_name="contoso"))
    assert [(rc["address"], rc["type"]) for rc in document["resource_drift"]] == [("approval", "approval")]
    assert len(document["resource_changes"]) == 2


def test_refresh_only_reports_drift_and_proposes_nothing() -> None:
    document = _document(CHANGES[1], refresh_only=True)
    assert document["resource_changes"] == [] and document["applyable"] is False
    assert [rc["address"] for rc in document["resource_drift"]] == ["approval"]  # type: ignore[union-attr]


def test_a_refused_plan_is_valid_json_that_says_why() -> None:
    document = json.loads(jsonplan.dumps(jsonplan.refused_document(["mailboxes still use it"])))
    assert (document["errored"], document["applyable"], document["complete"]) == (True, False, False)
    assert document["resource_changes"] == [] and document["sssctl"]["refused"] == ["mailboxes still use it"]
