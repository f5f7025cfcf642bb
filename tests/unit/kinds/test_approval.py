from __future__ import annotations

import pytest

from sssctl.config.model import Approval
from sssctl.engine.plan import Action
from sssctl.kinds.approval import KIND
from tests.unit.kinds.world import ORG, Engine, actionable, desired, seed

pytestmark = pytest.mark.timeout(30)


def test_only_the_configured_flag_is_managed_and_written() -> None:
    engine = Engine(seed())
    want = desired(approval=Approval(require_for_users=True))
    (change,) = engine.plan(KIND, want)
    assert (change.action, change.before, change.after) == (
        Action.UPDATE,
        {"require_for_users": False},
        {"require_for_users": True},
    )
    engine.apply(KIND, want)
    assert [b for v, _, b in engine.dv.calls if v == "PATCH"] == [{"requireapprovalforuseremail": True}]
    assert engine.dv.row("organizations", ORG)["requireapprovalforqueueemail"] is True
    assert actionable(engine.plan(KIND, want)) == []


def test_removed_section_restores_the_original_flag() -> None:
    engine = Engine(seed())
    engine.apply(KIND, desired(approval=Approval(require_for_users=True, require_for_queues=True)))
    (restore,) = engine.plan(KIND, desired())
    assert restore.after == {"require_for_users": False, "require_for_queues": True}
    engine.apply(KIND, desired())
    assert engine.dv.row("organizations", ORG)["requireapprovalforuseremail"] is False
    assert engine.state == {}
