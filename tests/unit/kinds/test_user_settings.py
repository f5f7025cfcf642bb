from __future__ import annotations

import pytest

from sssctl.clients.errors import OutcomeUnknown, PreconditionFailed
from sssctl.config.model import UserSettingsPolicy
from sssctl.engine.plan import Action
from sssctl.kinds.user_settings import KIND
from tests.support.fake_dataverse import FakeDataverse
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


class LosesFirstAnswer(FakeDataverse):
    """The first $batch is carried out for u-1 only, then its answer is lost; meanwhile the
    person behind u-4 picks another filtering method."""

    lost = False

    def batch(self, operations, **kw):  # type: ignore[no-untyped-def]
        if self.lost:
            return super().batch(operations, **kw)
        self.lost = True
        super().batch([op for op in operations if op.url.endswith("(u-1)")], **kw)
        self.row("usersettingscollection", "u-4")["incomingemailfilteringmethod"] = 0
        self.touch("usersettingscollection", "u-4")
        raise OutcomeUnknown("connection dropped after the request left")


def test_a_lost_chunk_of_users_is_settled_in_place_like_mailboxes() -> None:
    dv = seed()
    dv.__class__ = LosesFirstAnswer
    engine = Engine(dv)
    ctx = engine.context(WANT)
    (change,) = KIND.diff(WANT, KIND.read(ctx))
    with pytest.raises(PreconditionFailed) as refused:
        KIND.apply(ctx, change)
    assert str(refused.value).startswith("updated 2 users; 1 changed since plan and were left alone (u-4)")
    assert dv.row("usersettingscollection", "u-2")["incomingemailfilteringmethod"] == 3     # sent again
    assert dv.row("usersettingscollection", "u-4")["incomingemailfilteringmethod"] == 0     # left alone
    assert [c[1] for c in dv.calls if c[0] == "BATCH"] == ["1", "1"]   # u-1 carried out, then u-2 resent
