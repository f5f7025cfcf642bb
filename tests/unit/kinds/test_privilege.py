from __future__ import annotations

from typing import Any

import pytest

from sssctl.clients.errors import PrivilegeDenied
from sssctl.config.model import PrivilegeAllowlist
from sssctl.engine.plan import Action
from sssctl.kinds.privilege import KIND
from tests.support import planning
from tests.support.applying import ChangeFailed, apply_changes
from tests.unit.kinds.world import APPROVE, READ_ACCOUNT, ROLES, Engine, actionable, desired, seed

pytestmark = pytest.mark.timeout(30)

PRV = "prvApproveRejectEmailAddress"


def allow(*roles: str, privilege: str = PRV):
    return desired(privileges={privilege: PrivilegeAllowlist(privilege, tuple(roles))})


def observed_for(engine: Engine, want):
    ctx = engine.context(want)
    return ctx, KIND.read(ctx)


def test_plan_lists_roles_losing_it_with_their_business_unit_copies() -> None:
    engine = Engine(seed())
    (change,) = engine.plan(KIND, allow("system administrator", "Basic User"))
    assert change.action is Action.UPDATE
    assert change.before == {
        "roles": {"Sales Manager": "Local", "System Administrator": "Global", "System Customizer": "Global"}
    }
    assert change.after == {"roles": {"System Administrator": "Global"}}  # Basic User is not given it
    assert change.detail["business_unit_copies"] == 4
    assert "Sales Manager, System Customizer" in change.reason


def test_removal_acts_on_root_copies_and_converges() -> None:
    engine = Engine(seed())
    want = allow("System Administrator")
    engine.apply(KIND, want)
    removed = [c[2] for c in engine.dv.calls if c[0] == "ACTION"]
    assert len(removed) == 2
    assert APPROVE not in engine.dv.role_privileges[ROLES["Sales Manager"].lower()]
    assert engine.dv.role_privileges[ROLES["System Administrator"].lower()][APPROVE] == "Global"
    writes = engine.dv.writes
    assert actionable(engine.plan(KIND, want)) == []
    engine.apply(KIND, want)
    assert engine.dv.writes == writes


def test_guard_refuses_to_remove_it_from_every_role_of_the_signed_in_identity() -> None:
    engine = Engine(seed())
    engine.dv.user_roles[engine.dv.me] = [ROLES["Sales Manager"]]
    want = allow("System Administrator", "Basic User")
    ctx, observed = observed_for(engine, want)
    changes = KIND.diff(want, observed)
    (refusal,) = KIND.guard(ctx, changes, {"privilege": observed})
    assert "only through Sales Manager" in refusal and "--allow-lockout" in refusal
    ctx.allow_lockout = True
    assert KIND.guard(ctx, changes, {"privilege": observed}) == []
    safe = allow("System Administrator", "Sales Manager")
    ctx, observed = observed_for(engine, safe)
    assert KIND.guard(ctx, KIND.diff(safe, observed), {"privilege": observed}) == []


def test_taking_it_from_system_administrator_is_refused_even_with_allow_lockout() -> None:
    engine = Engine(seed())
    want = allow("Sales Manager")
    ctx, observed = observed_for(engine, want)
    changes = KIND.diff(want, observed)
    ctx.allow_lockout = True
    (refusal,) = KIND.guard(ctx, changes, {"privilege": observed})
    assert "cannot be taken from System Administrator" in refusal
    assert 'Add "System Administrator" to allowed_roles' in refusal


def test_a_caller_holding_system_administrator_is_never_locked_out() -> None:
    engine = Engine(seed())
    want = allow("System Administrator")
    ctx, observed = observed_for(engine, want)
    assert "System Administrator" in observed.extra["caller_roles"]
    assert KIND.guard(ctx, KIND.diff(want, observed), {"privilege": observed}) == []


def test_unmanaging_gives_the_privilege_back_at_its_original_depth() -> None:
    engine = Engine(seed())
    engine.apply(KIND, allow("System Administrator"))
    (restore,) = engine.plan(KIND, desired())
    assert restore.action is Action.UPDATE
    assert {a["name"]: a["depth"] for a in restore.detail["add"]} == {
        "Sales Manager": "Local",
        "System Customizer": "Global",
    }
    engine.apply(KIND, desired())
    assert engine.dv.role_privileges[ROLES["Sales Manager"].lower()][APPROVE] == "Local"
    assert engine.state == {}


def test_an_unknown_privilege_is_unknown_not_a_change() -> None:
    engine = Engine(seed())
    (change,) = engine.plan(KIND, allow("System Administrator", privilege="prvNoSuchThing"))
    assert change.action is Action.UNKNOWN and "prvNoSuchThing" in change.reason


