"""Assembling an export from the kinds' describe() parts, and rendering it as TOML."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sssctl.app.export import export, reconcile, render
from sssctl.config.model import Desired, Environment
from sssctl.engine.kind import LIVE, NOTE, Observed
from sssctl.engine.planner import Reading
from sssctl.kinds.mailbox_defaults import KIND as MAILBOX_DEFAULTS
from sssctl.kinds.mailboxes import KIND as MAILBOXES
from sssctl.kinds.org_setting import KIND as ORG_SETTING
from sssctl.kinds.privilege import KIND as PRIVILEGE
from sssctl.kinds.user_settings import KIND as USER_SETTINGS

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

pytestmark = pytest.mark.timeout(30)

DESIRED = Desired(version=1, source=Path("x"), digest="d",
                  environment=Environment(name="contoso", url="https://contoso.crm.dynamics.com"))


@dataclass
class Part:
    """A kind whose describe() hands back a fixed part."""

    name: str
    part: dict[str, Any]

    def describe(self, observed: Observed) -> dict[str, Any]:
        return self.part


def test_parts_merge_deeply_and_comments_land_under_their_table() -> None:
    kinds = [Part("a", {"server_profiles": {"custom": {"Contoso EXO": {"type": "exchange_online",
                                                                       "app_registration": "sss"}}},
                        NOTE: ["top note"]}),
             Part("b", {"server_profiles": {"default": {"active": False}},
                        "app_registrations": {"sss": {"display_name": "X", NOTE: ["app note"]}}}),
             Part("c", {"app_registrations": {"sss": {"mailbox_scope": {"group": "g@contoso.com"}}}})]
    reading = Reading(observed={k.name: Observed(objects={}) for k in kinds})
    result = export(DESIRED, kinds, reading)  # type: ignore[arg-type]
    document = tomllib.loads(result.text)
    assert document["server_profiles"] == {
        "custom": {"Contoso EXO": {"type": "exchange_online", "app_registration": "sss"}},
        "default": {"active": False},
    }
    assert document["app_registrations"]["sss"] == {"display_name": "X",
                                                   "mailbox_scope": {"group": "g@contoso.com"}}
    lines = result.text.splitlines()
    assert lines[1] == "# top note"
    assert lines[lines.index("[app_registrations.sss]") + 1] == "# app note"
    assert '[server_profiles.custom."Contoso EXO"]' in lines
    assert 'mailbox_scope = { group = "g@contoso.com" }' in lines
    assert result.unread == []


def test_what_could_not_be_read_is_listed_not_guessed() -> None:
    reading = Reading(observed={"b": Observed(objects={}, errors={"b.x": "HTTP 403"})},
                      failures={"a": "timed out"})
    result = export(DESIRED, [Part("a", {"x": 1}), Part("b", {})], reading)  # type: ignore[arg-type]
    assert result.unread == ["a: timed out", "b.x: HTTP 403"]
    assert "x =" not in result.text


def test_kind_parts_from_live_readings() -> None:
    org = Observed(objects={
        "org_setting.SSSForceFilteringMethodForUserMailboxes":
            {"name": "SSSForceFilteringMethodForUserMailboxes", "value": "3"},
        "org_setting.RequirePrivilegeToSelfApproveEmailAddress":
            {"name": "RequirePrivilegeToSelfApproveEmailAddress", "value": None},   # platform default
    })
    assert ORG_SETTING.describe(org) == {"org_settings": {"SSSForceFilteringMethodForUserMailboxes": 3}}
    holders = {"System Administrator": {"depth": "Global"}, "Sales Manager": {"depth": "Local"}}
    assert PRIVILEGE.describe(Observed(objects={"privilege.prvX": {"holders": holders}})) == {
        "privileges": {"prvX": {"allowed_roles": ["Sales Manager", "System Administrator"]}}}
    defaults = Observed(objects={"mailbox_defaults": {"server_profile": "Microsoft Exchange Online",
                                                      "incoming_email": "server_side_sync"}},
                        extra={"builtin_name": "Microsoft Exchange Online"})
    assert MAILBOX_DEFAULTS.describe(defaults) == {
        "mailbox_defaults": {"server_profile": "default", "incoming_email": "server_side_sync"}}
    counted = {"users": {"incoming_email=none, server_profile=X": 3}}
    census = {"mailboxes": {"census": {"users": True, "queues": False, "distribution": counted}}}
    mailboxes = MAILBOXES.describe(Observed(objects=census))
    assert {k: v for k, v in mailboxes["mailboxes"].items() if k != NOTE} == {
        "enforce": "report", "scope": "users", LIVE: {"distribution": counted}}


def test_users_that_differ_leave_the_setting_out_so_the_export_plans_no_change() -> None:
    census = Observed(objects={"user_settings": {"by_current": {"all": 2, "responses": 5, "unset": 1}}},
                      extra={"census": True})
    section = USER_SETTINGS.describe(census)["user_settings"]
    assert "incoming_email_filtering" not in section
    assert section[NOTE] == [
        "Users differ (8 users: responses 5, all 2, unset 1), so incoming_email_filtering is left out.",
        'incoming_email_filtering = "responses" (the most common) would set the other 3 users to it.']
    same = Observed(objects={"user_settings": {"by_current": {"all": 3}}}, extra={"census": True})
    assert USER_SETTINGS.describe(same) == {"user_settings": {"incoming_email_filtering": "all",
                                                              LIVE: {"distribution": {"all": 3}}}}
    plan_reading = Observed(objects={"user_settings": {"by_current": {"all": 3}}})
    assert USER_SETTINGS.describe(plan_reading) == {}      # only differing users: says nothing


@pytest.mark.parametrize(("document", "kept"), [
    ({"mailbox_defaults": {"server_profile": "Gone"}}, False),
    ({"mailbox_defaults": {"server_profile": "Own"}, "server_profiles": {"custom": {"Own": {}}}}, True),
    ({"mailbox_defaults": {"server_profile": "default", "incoming_email": "server_side_sync"},
      "server_profiles": {"default": {"active": False}}}, False),
    ({"mailbox_defaults": {"server_profile": "default", "incoming_email": "server_side_sync"},
      "server_profiles": {"default": {"active": True}}}, True),
])
def test_a_profile_the_file_cannot_name_is_left_out_with_a_comment(document: dict[str, Any],
                                                                    kept: bool) -> None:
    reconcile(document)
    assert ("server_profile" in document["mailbox_defaults"]) is kept
    assert bool(document["mailbox_defaults"].get(NOTE)) is not kept


def test_keys_that_are_not_bare_are_quoted() -> None:
    text = render({"a": {"b c": {"x": "q\"uote"}}})
    assert '[a."b c"]' in text and tomllib.loads(text) == {"a": {"b c": {"x": 'q"uote'}}}


def test_live_counts_stay_out_of_the_exported_file_but_diff_compares_them() -> None:
    from sssctl.app import diff

    left = {"mailboxes": {"enforce": "report", LIVE: {"distribution": {"users": {"a": 3}}}}}
    right = {"mailboxes": {"enforce": "report", LIVE: {"distribution": {"users": {"a": 2, "b": 1}}}}}
    assert "(live)" not in render(left) and "distribution" not in render(left)
    assert not diff.compare("l", left, "r", right).equal
