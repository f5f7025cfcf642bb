from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from sssctl import exitcodes
from sssctl.clients.errors import MalformedReply, PreconditionFailed, ReplyTooLarge
from sssctl.config.model import Desired, Environment
from sssctl.engine.applier import Applier
from sssctl.engine.kind import Applied, Context
from sssctl.engine.plan import Action, Change
from sssctl.state.backend import LocalBackend
from sssctl.state.store import StateStore
from tests.support.fake_dataverse import FakeDataverse
from tests.unit.engine.fakes import ORG_ID as ORG
from tests.unit.engine.fakes import URL, FakeKind, org_settings_wanted

pytestmark = pytest.mark.timeout(30)


def setup(tmp_path: Path, kinds: list[FakeKind]) -> tuple[Applier, LocalBackend]:
    backend = LocalBackend(tmp_path, "t")
    store = StateStore(backend, None, url=URL, organization_id=ORG, name="t")
    d = Desired(version=1, source=Path("x"), digest="d", environment=Environment(name="t"),
                org_settings={"A": 1, "B": 1, "C": 1})
    ctx = Context(desired=d, dataverse=FakeDataverse())  # type: ignore[arg-type]
    return Applier(kinds, ctx, store, parallelism=4), backend


def upd(address: str) -> Change:
    return Change(address, Action.UPDATE, {"value": 0}, {"value": 1}, "r", 'W/"1"')


def test_state_is_checkpointed_after_every_change(tmp_path: Path) -> None:
    serials: list[int] = []
    kind = FakeKind("org_setting", org_settings_wanted)
    applier, backend = setup(tmp_path, [kind])
    kind.apply_hook = lambda change: serials.append(backend.read().serial if backend.read() else 0)  # type: ignore[union-attr]
    report = applier.run([upd("org_setting.A"), upd("org_setting.B"), upd("org_setting.C")])
    assert report.ok and serials == [0, 1, 2]
    snapshot = backend.read()
    assert snapshot is not None and snapshot.serial == 3
    assert snapshot.resources["org_setting.A"]["original"] == {"value": 0}
    assert report.summary() == "Apply complete: 3 changed, 0 created, 0 destroyed, 0 refused."


def test_a_changed_object_is_refused_and_independent_changes_still_apply(tmp_path: Path) -> None:
    org = FakeKind("org_setting", org_settings_wanted,
                   apply_errors={"org_setting.A": PreconditionFailed("changed", status=412)})
    approval = FakeKind("approval", lambda d: {})
    applier, backend = setup(tmp_path, [org, approval])
    report = applier.run([Change("approval", Action.UPDATE, {"u": 0}, {"u": 1}, "r"),
                          upd("org_setting.A"), upd("org_setting.B")])
    statuses = {o.change.address: o.status for o in report.outcomes}
    assert statuses == {"approval": "applied", "org_setting.A": "refused", "org_setting.B": "applied"}
    assert not report.ok and "1 refused" in report.summary()
    assert "org_setting.A" not in backend.read().resources  # type: ignore[union-attr]


def test_kinds_after_a_failed_kind_in_the_safe_sequence_are_skipped(tmp_path: Path) -> None:
    custom = FakeKind("server_profile_custom", lambda d: {},
                      apply_errors={'server_profile.custom["X"]': RuntimeError("boom")})
    defaults = FakeKind("mailbox_defaults", lambda d: {}, after=("server_profile_custom",))
    default = FakeKind("server_profile_default", lambda d: {}, after=("mailbox_defaults",))
    org = FakeKind("org_setting", org_settings_wanted)
    applier, _ = setup(tmp_path, [custom, defaults, org, default])
    report = applier.run([
        Change('server_profile.custom["X"]', Action.CREATE, None, {"a": 1}, "r"),
        Change("mailbox_defaults", Action.UPDATE, {"p": "d"}, {"p": "X"}, "r"),
        upd("org_setting.A"),
        Change("server_profile.default", Action.UPDATE, {"active": True}, {"active": False}, "r"),
    ])
    statuses = {o.change.address: o.status for o in report.outcomes}
    assert statuses['server_profile.custom["X"]'] == "failed"
    assert statuses["mailbox_defaults"] == "skipped"
    assert statuses["server_profile.default"] == "skipped"
    assert statuses["org_setting.A"] == "applied"
    assert not default.applied


