"""A small seeded environment and an engine-like loop (plan, apply, remember state)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sssctl.config.model import Desired
from sssctl.engine.applier import Outcome
from sssctl.engine.kind import Context, Kind
from sssctl.engine.plan import Action, Change
from tests.support import planning
from tests.support.applying import apply_changes
from tests.support.fake_dataverse import FakeDataverse

ORG = "d7671e2c-0000-4a6b-9c3d-1e2f3a4b5c6d"
DEFAULT_PROFILE = "7eedeb22-6a30-4a66-808b-00c25a95b03f"
CUSTOM_PROFILE = "11111111-2222-3333-4444-555555555555"
ORG_XML = (
    "<OrgSettings><IsCommandingModifiedOnEnabled>True</IsCommandingModifiedOnEnabled>"
    "<EnableActivitiesFeatures>1</EnableActivitiesFeatures>"
    "<SSSForceFilteringMethodForUserMailboxes>03</SSSForceFilteringMethodForUserMailboxes>"
    "<RequirePrivilegeToSelfApproveEmailAddress>1</RequirePrivilegeToSelfApproveEmailAddress></OrgSettings>"
)
EMAIL_XML = (
    "<EmailSettings><IncomingEmailDeliveryMethod>2</IncomingEmailDeliveryMethod>"
    "<OutgoingEmailDeliveryMethod>2</OutgoingEmailDeliveryMethod>"
    "<ACTDeliveryMethod>1</ACTDeliveryMethod><Extra>keep</Extra></EmailSettings>"
)
ROOT_BU = "b0000000-0000-0000-0000-000000000000"
CHILD_BUS = ("b0000000-0000-0000-0000-000000000001", "b0000000-0000-0000-0000-000000000002")
APPROVE = "a0000000-0000-0000-0000-00000000000a"
READ_ACCOUNT = "a0000000-0000-0000-0000-00000000000b"
ROLES = {
    "System Administrator": "r0000000-0000-0000-0000-000000000001",
    "System Customizer": "r0000000-0000-0000-0000-000000000002",
    "Sales Manager": "r0000000-0000-0000-0000-000000000003",
    "Basic User": "r0000000-0000-0000-0000-000000000004",
}


def desired(**sections: Any) -> Desired:
    return Desired(version=1, source=Path("test.toml"), digest="digest", **sections)


def mailbox_id(n: int) -> str:
    return f"m0000000-0000-0000-0000-{n:012d}"


def seed() -> FakeDataverse:
    dv = FakeDataverse()
    dv.add(
        "organizations",
        {
            "organizationid": ORG,
            "orgdborgsettings": ORG_XML,
            "defaultemailsettings": EMAIL_XML,
            "_defaultemailserverprofileid_value": DEFAULT_PROFILE,
            "requireapprovalforuseremail": False,
            "requireapprovalforqueueemail": True,
        },
    )
    dv.add(
        "emailserverprofiles",
        {
            "emailserverprofileid": DEFAULT_PROFILE,
            "name": "Microsoft Exchange Online",
            "statecode": 0,
            "statuscode": 1,
        },
    )
    dv.add(
        "emailserverprofiles",
        {"emailserverprofileid": CUSTOM_PROFILE, "name": "Contoso EXO", "statecode": 0, "statuscode": 1},
    )
    for q in (1, 2):
        dv.add("queues", {"queueid": f"q-{q}", "name": f"queue{q}"})
    # users 1-6 conform to the defaults except 2 (incoming outlook), 3 (ACT none), 4 (other profile),
    # 6 (excluded candidate: outgoing none); queues: 7 conforms except ACT 2 (ignored), 8 incoming none.
    rows = {
        1: (2, 2, 1, DEFAULT_PROFILE, "u-1"),
        2: (1, 2, 1, DEFAULT_PROFILE, "u-2"),
        3: (2, 2, 2, DEFAULT_PROFILE, "u-3"),
        4: (2, 2, 1, CUSTOM_PROFILE, "u-4"),
        5: (2, 2, 1, DEFAULT_PROFILE, "u-5"),
        6: (2, 0, 1, DEFAULT_PROFILE, "u-6"),
        7: (2, 2, 2, DEFAULT_PROFILE, "q-1"),
        8: (0, 2, 1, DEFAULT_PROFILE, "q-2"),
    }
    for n, (inc, out, act, profile, regarding) in rows.items():
        dv.add(
            "mailboxes",
            {
                "mailboxid": mailbox_id(n),
                "emailaddress": f"{'queue' if regarding.startswith('q') else 'user'}{n:02d}@contoso.com",
                "incomingemaildeliverymethod": inc,
                "outgoingemaildeliverymethod": out,
                "actdeliverymethod": act,
                "_emailserverprofile_value": profile,
                "_regardingobjectid_value": regarding,
            },
        )
    for n, method in enumerate((2, 0, 3, 2, 4), start=1):
        user = f"u-{n}"
        dv.add(
            "systemusers",
            {
                "systemuserid": user,
                "domainname": f"user{n:02d}@contoso.com",
                "isdisabled": n == 5,
                "applicationid": None,
            },
        )
        dv.add("usersettingscollection", {"systemuserid": user, "incomingemailfilteringmethod": method})
    dv.add(
        "systemusers",
        {
            "systemuserid": dv.me,
            "domainname": "app",
            "isdisabled": False,
            "applicationid": "5a1f7c2e-3d4b-4e6f-8a9b-0c1d2e3f4a5b",
        },
    )
    dv.add("usersettingscollection", {"systemuserid": dv.me, "incomingemailfilteringmethod": 0})
    seed_security(dv)
    return dv


def seed_security(dv: FakeDataverse) -> None:
    dv.add(
        "businessunits", {"businessunitid": ROOT_BU, "name": "contoso", "_parentbusinessunitid_value": None}
    )
    for bu in CHILD_BUS:
        dv.add("businessunits", {"businessunitid": bu, "name": bu, "_parentbusinessunitid_value": ROOT_BU})
    dv.add("privileges", {"privilegeid": APPROVE, "name": "prvApproveRejectEmailAddress"})
    dv.add("privileges", {"privilegeid": READ_ACCOUNT, "name": "prvReadAccount"})
    for name, role_id in ROLES.items():
        dv.add(
            "roles",
            {
                "roleid": role_id,
                "name": name,
                "_businessunitid_value": ROOT_BU,
                "_parentrootroleid_value": role_id,
            },
        )
        for i, bu in enumerate(CHILD_BUS):
            copy = f"{role_id[:-3]}9{i}{role_id[-1]}"
            dv.add(
                "roles",
                {
                    "roleid": copy,
                    "name": name,
                    "_businessunitid_value": bu,
                    "_parentrootroleid_value": role_id,
                },
            )
        dv.role_privileges[role_id.lower()] = {READ_ACCOUNT: "Global"}
    for name, depth in (
        ("System Administrator", "Global"),
        ("System Customizer", "Global"),
        ("Sales Manager", "Local"),
    ):
        dv.role_privileges[ROLES[name].lower()][APPROVE] = depth
    dv.user_roles[dv.me] = [ROLES["System Administrator"]]


@dataclass
class Engine:
    """Plays the engine's part: plan, apply actionable changes, keep the state entries."""

    dv: FakeDataverse
    state: dict[str, dict[str, Any]] = field(default_factory=dict)
    allow_lockout: bool = False

    def context(self, want: Desired) -> Context:
        return Context(
            desired=want,
            dataverse=self.dv,
            state=dict(self.state),  # type: ignore[arg-type]
            allow_lockout=self.allow_lockout,
        )

    def plan(self, kind: Kind, want: Desired) -> list[Change]:
        return planning.plan([kind], self.context(want), want)[0]

    def apply(self, kind: Kind, want: Desired) -> list[Outcome]:
        """Plan, then apply through the real applier (writes only; forgotten no-ops too)."""
        ctx = self.context(want)
        changes = planning.plan([kind], ctx, want)[0]
        outcomes = apply_changes([kind], ctx, changes, self.state)
        return [o for o in outcomes if o.status == "applied"]


def actionable(changes: list[Change]) -> list[Change]:
    return [c for c in changes if c.action in (Action.CREATE, Action.UPDATE, Action.DELETE)]
