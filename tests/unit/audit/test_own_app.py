"""Control 5 in the audit: a scoped own app is hardened; unscoped, app-less or unreadable is not."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from sssctl.audit.baseline import baseline, probe
from sssctl.audit.checks import Declared, findings_of
from sssctl.clients.errors import ClientError
from sssctl.config.model import Desired
from sssctl.engine.kind import Context
from sssctl.kinds import server_profile_custom
from sssctl.kinds._control5.own_app import read_own_app_profiles, survey
from sssctl.kinds.handoffs import BuiltinProfile
from tests.support.fake_dataverse import FakeDataverse

BUILTIN, OWN, OTHER, IDLE = "b0", "p1", "p2", "p3"
APP, OTHER_APP = "aaaaaaaa-0000-4000-8000-000000000001", "aaaaaaaa-0000-4000-8000-000000000002"
PROFILES = [
    {"emailserverprofileid": BUILTIN, "name": "Microsoft Exchange Online", "statecode": 0,
     "oauthclientid": None},
    {"emailserverprofileid": OWN, "name": "Own", "statecode": 0, "oauthclientid": APP.upper()},
    {"emailserverprofileid": OTHER, "name": "Other", "statecode": 0, "oauthclientid": OTHER_APP},
    {"emailserverprofileid": IDLE, "name": "Idle", "statecode": 1, "oauthclientid": OTHER_APP},
]
SCOPED = {"AppId": APP, "AccessRight": "RestrictAccess", "ScopeName": "sss-mailboxes"}
DENY = {"AppId": [OTHER_APP], "AccessRight": "DenyAccess", "ScopeName": "vip"}


class FakeExchange:
    def __init__(self, policies: Sequence[Mapping[str, Any]] | None) -> None:
        self.policies = policies

    def invoke(self, cmdlet: str, parameters: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        if cmdlet == "Get-ServicePrincipal":
            return []  # no RBAC pointer: an app without a policy has no RBAC scope either
        assert cmdlet == "Get-ApplicationAccessPolicy"
        if self.policies is None:
            raise ClientError("Exchange answered 503")
        return list(self.policies)


def profiles(rows: Sequence[Mapping[str, Any]]) -> FakeDataverse:
    dataverse = FakeDataverse()
    for row in rows:
        dataverse.add("emailserverprofiles", dict(row))
    return dataverse


def context(rows: Sequence[Mapping[str, Any]], policies: Sequence[Mapping[str, Any]] | None,
            *, exchange: bool = True) -> Context:
    desired = Desired(version=1, source=Path("x"), digest="d")
    ctx = Context(desired=desired, dataverse=cast(Any, profiles(rows)),
                  exchange=cast(Any, FakeExchange(policies)) if exchange else None)
    ctx.handoffs.put("builtin", BuiltinProfile(BUILTIN))   # as the default-profile kind's read leaves it
    return ctx


def audited(ctx: Context) -> list[tuple[str, str, str]]:
    return [(f.severity, f.address, f.evidence) for f in findings_of(Declared(), [], None, survey(ctx))]


def test_a_scoped_own_app_is_hardened_and_an_unscoped_one_is_a_high_finding() -> None:
    profiles = read_own_app_profiles(context(PROFILES, [SCOPED, DENY]), BUILTIN)
    assert [(p.address, p.scoped_to) for p in profiles] == [
        ('server_profile.custom["Own"]', ("sss-mailboxes",)),
        ('server_profile.custom["Other"]', ()),                      # DenyAccess scopes nothing
    ]
    assert audited(context(PROFILES, [SCOPED, DENY])) == [
        ("high", 'server_profile.custom["Other"]',
         f"app {OTHER_APP}: no RestrictAccess policy and no RBAC scope")]


def test_an_active_profile_without_an_own_app_is_a_finding_and_asks_exchange_nothing() -> None:
    rows = [{**PROFILES[1], "oauthclientid": None}]
    assert audited(context(rows, None)) == [("high", 'server_profile.custom["Own"]', "no OAuth client id")]


def test_an_unreadable_scope_is_unknown_never_compliant() -> None:
    for ctx in (context(PROFILES, None), context(PROFILES, [SCOPED], exchange=False)):
        found = audited(ctx)
        assert [(severity, address) for severity, address, _ in found] == [
            ("unknown", 'server_profile.custom["Other"]'), ("unknown", 'server_profile.custom["Own"]')]


def test_the_baseline_no_longer_prefers_one_profile_for_new_mailboxes() -> None:
    wanted = baseline(Desired(version=1, source=Path("x"), digest="d"), keep_user_values=False)
    assert wanted.mailbox_defaults is not None and wanted.mailbox_defaults.server_profile is None
    assert wanted.mailbox_defaults.incoming_email == "server_side_sync"


def test_without_the_built_in_profile_read_the_check_is_unknown_and_reads_nothing() -> None:
    desired = Desired(version=1, source=Path("x"), digest="d")
    ctx = Context(desired=desired, dataverse=cast(Any, profiles([])))   # no hand-off: not read
    kinds = [server_profile_custom.KIND]
    probed = probe(kinds, ctx, baseline(ctx.desired, keep_user_values=False))
    assert probed.changes == [] and probed.reading.observed == {}
    [finding] = findings_of(Declared.of(kinds), probed.changes, probed.reading, probed.surveyed)
    assert (finding.severity, finding.address) == ("unknown", 'server_profile.custom["*"]')
    assert "built-in profile was not read" in finding.evidence
