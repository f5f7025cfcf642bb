from __future__ import annotations

from pathlib import Path

from sssctl.audit.baseline import baseline
from sssctl.audit.checks import Declared, fails, findings_of, render_table
from sssctl.config.model import Desired, PrivilegeAllowlist
from sssctl.engine.plan import Action, Change
from sssctl.kinds import load_kinds

DECLARED = Declared.of(load_kinds())

LIVE = [
    Change("server_profile.default", Action.UPDATE, {"name": "Microsoft Exchange Online", "active": True},
           {"name": "Microsoft Exchange Online", "active": False}, "r"),
    Change("approval", Action.UPDATE, {"require_for_users": False, "require_for_queues": True},
           {"require_for_users": True, "require_for_queues": True}, "r"),
    Change("org_setting.RequirePrivilegeToSelfApproveEmailAddress", Action.UPDATE,
           {"value": "(default: false)"}, {"value": True}, "r"),
    Change("org_setting.SSSForceFilteringMethodForUserMailboxes", Action.NOOP,
           {"value": 3}, {"value": 3}, ""),
    Change("privilege.prvApproveRejectEmailAddress", Action.UPDATE,
           {"roles": {"System Administrator": "Global", "Sales Manager": "Global"}},
           {"roles": {"System Administrator": "Global"}}, "r"),
    Change("mailbox_defaults", Action.NOOP,
           {"server_profile": "Microsoft Exchange Online", "incoming_email": "server_side_sync"},
           {"server_profile": "default", "incoming_email": "server_side_sync"}, ""),
    Change("user_settings", Action.UNKNOWN, None, None, "could not be read: HTTP 403"),
]


def test_findings_are_ranked_and_explain_the_live_value() -> None:
    found = findings_of(DECLARED, LIVE)
    assert [(f.severity, f.address) for f in found] == [
        ("unknown", "user_settings"),
        ("high", "org_setting.RequirePrivilegeToSelfApproveEmailAddress"),
        ("high", "privilege.prvApproveRejectEmailAddress"),
        ("high", "server_profile.default"),
        ("medium", "approval"),
    ]
    approval = next(f for f in found if f.address == "approval")
    assert approval.evidence == "require_for_users is false"
    table = render_table(found)
    assert table.splitlines()[0].split() == ["SEVERITY", "CHECK", "FINDING", "LIVE"]
    assert "Audit: 5 finding(s): 3 high, 1 medium, 1 unknown." in table


def test_the_table_wraps_to_the_terminal_and_keeps_every_word() -> None:
    found = findings_of(DECLARED, LIVE)
    whole = render_table(found, columns=1000)
    narrow = render_table(found, columns=120)

    def longest(text: str) -> int:
        return max(len(line) for line in text.splitlines())

    assert longest(narrow) <= 120 < longest(whole)
    assert sorted(narrow.split()) == sorted(whole.split())
    assert render_table(found) == whole       # not a terminal: one line per finding, for grep


def test_fail_on_threshold() -> None:
    found = findings_of(DECLARED, LIVE[1:2])
    assert not fails(found, None) and not fails(found, "high")
    assert fails(found, "medium") and fails(found, "low")
    assert fails(findings_of(DECLARED, LIVE[-1:]), "high")      # unreadable counts as high
    assert "No findings" in render_table([])


def test_baseline_keeps_user_values_only_when_asked() -> None:
    mine = Desired(version=1, source=Path("x"), digest="d", org_settings={"Other": 1},
                   privileges={"prvX": PrivilegeAllowlist("prvX", ("A",))})
    audit = baseline(mine, keep_user_values=False)
    export = baseline(mine, keep_user_values=True)
    assert "Other" not in audit.org_settings and "Other" in export.org_settings
    assert set(export.privileges) == {"prvApproveRejectEmailAddress", "prvX"}
    assert audit.default_profile is not None and audit.default_profile.active is False
    assert audit.mailboxes is None and not audit.app_registrations


def test_mailboxes_on_the_first_party_profile_are_a_high_finding() -> None:
    from sssctl.engine.kind import Observed
    from sssctl.engine.planner import Reading

    reading = Reading(observed={"server_profile_default": Observed(objects={},
                                                                   extra={"mailboxes_on_profile": 30})})
    found = findings_of(DECLARED, LIVE[:1], reading)
    assert [(f.severity, f.address, f.evidence) for f in found] == [
        ("high", "mailboxes", "30 mailbox(es) on it"),
        ("high", "server_profile.default", "active is true"),
    ]
    assert findings_of(DECLARED, [], Reading()) == []
