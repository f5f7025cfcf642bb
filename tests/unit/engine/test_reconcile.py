"""A write whose answer was lost: the applier reads again, then records, resends or refuses."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sssctl.clients.errors import OutcomeUnknown
from sssctl.engine.applier import Outcome
from sssctl.engine.kind import Context, Observed
from sssctl.engine.plan import Action, Change
from tests.unit.engine.fakes import FakeKind, org_settings_wanted
from tests.unit.engine.test_applier import setup, upd

pytestmark = pytest.mark.timeout(30)

ADDRESS = "org_setting.A"


def apply_losing_the_first_answer(
        tmp_path: Path, reached: Callable[[FakeKind], None]) -> tuple[Outcome, FakeKind, dict[str, object]]:
    """Apply one update whose first attempt does ``reached`` (what the service saw), then loses its answer."""
    kind = FakeKind("org_setting", org_settings_wanted, live={ADDRESS: {"value": 0}})
    calls: list[Change] = []

    def hook(change: Change) -> None:
        calls.append(change)
        if len(calls) == 1:
            reached(kind)
            raise OutcomeUnknown("PATCH dataverse:organizations: the answer was lost")

    kind.apply_hook = hook
    applier, backend = setup(tmp_path, [kind])
    (outcome,) = applier.run([upd(ADDRESS)]).outcomes
    snapshot = backend.read()
    return outcome, kind, dict(snapshot.resources) if snapshot else {}


def test_a_write_that_took_effect_is_recorded_as_applied_without_a_resend(tmp_path: Path) -> None:
    outcome, kind, resources = apply_losing_the_first_answer(
        tmp_path, lambda k: k.touch(ADDRESS, {"value": 1}))

    assert outcome.status == "applied" and "answer was lost" in outcome.message
    assert kind.applied == []                       # nothing was sent a second time
    assert resources[ADDRESS]["managed"] == {"value": 1}     # type: ignore[index]


def test_a_write_that_did_not_take_effect_is_sent_once_more(tmp_path: Path) -> None:
    outcome, kind, resources = apply_losing_the_first_answer(tmp_path, lambda k: None)

    assert outcome.status == "applied" and "sent again after a lost answer" in outcome.message
    assert kind.applied == [ADDRESS] and kind.live[ADDRESS] == {"value": 1}
    assert ADDRESS in resources


def test_values_someone_else_changed_meanwhile_are_refused_and_not_overwritten(tmp_path: Path) -> None:
    outcome, kind, resources = apply_losing_the_first_answer(
        tmp_path, lambda k: k.touch(ADDRESS, {"value": 7}))

    assert outcome.status == "refused" and "someone else" in outcome.message
    assert kind.applied == [] and kind.live[ADDRESS] == {"value": 7}
    assert ADDRESS not in resources


def test_a_compliant_address_is_recorded_at_apply_so_later_drift_shows(tmp_path: Path) -> None:
    kind = FakeKind("org_setting", org_settings_wanted, live={"org_setting.B": {"value": 1}})
    applier, backend = setup(tmp_path, [kind])

    report = applier.run([upd(ADDRESS), Change("org_setting.B", Action.NOOP, {"value": 1},
                                               {"value": 1}, "already in effect")])

    assert report.ok
    snapshot = backend.read()
    assert snapshot is not None
    assert snapshot.resources["org_setting.B"]["managed"] == {"value": 1}
    assert snapshot.resources["org_setting.B"]["original"] == {"value": 1}


class SharedTableKind(FakeKind):
    """A kind whose helpers ask for the same small table twice per read, as the mailbox pass does."""

    def __init__(self) -> None:
        super().__init__("org_setting", org_settings_wanted, live={ADDRESS: {"value": 0}})
        self.table_reads = 0
        self.stale_seen: list[object] = []

    def read(self, ctx: Context) -> Observed:
        def load() -> str:
            self.table_reads += 1
            return "profiles"

        ctx.reads.get("profiles", load)
        ctx.reads.get("profiles", load)
        self.stale_seen.append(ctx.reads.loaded(["before-the-write"]))
        return super().read(ctx)


def test_a_read_back_asks_for_each_table_once_and_trusts_nothing_read_before(tmp_path: Path) -> None:
    kind = SharedTableKind()
    calls: list[Change] = []

    def hook(change: Change) -> None:
        calls.append(change)
        if len(calls) == 1:
            raise OutcomeUnknown("PATCH dataverse:organizations: the answer was lost")

    kind.apply_hook = hook
    applier, _ = setup(tmp_path, [kind])
    applier.ctx.reads.put("before-the-write", "stale")
    (outcome,) = applier.run([upd(ADDRESS)]).outcomes

    assert outcome.status == "applied" and "sent again after a lost answer" in outcome.message
    assert kind.table_reads == 1                       # shared within the read-back, as in a plan
    assert kind.stale_seen == [{}]                     # the run's earlier answers were dropped
    assert applier.ctx.reads.loaded(["before-the-write", "profiles"]) == {}   # nothing outlives it