def test_unreadable_caller_roles_only_block_a_plan_that_leaves_nobody_with_it() -> None:
    engine = Engine(seed())
    engine.dv.user_roles.clear()
    engine.dv.query = _failing_roles(engine.dv.query)  # type: ignore[method-assign]
    keep_one = allow("System Administrator", "Sales Manager")
    ctx, observed = observed_for(engine, keep_one)
    assert observed.extra["caller_roles"] is None
    assert KIND.guard(ctx, KIND.diff(keep_one, observed), {"privilege": observed}) == []
    nobody = allow("Basic User")
    ctx, observed = observed_for(engine, nobody)
    refusals = KIND.guard(ctx, KIND.diff(nobody, observed), {"privilege": observed})
    assert any("from every role" in r for r in refusals)


def _failing_roles(query):
    return _failing("systemuserroles_association", query)


def _failing(segment, query):
    from sssctl.clients.errors import NotFound

    def wrapped(entity_set, **kw):
        if segment in entity_set:
            raise NotFound(f"Resource not found for the segment '{segment}'", status=404)
        return query(entity_set, **kw)

    return wrapped


def test_one_intersect_table_query_names_the_holders_and_no_role_is_asked() -> None:
    engine = Engine(seed())
    (change,) = engine.plan(KIND, allow("System Administrator"))
    assert [c for c in engine.dv.calls if c[0] == "FUNCTION"] == []
    assert [c[1] for c in engine.dv.calls].count("roleprivilegescollection") == 1
    assert change.before == {
        "roles": {"Sales Manager": "Local", "System Administrator": "Global", "System Customizer": "Global"}
    }


def test_without_the_intersect_table_every_role_is_asked_and_the_plan_is_the_same() -> None:
    listed = Engine(seed()).plan(KIND, allow("System Administrator"))
    engine = Engine(seed())
    engine.dv.query = _failing("roleprivilegescollection", engine.dv.query)  # type: ignore[method-assign]
    assert engine.plan(KIND, allow("System Administrator")) == listed
    asked = {c[2]["RoleId"] for c in engine.dv.calls if c[0] == "FUNCTION"}
    assert asked == set(ROLES.values())


def test_a_malformed_answer_about_one_privilege_leaves_only_that_privilege_unknown() -> None:
    # Each privilege is its own object: its holders come from its own queries, so a reply
    # that fails its model for one leaves the others planned. (The roles and business units
    # every privilege is judged against are shared: a bad row there makes all unknown.)
    from sssctl.clients.errors import MalformedReply

    engine = Engine(seed())
    query, bad = engine.dv.query, MalformedReply("dataverse: field privilegedepthmask: Expected `int`",
                                                 service="dataverse")

    def malformed_for_read_account(entity_set, **kw):
        if entity_set == "roleprivilegescollection" and READ_ACCOUNT in (kw.get("filter") or ""):
            raise bad
        return query(entity_set, **kw)

    def malformed_role_answers(*_args, **_kw):
        raise bad

    engine.dv.query = malformed_for_read_account  # type: ignore[method-assign]
    engine.dv.function = malformed_role_answers  # type: ignore[method-assign]
    admins = ("System Administrator",)
    want = desired(privileges={PRV: PrivilegeAllowlist(PRV, admins),
                               "prvReadAccount": PrivilegeAllowlist("prvReadAccount", admins)})
    changes = {c.address: c for c in engine.plan(KIND, want)}
    assert changes["privilege.prvReadAccount"].action is Action.UNKNOWN
    assert "privilegedepthmask" in changes["privilege.prvReadAccount"].reason
    assert changes[f"privilege.{PRV}"].action is Action.UPDATE


def test_a_refused_role_edit_fails_the_change_once_the_others_ran() -> None:
    """All role edits go in one continue-on-error $batch: a role Dataverse refuses does
    not keep the privilege on the others, and the change still fails, naming the refusal."""
    engine = Engine(seed())
    refused = ROLES["Sales Manager"].lower()
    edit = engine.dv.action

    def refusing(name: str, body: Any = None, *, bound: tuple[str, str] | None = None) -> Any:
        if bound is not None and bound[1].lower() == refused:
            raise PrivilegeDenied("the caller may not edit this role", status=403)
        return edit(name, body, bound=bound)

    engine.dv.action = refusing  # type: ignore[method-assign]
    want = allow("System Administrator")
    ctx = engine.context(want)
    (change,) = actionable(planning.plan([KIND], ctx, want)[0])
    with pytest.raises(ChangeFailed, match="may not edit this role"):
        apply_changes([KIND], ctx, [change], engine.state)
    assert APPROVE in engine.dv.role_privileges[refused]
    assert APPROVE not in engine.dv.role_privileges[ROLES["System Customizer"].lower()]
    assert [c[0] for c in engine.dv.calls].count("BATCH") == 1
