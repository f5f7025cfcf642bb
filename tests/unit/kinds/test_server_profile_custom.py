"""The custom Exchange Online profile: columns, write-only secret, drift and guards."""

from __future__ import annotations

import pytest

from sssctl.engine.plan import Action
from sssctl.kinds._shared import EWS_URL
from sssctl.kinds.server_profile_custom import KIND
from tests.support import planning
from tests.unit.kinds.control5_fakes import TENANT, World, actionable, desired

pytestmark = pytest.mark.timeout(30)
ADDRESS = 'server_profile.custom["Contoso EXO"]'


def by_address(changes: list) -> dict:
    return {c.address: c for c in changes}


def profile_row(world: World) -> dict:
    [row] = world.profiles().values()
    return row


def test_create_writes_the_exchange_online_oauth_columns_and_the_secret() -> None:
    world = World()
    change = by_address(world.plan(desired()))[ADDRESS]
    assert change.action is Action.CREATE
    assert change.after["secret"] == "new secret from app_registration.sss"
    assert "known after apply" in change.after["client_id"]
    world.apply(desired())
    row = profile_row(world)
    app = world.graph.app_by_unique("sssctl-contoso-prod-sss")
    assert row["name"] == "Contoso EXO"
    assert row["servertype"] == 0
    assert row["incomingcredentialretrieval"] == row["outgoingcredentialretrieval"] == 7
    assert row["incomingauthenticationprotocol"] == row["outgoingauthenticationprotocol"] == 4
    assert row["incomingserverlocation"] == EWS_URL
    assert row["usedefaulttenantid"] is False
    assert row["exchangeonlinetenantid"] == TENANT
    assert row["oauthclientid"] == app["appId"].lower()
    assert row["isoauthclientsecretset"] is True
    key_id = app["passwordCredentials"][0]["keyId"]
    written = world.dataverse.written_secrets[row["emailserverprofileid"]]
    assert written == world.graph.secrets[key_id]
    entry = world.state[ADDRESS]
    assert entry["fingerprints"]["secret_key_id"] == key_id
    assert written not in repr(world.state)


def test_cross_tenant_profile_uses_the_configured_tenant() -> None:
    from dataclasses import replace

    other = "11111111-2222-4333-8444-555555555555"
    want = desired()
    want = replace(
        want,
        custom_profiles={
            "Contoso EXO": replace(want.custom_profiles["Contoso EXO"], tenant_id=other.upper())
        },
    )
    world = World()
    world.apply(want)
    assert profile_row(world)["exchangeonlinetenantid"] == other
    assert actionable(world.plan(want)) == []


def test_profile_edited_out_of_band_is_drift_and_fixed_with_if_match() -> None:
    world = World()
    world.apply(desired())
    row = profile_row(world)
    row["incomingcredentialretrieval"] = 2
    row["@odata.etag"] = 'W/"9"'
    change = by_address(world.plan(desired()))[ADDRESS]
    assert change.action is Action.UPDATE
    assert change.before["authentication"] != "oauth_entra_id"
    assert change.etag == 'W/"9"'
    assert change.detail["new_secret"] is False
    world.apply(desired())
    assert profile_row(world)["incomingcredentialretrieval"] == 7
    assert actionable(world.plan(desired())) == []


def test_secret_cleared_in_dataverse_is_drift_and_given_a_new_secret() -> None:
    world = World()
    world.apply(desired())
    profile_row(world)["isoauthclientsecretset"] = False
    change = by_address(world.plan(desired()))[ADDRESS]
    assert change.action is Action.UPDATE
    assert "shows no client secret set" in change.reason
    world.apply(desired())
    assert len(world.graph.app_by_unique("sssctl-contoso-prod-sss")["passwordCredentials"]) == 1
    assert actionable(world.plan(desired())) == []


def test_profile_changed_since_plan_is_refused_by_if_match() -> None:
    from sssctl.clients.errors import PreconditionFailed

    world = World()
    world.apply(desired())
    profile_row(world)["incomingauthenticationprotocol"] = 0
    change = by_address(world.plan(desired()))[ADDRESS]
    profile_row(world)["@odata.etag"] = 'W/"77"'  # someone else writes after the plan
    with pytest.raises(PreconditionFailed):
        KIND.apply(world.context(desired()), change)


def test_missing_secret_hand_off_is_a_clear_error() -> None:
    world = World()
    change = by_address(world.plan(desired()))[ADDRESS]
    with pytest.raises(LookupError, match="was not created in this run"):
        KIND.apply(world.context(desired()), change)


def test_two_profiles_sharing_an_app_both_get_the_new_secret_and_old_is_retired_once() -> None:
    profiles = ("EXO A", "EXO B")
    world = World()
    world.apply(desired(profiles=profiles))
    from tests.unit.kinds.control5_fakes import DAY, T0

    world.now = T0 + 200 * DAY
    world.apply(desired(profiles=profiles))
    creds = world.graph.app_by_unique("sssctl-contoso-prod-sss")["passwordCredentials"]
    assert len(creds) == 1
    secrets = set(world.dataverse.written_secrets.values())
    assert secrets == {world.graph.secrets[creds[0]["keyId"]]}
    assert actionable(world.plan(desired(profiles=profiles))) == []


def test_guard_refuses_mailbox_defaults_on_a_profile_that_does_not_exist() -> None:
    world = World()
    refusals = world.guard(desired(profiles=(), mailbox_profile="Nowhere EXO"))
    assert any("'Nowhere EXO'" in r and "neither exists" in r for r in refusals)


