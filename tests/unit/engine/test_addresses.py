from __future__ import annotations

from sssctl.engine.addresses import matches_target, select


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
