from __future__ import annotations

import json
import time

import pytest

from sssctl.clients.errors import OutcomeUnknown, PreconditionFailed
from sssctl.config.model import MailboxDefaults, MailboxPolicy
from sssctl.engine.plan import Action
from sssctl.engine.planfile import change_to_dict
from sssctl.errors import WriteOutcomeUnknown
from sssctl.kinds._rows import digest
from sssctl.kinds.mailboxes import KIND
from tests.support.fake_dataverse import FakeDataverse
from tests.unit.kinds.world import (
    CUSTOM_PROFILE,
    DEFAULT_PROFILE,
    Engine,
    actionable,
    desired,
    mailbox_id,
    seed,
)

pytestmark = pytest.mark.timeout(30)

USERS = MailboxPolicy(enforce="defaults", scope="users", exclude=("USER06@contoso.com",))


def test_plan_counts_drift_found_by_a_server_side_filter() -> None:
    engine = Engine(seed())
    (change,) = engine.plan(KIND, desired(mailboxes=USERS))
    assert change.action is Action.UPDATE
    assert change.before == {
        "drifted": 3,
        "by_reason": {"appointments_contacts_tasks": 1, "incoming_email": 1, "server_profile": 1},
        "sample": ["user02@contoso.com", "user03@contoso.com", "user04@contoso.com"],
    }
    (query,) = [f for verb, target, f in engine.dv.calls if verb == "QUERY" and target == "mailboxes"]
    assert "incomingemaildeliverymethod ne 2" in query and "actdeliverymethod ne 1" in query
    assert "_emailserverprofile_value ne 7eedeb22" in query
    json.dumps(change_to_dict(change))  # saved plans carry it


def test_apply_reverts_with_etags_then_a_second_apply_writes_nothing() -> None:
    engine = Engine(seed())
    want = desired(mailboxes=USERS)
    (applied,) = engine.apply(KIND, want)
    assert applied.writes == 3
    assert engine.state["mailboxes"]["managed"]["digest"] == digest(mailbox_id(n) for n in (2, 3, 4))
    assert "rows" not in json.dumps(engine.state)
    patched = engine.dv.row("mailboxes", mailbox_id(4))
    assert patched["_emailserverprofile_value"] == "7eedeb22-6a30-4a66-808b-00c25a95b03f"
    assert patched["testemailconfigurationscheduled"] is True
    assert "testemailconfigurationscheduled" not in engine.dv.row("mailboxes", mailbox_id(2))
    assert engine.dv.row("mailboxes", mailbox_id(6))["outgoingemaildeliverymethod"] == 0  # excluded
    writes = engine.dv.writes
    assert actionable(engine.plan(KIND, want)) == []
    engine.apply(KIND, want)
    assert engine.dv.writes == writes