def test_forget_noops_drop_the_address_without_calling_the_kind(tmp_path: Path) -> None:
    kind = FakeKind("mailboxes", lambda d: {})
    applier, backend = setup(tmp_path, [kind])
    applier.store.record("mailboxes", kind="mailboxes", managed={"n": 1}, fingerprints={}, before={"n": 0})
    report = applier.run([Change("mailboxes", Action.NOOP, None, None, "no longer managed",
                                 forget=True)])
    assert [o.status for o in report.outcomes] == ["forgotten"] and not kind.applied
    assert backend.read().resources == {}  # type: ignore[union-attr]


def test_ctrl_c_stops_scheduling_and_keeps_what_completed(tmp_path: Path) -> None:
    def slow(change: Change) -> None:
        if change.address == "org_setting.B":
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.3)

    kind = FakeKind("org_setting", org_settings_wanted, apply_hook=slow)
    applier, backend = setup(tmp_path, [kind])
    report = applier.run([upd("org_setting.A"), upd("org_setting.B"), upd("org_setting.C")])
    statuses = {o.change.address: o.status for o in report.outcomes}
    assert report.interrupted and not report.ok
    assert statuses == {"org_setting.A": "applied", "org_setting.B": "applied",
                        "org_setting.C": "not started"}
    assert set(backend.read().resources) == {"org_setting.A", "org_setting.B"}  # type: ignore[union-attr]
    assert report.summary().startswith("Apply interrupted: 2 changed")


def test_tearing_down_skips_what_a_failed_dependent_still_needs(tmp_path: Path) -> None:
    defaults = FakeKind("mailbox_defaults", lambda d: {}, after=("server_profile_custom",),
                        apply_errors={"mailbox_defaults": RuntimeError("412")})
    custom = FakeKind("server_profile_custom", lambda d: {}, after=("app_registration",))
    apps = FakeKind("app_registration", lambda d: {})
    applier, _ = setup(tmp_path, [apps, custom, defaults])
    applier.reverse = True
    report = applier.run([
        Change("mailbox_defaults", Action.UPDATE, {"p": "X"}, {"p": "default"}, "restore"),
        Change('server_profile.custom["X"]', Action.DELETE, {"a": 1}, None, "created by sssctl"),
        Change("app_registration.sss", Action.DELETE, {"a": 1}, None, "created by sssctl"),
    ])
    statuses = [o.status for o in report.outcomes]
    assert statuses == ["failed", "skipped", "skipped"]
    assert not custom.applied and not apps.applied


def test_a_stop_request_starts_nothing_new_and_reports_the_rest_not_started(tmp_path: Path) -> None:
    kind = FakeKind("org_setting", org_settings_wanted)
    applier, backend = setup(tmp_path, [kind])
    kind.apply_hook = lambda change: applier.ctx.stop.set() if change.address == "org_setting.A" else None
    report = applier.run([upd("org_setting.A"), upd("org_setting.B")])
    assert report.interrupted and not report.ok
    assert [(o.change.address, o.status) for o in report.outcomes] == [
        ("org_setting.A", "applied"), ("org_setting.B", "not started")]
    assert set(backend.read().resources) == {"org_setting.A"}  # type: ignore[union-attr]


