"""The app registration kind: upsert by uniqueName, permissions by name, consent, secrets."""

from __future__ import annotations

import pytest

from sssctl.engine.plan import Action
from sssctl.kinds import _control5 as c5
from sssctl.kinds.app_registration import KIND
from tests.support.applying import ChangeFailed
from tests.unit.kinds.control5_fakes import DAY, EXO, GRAPH, T0, World, actionable, desired

pytestmark = pytest.mark.timeout(30)


def by_address(changes: list) -> dict:
    return {c.address: c for c in changes}


def test_unique_name_is_stable_and_names_the_environment() -> None:
    assert c5.unique_name(desired(), "sss") == "sssctl-contoso-prod-sss"
    assert c5.app_path(desired(), "sss") == "applications(uniqueName='sssctl-contoso-prod-sss')"


def test_plan_from_nothing_creates_app_and_secret_with_permission_names() -> None:
    world = World()
    changes = by_address(world.plan(desired(group=None)))
    app = changes["app_registration.sss"]
    assert app.action is Action.CREATE
    assert app.after == {
        "display_name": "Dataverse SSS (Contoso)",
        "permissions": ["exchange:full_access_as_app"],
        "consented": ["exchange:full_access_as_app"],
        "service_principal": True,
    }
    cred = changes["app_registration.sss.credential"]
    assert cred.action is Action.CREATE
    assert cred.detail["new_secret"] is True
    assert cred.detail["lifetime_days"] == 180 + c5.GRACE_DAYS
    assert "the app registration is new" in cred.reason


def test_apply_creates_app_service_principal_consent_and_hands_secret_over_in_memory() -> None:
    world = World()
    world.apply(desired())
    app = world.graph.app_by_unique("sssctl-contoso-prod-sss")
    assert app is not None
    assert app["signInAudience"] == "AzureADMyOrg"
    assert app["requiredResourceAccess"] == [
        {
            "resourceAppId": EXO,
            "resourceAccess": [{"id": world.graph.role_id(EXO, "full_access_as_app"), "type": "Role"}],
        }
    ]
    sp = next(s for s in world.graph.sps.values() if s["appId"] == app["appId"])
    granted = [a for a in world.graph.assignments.values() if a["principalId"] == sp["id"]]
    assert [a["appRoleId"] for a in granted] == [world.graph.role_id(EXO, "full_access_as_app")]
    [cred] = app["passwordCredentials"]
    assert cred["displayName"].startswith("sssctl sss ")
    entry = world.state["app_registration.sss.credential"]
    assert entry["fingerprints"]["latest_key_id"] == cred["keyId"]
    assert entry["fingerprints"]["hint"] == cred["hint"]
    text = world.graph.secrets[cred["keyId"]]
    assert text not in repr(world.state)


def test_second_plan_is_empty_and_second_apply_writes_nothing() -> None:
    world = World()
    world.apply(desired())
    graph_writes, dv_writes = world.graph.writes, world.dataverse.writes
    assert actionable(world.plan(desired())) == []
    assert world.apply(desired()) == []
    assert (world.graph.writes, world.dataverse.writes) == (graph_writes, dv_writes)


def test_unknown_permission_is_unknown_with_did_you_mean_and_the_available_values() -> None:
    world = World()
    changes = by_address(world.plan(desired(permissions=("exchange:full_acess_as_app",))))
    app = changes["app_registration.sss"]
    assert app.action is Action.UNKNOWN
    assert "Did you mean 'full_access_as_app'?" in app.reason
    assert "Available: Exchange.ManageAsApp, full_access_as_app" in app.reason


def test_bad_permission_shapes_are_named() -> None:
    with pytest.raises(c5.PermissionError_, match="must look like"):
        c5.split_permission("full_access_as_app")
    with pytest.raises(c5.PermissionError_, match="unknown resource 'sharepoint'"):
        c5.split_permission("sharepoint:Sites.Read.All")
    assert c5.split_permission(f"{GRAPH.upper()}:Mail.Read") == (GRAPH, "Mail.Read")


