from __future__ import annotations

import pytest

from sssctl.engine.addresses import kind_of, kind_rank, matches_target, select


@pytest.mark.parametrize(("address", "kind"), [
    ("org_setting.RequirePrivilegeToSelfApproveEmailAddress", "org_setting"),
    ("privilege.prvApproveRejectEmailAddress", "privilege"),
    ("approval", "approval"),
    ("mailboxes", "mailboxes"),
    ("server_profile.default", "server_profile_default"),
    ('server_profile.custom["Contoso EXO (own app)"]', "server_profile_custom"),
    ("app_registration.sss.credential", "app_registration"),
    ("exchange_scope.sss", "exchange_scope"),
])
def test_every_documented_address_maps_to_its_kind(address: str, kind: str) -> None:
    assert kind_of(address) == kind


def test_target_matches_exact_or_at_a_boundary_only() -> None:
    assert matches_target("org_setting.Foo", "org_setting")
    assert matches_target("org_setting.Foo", "org_setting.Foo")
    assert not matches_target("org_setting.FooBar", "org_setting.Foo")
    assert matches_target('server_profile.custom["X"]', "server_profile.custom")
    assert matches_target('server_profile.custom["X"]', "server_profile")
    assert matches_target("app_registration.sss.credential", "app_registration.sss")
    assert not matches_target("approval", "app")
    assert not matches_target("mailbox_defaults", "mailbox")


def test_no_target_selects_everything() -> None:
    assert select(["a", "b.c"], []) == {"a", "b.c"}
    assert select(["a", "b.c", "b.d"], ["b.c", "a"]) == {"a", "b.c"}


def test_kinds_rank_in_the_safe_apply_order() -> None:
    assert kind_rank("app_registration") < kind_rank("server_profile_custom") < kind_rank("mailbox_defaults")
    assert kind_rank("mailboxes") < kind_rank("server_profile_default")
    assert kind_rank("something_new") > kind_rank("server_profile_default")
