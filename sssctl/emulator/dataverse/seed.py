"""Seed datasets: a realistic small organisation and the same shape scaled up.

Deterministic for a seed (``random.Random(seed)``). Ids of privileges and root role
copies derive from their names (uuid5), as Microsoft-shipped ones are stable across
organisations; everything else draws from the seeded generator. Rows are built as plain
dicts and written straight into the store so the large dataset builds in a few seconds.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

from .. import constants
from .store import Row, Store

NAMESPACE = uuid.UUID("3b0f5c1e-8a57-4d8e-9f54-0d5c7c1a2b3e")
ROOT_BUSINESS_UNIT_ID = str(uuid.uuid5(NAMESPACE, "businessunit:root"))
LEGACY_PROFILE_ID = str(uuid.uuid5(NAMESPACE, "emailserverprofile:legacy"))
EPOCH = "2024-05-02T09:30:00Z"
EMPTY_DATE = "1900-01-01T00:00:00Z"

ORG_SETTINGS = (
    "<OrgSettings><IsCommandingModifiedOnEnabled>true</IsCommandingModifiedOnEnabled>"
    "<CanCreateApplicationStubUser>false</CanCreateApplicationStubUser>"
    "<EnableActivitiesFeatures>1</EnableActivitiesFeatures>"
    "<SSSForceFilteringMethodForUserMailboxes>-1</SSSForceFilteringMethodForUserMailboxes></OrgSettings>"
)
DEFAULT_EMAIL_SETTINGS = (
    "<EmailSettings><IncomingEmailDeliveryMethod>2</IncomingEmailDeliveryMethod>"
    "<OutgoingEmailDeliveryMethod>2</OutgoingEmailDeliveryMethod>"
    "<ACTDeliveryMethod>1</ACTDeliveryMethod></EmailSettings>"
)

# Depth masks of the roleprivileges intersect table (reference §8.3).
BASIC, LOCAL, DEEP, GLOBAL = 1, 2, 4, 8

_ENTITY_VERBS: dict[str, tuple[str, ...]] = {
    "Account": ("Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share"),
    "Contact": ("Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share"),
    "Lead": ("Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share"),
    "Opportunity": ("Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share"),
    "Incident": ("Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share"),
    "Activity": ("Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share"),
    "Email": ("Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share"),
    "Mailbox": ("Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share"),
    "EmailServerProfile": ("Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share"),
    "Queue": ("Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share"),
    "User": ("Create", "Read", "Write", "Append", "AppendTo", "Assign"),
    "BusinessUnit": ("Create", "Read", "Write", "Delete", "Append", "AppendTo"),
    "Role": ("Create", "Read", "Write", "Delete", "Assign"),
    "UserSettings": ("Read", "Write"),
    "Organization": ("Read", "Write"),
    "Privilege": ("Read",),
    "Customization": ("Read", "Write"),
}
_ACCESS_RIGHT = {
    "Read": 1,
    "Write": 2,
    "Append": 4,
    "AppendTo": 16,
    "Create": 32,
    "Delete": 65536,
    "Share": 262144,
    "Assign": 524288,
}
_GLOBAL_ONLY = {"Organization", "Privilege", "Customization"}
_MISC = (
    "prvApproveRejectEmailAddress",
    "prvBypassCustomBusinessLogic",
    "prvExportCustomization",
    "prvPublishCustomization",
    "prvActOnBehalfOfAnotherUser",
    "prvGoOffline",
    "prvSyncToOutlook",
    "prvUseOfficeApps",
    "prvPromoteToExchangeSync",
    "prvReadAuditSummary",
)
# Microsoft hard-codes a few privilege ids in its documentation; keep them.
_KNOWN_PRIVILEGE_IDS = {
    "prvBypassCustomBusinessLogic": "0ea552b0-a491-4470-9a1b-82068deccf66",
    "prvReadQueue": "b140e729-dfeb-4ba1-a33f-39ff830bac90",
}


def privilege_id(name: str) -> str:
    return _KNOWN_PRIVILEGE_IDS.get(name) or str(uuid.uuid5(NAMESPACE, f"privilege:{name}"))


def root_role_id(name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"role:{name}"))


def privilege_names() -> list[str]:
    names = [f"prv{verb}{entity}" for entity, verbs in _ENTITY_VERBS.items() for verb in verbs]
    return names + list(_MISC)


def _privilege_rows() -> list[Row]:
    rows = []
    for name in privilege_names():
        entity = next((e for e in _ENTITY_VERBS if name.endswith(e) and name.startswith("prv")), None)
        verb = name[3 : len(name) - len(entity)] if entity else ""
        global_only = entity is None or entity in _GLOBAL_ONLY
        rows.append(
            {
                "privilegeid": privilege_id(name),
                "name": name,
                "accessright": _ACCESS_RIGHT.get(verb, 0),
                "canbebasic": not global_only,
                "canbelocal": not global_only,
                "canbedeep": not global_only,
                "canbeglobal": True,
                "canbeentityreference": False,
                "canbeparententityreference": False,
                "canberecordfilter": False,
                "ismanaged": True,
                "componentstate": 0,
                "introducedversion": "5.0.0.0",
            }
        )
    return rows


def _matching(pattern: str) -> list[str]:
    """Privilege names for a compact pattern: 'Read:*' (verb on every entity) or 'Mailbox:*' or a name."""
    if pattern.startswith("prv"):
        return [pattern]
    left, right = pattern.split(":")
    return [
        f"prv{verb}{entity}"
        for entity, verbs in _ENTITY_VERBS.items()
        for verb in verbs
        if left in ("*", verb, entity) and right in ("*", verb, entity)
    ]


def _grant(patterns: dict[str, int]) -> dict[str, int]:
    granted: dict[str, int] = {}
    for pattern, depth in patterns.items():
        for name in _matching(pattern):
            entity_global = any(name.endswith(e) for e in _GLOBAL_ONLY) or name in _MISC
            granted[privilege_id(name)] = GLOBAL if entity_global else depth
    return granted


_BASIC_USER = {
    "Read:Account": BASIC,
    "Read:Contact": BASIC,
    "Read:Activity": BASIC,
    "Read:Email": BASIC,
    "Create:Email": BASIC,
    "Write:Email": BASIC,
    "Read:Mailbox": BASIC,
    "Write:Mailbox": BASIC,
    "Read:EmailServerProfile": BASIC,
    "Read:UserSettings": BASIC,
    "Write:UserSettings": BASIC,
    "Read:User": GLOBAL,
    "Read:BusinessUnit": GLOBAL,
    "Read:Organization": GLOBAL,
    "Read:Queue": BASIC,
    "prvSyncToOutlook": GLOBAL,
    "prvGoOffline": GLOBAL,
}
_SALES = {"Account:*": LOCAL, "Contact:*": LOCAL, "Lead:*": LOCAL, "Opportunity:*": LOCAL}
_SERVICE = {"Incident:*": LOCAL, "Contact:*": LOCAL, "Account:*": LOCAL, "Queue:*": LOCAL}
_CUSTOMIZER = {
    "Customization:*": GLOBAL,
    "Read:*": GLOBAL,
    "Role:*": GLOBAL,
    "prvExportCustomization": GLOBAL,
    "prvPublishCustomization": GLOBAL,
    "prvApproveRejectEmailAddress": GLOBAL,
}

# Built-in and custom roles: name -> privilege patterns with depth.
ROLES: dict[str, dict[str, int]] = {
    "System Administrator": {"*:*": GLOBAL, **{m: GLOBAL for m in _MISC}},
    "System Customizer": _CUSTOMIZER,
    "Basic User": _BASIC_USER,
    "Salesperson": {**_BASIC_USER, **_SALES},
    "Sales Manager": {
        **_BASIC_USER,
        **{k: DEEP for k in _SALES},
        "Mailbox:*": DEEP,
        "prvApproveRejectEmailAddress": GLOBAL,
    },
    "Customer Service Representative": {**_BASIC_USER, **_SERVICE},
    "CSR Manager": {**_BASIC_USER, **{k: DEEP for k in _SERVICE}},
    "Marketing Professional": {**_BASIC_USER, "Lead:*": LOCAL, "Contact:*": LOCAL},
    "Delegated Mailbox Approver": {
        "Read:Mailbox": GLOBAL,
        "Read:User": GLOBAL,
        "Read:Queue": GLOBAL,
        "prvApproveRejectEmailAddress": GLOBAL,
    },
    "Environment Maker": {"Customization:*": GLOBAL, "Read:Organization": GLOBAL},
    "Support User": {"Read:*": GLOBAL, "prvReadAuditSummary": GLOBAL},
    "Office Collaborator": {"Read:Account": GLOBAL, "Read:Contact": GLOBAL, "Read:Organization": GLOBAL},
    "Service Reader": {"Read:*": GLOBAL},
    "Contoso Mailbox Admin": {
        **_BASIC_USER,
        "Mailbox:*": GLOBAL,
        "EmailServerProfile:*": GLOBAL,
        "Queue:*": GLOBAL,
        "Write:User": GLOBAL,
        "prvApproveRejectEmailAddress": GLOBAL,
    },
    # What the deliberately weak application holds: reads everything, writes mailboxes and
    # user settings, but can neither approve addresses nor write the organization.
    "Contoso Mailbox Operator": {"Read:*": GLOBAL, "Write:Mailbox": GLOBAL, "Write:UserSettings": GLOBAL},
}
CUSTOM_ROLES = {"Contoso Mailbox Admin", "Contoso Mailbox Operator"}

_FIRST = (
    "Avery",
    "Blake",
    "Casey",
    "Dana",
    "Emery",
    "Finley",
    "Harper",
    "Jordan",
    "Kai",
    "Logan",
    "Morgan",
    "Noel",
    "Parker",
    "Quinn",
    "Riley",
    "Sage",
    "Taylor",
    "Rowan",
    "Skyler",
    "Elliot",
)
_LAST = (
    "Adams",
    "Brooks",
    "Chen",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ito",
    "Jensen",
    "Khan",
    "Larsen",
    "Meyer",
    "Novak",
    "Okafor",
    "Patel",
    "Rossi",
    "Silva",
    "Tanaka",
    "Weber",
)


@dataclass
class Sizes:
    users: int
    queues: int
    business_units: int  # child business units below the root
    extra_roles: int  # custom roles beyond the built-in set


# Seeded rows were set up by the environment's administrator (their createdby/modifiedby).
SEED_AUTHOR = str(uuid.uuid5(NAMESPACE, "systemuser:admin"))


class _Builder:
    def __init__(self, store: Store, seed: int) -> None:
        self.store = store
        self.rng = random.Random(seed)  # noqa: S311 - reproducible seed data, not security
        self.version = 1_000
        self.mailboxes = 0

    def guid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def put(self, logical: str, key: str, row: dict[str, Any]) -> None:
        self.version += 1
        row.setdefault("createdon", EPOCH)
        row.setdefault("modifiedon", EPOCH)
        row.setdefault("_createdby_value", SEED_AUTHOR)
        row.setdefault("_modifiedby_value", SEED_AUTHOR)
        row["versionnumber"] = self.version
        self.store.table(logical)[key] = row


def build(
    store: Store,
    *,
    dataset: str,
    seed: int,
    mailboxes: int | None,
    business_units: int | None,
    roles: int | None,
    organization_id: str = constants.ORGANIZATION_ID,
) -> None:
    """Fill an empty store with the named dataset.

    ``roles`` counts root roles; the built-in set is always there, so a smaller number
    simply adds no custom roles. ``organization_id`` gives a second organization of the
    same tenant its own identity, as every Dataverse environment has.
    """
    for name, value in (("mailboxes", mailboxes), ("business_units", business_units), ("roles", roles)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValueError(f"{name} must be a whole number of at least 0, not {value!r}")
    if dataset == "small":
        sizes = Sizes(
            users=25,
            queues=5,
            business_units=business_units if business_units is not None else 3,
            extra_roles=max(0, (roles or len(ROLES)) - len(ROLES)),
        )
        if mailboxes is not None:
            sizes.users, sizes.queues = _split(mailboxes)
    elif dataset == "large":
        total = mailboxes if mailboxes is not None else 50_000
        users, queues = _split(total)
        sizes = Sizes(
            users=users,
            queues=queues,
            business_units=business_units if business_units is not None else 200,
            extra_roles=max(0, (roles if roles is not None else 60) - len(ROLES)),
        )
    else:
        raise ValueError(f"unknown dataset '{dataset}': choose small or large")
    builder = _Builder(store, seed)
    for row in _privilege_rows():
        builder.put("privilege", row["privilegeid"], row)
    _organization(builder)
    _profiles(builder)
    units = _business_units(builder, sizes.business_units)
    _roles(builder, units, sizes.extra_roles)
    _principals(builder, units, sizes)
    if organization_id != constants.ORGANIZATION_ID:
        _assign_organization(store, organization_id)
    store.version = max(store.version, builder.version + 1)


def _assign_organization(store: Store, organization_id: str) -> None:
    """Every row that names the organization names ``organization_id`` instead."""
    for rows in store.tables.values():
        for row in rows.values():
            for column in ("organizationid", "_organizationid_value"):
                if row.get(column) == constants.ORGANIZATION_ID:
                    row[column] = organization_id
    organizations = store.table("organization")
    organizations[organization_id] = organizations.pop(constants.ORGANIZATION_ID)


def _split(total: int) -> tuple[int, int]:
    queues = min(5, total) if total < 100 else total // 20
    return total - queues, queues


def _organization(b: _Builder) -> None:
    b.put(
        "organization",
        constants.ORGANIZATION_ID,
        {
            "organizationid": constants.ORGANIZATION_ID,
            "name": "Contoso",
            "orgdborgsettings": ORG_SETTINGS,
            "defaultemailsettings": DEFAULT_EMAIL_SETTINGS,
            "_defaultemailserverprofileid_value": constants.DEFAULT_PROFILE_ID,
            "requireapprovalforuseremail": False,
            "requireapprovalforqueueemail": False,
            "emailconnectionchannel": 0,
            "ignoreinternalemail": False,
            "emailcorrelationenabled": True,
            "allowunresolvedpartiesonemailsend": False,
            "maximumtrackingnumber": 999,
            "trackingprefix": "CRM:;",
            "isemailserverprofilecontentfilteringenabled": True,
            "notifymailboxownerofemailserverlevelalerts": False,
            "generatealertsforerrors": True,
            "generatealertsforwarnings": True,
            "generatealertsforinformation": True,
            "_basecurrencyid_value": str(uuid.uuid5(NAMESPACE, "currency:EUR")),
        },
    )


def _profile(profile_id: str, name: str, active: bool) -> Row:
    return {
        "emailserverprofileid": profile_id,
        "name": name,
        "description": None,
        "servertype": 0,
        "emailservertypename": "Exchange Online",
        "serverauthority": 3,
        "useautodiscover": False,
        "incomingserverlocation": "https://outlook.office365.com/EWS/Exchange.asmx",
        "outgoingserverlocation": "https://outlook.office365.com/EWS/Exchange.asmx",
        "defaultserverlocation": None,
        "incomingcredentialretrieval": 2,
        "outgoingcredentialretrieval": 2,
        "incomingauthenticationprotocol": 0,
        "outgoingauthenticationprotocol": 0,
        "usesamesettingsforoutgoingconnections": True,
        "incomingusername": None,
        "isincomingpasswordset": False,
        "outgoingusername": None,
        "isoutgoingpasswordset": False,
        "usedefaulttenantid": True,
        "exchangeonlinetenantid": constants.TENANT_ID,
        "oauthclientid": None,
        "isoauthclientsecretset": False,
        "aadresourceid": None,
        "sendemailalert": False,
        "owneremailaddress": None,
        "_organizationid_value": constants.ORGANIZATION_ID,
        "statecode": 0 if active else 1,
        "statuscode": 1 if active else 2,
        "_ownerid_value": constants.SSSCTL_APP_USER_ID,
        "_ownerid_value@lt": "systemuser",
        "_owningbusinessunit_value": ROOT_BUSINESS_UNIT_ID,
    }


def _profiles(b: _Builder) -> None:
    b.put(
        "emailserverprofile",
        constants.DEFAULT_PROFILE_ID,
        _profile(constants.DEFAULT_PROFILE_ID, constants.DEFAULT_PROFILE_NAME, True),
    )
    b.put(
        "emailserverprofile",
        LEGACY_PROFILE_ID,
        _profile(LEGACY_PROFILE_ID, "Exchange Online (legacy 2019)", False),
    )


def _business_units(b: _Builder, children: int) -> list[str]:
    """Root first, then children; every fifth child sits below an earlier child (a deeper tree)."""
    units = [ROOT_BUSINESS_UNIT_ID]
    b.put("businessunit", ROOT_BUSINESS_UNIT_ID, _unit(ROOT_BUSINESS_UNIT_ID, "contoso", None))
    names = ("Sales", "Service", "Marketing")
    for index in range(children):
        unit_id = str(uuid.uuid5(NAMESPACE, f"businessunit:{index}"))
        parent = units[1 + (index // 5)] if index >= 5 and index % 5 == 0 else ROOT_BUSINESS_UNIT_ID
        name = names[index] if index < len(names) else f"Region {index + 1:03d}"
        b.put("businessunit", unit_id, _unit(unit_id, name, parent))
        units.append(unit_id)
    return units


def _unit(unit_id: str, name: str, parent: str | None) -> Row:
    return {
        "businessunitid": unit_id,
        "name": name,
        "_parentbusinessunitid_value": parent,
        "divisionname": None,
        "isdisabled": False,
        "_organizationid_value": constants.ORGANIZATION_ID,
    }


def role_row(role_id: str, name: str, unit: str, *, parent: str | None, root: str, custom: bool) -> Row:
    return {
        "roleid": role_id,
        "name": name,
        "_businessunitid_value": unit,
        "_parentroleid_value": parent,
        "_parentrootroleid_value": root,
        "_roletemplateid_value": None if custom else str(uuid.uuid5(NAMESPACE, f"roletemplate:{name}")),
        "ismanaged": not custom,
        "iscustomizable": {
            "Value": custom,
            "CanBeChanged": custom,
            "ManagedPropertyLogicalName": "iscustomizableanddeletable",
        },
        "canbedeleted": {
            "Value": custom,
            "CanBeChanged": custom,
            "ManagedPropertyLogicalName": "canbedeleted",
        },
        "isinherited": 1,
        "componentstate": 0,
        "organizationid": constants.ORGANIZATION_ID,
    }


def copy_role_to_units(
    b_put: Any, root: Row, units: list[str], parent_of: dict[str, str | None], make_id: Any
) -> None:
    """Create the child business-unit copies of a root role, parents before children."""
    copies = {root["_businessunitid_value"]: root["roleid"]}
    for unit in units:
        if unit in copies:
            continue
        parent_unit = parent_of[unit]
        if parent_unit not in copies:
            continue
        copy_id = make_id(root["roleid"], unit)
        custom = not root["ismanaged"]
        b_put(
            copy_id,
            role_row(
                copy_id, root["name"], unit, parent=copies[parent_unit], root=root["roleid"], custom=custom
            ),
        )
        copies[unit] = copy_id


def _roles(b: _Builder, units: list[str], extra: int) -> None:
    definitions = dict(ROLES)
    for index in range(extra):
        # Every fifth custom role can approve mailboxes too: the allowlist has work at scale.
        approve = {"prvApproveRejectEmailAddress": GLOBAL} if index % 5 == 0 else {}
        definitions[f"Contoso Custom Role {index + 1:03d}"] = {
            **_BASIC_USER,
            **(_SALES if index % 2 else _SERVICE),
            **approve,
        }
    parent_of = {u: b.store.tables["businessunit"][u]["_parentbusinessunitid_value"] for u in units}
    for name, patterns in definitions.items():
        root_id = root_role_id(name)
        custom = name in CUSTOM_ROLES or name.startswith("Contoso Custom Role")
        root = role_row(root_id, name, ROOT_BUSINESS_UNIT_ID, parent=None, root=root_id, custom=custom)
        b.put("role", root_id, root)
        copy_role_to_units(
            lambda key, row: b.put("role", key, row),
            root,
            units,
            parent_of,
            lambda rid, unit: str(uuid.uuid5(NAMESPACE, f"{rid}:{unit}")),
        )
        b.store.role_privileges[root_id] = _grant(patterns)


def role_copy_id(name: str, unit: str) -> str:
    root = root_role_id(name)
    return root if unit == ROOT_BUSINESS_UNIT_ID else str(uuid.uuid5(NAMESPACE, f"{root}:{unit}"))


def _user(user_id: str, first: str, last: str, email: str | None, unit: str, **extra: Any) -> Row:
    return {
        "systemuserid": user_id,
        "fullname": f"{first} {last}".strip(),
        "firstname": first,
        "lastname": last,
        "internalemailaddress": email,
        "domainname": email,
        "isdisabled": False,
        "accessmode": 0,
        "applicationid": None,
        "azureactivedirectoryobjectid": None,
        "_businessunitid_value": unit,
        "_defaultmailbox_value": None,
        "emailrouteraccessapproval": 0,
        "incomingemaildeliverymethod": 2,
        "outgoingemaildeliverymethod": 2,
        "islicensed": True,
        "organizationid": constants.ORGANIZATION_ID,
        **extra,
    }


def _principals(b: _Builder, units: list[str], sizes: Sizes) -> None:
    admin_role = role_copy_id("System Administrator", ROOT_BUSINESS_UNIT_ID)
    _service_user(b, constants.SSSCTL_APP_USER_ID, "# sssctl", constants.SSSCTL_APP_ID, [admin_role])
    _service_user(
        b,
        constants.LIMITED_APP_USER_ID,
        "# sssctl limited",
        constants.LIMITED_APP_ID,
        [role_copy_id("Contoso Mailbox Operator", ROOT_BUSINESS_UNIT_ID)],
    )
    admin_id = SEED_AUTHOR
    first, _, last = constants.ADMIN_USER_NAME.partition(" ")
    b.put(
        "systemuser",
        admin_id,
        _user(
            admin_id,
            first,
            last,
            constants.ADMIN_USER_UPN,
            ROOT_BUSINESS_UNIT_ID,
            azureactivedirectoryobjectid=constants.ADMIN_USER_OBJECT_ID,
            emailrouteraccessapproval=1,
        ),
    )
    b.store.user_roles[admin_id] = [admin_role]
    _settings(b, admin_id, ROOT_BUSINESS_UNIT_ID, 2)
    everyday = ("Salesperson", "Customer Service Representative", "Basic User", "Marketing Professional")
    for n in range(1, sizes.users + 1):
        user_id = b.guid()
        unit = units[b.rng.randrange(len(units))] if n > 1 else ROOT_BUSINESS_UNIT_ID
        email = constants.user_email(n) if n < 1000 else f"user{n}@{constants.MAIL_DOMAIN}"
        approval = _approval(b.rng)
        first, last = _FIRST[b.rng.randrange(len(_FIRST))], _LAST[b.rng.randrange(len(_LAST))]
        mailbox_id = b.guid()
        b.put(
            "systemuser",
            user_id,
            _user(
                user_id,
                first,
                last,
                email,
                unit,
                emailrouteraccessapproval=approval,
                azureactivedirectoryobjectid=b.guid(),
                _defaultmailbox_value=mailbox_id,
            ),
        )
        role = "System Administrator" if n == 1 else everyday[b.rng.randrange(len(everyday))]
        roles = [role_copy_id(role, unit)]
        if n % 12 == 5:
            roles.append(role_copy_id("Sales Manager", unit))
        b.store.user_roles[user_id] = roles
        _settings(b, user_id, unit, 0 if b.rng.random() < 0.2 else 2)
        _mailbox(
            b,
            mailbox_id,
            f"{first} {last}",
            email,
            owner=user_id,
            owner_type="systemuser",
            unit=unit,
            approval=approval,
        )
    for n in range(1, sizes.queues + 1):
        queue_id, mailbox_id = b.guid(), b.guid()
        email = constants.queue_email(n) if n < 100 else f"queue{n}@{constants.MAIL_DOMAIN}"
        approval = _approval(b.rng)
        b.put(
            "queue",
            queue_id,
            {
                "queueid": queue_id,
                "name": f"Queue {n:02d}",
                "emailaddress": email,
                "emailrouteraccessapproval": approval,
                "incomingemaildeliverymethod": 2,
                "outgoingemaildeliverymethod": 2,
                "incomingemailfilteringmethod": 0,
                "_defaultmailbox_value": mailbox_id,
                "queueviewtype": 0,
                "_organizationid_value": constants.ORGANIZATION_ID,
                "statecode": 0,
                "statuscode": 1,
                "_ownerid_value": constants.SSSCTL_APP_USER_ID,
                "_ownerid_value@lt": "systemuser",
                "_owningbusinessunit_value": ROOT_BUSINESS_UNIT_ID,
            },
        )
        _mailbox(
            b,
            mailbox_id,
            f"Queue {n:02d}",
            email,
            owner=queue_id,
            owner_type="queue",
            unit=ROOT_BUSINESS_UNIT_ID,
            approval=approval,
        )


def _service_user(b: _Builder, user_id: str, name: str, app_id: str, roles: list[str]) -> None:
    b.put(
        "systemuser",
        user_id,
        _user(
            user_id,
            name,
            "",
            None,
            ROOT_BUSINESS_UNIT_ID,
            applicationid=app_id,
            accessmode=4,
            islicensed=False,
            incomingemaildeliverymethod=0,
            outgoingemaildeliverymethod=0,
        ),
    )
    b.store.user_roles[user_id] = roles
    _settings(b, user_id, ROOT_BUSINESS_UNIT_ID, 2)


def _settings(b: _Builder, user_id: str, unit: str, filtering: int) -> None:
    b.put(
        "usersettings",
        user_id,
        {
            "systemuserid": user_id,
            "incomingemailfilteringmethod": filtering,
            "uilanguageid": 1033,
            "timezonecode": 110,
            "businessunitid": unit,
        },
    )


def _approval(rng: random.Random) -> int:
    roll = rng.random()
    return 1 if roll < 0.6 else 2 if roll < 0.9 else 0


def _mailbox(
    b: _Builder,
    mailbox_id: str,
    name: str,
    email: str,
    *,
    owner: str,
    owner_type: str,
    unit: str,
    approval: int,
) -> None:
    # Every tenth mailbox drifts in each of three ways, so even the small set has all of them.
    b.mailboxes += 1
    roll = (b.mailboxes % 10) / 10 + b.rng.random() / 100
    incoming, outgoing, act, profile = 2, 2, 1, constants.DEFAULT_PROFILE_ID
    if roll < 0.10:
        incoming, outgoing = 1, 1  # still on Dynamics 365 for Outlook
    elif 0.5 <= roll < 0.6:
        profile = LEGACY_PROFILE_ID  # left behind on the old profile
    elif 0.8 <= roll < 0.9:
        incoming, act = 0, 2
    if owner_type == "queue":
        act = 2
    tested = approval == 1
    b.put(
        "mailbox",
        mailbox_id,
        {
            "mailboxid": mailbox_id,
            "name": name,
            "emailaddress": email,
            "_regardingobjectid_value": owner,
            "_regardingobjectid_value@lt": owner_type,
            "_emailserverprofile_value": profile,
            "incomingemaildeliverymethod": incoming,
            "outgoingemaildeliverymethod": outgoing,
            "actdeliverymethod": act,
            "emailrouteraccessapproval": approval,
            "isemailaddressapprovedbyo365admin": False,
            "enabledforincomingemail": tested,
            "enabledforoutgoingemail": tested,
            "enabledforact": tested and act != 2,
            "incomingemailstatus": 1 if tested else 0,
            "outgoingemailstatus": 1 if tested else 0,
            "actstatus": 1 if tested and act != 2 else 0,
            "mailboxstatus": 1 if tested else 0,
            "testemailconfigurationscheduled": False,
            "testemailconfigurationretrycount": 0,
            "postponetestemailconfigurationuntil": EMPTY_DATE,
            "testmailboxaccesscompletedon": EPOCH if tested else None,
            "isforwardmailbox": False,
            "isserviceaccount": False,
            "orgmarkedasprimaryforexchangesync": owner_type == "systemuser",
            "processanddeleteemails": False,
            "allowemailconnectortousecredentials": False,
            "username": None,
            "ispasswordset": False,
            "ewsurl": None,
            "processingstatecode": 0,
            "_organizationid_value": constants.ORGANIZATION_ID,
            "statecode": 0,
            "statuscode": 1,
            "_ownerid_value": owner if owner_type == "systemuser" else constants.SSSCTL_APP_USER_ID,
            "_ownerid_value@lt": "systemuser",
            "_owningbusinessunit_value": unit,
        },
    )
