"""The canary's plan: every own-app profile gets one, and a passed test is left alone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sssctl.config.loader import load
from sssctl.config.model import Desired
from sssctl.engine.kind import Observed
from sssctl.engine.plan import Action
from sssctl.kinds.canary import KIND, address_of, canaried

CONFIGS = Path(__file__).resolve().parents[3] / "configs"
PROFILE = "Contoso EXO (own app)"
ADDRESS = address_of(PROFILE)


def rbac() -> Desired:
    return load(CONFIGS / "hardened-rbac.toml", {})


def test_every_own_app_profile_gets_a_canary_whatever_its_scope_method() -> None:
    hardened = load(CONFIGS / "hardened.toml", {})
    assert list(canaried(hardened)) == [PROFILE]
    assert canaried(hardened)[PROFILE][1].method == "access_policy"  # type: ignore[union-attr]
    unscoped = replace(hardened, app_registrations={"sss": replace(
        hardened.app_registrations["sss"], mailbox_scope=None)})
    assert canaried(unscoped) == {PROFILE: ("sss", None)}
    assert list(canaried(rbac())) == [PROFILE]
    assert KIND.addresses(rbac()) == ['canary["Contoso EXO (own app)"]']


def test_a_passed_canary_is_a_no_op_and_anything_else_moves_and_tests_one_mailbox() -> None:
    passed = Observed(objects={ADDRESS: {"mailbox": "user003@contoso.com", "on_profile": True,
                                         "test": "passed"}})
    (change,) = KIND.diff(rbac(), passed)
    assert change.action is Action.NOOP
    (change,) = KIND.diff(rbac(), Observed(objects={ADDRESS: None}))
    assert change.action is Action.UPDATE and "before any other mailbox moves" in change.reason
    assert change.detail == {"profile": PROFILE, "app_key": "sss", "mailbox": None}
    assert change.before == {"mailbox": "(the first in-scope mailbox, chosen at apply)", "test": "not run"}


def test_a_named_canary_is_carried_and_an_unreadable_one_is_unknown() -> None:
    desired = rbac()
    app = desired.app_registrations["sss"]
    assert app.mailbox_scope is not None
    named = replace(desired, app_registrations={"sss": replace(
        app, mailbox_scope=replace(app.mailbox_scope, canary="user005@contoso.com"))})
    live = {"mailbox": "user005@contoso.com", "on_profile": False, "test": "not run"}
    (change,) = KIND.diff(named, Observed(objects={ADDRESS: live}))
    assert change.detail["mailbox"] == "user005@contoso.com"
    (unknown,) = KIND.diff(named, Observed(objects={}, errors={ADDRESS: "could not read the canary: 503"}))
    assert unknown.action is Action.UNKNOWN


def test_the_mailbox_moves_wait_for_the_canary() -> None:
    from sssctl.kinds import load_kinds

    registry = load_kinds()
    for dependent in ("mailbox_defaults", "mailboxes", "server_profile_default"):
        assert "canary" in registry.blockers(dependent)


def test_an_ews_profile_is_noted_in_every_plan_with_the_days_left_and_a_graph_one_is_not() -> None:
    from datetime import datetime, timezone

    from sssctl.engine.plan import Plan
    from sssctl.engine.render import text

    moment = datetime(2027, 3, 2, tzinfo=timezone.utc).timestamp()
    live = {"mailbox": "user003@contoso.com", "on_profile": True, "test": "passed", "now": moment}
    (change,) = KIND.diff(rbac(), Observed(objects={ADDRESS: live}))
    assert change.action is Action.NOOP and change.notice
    assert "depends on EWS, which Exchange Online shuts down on 2027-04-01, in 30 days" in change.reason
    shown = text.render(Plan(changes=(change,), environment_url="https://x", organization_id="org",
                             state_lineage=None, state_serial=0, config_digest="d", created_at="t"))
    assert shown.startswith("Nothing to change; for your information:") and "in 30 days" in shown
    graph = load(CONFIGS / "hardened-graph.toml", {})
    (quiet,) = KIND.diff(graph, Observed(objects={ADDRESS: {**live, "transport": "graph"}}))
    assert quiet.action is Action.NOOP and not quiet.notice and "EWS" not in quiet.reason