def test_a_change_stopped_part_way_is_recorded_and_its_dependents_skipped(tmp_path: Path) -> None:
    defaults = FakeKind("mailbox_defaults", lambda d: {})
    mailboxes = FakeKind("mailboxes", lambda d: {}, after=("mailbox_defaults",))
    default = FakeKind("server_profile_default", lambda d: {}, after=("mailboxes",))
    applier, backend = setup(tmp_path, [defaults, mailboxes, default])
    partial = Applied("mailboxes", managed={"reverted": 1}, writes=1, message="stopped: 1", complete=False)
    mailboxes.apply = lambda ctx, change: partial  # type: ignore[method-assign]
    report = applier.run([
        Change("mailboxes", Action.UPDATE, {"drifted": 3}, {"drifted": 0}, "revert"),
        Change("server_profile.default", Action.UPDATE, {"active": True}, {"active": False}, "r"),
    ])
    assert [o.status for o in report.outcomes] == ["stopped", "not started"]
    assert report.interrupted and not default.applied
    assert backend.read().resources["mailboxes"]["managed"] == {"reverted": 1}  # type: ignore[union-attr]


def test_a_switch_tears_down_only_after_the_build_up_it_depends_on_applied(tmp_path: Path) -> None:
    apps = FakeKind("app_registration", lambda d: {})
    custom = FakeKind("server_profile_custom", lambda d: {}, after=("app_registration",))
    defaults = FakeKind("mailbox_defaults", lambda d: {}, after=("server_profile_custom",))
    boxes = FakeKind("mailboxes", lambda d: {}, after=("mailbox_defaults",),
                     apply_errors={"mailboxes": RuntimeError("503")})
    applier, _ = setup(tmp_path, [apps, custom, defaults, boxes])
    report = applier.run([   # not destroy: lockdown after hardened, in the planner's order
        Change("mailbox_defaults", Action.UPDATE, {"p": "X"}, {"p": "default"}, "stop"),
        Change("mailboxes", Action.UPDATE, {"drifted": 3}, {"drifted": 0}, "stop"),
        Change('server_profile.custom["X"]', Action.DELETE, {"a": 1}, None, "created by sssctl"),
        Change("app_registration.sss", Action.DELETE, {"a": 1}, None, "created by sssctl"),
    ])
    statuses = [o.status for o in report.outcomes]
    assert statuses == ["applied", "failed", "skipped", "skipped"]
    assert not custom.applied and not apps.applied


def test_a_kind_depending_on_nothing_builds_up_alongside_the_sequence(tmp_path: Path) -> None:
    both_running = threading.Barrier(2)
    custom = FakeKind("server_profile_custom", lambda d: {},
                      apply_errors={'server_profile.custom["X"]': RuntimeError("boom")})
    mailboxes = FakeKind("mailboxes", lambda d: {}, after=("server_profile_custom",),
                         apply_hook=lambda change: both_running.wait(timeout=5))
    users = FakeKind("user_settings", lambda d: {}, apply_hook=lambda change: both_running.wait(timeout=5))
    applier, _ = setup(tmp_path, [custom, mailboxes, users])
    report = applier.run([Change("mailboxes", Action.UPDATE, {"n": 1}, {"n": 0}, "r"),
                          Change("user_settings", Action.UPDATE, {"n": 1}, {"n": 0}, "r")])
    assert report.ok  # each waited for the other: they ran at the same time

    (tmp_path / "again").mkdir()
    applier, _ = setup(tmp_path / "again", [custom, mailboxes, users])
    users.apply_hook = None
    report = applier.run([Change('server_profile.custom["X"]', Action.CREATE, None, {"a": 1}, "r"),
                          Change("mailboxes", Action.UPDATE, {"n": 1}, {"n": 0}, "r"),
                          Change("user_settings", Action.UPDATE, {"n": 1}, {"n": 0}, "r")])
    statuses = {o.change.address: o.status for o in report.outcomes}
    assert statuses == {'server_profile.custom["X"]': "failed", "mailboxes": "skipped",
                        "user_settings": "applied"}


