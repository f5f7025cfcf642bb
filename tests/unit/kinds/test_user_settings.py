from __future__ import annotations

import pytest

from sssctl.clients.errors import PreconditionFailed
from sssctl.config.model import UserSettingsPolicy
from sssctl.engine.plan import Action
from sssctl.kinds.user_settings import KIND
from tests.unit.kinds.world import Engine, actionable, desired, seed

pytestmark = pytest.mark.timeout(30)

WANT = desired(user_settings=UserSettingsPolicy(incoming_email_filtering="email_enabled_records"))


def test_only_enabled_people_that_differ_are_planned() -> None:
    engine = Engine(seed())
    (change,) = engine.plan(KIND, WANT)
    # u-3 already has 3, u-5 is disabled, the application user is skipped.
    assert change.action is Action.UPDATE
    assert change.before == {
        "differing": 3,
        "by_current": {"all": 1, "leads_contacts_accounts": 2},
        "sample": ["user01@contoso.com", "user02@contoso.com", "user04@contoso.com"],
    }
    queries = [
        f for verb, target, f in engine.dv.calls if verb == "QUERY" and target == "usersettingscollection"
    ]
    assert queries == ["incomingemailfilteringmethod ne 3"]


def test_second_apply_writes_nothing_and_state_keeps_a_digest() -> None:
    engine = Engine(seed())
    engine.apply(KIND, WANT)
    assert engine.dv.row("usersettingscollection", "u-4")["incomingemailfilteringmethod"] == 3
    assert engine.dv.row("usersettingscollection", "u-5")["incomingemailfilteringmethod"] == 4
    managed = engine.state["user_settings"]["managed"]
    assert managed["updated"] == 3 and len(managed["digest"]) == 64
    writes = engine.dv.writes
    assert actionable(engine.plan(KIND, WANT)) == []
    engine.apply(KIND, WANT)
    assert engine.dv.writes == writes


def test_a_setting_changed_since_plan_is_named_and_not_overwritten() -> None:
    engine = Engine(seed())
    ctx = engine.context(WANT)
    (change,) = KIND.diff(WANT, KIND.read(ctx))
    engine.dv.touch("usersettingscollection", "u-2")
    with pytest.raises(PreconditionFailed) as refused:
        KIND.apply(ctx, change)
    assert str(refused.value).startswith("updated 2 users; 1 changed since plan and were left alone (u-2)")
    assert refused.value.status == 412
    assert engine.dv.row("usersettingscollection", "u-2")["incomingemailfilteringmethod"] != 3
    assert engine.dv.row("usersettingscollection", "u-4")["incomingemailfilteringmethod"] == 3


def test_dropping_the_policy_forgets_it_without_touching_users() -> None:
    engine = Engine(seed())
    engine.apply(KIND, WANT)
    writes = engine.dv.writes
    (change,) = engine.plan(KIND, desired())
    assert change.action is Action.NOOP and change.forget and change.detail == {}
    assert "users keep their current settings" in change.reason
    engine.apply(KIND, desired())
    assert engine.dv.writes == writes and "user_settings" not in engine.state
