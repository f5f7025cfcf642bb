"""How planned rows are cut into ``$batch`` requests."""

from __future__ import annotations

import pytest

from sssctl.clients.errors import MalformedReply, PreconditionFailed
from sssctl.engine.plan import Action
from sssctl.errors import ChangedSinceRead
from sssctl.kinds._rows import (
    BATCH_SIZE,
    MIN_BATCH_SIZE,
    SAMPLE_SIZE,
    Outcome,
    RowsFailed,
    UnreadRows,
    WrittenIds,
    batch_size,
    digest,
    unread_changes,
)


@pytest.mark.parametrize(("rows", "width", "size"), [
    (50_000, 52, BATCH_SIZE),      # large writes keep full batches: fewest requests
    (2_000, 52, 39),               # a small write fills every slot the cap allows
    (100, 52, MIN_BATCH_SIZE),     # never batches of one or two rows
    (2_400, 1, BATCH_SIZE),        # one request at a time: small batches only add round trips
])
def test_small_writes_are_spread_over_the_slots_and_large_ones_use_full_batches(
    rows: int, width: int, size: int
) -> None:
    assert batch_size(rows, width) == size


def test_a_write_of_many_rows_never_needs_more_batches_than_full_batches_and_the_cap_allow() -> None:
    for rows in (1, 99, 101, 5_199, 5_201, 24_397):
        batches = -(-rows // batch_size(rows, 52))
        assert batches <= max(52, -(-rows // BATCH_SIZE)), rows


def test_written_ids_digest_names_the_set_of_rows_whatever_order_the_answers_came_in() -> None:
    ids = ["B-2", "a-1", "line\nbreak", "ü\u2028x", ""]
    written = WrittenIds()
    for row_id in reversed(ids):
        written.append(row_id)
    assert len(written) == 5
    # ids compare case-insensitively, as Dataverse compares them
    assert written.digest() == digest(ids) == digest(i.upper() for i in sorted(ids))
    assert len(written.digest()) == 64
    assert digest(ids[1:]) != digest(ids) != digest([*ids, "c-3"])


# --- an aggregate change whose rows did not all go through fails as what happened to them ---


def test_rows_changed_since_the_plan_are_the_412_the_service_answered() -> None:
    with pytest.raises(PreconditionFailed) as refused:
        Outcome(conflicts=["u-2"]).raise_unless_clean("updated 2 users")
    assert refused.value.status == 412 and "changed since plan" in str(refused.value)


def test_rows_refused_for_another_reason_fail_the_change_and_are_no_412() -> None:
    with pytest.raises(RowsFailed) as failed:
        Outcome(conflicts=["u-2"], failures=["u-3: HTTP 403"]).raise_unless_clean("updated 1 users")
    assert not isinstance(failed.value, ChangedSinceRead)
    assert "1 failed (u-3: HTTP 403)" in str(failed.value) and "changed since plan" in str(failed.value)


def test_a_clean_outcome_raises_nothing() -> None:
    Outcome().raise_unless_clean("updated 0 users")
def test_after_a_lost_answer_each_planned_row_is_recorded_resent_or_refused() -> None:
    from sssctl.engine.plan import Action, Change
    from sssctl.kinds._rows import rows_after_lost_answer

    planned = Change("mailboxes", Action.UPDATE, None, None, "revert",
                     detail={"rows": [["a", 'W/"1"', "a@x"], ["b", 'W/"1"', "b@x"], ["c", 'W/"1"', "c@x"],
                                      ["d", 'W/"1"', "d@x"]]})
    fresh = Change("mailboxes", Action.UPDATE, None, None, "revert",
                   detail={"rows": [["B", 'W/"1"', "b@x"], ["c", 'W/"9"', "c@x"], ["d", 'W/"5"', "d@x"],
                                    ["e", 'W/"1"', "e@x"]]})

    resend, others = rows_after_lost_answer(planned, fresh, name=lambda row: str(row[2]), ours={"d": 'W/"5"'})

    # a: no longer differs (took effect); b: as planned (sent again, ids compared without case);
    # c: someone else's ETag (refused); d: our own earlier write's ETag (sent again);
    # e: not planned (left to the next plan)
    assert [row[0] for row in resend.detail["rows"]] == ["B", "d"]
    assert others == ["c@x"]


def test_a_merged_settings_document_shows_a_write_whatever_its_order_and_other_elements() -> None:
    from sssctl.kinds._shared import _xml_holds

    live = "<OrgSettings><B>2</B><A>True</A></OrgSettings>"
    assert _xml_holds(live, "<OrgSettings><A>true</A></OrgSettings>", "orgdborgsettings")
    assert not _xml_holds(live, "<OrgSettings><A>false</A></OrgSettings>", "orgdborgsettings")
    assert not _xml_holds("<OrgSettings", "<OrgSettings><A>true</A></OrgSettings>", "orgdborgsettings")


def _bad(column: str) -> MalformedReply:
    return MalformedReply(f"dataverse: field {column}: Expected `int`, got `str`", service="dataverse")


def test_a_malformed_row_that_names_its_object_is_kept_as_that_object_unknown() -> None:
    unread = UnreadRows("mailboxid", name=lambda row: row.get("emailaddress"),
                        skip=lambda row: row.get("emailaddress") == "excluded@contoso.com")
    unread({"mailboxid": "0000000A-0000-0000-0000-000000000001", "emailaddress": "a@contoso.com"}, _bad("x"))
    unread({"mailboxid": "00000000-0000-0000-0000-000000000002", "emailaddress": "excluded@contoso.com"},
           _bad("x"))
    changes = unread_changes("mailboxes", {"unread": unread.rows}, "mailbox")
    assert [(c.address, c.action) for c in changes] == [
        ('mailboxes["0000000a-0000-0000-0000-000000000001"]', Action.UNKNOWN)]
    assert "a@contoso.com" in changes[0].reason and "field x" in changes[0].reason


@pytest.mark.parametrize("row", [{"mailboxid": None}, {"mailboxid": "None"}, {}, None, ["x"]])
def test_a_malformed_row_that_cannot_say_which_object_it_is_fails_the_read(row: object) -> None:
    with pytest.raises(MalformedReply, match="field mailboxid"):
        UnreadRows("mailboxid")(row, _bad("mailboxid"))


def test_more_bad_rows_than_a_sample_fail_the_read_as_a_whole() -> None:
    unread = UnreadRows("mailboxid")
    for n in range(SAMPLE_SIZE):
        unread({"mailboxid": f"00000000-0000-0000-0000-{n:012d}"}, _bad("x"))
    with pytest.raises(MalformedReply, match="not trusted"):
        unread({"mailboxid": "00000000-0000-0000-0000-999999999999"}, _bad("x"))


# --- a chunk whose answer was lost is judged row by row from what is read back ---


def test_a_read_back_row_is_resent_in_effect_or_someone_elses_and_never_guessed() -> None:
    from sssctl.kinds._rows import Verdict, judge

    rows = [["a", 'W/"1"'], ["B", 'W/"1"'], ["c", 'W/"1"'], ["d", 'W/"1"'], ["e", None], ["f", None],
            ["g", 'W/"1"']]
    live = {
        "a": {"@odata.etag": 'W/"1"', "v": 0},     # the version the write was guarded with: not in effect
        "b": {"@odata.etag": 'W/"2"', "v": 5},     # a new version holding what was written: in effect
        "c": {"@odata.etag": 'W/"3"', "v": 0},     # a new version with other values: someone else's
        "d": {"@odata.etag": 'W/"7"', "v": 0},     # the version our own earlier write produced
        "e": {"@odata.etag": 'W/"4"', "v": 0},     # written unguarded, not in effect: sent again as it was
        "f": {"@odata.etag": 'W/"4"', "v": 5},     # written unguarded, in effect
    }                                               # g: gone
    def guards(row: list[object]) -> set[str]:
        return {str(row[1]), *(['W/"7"'] if row[0] == "d" else [])} if row[1] else set()

    verdicts = judge(rows, live, row_id=lambda row: str(row[0]), guards=guards,
                     holds=lambda row, found: found["v"] == 5)
    assert verdicts == [Verdict.RESEND, Verdict.IN_EFFECT, Verdict.CHANGED, Verdict.RESEND, Verdict.RESEND,
                        Verdict.IN_EFFECT, Verdict.CHANGED]
