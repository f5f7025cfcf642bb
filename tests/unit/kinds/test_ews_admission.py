"""The EWS admission: only our entry is added or removed, a concurrent change is refused by
name, an empty list is never narrowed to one, and a malformed answer changes nothing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sssctl.config.loader import load
from sssctl.config.model import Desired
from sssctl.engine.kind import Context
from sssctl.engine.plan import Action, Change
from sssctl.kinds import ews_admission as kind
from sssctl.kinds._control5 import ews
from sssctl.kinds.handoffs import AppIds

CONFIGS = Path(__file__).resolve().parents[3] / "configs"
OURS = "598a7670-30f4-4a14-8269-82aa49cef715"
THEIRS = "4c1d9a7e-2b3f-4e5d-8c6b-7a9f0e1d2c3b"
LATE = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
ADDRESS = "ews_admission.sss"


class FakeOrg:
    """Get/Set-OrganizationConfig with a list that another admin may change between calls."""

    def __init__(self, app_ids: list[Any], enabled: Any = True) -> None:
        self.row: dict[str, Any] = {"EwsEnabled": enabled, "EwsAllowedAppIDs": app_ids,
                                    "EwsApplicationAccessPolicy": None, "EwsAllowList": [],
                                    "EwsBlockList": []}
        self.sets: list[dict[str, Any]] = []
        self.before_set: list[str] | None = None
        self.server_time = 1.9e9

    def invoke(self, cmdlet: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        if cmdlet == "Get-OrganizationConfig":
            if self.before_set is not None:       # someone else writes between plan and apply
                self.row["EwsAllowedAppIDs"], self.before_set = self.before_set, None
            return [dict(self.row)]
        assert cmdlet == "Set-OrganizationConfig"
        self.sets.append(dict(parameters or {}))
        self.row.update({k: v for k, v in (parameters or {}).items()})
        return []


def hardened() -> Desired:
    return load(CONFIGS / "hardened.toml", {})


def context(org: FakeOrg, desired: Desired, state: dict[str, Any] | None = None) -> Context:
    ctx = Context(desired=desired, dataverse=None, exchange=org, state=state or {})  # type: ignore[arg-type]
    ctx.handoffs.put("sss", AppIds(app_id=OURS, object_id="o"))
    return ctx


def plan(ctx: Context) -> list[Change]:
    return [replace(c, kind=kind.NAME) for c in kind.KIND.diff(ctx.desired, kind.KIND.read(ctx))]


def test_adds_only_our_id_and_keeps_every_other_entry() -> None:
    org = FakeOrg([THEIRS])
    ctx = context(org, hardened())
    (change,) = plan(ctx)
    assert change.action is Action.UPDATE and "keeping the other 1 entries" in change.reason
    applied = kind.KIND.apply(ctx, change)
    assert org.sets == [{"EwsAllowedAppIDs": f"{THEIRS},{OURS}"}]       # EwsEnabled never implied
    assert applied.managed is not None and applied.managed["added_by_sssctl"] is True
    state = {ADDRESS: {"kind": kind.NAME, "managed": dict(applied.managed)}}
    (again,) = plan(context(org, hardened(), state))
    assert again.action is Action.NOOP and again.pending and "24 hours" in again.reason


def test_a_list_changed_between_plan_and_write_is_refused_by_name() -> None:
    org = FakeOrg([THEIRS])
    ctx = context(org, hardened())
    (change,) = plan(ctx)
    org.before_set = [THEIRS, LATE]
    with pytest.raises(kind.ListChangedSincePlan, match=f"added {LATE}"):
        kind.KIND.apply(ctx, change)
    assert org.sets == []


def test_destroy_removes_only_the_entry_sssctl_added() -> None:
    org = FakeOrg([THEIRS, OURS])
    state = {ADDRESS: {"kind": kind.NAME, "managed": {"app_id": OURS, "added_by_sssctl": True}}}
    empty = replace(hardened(), app_registrations={}, custom_profiles={})
    ctx = context(org, empty, state)
    (change,) = plan(ctx)
    assert change.action is Action.DELETE
    kind.KIND.apply(ctx, change)
    assert org.sets == [{"EwsAllowedAppIDs": THEIRS}]
    found = {ADDRESS: {"kind": kind.NAME, "managed": {"app_id": OURS, "added_by_sssctl": False}}}
    (kept,) = plan(context(FakeOrg([OURS]), empty, found))
    assert kept.action is Action.NOOP and kept.forget                # not ours to remove


def test_an_empty_list_is_never_narrowed_to_one_app() -> None:
    org = FakeOrg([])
    ctx = context(org, hardened())
    changes = plan(ctx)
    assert kind.KIND.guard(ctx, changes, {})[0].startswith(f"{ADDRESS}: refusing to add the first entry")


def test_ews_enabled_is_written_only_when_the_config_says_so() -> None:
    org = FakeOrg([], enabled=False)
    desired = hardened()
    app = replace(desired.app_registrations["sss"], ews_enabled=True)
    ctx = context(org, replace(desired, app_registrations={"sss": app}))
    (change,) = plan(ctx)
    assert "turn EWS on for the organization" in change.reason
    kind.KIND.apply(ctx, change)
    assert org.sets == [{"EwsAllowedAppIDs": OURS, "EwsEnabled": True}]


@pytest.mark.parametrize("row", [
    {"EwsAllowedAppIDs": "not-a-list"},
    {"EwsAllowedAppIDs": ["not-a-guid"]},
    {"EwsEnabled": "maybe"},
])
def test_a_malformed_answer_is_unknown_and_changes_nothing(row: dict[str, Any]) -> None:
    org = FakeOrg([THEIRS])
    org.row.update(row)
    (change,) = plan(context(org, hardened()))
    assert change.action is Action.UNKNOWN and "could not be read" in change.reason
    assert org.sets == []


def test_gate_reading_in_the_users_words() -> None:
    settings = ews.parse_settings({"EWSAllowedAppIDs": [THEIRS], "EwsEnabled": True})
    assert ews.refusals(settings, OURS, ews.UNSET_BLOCKED_FROM - 1) == [
        "EWS is restricted in this tenant and the app is not on EWSAllowedAppIDs"]
    unset = ews.parse_settings({"EwsEnabled": None})
    assert ews.refusals(unset, OURS, ews.UNSET_BLOCKED_FROM - 1) == []
    assert ews.refusals(unset, OURS, ews.UNSET_BLOCKED_FROM)[0].startswith("EWS is blocked")
    assert "shut down" in ews.refusals(settings, THEIRS, ews.SHUTDOWN)[0]
    assert ews.days_left(ews.SHUTDOWN - 86400 * 10) == 10
    assert ews.transport(["graph:Mail.ReadWrite", "graph:Calendars.ReadWrite", "graph:Contacts.ReadWrite",
                          "graph:MailboxSettings.Read", "exchange:full_access_as_app"]) == "graph"
    assert ews.transport(["exchange:full_access_as_app"]) == "ews"
    policy = ews.parse_settings({"EwsApplicationAccessPolicy": "EnforceAllowList", "EwsAllowList": ["OWA/*"]})
    assert "OWA/*" in (ews.user_agent_warning(policy) or "")


def test_the_list_is_written_as_one_comma_separated_string_and_read_in_either_form() -> None:
    """The parameter page types -EwsAllowedAppIDs as one String; Get may answer either form."""
    org = FakeOrg(f"{THEIRS}, {OURS}")      # type: ignore[arg-type]
    ctx = context(org, hardened())
    (change,) = plan(ctx)
    assert change.action is Action.NOOP and org.sets == []
    assert ews.as_parameter([]) is None and ews.as_parameter([THEIRS, OURS]) == f"{THEIRS},{OURS}"


def test_removing_the_last_entry_sends_null_not_an_empty_string() -> None:
    org = FakeOrg([OURS])
    state = {ADDRESS: {"kind": kind.NAME, "managed": {"app_id": OURS, "added_by_sssctl": True}}}
    ctx = context(org, replace(hardened(), app_registrations={}, custom_profiles={}), state)
    (change,) = plan(ctx)
    kind.KIND.apply(ctx, change)
    assert org.sets == [{"EwsAllowedAppIDs": None}]
