"""The EWS gate and the clock it reads, on both sides of 2026-10-01 and 2027-04-01."""

from __future__ import annotations

import time

import pytest

from sssctl.emulator.clock import Clock, ClockError, parse_moment
from sssctl.emulator.exchange_ews import SEEDED_ALLOWED_APP, EwsError, EwsGate

APP = "11111111-2222-3333-4444-555555555555"
MAILBOX = "user001@contoso.com"
BEFORE_BLOCK, AFTER_BLOCK = "2026-09-30T12:00:00Z", "2026-10-02T00:00:00Z"
AFTER_SHUTDOWN = "2027-04-01T00:00:01Z"


def gate(now: str, delay: float = 0.0) -> EwsGate:
    """A tenant that acted before October 2026: EWS on, one other app on the list."""
    ews = EwsGate(Clock(parse_moment(now)), delay=lambda: 0.0,
                  mailbox_exists=lambda a: a.endswith("contoso.com"))
    ews.cmdlets()["Set-OrganizationConfig"]({"EwsEnabled": True, "EwsAllowedAppIDs": [SEEDED_ALLOWED_APP]})
    ews.delay = lambda: delay
    return ews


def test_clock_starts_where_set_and_keeps_running() -> None:
    clock = Clock(parse_moment("2027-04-02"))
    first = clock.timestamp()
    assert clock.now().isoformat().startswith("2027-04-02T00:00")
    time.sleep(0.01)
    assert clock.timestamp() > first
    clock.set(None)
    assert abs(clock.timestamp() - time.time()) < 1
    with pytest.raises(ClockError, match="ISO 8601"):
        parse_moment("next tuesday")


def test_an_empty_list_restricts_nothing_a_listed_one_admits_only_its_apps() -> None:
    empty = EwsGate(Clock(parse_moment(AFTER_BLOCK)), delay=lambda: 0.0, mailbox_exists=lambda _: True)
    assert empty.cmdlets()["Get-OrganizationConfig"]({})[0]["EwsAllowedAppIDs"] == [SEEDED_ALLOWED_APP]
    empty.cmdlets()["Set-OrganizationConfig"]({"EwsAllowedAppIDs": []})
    assert empty.decide(APP, MAILBOX).allowed
    ews = gate(AFTER_BLOCK)
    row = ews.cmdlets()["Get-OrganizationConfig"]({})[0]
    assert (row["EwsEnabled"], row["EwsAllowedAppIDs"]) == (True, [SEEDED_ALLOWED_APP])
    refused = ews.decide(APP, MAILBOX)
    assert not refused.allowed and "not on EWSAllowedAppIDs" in refused.reason
    assert ews.decide(SEEDED_ALLOWED_APP, MAILBOX).allowed


def test_list_parameter_replaces_the_whole_list() -> None:
    ews = gate(AFTER_BLOCK)
    ews.cmdlets()["Set-OrganizationConfig"]({"EwsAllowedAppIDs": [APP]})
    assert ews.cmdlets()["Get-OrganizationConfig"]({})[0]["EwsAllowedAppIDs"] == [APP]
    assert ews.decide(APP, MAILBOX).allowed
    assert not ews.decide(SEEDED_ALLOWED_APP, MAILBOX).allowed
    with pytest.raises(EwsError, match=r"System\.Guid"):
        ews.cmdlets()["Set-OrganizationConfig"]({"EwsAllowedAppIDs": ["not-a-guid"], "EwsEnabled": False})
    assert ews.enabled() is True  # all or nothing


def test_a_list_change_is_shown_at_once_and_enforced_after_the_delay() -> None:
    ews = gate(AFTER_BLOCK, delay=3600)
    ews.cmdlets()["Set-OrganizationConfig"]({"EwsAllowedAppIDs": [SEEDED_ALLOWED_APP, APP]})
    assert APP in ews.cmdlets()["Get-OrganizationConfig"]({})[0]["EwsAllowedAppIDs"]
    assert not ews.decide(APP, MAILBOX).allowed
    ews.clock.set(parse_moment("2026-10-02T01:00:01Z"))
    assert ews.decide(APP, MAILBOX).allowed


def test_unset_tenant_is_open_before_october_and_blocked_after() -> None:
    before = gate(BEFORE_BLOCK)
    before.cmdlets()["Set-OrganizationConfig"]({"EwsEnabled": None})
    assert before.enabled() is None and before.decide(APP, MAILBOX).allowed
    before.clock.set(parse_moment(AFTER_BLOCK))
    assert before.enabled() is False
    assert "EwsEnabled is False" in before.decide(APP, MAILBOX).reason


def test_mailbox_switch_and_user_agent_policy_also_close_the_gate() -> None:
    ews = gate(AFTER_BLOCK)
    ews.cmdlets()["Set-OrganizationConfig"]({"EwsAllowedAppIDs": [APP]})
    ews.cmdlets()["Set-CASMailbox"]({"Identity": MAILBOX, "EwsEnabled": False})
    assert "Set-CASMailbox" in ews.decide(APP, MAILBOX).reason
    assert ews.decide(APP, "user002@contoso.com").allowed
    ews.cmdlets()["Set-OrganizationConfig"]({"EwsApplicationAccessPolicy": "EnforceAllowList",
                                             "EwsAllowList": ["OWA/*"]})
    assert "EwsAllowList" in ews.decide(APP, "user002@contoso.com").reason
    ews.cmdlets()["Set-OrganizationConfig"]({"EwsApplicationAccessPolicy": "EnforceBlockList",
                                             "EwsBlockList": ["*ServerSideSync*"]})
    assert "EwsBlockList" in ews.decide(APP, "user002@contoso.com").reason


def test_nothing_passes_after_the_shutdown() -> None:
    ews = gate(AFTER_SHUTDOWN)
    ews.cmdlets()["Set-OrganizationConfig"]({"EwsAllowedAppIDs": [APP]})
    decision = ews.decide(APP, MAILBOX)
    assert not decision.allowed and "shut down on 2027-04-01" in decision.reason
