from __future__ import annotations

import threading
from pathlib import Path

import pytest

from sssctl.config.model import Approval, Desired, Environment
from sssctl.engine.errors import PlanRefused
from sssctl.engine.kind import Context
from sssctl.engine.plan import Action, Change
from sssctl.engine.planner import compute_changes, order
from sssctl.kinds import load_kinds
from tests.support.fake_dataverse import FakeDataverse
from tests.unit.engine.fakes import FakeKind, approval_wanted, org_settings_wanted

pytestmark = pytest.mark.timeout(30)


def desired(**kw: object) -> Desired:
    return Desired(version=1, source=Path("x.toml"), digest="d", environment=Environment(name="t"),
                   **kw)  # type: ignore[arg-type]


def ctx_for(d: Desired, state: dict[str, dict[str, object]] | None = None) -> Context:
    return Context(desired=d, dataverse=FakeDataverse(), state=state or {})  # type: ignore[arg-type]


def kinds() -> list[FakeKind]:
    """In the registry's safe order, which is the order changes come in."""
    return [
        FakeKind("approval", approval_wanted,
                 live={"approval": {"require_for_users": False, "require_for_queues": None}}),
        FakeKind("org_setting", org_settings_wanted, live={"org_setting.A": {"value": 1}}),
    ]


def test_changes_come_in_the_safe_kind_order() -> None:
    d = desired(org_settings={"A": 2, "B": 3}, approval=Approval(require_for_users=True))
    changes, _ = compute_changes(kinds(), ctx_for(d))
    assert [c.address for c in changes] == ["approval", "org_setting.A", "org_setting.B"]
    assert [c.action for c in changes] == [Action.UPDATE, Action.UPDATE, Action.CREATE]


def test_a_failed_read_makes_every_address_of_the_kind_unknown_including_recorded_ones() -> None:
    ks = kinds()
    ks[1].fail_read = "403 prvReadOrganization missing"
    state = {"org_setting.Old": {"kind": "org_setting", "managed": {"value": 1}, "original": {"value": 0}}}
    d = desired(org_settings={"A": 2}, approval=Approval(require_for_users=True))
    changes, reading = compute_changes(ks, ctx_for(d, state))
    unknown = {c.address: c.reason for c in changes if c.action is Action.UNKNOWN}
    assert set(unknown) == {"org_setting.A", "org_setting.Old"}
    assert "403 prvReadOrganization missing" in unknown["org_setting.A"]
    assert reading.failures == {"org_setting": "403 prvReadOrganization missing"}
    assert any(c.address == "approval" for c in changes)   # other kinds still planned


def test_reads_run_concurrently() -> None:
    barrier = threading.Barrier(2)
    ks = kinds()
    for k in ks:
        k.read_barrier = barrier        # each read waits for the other: sequential reads would time out
    _, reading = compute_changes(ks, ctx_for(desired(org_settings={"A": 1})))
    assert not reading.failures


def test_guard_refusals_are_all_reported() -> None:
    ks = kinds()
    ks[0].refusals = ["first reason"]
    ks[1].refusals = ["second reason"]
    with pytest.raises(PlanRefused) as caught:
        compute_changes(ks, ctx_for(desired(org_settings={"A": 2})))
    assert caught.value.refusals == ["first reason", "second reason"]


def test_target_limits_the_plan() -> None:
    d = desired(org_settings={"A": 2, "B": 3}, approval=Approval(require_for_users=True))
    changes, _ = compute_changes(kinds(), ctx_for(d), targets=["org_setting.B"])
    assert [c.address for c in changes] == ["org_setting.B"]


def test_removed_from_config_means_restore() -> None:
    state = {"org_setting.A": {"kind": "org_setting", "managed": {"value": 1}, "original": {"value": 0}}}
    changes, _ = compute_changes(kinds(), ctx_for(desired(), state))
    restore = [(c.address, c.action, c.after) for c in changes]
    assert restore == [("org_setting.A", Action.UPDATE, {"value": 0})]


def test_destroy_order_is_the_safe_sequence_backwards() -> None:
    registry = load_kinds()
    changes = [Change(a, Action.DELETE, {}, None, "", kind=registry.kind_of(a) or "") for a in (
        "app_registration.sss", 'server_profile.custom["X"]', "mailbox_defaults", "server_profile.default")]
    backwards = [c.address for c in order(registry, changes, reverse=True)]
    assert backwards == ["server_profile.default", "mailbox_defaults", 'server_profile.custom["X"]',
                         "app_registration.sss"]


def test_a_plan_that_builds_and_tears_down_builds_first_then_tears_down_backwards() -> None:
    registry = load_kinds()
    planned = [("app_registration.sss", Action.DELETE), ('server_profile.custom["X"]', Action.DELETE),
               ("mailboxes", Action.UPDATE), ("mailbox_defaults", Action.UPDATE),
               ("org_setting.A", Action.UPDATE)]
    changes = [Change(a, action, {}, None, "", kind=registry.kind_of(a) or "",
                      restore=a == "org_setting.A") for a, action in planned]
    assert [c.address for c in order(registry, changes)] == [
        "mailbox_defaults", "mailboxes",                                      # built up in safe order
        "org_setting.A", 'server_profile.custom["X"]', "app_registration.sss"]  # then torn down backwards
