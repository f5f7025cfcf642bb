"""The registry answers the engine's questions from what each kind declared."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sssctl.config.loader import load
from sssctl.engine.kind import KindDefaults, KindSpec
from sssctl.engine.registry import Registry
from sssctl.kinds import load_kinds

CONFIGS = Path(__file__).resolve().parents[3] / "configs"


@pytest.mark.parametrize(("address", "kind"), [
    ("org_setting.RequirePrivilegeToSelfApproveEmailAddress", "org_setting"),
    ("privilege.prvApproveRejectEmailAddress", "privilege"),
    ("approval", "approval"),
    ("mailboxes", "mailboxes"),
    ("mailbox_defaults", "mailbox_defaults"),
    ("server_profile.default", "server_profile_default"),
    ('server_profile.custom["Contoso EXO (own app)"]', "server_profile_custom"),
    ("app_registration.sss.credential", "app_registration"),
    ("exchange_scope.sss", "exchange_scope"),
])
def test_every_documented_address_maps_to_its_kind(address: str, kind: str) -> None:
    assert load_kinds().kind_of(address) == kind


def test_an_address_no_kind_declares_has_no_owner() -> None:
    assert load_kinds().kind_of("mailbox_defaultsX") is None


def test_kinds_rank_in_the_safe_apply_order() -> None:
    registry = load_kinds()
    assert registry.rank_of("app_registration") < registry.rank_of("exchange_scope")
    assert registry.rank_of("exchange_scope") < registry.rank_of("server_profile_custom")
    assert registry.rank_of("server_profile_custom") < registry.rank_of("mailbox_defaults")
    assert registry.rank_of("mailboxes") < registry.rank_of("server_profile_default")
    assert registry.rank_of("something_new") > registry.rank_of("server_profile_default")


def test_a_failed_mailbox_scope_stops_everything_that_uses_the_app() -> None:
    """Fail closed: no profile, no mailbox move, no deactivation while the app is unscoped."""
    registry = load_kinds()
    for dependent in ("server_profile_custom", "mailbox_defaults", "mailboxes", "server_profile_default"):
        assert "exchange_scope" in registry.blockers(dependent)
        assert "app_registration" in registry.blockers(dependent)
    assert registry.blockers("org_setting") == set()


def test_tearing_down_reverses_the_dependencies() -> None:
    registry = load_kinds()
    assert "server_profile_custom" in registry.blockers("app_registration", reverse=True)
    assert "app_registration" not in registry.blockers("server_profile_custom", reverse=True)


def test_needs_come_from_the_kinds_the_config_uses() -> None:
    registry = load_kinds()
    hardened = registry.needs(load(CONFIGS / "hardened.toml", {}))
    assert hardened.graph and hardened.exchange
    assert {"prvWriteOrganization", "prvWriteMailbox", "prvWriteRole",
            "prvCreateEmailServerProfile"} <= set(hardened.privileges)
    minimal = load(CONFIGS / "minimal.toml", {})
    assert not registry.needs(minimal).graph
    assert registry.needs(minimal, recorded_kinds={"exchange_scope"}).exchange


def test_a_report_only_mailbox_policy_needs_no_write_privilege() -> None:
    registry = load_kinds()
    desired = load(CONFIGS / "hardened.toml", {})
    assert desired.mailboxes is not None
    report = replace(desired, mailboxes=replace(desired.mailboxes, enforce="report"))
    # The own-app profile's canary moves one mailbox, so it is left out here.
    report = replace(report, custom_profiles={}, app_registrations={},
                     mailbox_defaults=replace(desired.mailbox_defaults, server_profile="default"))  # type: ignore[arg-type]
    privileges = registry.needs(report).privileges
    assert "prvReadMailbox" in privileges
    assert "prvWriteMailbox" not in privileges
    assert "prvWriteMailbox" in registry.needs(replace(desired, mailboxes=report.mailboxes)).privileges


class _Declared(KindDefaults):
    def __init__(self, spec: KindSpec) -> None:
        self.spec = spec


def test_a_registry_refuses_a_kind_that_runs_after_one_registered_later() -> None:
    first = _Declared(KindSpec(name="first", prefix="first", after=("second",)))
    second = _Declared(KindSpec(name="second", prefix="second"))
    with pytest.raises(ValueError, match="must be registered after"):
        Registry((first, second))  # type: ignore[arg-type]


def test_every_dependency_of_the_full_registry_is_a_registered_kind() -> None:
    assert load_kinds().unresolved() == set()
    partial = Registry((_Declared(KindSpec(name="a", prefix="a", after=("ghost",))),))  # type: ignore[arg-type]
    assert partial.unresolved() == {"ghost"}


def test_a_registry_refuses_duplicate_names() -> None:
    with pytest.raises(ValueError, match="two resource kinds"):
        Registry((_Declared(KindSpec(name="a", prefix="a")),) * 2)  # type: ignore[arg-type]