def test_guard_accepts_mailbox_defaults_on_a_profile_created_in_the_same_plan() -> None:
    world = World()
    assert world.guard(desired(mailbox_profile="contoso exo")) == []
    assert world.guard(desired(mailbox_profile="default")) == []


def test_destroy_deletes_an_unused_profile_sssctl_created() -> None:
    world = World()
    world.apply(desired())
    empty = desired(apps=False, profiles=(), group=None)
    change = by_address(world.plan(empty))[ADDRESS]
    assert change.action is Action.DELETE
    assert world.guard(empty) == []
    world.apply(empty)
    assert world.profiles() == {}
    assert ADDRESS not in world.state


def test_guard_refuses_deleting_a_profile_still_used_by_mailboxes_or_the_org_default() -> None:
    world = World()
    world.apply(desired())
    profile_id = profile_row(world)["emailserverprofileid"]
    world.point_default_at(profile_id)
    world.add_mailboxes("a@contoso.com", profile=profile_id)
    refusals = world.guard(desired(apps=False, profiles=(), group=None))
    text = " ".join(refusals)
    assert 'refusing to delete server_profile.custom["Contoso EXO"]' in text
    assert "default profile" in text and "1 mailboxes would still point at it" in text
    assert "refusing to delete app_registration.sss" not in text  # the profile is deleted in the same plan


def guard_with_moves(world: World, *, moved: int, default_to: str) -> list[str]:
    """The guard over a teardown plan whose mailbox changes move ``moved`` mailboxes off the
    profile and point the org default at ``default_to`` (as lockdown after hardened does)."""
    from sssctl.engine.plan import Change
    from sssctl.kinds.handoffs import MailboxMoves

    empty = desired(apps=False, profiles=(), group=None)
    ctx = world.context(empty)
    changes, observed = planning.plan(world.kinds(), ctx, empty)
    profile_id = profile_row(world)["emailserverprofileid"]
    changes += [
        Change("mailbox_defaults", Action.UPDATE, {"server_profile": "Contoso EXO"},
               {"server_profile": default_to}, "restore"),
        Change("mailboxes", Action.UPDATE, {"drifted": 2}, {"drifted": 0}, "move"),
    ]
    ctx.handoffs.put("mailboxes", MailboxMoves(to_profile=default_to, stops_sync=False,
                                               leaving={profile_id.lower(): moved}))
    return planning.refusals(world.kinds(), ctx, changes, observed)


def used_by_everything(world: World) -> None:
    world.apply(desired())
    profile_id = profile_row(world)["emailserverprofileid"]
    world.point_default_at(profile_id)
    world.add_mailboxes("a@contoso.com", "b@contoso.com", profile=profile_id)


def test_guard_accepts_deleting_a_profile_the_plan_moves_everything_off() -> None:
    world = World()
    used_by_everything(world)
    assert guard_with_moves(world, moved=2, default_to="Microsoft Exchange Online") == []


def test_guard_refuses_when_the_plan_leaves_a_mailbox_or_the_org_default_on_it() -> None:
    world = World()
    used_by_everything(world)
    short = " ".join(guard_with_moves(world, moved=1, default_to="Microsoft Exchange Online"))
    assert "1 mailboxes would still point at it" in short and "default profile" not in short
    kept = " ".join(guard_with_moves(world, moved=2, default_to="contoso exo"))
    assert "default profile for new mailboxes" in kept and "mailboxes would" not in kept


def test_delete_is_refused_at_apply_time_while_something_still_points_at_the_profile() -> None:
    world = World()
    used_by_everything(world)
    world.point_default_at(None)
    change = by_address(world.plan(desired(apps=False, profiles=(), group=None)))[ADDRESS]
    with pytest.raises(RuntimeError, match="mailboxes still point at it; its app registration and secret"):
        KIND.apply(world.context(desired(apps=False, profiles=(), group=None)), change)
    assert profile_row(world)


def test_guard_refuses_deleting_the_app_while_a_kept_profile_uses_it() -> None:
    world = World()
    world.apply(desired())
    refusals = world.guard(desired(apps=False, group=None))
    assert any("refusing to delete app_registration.sss" in r for r in refusals)


def test_observed_exposes_profile_existence_for_the_default_profile_guard() -> None:
    world = World()
    observed = KIND.read(world.context(desired()))
    assert observed.extra["profiles"]["Contoso EXO"] == {"exists": False, "id": None, "active": False}
    world.apply(desired())
    observed = KIND.read(world.context(desired()))
    assert observed.extra["profiles"]["Contoso EXO"]["exists"] is True


def test_describe_exports_profiles_with_an_app_sssctl_created_and_notes_the_others() -> None:
    world = World()
    world.apply(desired())
    ctx = world.context(desired())
    ctx.census = True
    described = KIND.describe(KIND.read(ctx))
    exported = described["server_profiles"]["custom"]["Contoso EXO"]
    assert exported["type"] == "exchange_online" and exported["app_registration"] == "sss"
    assert list(described["server_profiles"]["custom"]) == ["Contoso EXO"]


def test_guard_accepts_mailbox_defaults_on_an_existing_unmanaged_profile() -> None:
    world = World()
    world.dataverse.create("emailserverprofiles", {"name": "Legacy EXO"})
    assert world.guard(desired(profiles=(), mailbox_profile="Legacy EXO")) == []