def test_switching_exchange_to_graph_replaces_declaration_and_revokes_old_consent() -> None:
    world = World()
    world.apply(desired())
    changes = by_address(world.plan(desired(permissions=("graph:Mail.ReadWrite",))))
    app = changes["app_registration.sss"]
    assert app.action is Action.UPDATE
    assert app.before["permissions"] == ["exchange:full_access_as_app"]
    assert app.after["permissions"] == ["graph:Mail.ReadWrite"]
    world.apply(desired(permissions=("graph:Mail.ReadWrite",)))
    live = world.graph.app_by_unique("sssctl-contoso-prod-sss")
    assert [r["resourceAppId"] for r in live["requiredResourceAccess"]] == [GRAPH]
    roles = {a["appRoleId"] for a in world.graph.assignments.values()}
    assert roles == {world.graph.role_id(GRAPH, "Mail.ReadWrite")}


def test_consent_removed_out_of_band_is_drift_and_regranted() -> None:
    world = World()
    world.apply(desired(group=None))
    world.graph.assignments.clear()
    app = by_address(world.plan(desired(group=None)))["app_registration.sss"]
    assert app.action is Action.UPDATE
    assert app.before["consented"] == []
    assert "consented" in app.reason
    world.apply(desired(group=None))
    assert len(world.graph.assignments) == 1


def test_rotation_is_due_after_rotate_days_and_old_secret_removed_after_the_switch() -> None:
    world = World()
    world.apply(desired())
    first = world.graph.app_by_unique("sssctl-contoso-prod-sss")["passwordCredentials"][0]
    world.now = T0 + 179 * DAY
    assert actionable(world.plan(desired())) == []
    world.now = T0 + 181 * DAY
    cred = by_address(world.plan(desired()))["app_registration.sss.credential"]
    assert cred.action is Action.UPDATE
    assert "181 days old (rotate_days = 180)" in cred.reason
    world.apply(desired())
    creds = world.graph.app_by_unique("sssctl-contoso-prod-sss")["passwordCredentials"]
    assert [c["keyId"] for c in creds] != [first["keyId"]]
    assert len(creds) == 1
    profile = next(iter(world.profiles()))
    assert world.dataverse.written_secrets[profile] == world.graph.secrets[creds[0]["keyId"]]
    assert actionable(world.plan(desired())) == []


def test_secret_close_to_expiry_rotates_even_if_young() -> None:
    world = World()
    world.apply(desired())
    [cred] = world.graph.app_by_unique("sssctl-contoso-prod-sss")["passwordCredentials"]
    cred["endDateTime"] = c5.iso(T0 + 40 * DAY)  # shortened elsewhere: 40 days of life
    world.now = T0 + 5 * DAY
    assert actionable(world.plan(desired())) == []
    world.now = T0 + 11 * DAY  # 29 days left: inside the grace
    change = by_address(world.plan(desired()))["app_registration.sss.credential"]
    assert change.reason.endswith(f"expires on {c5.day(T0 + 40 * DAY)} (within the 30-day grace)")
    world.apply(desired())
    [fresh] = world.graph.app_by_unique("sssctl-contoso-prod-sss")["passwordCredentials"]
    assert fresh["keyId"] != cred["keyId"]


def test_secret_deleted_on_the_app_is_drift_and_replaced() -> None:
    world = World()
    world.apply(desired())
    world.graph.app_by_unique("sssctl-contoso-prod-sss")["passwordCredentials"].clear()
    cred = by_address(world.plan(desired()))["app_registration.sss.credential"]
    assert cred.action is Action.UPDATE
    assert "no longer exists on the app" in cred.reason
    world.apply(desired())
    assert actionable(world.plan(desired())) == []


def test_crash_after_profile_write_before_checkpoint_is_resolved_with_a_fresh_secret() -> None:
    world = World()
    world.apply(desired())
    world.now = T0 + 200 * DAY
    world.dataverse.fail_verify = True
    with pytest.raises(ChangeFailed, match="does not report its client secret"):
        world.apply(desired())
    world.dataverse.fail_verify = False
    cred = by_address(world.plan(desired()))["app_registration.sss.credential"]
    assert "interrupted apply" in cred.reason
    world.apply(desired())
    creds = world.graph.app_by_unique("sssctl-contoso-prod-sss")["passwordCredentials"]
    assert len(creds) == 1
    profile = next(iter(world.profiles()))
    assert world.dataverse.written_secrets[profile] == world.graph.secrets[creds[0]["keyId"]]


