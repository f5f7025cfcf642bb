"""What ``refresh`` reports: drift of what sssctl manages, unknowns included."""

from __future__ import annotations

from sssctl.app.runner import drift_of
from sssctl.engine.plan import Action, Change


def test_an_unknown_row_of_a_managed_aggregate_is_shown_and_one_of_an_unmanaged_one_is_not() -> None:
    changes = [Change('mailboxes["0000000a-0000-0000-0000-000000000001"]', Action.UNKNOWN, None, None, "why",
                      kind="mailboxes"),
               Change('user_settings["0000000a-0000-0000-0000-000000000002"]', Action.UNKNOWN, None, None,
                      "why", kind="user_settings")]
    drifted = drift_of(changes, {"mailboxes": {"kind": "mailboxes", "managed": {"reverted": 3}}})
    assert [c.address for c in drifted] == ['mailboxes["0000000a-0000-0000-0000-000000000001"]']