def test_a_stop_request_lets_the_chunk_in_flight_finish_and_sends_no_other(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sssctl.kinds._rows.BATCH_SIZE", 1)
    engine = Engine(seed())
    want = desired(mailboxes=USERS)
    ctx = engine.context(want)
    ctx.parallelism = 1
    ctx.progress = lambda label, done, total: done and ctx.stop.set()   # Ctrl-C as the first chunk lands
    (change,) = actionable(KIND.diff(want, KIND.read(ctx)))
    applied = KIND.apply(ctx, change)
    assert not applied.complete and applied.writes == 1
    assert applied.message.startswith("stopped: reverted 1 mailboxes (3 planned)")
    assert applied.managed is not None and applied.managed["reverted"] == 1
    (left,) = actionable(engine.plan(KIND, want))
    assert left.before is not None and left.before["drifted"] == 2   # the next run resumes there


def test_a_mailbox_changed_since_plan_is_named_and_not_overwritten() -> None:
    engine = Engine(seed())
    want = desired(mailboxes=USERS)
    ctx = engine.context(want)
    (change,) = KIND.diff(want, KIND.read(ctx))
    engine.dv.touch("mailboxes", mailbox_id(3))
    with pytest.raises(PreconditionFailed, match=r"user03@contoso\.com"):
        KIND.apply(ctx, change)
    assert engine.dv.row("mailboxes", mailbox_id(3))["actdeliverymethod"] == 2
    assert engine.dv.row("mailboxes", mailbox_id(2))["incomingemaildeliverymethod"] == 2


def test_report_shows_drift_without_changing_anything() -> None:
    engine = Engine(seed())
    (change,) = engine.plan(KIND, desired(mailboxes=MailboxPolicy(enforce="report", scope="all")))
    assert change.action is Action.NOOP
    assert change.report_only and change.before is not None and change.before["drifted"] == 5
    assert "report only: 5 mailboxes" in change.reason


def test_queue_mailboxes_ignore_act_and_never_get_it_written() -> None:
    engine = Engine(seed())
    want = desired(mailboxes=MailboxPolicy(enforce="defaults", scope="queues"))
    (change,) = engine.plan(KIND, want)
    assert change.before["sample"] == ["queue08@contoso.com"]
    engine.apply(KIND, want)
    queue = engine.dv.row("mailboxes", mailbox_id(8))
    assert queue["incomingemaildeliverymethod"] == 2 and queue["actdeliverymethod"] == 1
    assert engine.dv.row("mailboxes", mailbox_id(7))["actdeliverymethod"] == 2


def test_drift_is_measured_against_the_defaults_this_plan_sets() -> None:
    engine = Engine(seed())
    want = desired(mailboxes=USERS, mailbox_defaults=MailboxDefaults(server_profile="Contoso EXO"))
    (change,) = engine.plan(KIND, want)
    assert change.before["by_reason"]["server_profile"] == 4  # every user but user04 (and excluded 06)
    assert change.detail["moved_from"]["7eedeb22-6a30-4a66-808b-00c25a95b03f"] == 4
    engine.apply(KIND, want)
    assert engine.dv.row("mailboxes", mailbox_id(1))["_emailserverprofile_value"] == CUSTOM_PROFILE


def test_a_profile_not_created_yet_makes_every_mailbox_in_scope_drift() -> None:
    engine = Engine(seed())
    want = desired(mailboxes=USERS, mailbox_defaults=MailboxDefaults(server_profile="Future"))
    (change,) = engine.plan(KIND, want)
    assert change.before["drifted"] == 5
    (query,) = [f for verb, target, f in engine.dv.calls if verb == "QUERY" and target == "mailboxes"]
    assert query is None


def test_dropping_the_policy_forgets_it_without_touching_mailboxes() -> None:
    engine = Engine(seed())
    engine.apply(KIND, desired(mailboxes=USERS))
    (change,) = engine.plan(KIND, desired())
    assert change.action is Action.NOOP and change.forget and change.detail == {}
    engine.apply(KIND, desired())
    assert engine.state == {}


def test_a_failed_mailbox_read_is_unknown_not_drift() -> None:
    from sssctl.clients.errors import PrivilegeDenied

    engine = Engine(seed())
    real = engine.dv.query

    def denied(entity_set, **kw):
        if entity_set == "mailboxes":
            raise PrivilegeDenied("is missing prvReadMailbox privilege", status=403)
        return real(entity_set, **kw)

    engine.dv.query = denied  # type: ignore[method-assign]
    (change,) = engine.plan(KIND, desired(mailboxes=USERS))
    assert change.action is Action.UNKNOWN and "prvReadMailbox" in change.reason


def test_a_mailbox_without_any_profile_is_drift() -> None:
    dv = seed()
    dv.row("mailboxes", mailbox_id(5))["_emailserverprofile_value"] = None
    (change,) = Engine(dv).plan(KIND, desired(mailboxes=USERS))
    assert "user05@contoso.com" in change.before["sample"]


def test_thousands_of_rows_go_in_batches_of_batch_size_with_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sssctl.kinds._rows.BATCH_SIZE", 1000)  # the chunking, whatever the size chosen
    monkeypatch.setattr("sssctl.kinds._rows.MIN_BATCH_SIZE", 1000)
    dv = seed()
    for n in range(100, 2600):
        dv.add(
            "mailboxes",
            {
                "mailboxid": mailbox_id(n),
                "emailaddress": f"bulk{n}@contoso.com",
                "incomingemaildeliverymethod": 0,
                "outgoingemaildeliverymethod": 2,
                "actdeliverymethod": 1,
                "_emailserverprofile_value": None,
                "_regardingobjectid_value": f"u-{n}",
            },
        )
    engine = Engine(dv)
    want = desired(mailboxes=MailboxPolicy(enforce="defaults", scope="users"))
    ctx = engine.context(want)
    seen: list[tuple[str, int, int | None]] = []
    ctx.progress = lambda label, done, total: seen.append((label, done, total))
    (change,) = KIND.diff(want, KIND.read(ctx))
    assert change.before["drifted"] == 2504 and len(change.before["sample"]) == 10
    KIND.apply(ctx, change)
    assert sorted(c[1] for c in dv.calls if c[0] == "BATCH") == ["1000", "1000", "504"]
    assert [s for s in seen if s[0] == "revert mailboxes"] == [
        ("revert mailboxes", 0, 2504),  # shown as running before the first answer
        ("revert mailboxes", 1000, 2504),
        ("revert mailboxes", 2000, 2504),
        ("revert mailboxes", 2504, 2504),
    ]


def test_queue_scope_is_narrowed_on_the_server_and_ignores_act() -> None:
    engine = Engine(seed())
    (change,) = engine.plan(KIND, desired(mailboxes=MailboxPolicy(enforce="report", scope="queues")))
    (query,) = [f for verb, target, f in engine.dv.calls if verb == "QUERY" and target == "mailboxes"]
    assert "actdeliverymethod" not in query
    assert query.endswith("and (_regardingobjectid_value eq q-1 or _regardingobjectid_value eq q-2)")
    assert change.sample == ("queue08@contoso.com",) and change.report_only


def bulk_world(count: int) -> FakeDataverse:
    dv = seed()
    for n in range(100, 100 + count):
        dv.add(
            "mailboxes",
            {
                "mailboxid": mailbox_id(n),
                "emailaddress": f"bulk{n}@contoso.com",
                "incomingemaildeliverymethod": 0,
                "outgoingemaildeliverymethod": 2,
                "actdeliverymethod": 1,
                "_emailserverprofile_value": None,
                "_regardingobjectid_value": f"u-{n}",
            },
        )
    return dv


class SlowFirstChunk(FakeDataverse):
    """The first $batch answers last, so chunks finish out of order when sent together."""

    def batch(self, operations, **kw):  # type: ignore[no-untyped-def]
        if "mailboxes(" + mailbox_id(2) + ")" in {op.url for op in operations}:
            time.sleep(0.2)
        return super().batch(operations, **kw)


def revert_with(parallelism: int) -> tuple[str, list[tuple[str, int, int | None]], int]:
    dv = bulk_world(3500)
    dv.__class__ = SlowFirstChunk
    engine = Engine(dv)
    want = desired(mailboxes=MailboxPolicy(enforce="defaults", scope="users"))
    ctx = engine.context(want)
    ctx.parallelism = parallelism
    seen: list[tuple[str, int, int | None]] = []
    ctx.progress = lambda label, done, total: seen.append((label, done, total))
    (change,) = KIND.diff(want, KIND.read(ctx))
    for n in (150, 1500, 3550):  # one conflict in each of three chunks
        dv.touch("mailboxes", mailbox_id(n))
    started = time.monotonic()
    with pytest.raises(PreconditionFailed) as refused:
        KIND.apply(ctx, change)
    seconds = time.monotonic() - started
    batches = sum(1 for c in dv.calls if c[0] == "BATCH")
    assert seconds < 10
    return str(refused.value), [s for s in seen if s[0] == "revert mailboxes"], batches


def test_parallel_chunks_give_the_same_result_progress_and_conflicts_as_one_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sssctl.kinds._rows.BATCH_SIZE", 1000)
    monkeypatch.setattr("sssctl.kinds._rows.MIN_BATCH_SIZE", 1000)  # the same chunks at either width
    one = revert_with(1)
    four = revert_with(4)
    assert one == four
    message, progress, batches = four
    assert batches == 4
    assert message.startswith("reverted 3501 mailboxes; 3 changed since plan")
    assert "(bulk1500@contoso.com, bulk150@contoso.com, bulk3550@contoso.com)" in message
    assert progress == [("revert mailboxes", n, 3504) for n in (0, 1000, 2000, 3000, 3504)]


def test_dropping_the_policy_moves_mailboxes_off_a_custom_profile_the_plan_deletes() -> None:
    engine = Engine(seed())
    on_custom = desired(mailboxes=USERS, mailbox_defaults=MailboxDefaults(server_profile="Contoso EXO"))
    engine.apply(KIND, on_custom)
    engine.state["mailbox_defaults"] = {
        "kind": "mailbox_defaults", "managed": {"server_profile": "Contoso EXO"},
        "original": {"server_profile": "Microsoft Exchange Online"}}
    engine.state['server_profile.custom["Contoso EXO"]'] = {
        "kind": "server_profile_custom", "managed": {}, "original": None,
        "fingerprints": {"profile_id": CUSTOM_PROFILE}}
    (change,) = engine.plan(KIND, desired())
    assert change.action is Action.UPDATE and change.restore
    assert change.before["drifted"] == 5 and "keeping their delivery methods" in change.reason  # with user04
    methods = [engine.dv.row("mailboxes", mailbox_id(1))[c] for c in ("incomingemaildeliverymethod",
                                                                      "actdeliverymethod")]
    engine.apply(KIND, desired())
    moved = engine.dv.row("mailboxes", mailbox_id(1))
    assert moved["_emailserverprofile_value"] == "7eedeb22-6a30-4a66-808b-00c25a95b03f"
    assert [moved[c] for c in ("incomingemaildeliverymethod", "actdeliverymethod")] == methods
    assert "mailboxes" not in engine.state


def test_dropping_the_policy_moves_nothing_when_the_custom_profile_stays() -> None:
    engine = Engine(seed())
    engine.apply(KIND, desired(mailboxes=USERS,
                               mailbox_defaults=MailboxDefaults(server_profile="Contoso EXO")))
    engine.state['server_profile.custom["Contoso EXO"]'] = {
        "kind": "server_profile_custom", "managed": {}, "original": {"active": True},
        "fingerprints": {"profile_id": CUSTOM_PROFILE}}
    (change,) = engine.plan(KIND, desired())
    assert change.action is Action.NOOP and change.forget


class LosesFirstAnswer(FakeDataverse):
    """The first $batch is carried out for ``carried`` rows only, then its answer is lost;
    meanwhile someone else edits ``edited`` (another value, another ETag)."""

    carried: frozenset[str] = frozenset()
    edited: str = ""
    lose_again: bool = False
    fail_read_back: bool = False
    lost: int = 0

    def batch(self, operations, **kw):  # type: ignore[no-untyped-def]
        if self.lost == 0 or (self.lose_again and self.lost == 1):
            self.lost += 1
            mine = [op for op in operations if op.url.split("(")[1].rstrip(")") in self.carried]
            super().batch(mine, **kw)
            if self.edited:
                self.row("mailboxes", self.edited)["incomingemaildeliverymethod"] = 0
                self.touch("mailboxes", self.edited)
            raise OutcomeUnknown("connection dropped after the request left")
        return super().batch(operations, **kw)

    def query(self, entity_set, **kw):  # type: ignore[no-untyped-def]
        if self.fail_read_back and self.lost and "mailboxid eq" in str(kw.get("filter")):
            raise OutcomeUnknown("connection dropped")
        return super().query(entity_set, **kw)


def lose_first_answer(**knobs: object) -> tuple[Engine, LosesFirstAnswer]:
    dv = seed()
    dv.__class__ = LosesFirstAnswer
    for name, value in knobs.items():
        setattr(dv, name, value)
    return Engine(dv), dv  # type: ignore[return-value]


def test_a_lost_chunk_is_settled_in_place_written_resent_or_refused_by_name() -> None:
    engine, dv = lose_first_answer(carried=frozenset({mailbox_id(2)}), edited=mailbox_id(3))
    want = desired(mailboxes=USERS)
    ctx = engine.context(want)
    (change,) = KIND.diff(want, KIND.read(ctx))
    with pytest.raises(PreconditionFailed) as refused:   # refused by name, not an unknown outcome
        KIND.apply(ctx, change)
    assert str(refused.value).startswith("reverted 2 mailboxes; 1 changed since plan")
    assert "user03@contoso.com" in str(refused.value)
    read_back = [f for verb, target, f in dv.calls if verb == "QUERY" and target == "mailboxes"][-1]
    assert read_back == " or ".join(f"mailboxid eq {mailbox_id(n)}" for n in (2, 3, 4))
    # what the lost batch carried out, then the resend of the row it did not
    assert [c[1] for c in dv.calls if c[0] == "BATCH"] == ["1", "1"]
    assert dv.row("mailboxes", mailbox_id(4))["_emailserverprofile_value"] == DEFAULT_PROFILE
    assert dv.row("mailboxes", mailbox_id(3))["incomingemaildeliverymethod"] == 0    # left alone


@pytest.mark.parametrize("knob", ["lose_again", "fail_read_back"])
def test_what_the_chunk_cannot_settle_stays_lost_for_the_engine_to_read_back(knob: str) -> None:
    engine, _ = lose_first_answer(carried=frozenset({mailbox_id(2)}), **{knob: True})
    want = desired(mailboxes=USERS)
    ctx = engine.context(want)
    (change,) = KIND.diff(want, KIND.read(ctx))
    with pytest.raises(WriteOutcomeUnknown, match="answers for 2 rows were lost" if knob == "lose_again"
                       else "answers for 3 rows were lost"):
        KIND.apply(ctx, change)
    (applied,) = engine.apply(KIND, want)     # the engine's own read-back settles the rest
    assert applied.writes >= 1 and actionable(engine.plan(KIND, want)) == []