def test_crash_after_add_password_creates_another_and_cleans_the_orphan() -> None:
    world = World()
    world.apply(desired())
    world.now = T0 + 200 * DAY
    with pytest.raises(KeyboardInterrupt):
        world.apply(desired(), stop_after="app_registration.sss.credential")
    app = world.graph.app_by_unique("sssctl-contoso-prod-sss")
    assert len(app["passwordCredentials"]) == 2  # old (in use) + lost one
    cred = by_address(world.plan(desired()))["app_registration.sss.credential"]
    assert cred.detail["new_secret"] is True
    world.apply(desired())
    creds = world.graph.app_by_unique("sssctl-contoso-prod-sss")["passwordCredentials"]
    assert len(creds) == 1
    profile = next(iter(world.profiles()))
    assert world.dataverse.written_secrets[profile] == world.graph.secrets[creds[0]["keyId"]]
    assert actionable(world.plan(desired())) == []


def test_failed_removal_after_the_switch_is_finished_by_the_next_run() -> None:
    world = World()
    world.apply(desired())
    world.now = T0 + 200 * DAY
    world.graph.fail_on = "removePassword"
    world.apply(desired())  # the profile switch is kept; only the clean-up failed
    world.graph.fail_on = None
    assert len(world.graph.app_by_unique("sssctl-contoso-prod-sss")["passwordCredentials"]) == 2
    cred = by_address(world.plan(desired()))["app_registration.sss.credential"]
    assert cred.action is Action.UPDATE
    assert "remove 1 leftover secret" in cred.reason
    world.apply(desired())
    assert len(world.graph.app_by_unique("sssctl-contoso-prod-sss")["passwordCredentials"]) == 1
    assert actionable(world.plan(desired())) == []


def test_credentials_not_created_by_sssctl_are_never_removed() -> None:
    world = World()
    world.apply(desired())
    app = world.graph.app_by_unique("sssctl-contoso-prod-sss")
    app["passwordCredentials"].append(
        {
            "keyId": "11111111-2222-3333-4444-555555555555",
            "displayName": "ops",
            "hint": "abc",
            "startDateTime": c5.iso(T0),
            "endDateTime": c5.iso(T0 + 900 * DAY),
        }
    )
    world.now = T0 + 200 * DAY
    world.apply(desired())
    names = sorted(c["displayName"] for c in app["passwordCredentials"])
    assert names[0] == "ops" and len(names) == 2


def test_destroy_deletes_what_sssctl_created() -> None:
    world = World()
    world.apply(desired())
    empty = desired(apps=False, profiles=(), group=None)
    changes = by_address(world.plan(empty))
    assert changes["app_registration.sss"].action is Action.DELETE
    world.graph.fail_on = None
    world.apply(empty)
    assert world.graph.app_by_unique("sssctl-contoso-prod-sss") is None
    assert not [k for k in world.state if k.startswith("app_registration")]


def test_describe_exports_the_app_behind_a_profile_and_never_secret_text() -> None:
    world = World()
    world.apply(desired())
    ctx = world.context(desired())
    ctx.census = True
    described = KIND.describe(KIND.read(ctx))
    wanted = desired().app_registrations["sss"]
    assert described == {"app_registrations": {"sss": {"display_name": wanted.display_name,
                                                       "permissions": sorted(wanted.permissions)}}}
    for text in world.graph.secrets.values():
        assert text not in repr(described)


def test_decide_secret_without_profiles_keeps_no_secret() -> None:
    facts = c5.SecretFacts(
        "sss",
        {
            "appId": "a",
            "passwordCredentials": [
                {
                    "keyId": "k1",
                    "displayName": "sssctl sss",
                    "startDateTime": c5.iso(T0),
                    "endDateTime": c5.iso(T0),
                }
            ],
        },
        profiles=(),
    )
    decision = c5.decide_secret(facts, T0, 180)
    assert decision.reason is None
    assert decision.remove_now == ("k1",)


def test_app_deleted_out_of_band_after_leaving_the_config_is_just_forgotten() -> None:
    world = World()
    world.apply(desired())
    world.profiles().clear()
    app = world.graph.app_by_unique("sssctl-contoso-prod-sss")
    world.graph.apps.pop(app["id"])
    empty = desired(apps=False, profiles=(), group=None)
    changes = by_address(world.plan(empty))
    for address in ("app_registration.sss", "app_registration.sss.credential"):
        assert changes[address].action is Action.NOOP
        assert changes[address].forget is True
    world.apply(empty)
    assert not [a for a in world.state if a.startswith("app_registration")]


