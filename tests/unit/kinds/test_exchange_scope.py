"""The mailbox scope: one RestrictAccess policy for the app, checked with Test-ApplicationAccessPolicy,
and the tenant-wide mailbox consent it narrows, granted only once the policy exists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from sssctl.engine.plan import Action
from sssctl.kinds.exchange_scope import KIND, NO_ACCESS, UNSCOPED
from tests.unit.kinds.control5_fakes import EXO, FakeExchange, World, actionable, desired

pytestmark = pytest.mark.timeout(30)
ADDRESS = "exchange_scope.sss"
GROUP = "sss-mailboxes@contoso.com"
FULL_ACCESS = "exchange:full_access_as_app"


def scoped_world() -> World:
    world = World(exchange=FakeExchange(members={GROUP: ["adele@contoso.com"]}))
    world.add_mailboxes("adele@contoso.com", "ceo@contoso.com")
    return world


def by_address(changes: list) -> dict:
    return {c.address: c for c in changes}


def test_new_app_plans_a_restrict_access_policy_then_the_consent_it_narrows() -> None:
    world = scoped_world()
    changes = by_address(world.plan(desired()))
    change = changes[ADDRESS]
    assert change.action is Action.CREATE
    assert change.before == {"scope": NO_ACCESS, "group": None, "consent": []}
    assert change.after == {"scope": f"scoped to {GROUP}", "group": GROUP, "consent": [FULL_ACCESS]}
    assert change.reason == (f"{NO_ACCESS}; restrict it to {GROUP}; then grant the tenant-wide consent "
                             f"of {FULL_ACCESS}, which the policy narrows")
    assert changes["app_registration.sss"].after["consented"] == []     # left to the scope


def test_consent_without_a_policy_is_said_to_be_unscoped() -> None:
    world = scoped_world()
    world.apply(desired())
    world.exchange.policies.clear()
    change = by_address(world.plan(desired()))[ADDRESS]
    assert change.before["scope"] == UNSCOPED and change.before["consent"] == [FULL_ACCESS]
    assert change.reason == f"{UNSCOPED}; restrict it to {GROUP}"


def test_the_consent_is_granted_only_once_the_policy_exists() -> None:
    world = scoped_world()
    grant = world.graph.post
    policies_at_grant: list[int] = []

    def watched(path: str, body: Mapping[str, Any], **kwargs: Any) -> Any:
        if path.endswith("/appRoleAssignedTo"):
            policies_at_grant.append(len(world.exchange.policies))
        return grant(path, body, **kwargs)

    world.graph.post = watched  # type: ignore[method-assign]
    world.apply(desired())
    assert policies_at_grant == [1]
    assert [a["appRoleId"] for a in world.graph.assignments.values()] == [
        world.graph.role_id(EXO, "full_access_as_app")]


def test_mailbox_consent_removed_out_of_band_is_granted_again_by_the_scope() -> None:
    world = scoped_world()
    world.apply(desired())
    world.graph.assignments.clear()
    changes = by_address(world.plan(desired()))
    assert changes["app_registration.sss"].action is Action.NOOP
    assert changes[ADDRESS].action is Action.UPDATE
    assert changes[ADDRESS].reason.startswith(f"then grant the tenant-wide consent of {FULL_ACCESS}")
    world.apply(desired())
    assert len(world.graph.assignments) == 1
    assert actionable(world.plan(desired())) == []


def test_a_mailbox_permission_dropped_from_the_config_loses_its_consent() -> None:
    world = scoped_world()
    world.apply(desired(permissions=("exchange:full_access_as_app", "graph:Mail.ReadWrite")))
    assert len(world.graph.assignments) == 2
    change = by_address(world.plan(desired()))[ADDRESS]
    assert "revoke the tenant-wide consent of graph:Mail.ReadWrite (not in permissions)" in change.reason
    world.apply(desired())
    assert [a["appRoleId"] for a in world.graph.assignments.values()] == [
        world.graph.role_id(EXO, "full_access_as_app")]


def test_apply_creates_one_policy_then_plan_reports_the_check_and_nothing_to_do() -> None:
    world = scoped_world()
    world.apply(desired())
    [policy] = world.exchange.policies
    app = world.graph.app_by_unique("sssctl-contoso-prod-sss")
    assert policy["AppId"] == app["appId"].lower()
    assert policy["AccessRight"] == "RestrictAccess"
    assert policy["ScopeEmailAddress"] == GROUP
    change = by_address(world.plan(desired()))[ADDRESS]
    assert change.action is Action.NOOP
    assert "Denied for ceo@contoso.com; Granted for adele@contoso.com" in change.reason
    writes = world.exchange.writes
    world.apply(desired())
    assert world.exchange.writes == writes


def test_group_changed_replaces_the_policy_new_first() -> None:
    world = scoped_world()
    world.apply(desired())
    other = "sync-pilot@contoso.com"
    change = by_address(world.plan(desired(group=other)))[ADDRESS]
    assert change.action is Action.UPDATE
    assert change.before["group"] == GROUP
    world.apply(desired(group=other))
    assert [p["ScopeEmailAddress"] for p in world.exchange.policies] == [other]
    calls = [
        c
        for c in world.exchange.calls
        if c in ("New-ApplicationAccessPolicy", "Remove-ApplicationAccessPolicy")
    ]
    assert calls[-2:] == ["New-ApplicationAccessPolicy", "Remove-ApplicationAccessPolicy"]


def test_group_compared_case_insensitively() -> None:
    world = scoped_world()
    world.apply(desired())
    assert actionable(world.plan(desired(group=GROUP.upper()))) == []


def test_scope_removed_from_config_removes_the_policy_sssctl_created() -> None:
    world = scoped_world()
    world.apply(desired())
    change = by_address(world.plan(desired(group=None)))[ADDRESS]
    assert change.action is Action.DELETE
    world.apply(desired(group=None))
    assert world.exchange.policies == []
    assert ADDRESS not in world.state


def test_policy_shown_by_group_name_is_matched_through_the_recorded_scope_id() -> None:
    world = scoped_world()
    world.apply(desired())
    [policy] = world.exchange.policies
    del policy["ScopeEmailAddress"]  # Exchange shows name and GUID, not the address
    policy["ScopeName"] = policy["ScopeIdentity"] = "SSS Mailboxes"
    policy["ScopeIdentityRaw"] = "guid-1"
    world.state[ADDRESS]["fingerprints"] = {"scope_id": "guid-1"}
    assert actionable(world.plan(desired())) == []
    world.state[ADDRESS]["fingerprints"] = {}
    assert by_address(world.plan(desired()))[ADDRESS].action is Action.UPDATE


def test_policies_of_other_apps_are_left_alone() -> None:
    world = scoped_world()
    world.exchange.policies.append(
        {
            "Identity": "x",
            "AppId": "someone-else",
            "AccessRight": "RestrictAccess",
            "ScopeEmailAddress": "x@contoso.com",
        }
    )
    world.apply(desired())
    assert len(world.exchange.policies) == 2


def test_without_exchange_client_the_scope_is_unknown_not_an_error() -> None:
    world = World(exchange=None)
    change = by_address(world.plan(desired()))[ADDRESS]
    assert change.action is Action.UNKNOWN
    assert "no Exchange admin API configured" in change.reason


def test_destroy_after_app_deleted_still_removes_the_policy_by_planned_app_id() -> None:
    world = scoped_world()
    world.apply(desired())
    empty = desired(apps=False, profiles=(), group=None)
    world.apply(empty)  # app deleted first (registry order), then the policy by the planned app id
    assert world.exchange.policies == []


def test_describe_exports_the_group_the_app_is_scoped_to() -> None:
    world = scoped_world()
    ctx = world.context(desired())
    ctx.census = True
    assert KIND.describe(KIND.read(ctx)) == {}           # nothing sssctl created yet
    world.apply(desired())
    ctx = world.context(desired())
    ctx.census = True
    group = desired().app_registrations["sss"].mailbox_scope
    assert group is not None
    described = KIND.describe(KIND.read(ctx))
    assert described == {"app_registrations": {"sss": {"mailbox_scope": {"group": group.group}}}}


def test_exchange_refusing_to_answer_makes_the_scope_unknown() -> None:
    from sssctl.clients.errors import ExchangeError

    world = scoped_world()
    world.apply(desired())

    def refuse(cmdlet: str, parameters: object = None) -> list:
        raise ExchangeError("The role assigned to application isn't supported in this scenario", status=403)

    world.exchange.invoke = refuse  # type: ignore[method-assign,union-attr]
    change = by_address(world.plan(desired()))[ADDRESS]
    assert change.action is Action.UNKNOWN
    assert "mailbox scope could not be read" in change.reason and "403" in change.reason