def _scope_and_admission(tmp_path: Path, *, scope_error: Exception | None = None,
                         hook: object = None) -> tuple[dict[str, str], list[str]]:
    """app -> (EWS admission, mailbox scope) -> custom profile -> canary, as the real kinds declare."""
    order: list[str] = []

    def kind(name: str, after: tuple[str, ...] = (), **extra: object) -> FakeKind:
        def record(change: Change) -> None:
            order.append(change.address)
            if callable(hook) and name in ("ews_admission", "exchange_scope"):
                hook(change)
        return FakeKind(name, lambda d: {}, after=after, apply_hook=record, **extra)  # type: ignore[arg-type]

    errors = {"exchange_scope.sss": scope_error} if scope_error else {}
    kinds = [kind("app_registration"), kind("ews_admission", ("app_registration",)),
             kind("exchange_scope", ("app_registration",), apply_errors=errors),
             kind("server_profile_custom", ("app_registration", "exchange_scope")),
             kind("canary", ("server_profile_custom", "ews_admission"))]
    applier, _ = setup(tmp_path, kinds)
    report = applier.run([Change(a, Action.UPDATE, {"n": 1}, {"n": 0}, "r") for a in (
        "app_registration.sss", "ews_admission.sss", "exchange_scope.sss",
        'server_profile.custom["X"]', 'canary["X"]')])
    return {o.change.address: o.status for o in report.outcomes}, order


def test_steps_that_need_only_the_same_earlier_step_run_side_by_side(tmp_path: Path) -> None:
    both_running = threading.Barrier(2)
    statuses, order = _scope_and_admission(tmp_path, hook=lambda change: both_running.wait(timeout=5))
    assert set(statuses.values()) == {"applied"}  # admission and scope each waited for the other
    assert order[0] == "app_registration.sss"
    assert order[-2:] == ['server_profile.custom["X"]', 'canary["X"]']  # each after all it needs


def test_a_failed_step_still_skips_exactly_what_declared_it_needs_it(tmp_path: Path) -> None:
    statuses, _ = _scope_and_admission(tmp_path, scope_error=RuntimeError("boom"))
    assert statuses == {"app_registration.sss": "applied", "ews_admission.sss": "applied",
                        "exchange_scope.sss": "failed", 'server_profile.custom["X"]': "skipped",
                        'canary["X"]': "skipped"}


def test_tearing_down_never_runs_alongside(tmp_path: Path) -> None:
    order: list[str] = []
    first = FakeKind("org_setting", org_settings_wanted, apply_hook=lambda c: order.append(c.address))
    second = FakeKind("user_settings", lambda d: {}, apply_hook=lambda c: order.append(c.address))
    applier, _ = setup(tmp_path, [first, second])
    applier.reverse = True
    report = applier.run([Change("user_settings", Action.UPDATE, {"n": 1}, {"n": 0}, "r", restore=True),
                          upd("org_setting.A")])
    assert report.ok and order == ["user_settings", "org_setting.A"]


def _tiered(tmp_path: Path, elevation: str) -> dict[str, str]:
    scope = FakeKind("exchange_scope", lambda d: {})
    custom = FakeKind("server_profile_custom", lambda d: {}, after=("exchange_scope",))
    org = FakeKind("org_setting", org_settings_wanted)
    applier, _ = setup(tmp_path, [scope, custom, org])
    applier.elevation = elevation  # type: ignore[assignment]
    report = applier.run([
        Change("exchange_scope.sss", Action.CREATE, None, {"scope": "g"}, "r", elevation="grant consent"),
        Change('server_profile.custom["X"]', Action.CREATE, None, {"a": 1}, "r"),
        upd("org_setting.A"),
    ])
    return {o.change.address: f"{o.status}: {o.message}" for o in report.outcomes}


def test_a_standard_apply_skips_what_needs_elevation_and_its_dependents(tmp_path: Path) -> None:
    statuses = _tiered(tmp_path, "standard")
    assert statuses["exchange_scope.sss"].startswith("skipped: needs elevation: grant consent")
    assert statuses['server_profile.custom["X"]'].startswith("skipped: depends on exchange_scope")
    assert statuses["org_setting.A"].startswith("applied")