def test_changing_only_rotate_days_updates_state_without_writes() -> None:
    world = World()
    world.apply(desired())
    writes = world.graph.writes
    cred = by_address(world.plan(desired(rotate_days=365)))["app_registration.sss.credential"]
    assert cred.action is Action.UPDATE
    assert cred.before["rotate_days"] == 180 and cred.after["rotate_days"] == 365
    assert not cred.detail.get("new_secret")
    world.apply(desired(rotate_days=365))
    assert world.graph.writes == writes
    assert world.state["app_registration.sss.credential"]["managed"]["rotate_days"] == 365
    assert actionable(world.plan(desired(rotate_days=365))) == []


def _facts(*profiles: c5.ProfileFacts, creds: list | None = None) -> c5.SecretFacts:
    app = {
        "appId": "app-1",
        "passwordCredentials": creds
        or [
            {
                "keyId": "k1",
                "displayName": "sssctl sss",
                "startDateTime": c5.iso(T0),
                "endDateTime": c5.iso(T0 + 300 * DAY),
            },
        ],
    }
    return c5.SecretFacts("sss", app, profiles=profiles, recorded={"latest_key_id": "k1"})


def test_decide_secret_profiles_holding_different_secrets_need_a_new_one() -> None:
    a = c5.ProfileFacts("A", True, True, "app-1", "k1")
    b = c5.ProfileFacts("B", True, True, "app-1", "k0")
    decision = c5.decide_secret(_facts(a, b), T0, 180)
    assert decision.reason == "the server profiles using this app hold different secrets"
    assert decision.retire == ("k1",)


def test_decide_secret_profile_on_another_client_id_needs_a_new_one() -> None:
    profile = c5.ProfileFacts("A", True, True, "someone-else", "k1")
    assert "points at another client id" in (c5.decide_secret(_facts(profile), T0, 180).reason or "")


def test_decide_secret_up_to_date_keeps_the_held_secret_and_lists_leftovers() -> None:
    creds = [
        {
            "keyId": "k1",
            "displayName": "sssctl sss",
            "startDateTime": c5.iso(T0),
            "endDateTime": c5.iso(T0 + 300 * DAY),
        },
        {
            "keyId": "k9",
            "displayName": "sssctl sss old",
            "startDateTime": c5.iso(T0),
            "endDateTime": c5.iso(T0 + 9 * DAY),
        },
        {
            "keyId": "ops",
            "displayName": "break-glass",
            "startDateTime": c5.iso(T0),
            "endDateTime": c5.iso(T0 + 9 * DAY),
        },
    ]
    decision = c5.decide_secret(_facts(c5.ProfileFacts("A", True, True, "APP-1", "k1"), creds=creds), T0, 180)
    assert decision.reason is None
    assert decision.current is not None and decision.current["keyId"] == "k1"
    assert decision.remove_now == ("k9",)


def test_consent_on_a_resource_the_config_no_longer_names_is_shown_by_name_and_revoked() -> None:
    world = World()
    world.apply(desired(permissions=("graph:Mail.ReadWrite",), group=None))
    want = desired(permissions=("exchange:full_access_as_app",), group=None)
    app = by_address(world.plan(want))["app_registration.sss"]
    assert app.before["consented"] == ["graph:Mail.ReadWrite"]
    world.apply(want)
    roles = {a["appRoleId"] for a in world.graph.assignments.values()}
    assert roles == {world.graph.role_id(EXO, "full_access_as_app")}


def test_graph_failure_makes_app_and_secret_unknown_not_drift() -> None:
    from sssctl.clients.errors import GraphError

    world = World()
    world.apply(desired())

    def down(path: str, **_: object) -> dict:
        raise GraphError("Service unavailable", status=503)

    world.graph.get = down  # type: ignore[method-assign]
    changes = by_address(world.plan(desired()))
    for address in ("app_registration.sss", "app_registration.sss.credential"):
        assert changes[address].action is Action.UNKNOWN
        assert "Service unavailable" in changes[address].reason
