"""Tables, columns and option sets of the emulated Dataverse slice (reference §2–§8).

Rows are plain dicts keyed by the Web API property name (``_x_value`` for lookups).
Write-only columns (secrets, passwords) are stored in the row too but are never readable.
A polymorphic lookup keeps its target table under ``"<property>@lt"``, which is never
emitted as a property (only as the ``lookuplogicalname`` annotation).

Column types, IsValidForCreate/Update/Read, MaxLength, MinValue/MaxValue and option labels
follow the table/entity reference pages on Microsoft Learn
(https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/<table>);
``tests/schemas/dataverse-reference.json`` records what those pages say, with page and
version, for the tables read so far, and a test compares this module's output with it.
Notable there: ``role.organizationid`` is a plain Uniqueidentifier (returned as
``organizationid``, not ``_organizationid_value``), and so are ``systemuser.organizationid``
and ``usersettings.businessunitid`` (the latter valid for create and update);
``systemuser.azureactivedirectoryobjectid`` is on the read-only list; ``statecode`` /
``statuscode`` are typed State / Status and ``ownerid`` Owner; ``statecode`` is not valid
for create but is for update, and an email's status reasons each belong to one state. The
activityparty page lists its columns as writable while the table answers only
RetrieveMultiple: parties are written through their activity. Where a page's older version
(with IsValidForCreate/Update rows) and its newer layout (without them) were both read, they
agree on every column recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Column kinds (see odata_filter.EDM_NAMES); "managed" is a ManagedProperty object.
STRING, INT, BIGINT, BOOL, GUID, DATETIME, PICKLIST, LOOKUP, MANAGED = (
    "string",
    "int",
    "bigint",
    "bool",
    "guid",
    "datetime",
    "picklist",
    "lookup",
    "managed",
)


BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1  # every BigInt column's MinValue / MaxValue [doc]


@dataclass(frozen=True)
class Column:
    name: str  # logical attribute name
    kind: str
    options: dict[int, str] | None = None  # picklist value -> label
    readonly: bool = False  # never writable through the API
    createonly: bool = False  # writable on create, refused on update
    updateonly: bool = False  # refused on create ("not valid for create")
    writeonly: bool = False  # accepted on write, never returned
    navs: dict[str, str] = field(default_factory=dict)  # lookup navigation name -> target logical name
    # The table reference's AttributeType where it is not the kind's plain one ("State",
    # "Status", "Owner", "Memo"); the value is still stored and filtered as ``kind``.
    attribute_type: str | None = None
    max_length: int | None = None  # strings: longer values are refused [doc: MaxLength]
    min_value: int | None = None  # whole numbers: values outside [min, max] are refused
    max_value: int | None = None

    @property
    def prop(self) -> str:
        """The name the Web API uses for the value: ``_x_value`` for lookups."""
        return f"_{self.name}_value" if self.kind == LOOKUP else self.name

    @property
    def edm(self) -> str:
        """The Edm kind ``$filter`` compares this column as."""
        return {PICKLIST: INT, LOOKUP: GUID}.get(self.kind, self.kind)


@dataclass
class Table:
    logical: str
    entity_set: str
    pk: str
    primary_name: str | None
    otc: int  # object type code, quoted in privilege errors
    columns: list[Column]
    read_only_table: bool = False
    by_prop: dict[str, Column] = field(init=False)
    by_nav: dict[str, Column] = field(init=False)
    readable: list[str] = field(init=False)  # property names in output order
    filterable: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.by_prop = {c.prop: c for c in self.columns}
        self.by_nav = {nav: c for c in self.columns for nav in c.navs}
        self.readable = [c.prop for c in self.columns if not c.writeonly]
        self.filterable = {c.prop: c.edm for c in self.columns if not c.writeonly and c.kind != MANAGED}


def _state(active_label: str = "Active") -> list[Column]:
    return [
        # The reference types these State / Status; statecode is not valid for create.
        Column(
            "statecode", PICKLIST, {0: active_label, 1: "Inactive"}, updateonly=True, attribute_type="State"
        ),
        Column("statuscode", PICKLIST, {1: active_label, 2: "Inactive"}, attribute_type="Status"),
    ]


def _system(extra_owner: bool = False) -> list[Column]:
    # createdby/modifiedby: the calling user of the write that created/last changed the row
    # (the impersonated user when a caller acts for another), as every table has them [doc].
    columns = [
        Column("createdon", DATETIME, readonly=True),
        Column("modifiedon", DATETIME, readonly=True),
        Column("createdby", LOOKUP, readonly=True, navs={"createdby": "systemuser"}),
        Column("modifiedby", LOOKUP, readonly=True, navs={"modifiedby": "systemuser"}),
        Column("versionnumber", BIGINT, readonly=True, min_value=BIGINT_MIN, max_value=BIGINT_MAX),
    ]
    if extra_owner:
        columns += [
            Column("ownerid", LOOKUP, navs={"ownerid": "systemuser"}, attribute_type="Owner"),
            Column("owningbusinessunit", LOOKUP, readonly=True, navs={"owningbusinessunit": "businessunit"}),
        ]
    return columns


# The organization a row belongs to. The mailbox page types ``organizationid`` as a Lookup
# targeting organization [doc]; the other tables' are taken to be alike (not checked), and
# the navigation property's name is the column's, as for the other system lookups [inf].
ORGANIZATION_NAV = {"organizationid": "organization"}

APPROVAL = {0: "Empty", 1: "Approved", 2: "Pending Approval", 3: "Rejected"}
INCOMING = {
    0: "None",
    1: "Microsoft Dynamics 365 for Outlook",
    2: "Server-Side Synchronization or Email Router",
    3: "Forward Mailbox",
}
OUTGOING = {
    0: "None",
    1: "Microsoft Dynamics 365 for Outlook",
    2: "Server-Side Synchronization or Email Router",
}
ACT = {0: "Microsoft Dynamics 365 for Outlook", 1: "Server-Side Synchronization", 2: "None"}
TEST_STATUS = {0: "Not Run", 1: "Success", 2: "Failure"}
FILTERING = {
    0: "All email messages",
    1: "Email messages in response to Dynamics 365 email",
    2: "Email messages from Dynamics 365 Leads, Contacts and Accounts",
    3: "Email messages from Dynamics 365 records that are email enabled",
    4: "No email messages",
}
CREDENTIALS = {
    0: "Credentials Specified by a User or Queue",
    1: "Credentials Specified in Email Server Profile",
    2: "Server to Server Authentication",
    3: "Windows Integrated Authentication",
    4: "Without Credentials (Anonymous)",
    5: "Gmail OAuth",
    6: "Exchange Hybrid Modern Auth (HMA)",
    7: "OAuth with Microsoft Entra ID",
}
AUTH_PROTOCOL = {0: "Auto Detect", 1: "Negotiate", 2: "NTLM", 3: "Basic", 4: "OAuth"}

ORGANIZATION = Table(
    "organization",
    "organizations",
    "organizationid",
    "name",
    1019,
    [
        Column("organizationid", GUID, readonly=True),  # on the page's read-only list [doc]
        Column("name", STRING, createonly=True, max_length=160),  # set when the organization is made [doc]
        Column("orgdborgsettings", STRING, max_length=1073741823),
        Column("defaultemailsettings", STRING, max_length=1073741823),
        Column(
            "defaultemailserverprofileid", LOOKUP, navs={"defaultemailserverprofileid": "emailserverprofile"}
        ),
        Column("requireapprovalforuseremail", BOOL),
        Column("requireapprovalforqueueemail", BOOL),
        Column(
            "emailconnectionchannel",
            PICKLIST,
            {0: "Server-Side Synchronization", 1: "Microsoft Dynamics 365 Email Router"},
        ),
        Column("ignoreinternalemail", BOOL),
        Column("emailcorrelationenabled", BOOL),
        Column("allowunresolvedpartiesonemailsend", BOOL),
        Column("maximumtrackingnumber", INT, min_value=0, max_value=2147483647),
        Column("trackingprefix", STRING, max_length=256),
        Column("isemailserverprofilecontentfilteringenabled", BOOL),
        Column("notifymailboxownerofemailserverlevelalerts", BOOL),
        Column("generatealertsforerrors", BOOL),
        Column("generatealertsforwarnings", BOOL),
        Column("generatealertsforinformation", BOOL),
        Column("basecurrencyid", LOOKUP, createonly=True),  # valid for create only [doc]
        *_system(),
    ],
)

MAILBOX = Table(
    "mailbox",
    "mailboxes",
    "mailboxid",
    "name",
    9606,
    [
        Column("mailboxid", GUID, createonly=True),
        Column("name", STRING, max_length=200),
        Column("emailaddress", STRING, max_length=100),
        Column(
            "regardingobjectid",
            LOOKUP,
            readonly=True,
            navs={"regardingobjectid": "systemuser", "regardingobjectid_queue": "queue"},
        ),
        Column("emailserverprofile", LOOKUP, navs={"emailserverprofile": "emailserverprofile"}),
        Column("incomingemaildeliverymethod", PICKLIST, INCOMING),
        Column("outgoingemaildeliverymethod", PICKLIST, OUTGOING),
        Column("actdeliverymethod", PICKLIST, ACT),
        Column("emailrouteraccessapproval", PICKLIST, APPROVAL),
        Column("isemailaddressapprovedbyo365admin", BOOL, updateonly=True),
        Column("enabledforincomingemail", BOOL, updateonly=True),
        Column("enabledforoutgoingemail", BOOL, updateonly=True),
        Column("enabledforact", BOOL, updateonly=True),
        Column("incomingemailstatus", PICKLIST, TEST_STATUS, updateonly=True),
        Column("outgoingemailstatus", PICKLIST, TEST_STATUS, updateonly=True),
        Column("actstatus", PICKLIST, TEST_STATUS, updateonly=True),
        Column("mailboxstatus", PICKLIST, TEST_STATUS, readonly=True),
        Column("testemailconfigurationscheduled", BOOL),
        Column("testemailconfigurationretrycount", INT, min_value=0, max_value=2147483647),
        Column("postponetestemailconfigurationuntil", DATETIME),
        Column("testmailboxaccesscompletedon", DATETIME, updateonly=True),
        Column("isforwardmailbox", BOOL, readonly=True),
        Column("isserviceaccount", BOOL, readonly=True),
        Column("orgmarkedasprimaryforexchangesync", BOOL),
        Column("processanddeleteemails", BOOL),
        Column("allowemailconnectortousecredentials", BOOL),
        Column("username", STRING, max_length=200),
        Column("password", STRING, writeonly=True, max_length=200),
        Column("ispasswordset", BOOL, readonly=True),
        Column("ewsurl", STRING, max_length=2084),
        Column("processingstatecode", INT, readonly=True, min_value=0, max_value=2147483647),
        Column("organizationid", LOOKUP, readonly=True, navs=ORGANIZATION_NAV),
        *_state(),
        *_system(extra_owner=True),
    ],
)

EMAILSERVERPROFILE = Table(
    "emailserverprofile",
    "emailserverprofiles",
    "emailserverprofileid",
    "name",
    9605,
    [
        Column("emailserverprofileid", GUID, createonly=True),
        Column("name", STRING, max_length=100),
        Column("description", STRING, attribute_type="Memo", max_length=2000),
        Column(
            "servertype",
            PICKLIST,
            {
                0: "Exchange Server",
                1: "Other (POP3/SMTP)",
                2: "Exchange Server (Hybrid)",
                3: "Exchange Online (Hybrid)",
                4: "IMAP/SMTP",
            },
        ),
        Column("emailservertypename", STRING, readonly=True, max_length=250),
        Column(
            "serverauthority",
            PICKLIST,
            {
                0: "Public (+GCC) (https://login.microsoftonline.com)",
                1: "US Government (GCC High and DoD) (https://login.microsoftonline.us)",
                2: "China (21Vianet) (https://login.chinacloudapi.cn)",
                3: "Automatic (determined by Dynamics 365 cloud)",
            },
        ),
        Column("useautodiscover", BOOL),
        Column("incomingserverlocation", STRING, max_length=2084),
        Column("outgoingserverlocation", STRING, max_length=2084),
        Column("defaultserverlocation", STRING, max_length=2084),
        Column("incomingcredentialretrieval", PICKLIST, CREDENTIALS),
        Column("outgoingcredentialretrieval", PICKLIST, CREDENTIALS),
        Column("incomingauthenticationprotocol", PICKLIST, AUTH_PROTOCOL),
        Column("outgoingauthenticationprotocol", PICKLIST, AUTH_PROTOCOL),
        Column("usesamesettingsforoutgoingconnections", BOOL),
        Column("incomingusername", STRING, max_length=250),
        Column("incomingpassword", STRING, writeonly=True, max_length=250),
        Column("isincomingpasswordset", BOOL, readonly=True),
        Column("outgoingusername", STRING, max_length=250),
        Column("outgoingpassword", STRING, writeonly=True, max_length=250),
        Column("isoutgoingpasswordset", BOOL, readonly=True),
        Column("usedefaulttenantid", BOOL),
        Column("exchangeonlinetenantid", STRING, max_length=36),
        Column("oauthclientid", STRING, max_length=1024),
        Column("oauthclientsecret", STRING, writeonly=True, max_length=1024),
        Column("isoauthclientsecretset", BOOL, readonly=True),
        Column("aadresourceid", STRING, max_length=1024),
        Column("sendemailalert", BOOL),
        Column("owneremailaddress", STRING, max_length=100),
        Column("organizationid", LOOKUP, readonly=True, navs=ORGANIZATION_NAV),
        *_state(),
        *_system(extra_owner=True),
    ],
)

ROLE = Table(
    "role",
    "roles",
    "roleid",
    "name",
    1036,
    [
        Column("roleid", GUID, createonly=True),
        Column("name", STRING, max_length=100),
        Column("businessunitid", LOOKUP, createonly=True, navs={"businessunitid": "businessunit"}),
        Column("parentroleid", LOOKUP, readonly=True, navs={"parentroleid": "role"}),
        Column("parentrootroleid", LOOKUP, readonly=True, navs={"parentrootroleid": "role"}),
        Column("roletemplateid", LOOKUP, readonly=True),
        Column("ismanaged", BOOL, readonly=True),
        Column("iscustomizable", MANAGED),
        Column("canbedeleted", MANAGED),
        Column(
            "isinherited",
            PICKLIST,
            {0: "Team privileges only", 1: "Direct User (Basic) access level and Team privileges"},
        ),
        Column(
            "componentstate",
            PICKLIST,
            {0: "Published", 1: "Unpublished", 2: "Deleted", 3: "Deleted Unpublished"},
            readonly=True,
        ),
        # A plain Uniqueidentifier on role, not a lookup: returned as ``organizationid`` [doc].
        Column("organizationid", GUID, readonly=True),
        *_system(),
    ],
)

PRIVILEGE = Table(
    "privilege",
    "privileges",
    "privilegeid",
    "name",
    1023,
    [
        Column("privilegeid", GUID, createonly=True),
        Column("name", STRING, max_length=256),
        Column("accessright", INT, min_value=-2147483648, max_value=2147483647),
        Column("canbebasic", BOOL),
        Column("canbelocal", BOOL),
        Column("canbedeep", BOOL),
        Column("canbeglobal", BOOL),
        Column("canbeentityreference", BOOL),
        Column("canbeparententityreference", BOOL),
        Column("canberecordfilter", BOOL),
        Column("ismanaged", BOOL, readonly=True),
        Column(
            "componentstate",
            PICKLIST,
            {0: "Published", 1: "Unpublished", 2: "Deleted", 3: "Deleted Unpublished"},
            readonly=True,
        ),
        Column("introducedversion", STRING, createonly=True, max_length=48),
        Column("versionnumber", BIGINT, readonly=True, min_value=BIGINT_MIN, max_value=BIGINT_MAX),
    ],
    read_only_table=True,
)

BUSINESSUNIT = Table(
    "businessunit",
    "businessunits",
    "businessunitid",
    "name",
    10,
    [
        Column("businessunitid", GUID, createonly=True),
        Column("name", STRING, max_length=160),
        Column("parentbusinessunitid", LOOKUP, navs={"parentbusinessunitid": "businessunit"}),
        Column("divisionname", STRING, max_length=100),
        Column("isdisabled", BOOL, updateonly=True),  # not valid for create; updatable [doc]
        Column("organizationid", LOOKUP, readonly=True, navs=ORGANIZATION_NAV),
        *_system(),
    ],
)

SYSTEMUSER = Table(
    "systemuser",
    "systemusers",
    "systemuserid",
    "fullname",
    8,
    [
        Column("systemuserid", GUID, createonly=True),
        Column("fullname", STRING, readonly=True, max_length=200),
        Column("firstname", STRING, max_length=256),
        Column("lastname", STRING, max_length=256),
        Column("internalemailaddress", STRING, max_length=100),
        Column("domainname", STRING, max_length=1024),
        Column("isdisabled", BOOL, updateonly=True),  # not valid for create [doc]
        Column(
            "accessmode",
            PICKLIST,
            {
                0: "Read-Write",
                1: "Administrative",
                2: "Read",
                3: "Support User",
                4: "Non-interactive",
                5: "Delegated Admin",
            },
        ),
        Column("applicationid", GUID),
        Column("azureactivedirectoryobjectid", GUID, readonly=True),  # set from Entra ID [doc]
        # Valid for create and update on the reference page; SetBusinessSystemUser also moves users.
        Column("businessunitid", LOOKUP, navs={"businessunitid": "businessunit"}),
        Column("defaultmailbox", LOOKUP, readonly=True, navs={"defaultmailbox": "mailbox"}),
        Column("emailrouteraccessapproval", PICKLIST, APPROVAL, updateonly=True),
        Column("incomingemaildeliverymethod", PICKLIST, INCOMING),
        Column("outgoingemaildeliverymethod", PICKLIST, OUTGOING),
        Column("islicensed", BOOL),
        Column("organizationid", GUID, readonly=True),  # a plain Uniqueidentifier on systemuser [doc]
        *_system(),
    ],
)

QUEUE = Table(
    "queue",
    "queues",
    "queueid",
    "name",
    2020,
    [
        Column("queueid", GUID, createonly=True),
        Column("name", STRING, max_length=200),
        Column("emailaddress", STRING, max_length=100),
        Column("emailrouteraccessapproval", PICKLIST, APPROVAL, updateonly=True),
        Column("incomingemaildeliverymethod", PICKLIST, {k: INCOMING[k] for k in (0, 2, 3)}),
        Column("outgoingemaildeliverymethod", PICKLIST, {k: OUTGOING[k] for k in (0, 2)}),
        Column("incomingemailfilteringmethod", PICKLIST, FILTERING),
        Column("defaultmailbox", LOOKUP, readonly=True, navs={"defaultmailbox": "mailbox"}),
        Column("queueviewtype", PICKLIST, {0: "Public", 1: "Private"}),
        Column("organizationid", LOOKUP, readonly=True, navs=ORGANIZATION_NAV),
        *_state(),
        *_system(extra_owner=True),
    ],
)

USERSETTINGS = Table(
    "usersettings",
    "usersettingscollection",
    "systemuserid",
    None,
    150,
    [
        Column("systemuserid", GUID, createonly=True),
        Column("incomingemailfilteringmethod", PICKLIST, FILTERING),
        Column("uilanguageid", INT, min_value=0, max_value=2147483647),
        Column("timezonecode", INT),
        # A plain Uniqueidentifier, valid for create and update, on the usersettings page [doc].
        Column("businessunitid", GUID),
        *_system(),
    ],
)

# Email activities (reference: the email and activityparty EntityType pages). Status
# reasons of an email: 1 Draft, 2 Completed, 3 Sent, 4 Received, 5 Canceled, 6 Pending
# Send, 7 Sending, 8 Failed; state 0 Open, 1 Completed, 2 Canceled [doc].
EMAIL_STATUS = {1: "Draft", 2: "Completed", 3: "Sent", 4: "Received", 5: "Canceled", 6: "Pending Send",
                7: "Sending", 8: "Failed"}
# Which state each email status reason belongs to, and the status a state change defaults
# to (the StateCode options' DefaultStatus) [doc: email page, StatusCode / StateCode options].
EMAIL_STATE_OF_STATUS = {1: 0, 2: 1, 3: 1, 4: 1, 5: 2, 6: 1, 7: 1, 8: 0}
EMAIL_DEFAULT_STATUS = {0: 1, 1: 2, 2: 5}
EMAIL = Table(
    "email",
    "emails",
    "activityid",
    "subject",
    4202,
    [
        Column("activityid", GUID, createonly=True),
        Column("subject", STRING, max_length=800),
        Column("description", STRING, attribute_type="Memo", max_length=1073741823),
        Column("directioncode", BOOL),
        # Writable text columns on the reference page; SendEmail fills them from the parties.
        Column("sender", STRING, max_length=250),
        Column("torecipients", STRING, max_length=500),
        Column("senton", DATETIME, readonly=True),
        # State / Status as on every table: statecode is not valid for create, both are
        # updatable (SetState is a PATCH of the two), and a status belongs to one state.
        Column(
            "statecode",
            PICKLIST,
            {0: "Open", 1: "Completed", 2: "Canceled"},
            updateonly=True,
            attribute_type="State",
        ),
        Column("statuscode", PICKLIST, EMAIL_STATUS, attribute_type="Status"),
        *_system(extra_owner=True),
    ],
)

# Who takes part in an activity: 1 Sender, 2 To, 3 Cc, 4 Bcc (and more for other
# activities) [doc]. Served read-only (RetrieveMultiple only); parties are written
# through the activity's ``email_activity_parties`` collection in a deep insert.
PARTY_TYPES = {
    1: "Sender",
    2: "To Recipient",
    3: "CC Recipient",
    4: "BCC Recipient",
    5: "Required attendee",
    6: "Optional attendee",
    7: "Organizer",
    8: "Regarding",
    9: "Owner",
    10: "Resource",
    11: "Customer",
}
ACTIVITYPARTY = Table(
    "activityparty",
    "activityparties",
    "activitypartyid",
    None,
    135,
    [
        # The page lists these columns as writable; the table itself only answers
        # RetrieveMultiple, so parties are written through their activity.
        Column("activitypartyid", GUID, createonly=True),
        Column("activityid", LOOKUP),  # targets activitypointer, which is not served
        Column("partyid", LOOKUP, navs={"partyid_systemuser": "systemuser", "partyid_queue": "queue"}),
        Column("participationtypemask", PICKLIST, PARTY_TYPES),
        Column("addressused", STRING, max_length=200),
    ],
    read_only_table=True,
)

# The role-privilege intersect table (reference §8.3): read-only, its rows computed from
# the role privileges (one per role copy and privilege). The object type code is a guess.
ROLEPRIVILEGES = Table(
    "roleprivileges",
    "roleprivilegescollection",
    "roleprivilegeid",
    None,
    12,
    [
        # The reference lists roleprivilegeid and privilegedepthmask as writable columns; the
        # table itself only answers RetrieveMultiple (rows change through the role actions).
        Column("roleprivilegeid", GUID),
        Column("roleid", GUID, readonly=True),
        Column("privilegeid", GUID, readonly=True),
        Column("privilegedepthmask", INT, min_value=-2147483648, max_value=2147483647),
    ],
    read_only_table=True,
)

TABLES: dict[str, Table] = {
    t.entity_set: t
    for t in (
        ORGANIZATION,
        MAILBOX,
        EMAILSERVERPROFILE,
        ROLE,
        PRIVILEGE,
        BUSINESSUNIT,
        SYSTEMUSER,
        QUEUE,
        USERSETTINGS,
        ROLEPRIVILEGES,
        EMAIL,
        ACTIVITYPARTY,
    )
}
BY_LOGICAL: dict[str, Table] = {t.logical: t for t in TABLES.values()}


# Active (0) / Inactive (1) with Active (1) / Inactive (2) on every other served table [doc].
_PAIRS: dict[str, tuple[dict[int, int], dict[int, int]]] = {
    "email": (EMAIL_STATE_OF_STATUS, EMAIL_DEFAULT_STATUS),
}


def state_of_status(table: Table) -> tuple[dict[int, int], dict[int, int]]:
    """(status -> its state, state -> its default status) of a table with State / Status columns."""
    return _PAIRS.get(table.logical, ({1: 0, 2: 1}, {0: 1, 1: 2}))
