from __future__ import annotations

import pytest

from sssctl.clients.errors import PreconditionFailed
from sssctl.engine.plan import Action
from sssctl.kinds.org_setting import KIND
from tests.unit.kinds.world import ORG, ORG_XML, Engine, actionable, desired, seed

pytestmark = pytest.mark.timeout(30)


def test_equivalent_spellings_are_not_changes() -> None:
    engine = Engine(seed())
    want = desired(
        org_settings={
            "RequirePrivilegeToSelfApproveEmailAddress": True,  # stored as "1"
            "SSSForceFilteringMethodForUserMailboxes": 3,  # stored as "03"
            "isCommandingModifiedOnEnabled": True,  # stored "True", other case in name
            "AutoTrackSentFolderItems": False,  # absent = platform default false
        }
    )
    changes = engine.plan(KIND, want)
    assert [c.action for c in changes] == [Action.NOOP] * 4
    absent = next(c for c in changes if c.address == "org_setting.AutoTrackSentFolderItems")
    assert absent.before == {"value": "(default: false)"}


def test_update_sends_only_the_managed_element_and_keeps_others_byte_identical() -> None:
    engine = Engine(seed())
    want = desired(
        org_settings={"SSSForceFilteringMethodForUserMailboxes": 4, "AutoTrackSentFolderItems": True}
    )
    changes = actionable(engine.plan(KIND, want))
    assert {c.address: (c.before, c.after) for c in changes} == {
        "org_setting.AutoTrackSentFolderItems": ({"value": "(default: false)"}, {"value": True}),
        "org_setting.SSSForceFilteringMethodForUserMailboxes": ({"value": 3}, {"value": 4}),
    }
    applied = engine.apply(KIND, want)
    assert sum(a.writes for a in applied) == 2
    bodies = [body for verb, _, body in engine.dv.calls if verb == "PATCH"]
    assert bodies == [
        {
            "orgdborgsettings": "<OrgSettings><AutoTrackSentFolderItems>true"
            "</AutoTrackSentFolderItems></OrgSettings>"
        },
        {
            "orgdborgsettings": "<OrgSettings><SSSForceFilteringMethodForUserMailboxes>4"
            "</SSSForceFilteringMethodForUserMailboxes></OrgSettings>"
        },
    ]
    stored = engine.dv.row("organizations", ORG)["orgdborgsettings"]
    assert "<IsCommandingModifiedOnEnabled>True</IsCommandingModifiedOnEnabled>" in stored
    assert (
        "<RequirePrivilegeToSelfApproveEmailAddress>1</RequirePrivilegeToSelfApproveEmailAddress>" in stored
    )
    assert stored.startswith(ORG_XML[: ORG_XML.index("<SSSForce")])
    assert all(c.action is Action.NOOP for c in engine.plan(KIND, want))


def test_several_settings_in_one_run_follow_their_own_etags_but_a_foreign_edit_is_refused() -> None:
    engine = Engine(seed())
    want = desired(
        org_settings={"SSSForceFilteringMethodForUserMailboxes": 4, "AutoTrackSentFolderItems": True}
    )
    ctx = engine.context(want)
    changes = actionable(KIND.diff(want, KIND.read(ctx)))
    KIND.apply(ctx, changes[0])
    engine.dv.touch("organizations", ORG)  # somebody else edits the organization now
    with pytest.raises(PreconditionFailed):
        KIND.apply(ctx, changes[1])


def test_removed_setting_is_restored_to_its_original_and_absent_becomes_the_default() -> None:
    engine = Engine(seed())
    want = desired(
        org_settings={"SSSForceFilteringMethodForUserMailboxes": 4, "AutoTrackSentFolderItems": True}
    )
    engine.apply(KIND, want)
    assert engine.state["org_setting.AutoTrackSentFolderItems"]["original"] == {"value": "(default: false)"}
    empty = desired()
    restore = {c.address: c for c in engine.plan(KIND, empty)}
    assert restore["org_setting.SSSForceFilteringMethodForUserMailboxes"].after == {"value": 3}
    assert restore["org_setting.AutoTrackSentFolderItems"].after == {"value": "(default: false)"}
    assert all(c.action is Action.UPDATE for c in restore.values())
    engine.apply(KIND, empty)
    stored = engine.dv.row("organizations", ORG)["orgdborgsettings"]
    assert "<AutoTrackSentFolderItems>false</AutoTrackSentFolderItems>" in stored
    assert "<SSSForceFilteringMethodForUserMailboxes>3</SSSForceFilteringMethodForUserMailboxes>" in stored
    assert engine.state == {}
    assert engine.plan(KIND, empty) == []


def test_unparseable_xml_makes_the_settings_unknown_not_changed() -> None:
    dv = seed()
    dv.row("organizations", ORG)["orgdborgsettings"] = "<OrgSettings><Broken>"
    changes = Engine(dv).plan(KIND, desired(org_settings={"AutoTrackSentFolderItems": True}))
    assert [c.action for c in changes] == [Action.UNKNOWN]
    assert "not valid XML" in changes[0].reason