def test_an_elevated_apply_applies_only_what_needs_elevation(tmp_path: Path) -> None:
    assert list(_tiered(tmp_path, "only")) == ["exchange_scope.sss"]


def test_an_identity_holding_the_right_applies_everything(tmp_path: Path) -> None:
    assert {s.split(":")[0] for s in _tiered(tmp_path, "held").values()} == {"applied"}


def test_a_reply_failing_its_model_makes_the_change_unknown_and_the_run_exit_3(tmp_path: Path) -> None:
    bad = MalformedReply("graph: POST applications/addPassword: keyId: Expected `str`, got `null`",
                         service="graph")
    custom = FakeKind("server_profile_custom", lambda d: {},
                      apply_errors={'server_profile.custom["X"]': bad})
    defaults = FakeKind("mailbox_defaults", lambda d: {}, after=("server_profile_custom",))
    org = FakeKind("org_setting", org_settings_wanted)
    applier, backend = setup(tmp_path, [custom, defaults, org])
    report = applier.run([
        Change('server_profile.custom["X"]', Action.CREATE, None, {"a": 1}, "r"),
        Change("mailbox_defaults", Action.UPDATE, {"p": "d"}, {"p": "X"}, "r"),
        upd("org_setting.A"),
    ])
    outcomes = {o.change.address: o for o in report.outcomes}
    unknown = outcomes['server_profile.custom["X"]']
    assert unknown.status == "unknown" and "keyId" in unknown.message and "graph" in unknown.message
    assert outcomes["mailbox_defaults"].status == "skipped" and outcomes["mailbox_defaults"].after_unknown
    assert outcomes["org_setting.A"].status == "applied"
    assert report.exit_code == exitcodes.INCOMPLETE
    assert "1 unknown, 1 skipped" in report.summary()
    resources = backend.read().resources  # type: ignore[union-attr]
    assert 'server_profile.custom["X"]' not in resources and "mailbox_defaults" not in resources


def test_a_reply_over_the_size_cap_makes_the_change_unknown_not_failed(tmp_path: Path) -> None:
    # The request may have been carried out; only its answer was not read whole.
    big = ReplyTooLarge("graph: POST applications: the answer exceeded the 1,048,576-byte cap",
                        service="graph")
    custom = FakeKind("server_profile_custom", lambda d: {}, apply_errors={'server_profile.custom["X"]': big})
    defaults = FakeKind("mailbox_defaults", lambda d: {}, after=("server_profile_custom",))
    applier, _ = setup(tmp_path, [custom, defaults])
    report = applier.run([Change('server_profile.custom["X"]', Action.CREATE, None, {"a": 1}, "r"),
                          Change("mailbox_defaults", Action.UPDATE, {"p": "d"}, {"p": "X"}, "r")])
    outcomes = {o.change.address: o for o in report.outcomes}
    assert outcomes['server_profile.custom["X"]'].status == "unknown"
    assert "size cap" in outcomes['server_profile.custom["X"]'].message
    assert outcomes["mailbox_defaults"].status == "skipped" and outcomes["mailbox_defaults"].after_unknown
    assert report.exit_code == exitcodes.INCOMPLETE


def test_a_failure_outweighs_an_unknown_in_the_exit_code(tmp_path: Path) -> None:
    bad = MalformedReply("graph: keyId", service="graph")
    custom = FakeKind("server_profile_custom", lambda d: {}, apply_errors={'server_profile.custom["X"]': bad})
    org = FakeKind("org_setting", org_settings_wanted,
                   apply_errors={"org_setting.A": RuntimeError("boom")})
    applier, _ = setup(tmp_path, [custom, org])
    report = applier.run([Change('server_profile.custom["X"]', Action.CREATE, None, {"a": 1}, "r"),
                          upd("org_setting.A")])
    assert report.exit_code == exitcodes.ERROR
