"""Binding a cmdlet's parameters as PowerShell binds them, before the emulator runs the cmdlet.

PowerShell matches parameter names case-insensitively and by their aliases (``-cf`` for
``-Confirm``, ``-wi`` for ``-WhatIf``), lets every cmdlet take the common parameters
(``-ErrorAction``, ``-Verbose``, ...; about_CommonParameters), refuses a name the cmdlet
does not have ("A parameter cannot be found that matches parameter name 'X'."), and
converts each value to the parameter's type or refuses it with the binder's text:

* ``Boolean``: "Cannot process argument transformation on parameter 'X'. Cannot convert
  value "System.String" to type "System.Boolean". Boolean parameters accept only Boolean
  values and numbers, such as $True, $False, 1 or 0." ($null stays $null: the EWS switches
  are three-valued in Exchange Online);
* ``SwitchParameter``: only $true / $false;
* ``String`` and the ``...IdParameter`` types: one value, not a list ("Cannot convert
  'System.Object[]' to the type 'System.String' required by parameter 'X'. Specified
  method is not supported.").

Parameter names and types come from the cmdlet reference pages
(MicrosoftDocs/office-docs-powershell, ``exchange/exchange-ps/ExchangePowerShell/<cmdlet>.md``):
Set-CASMailbox (commit 197cedf0), Set-OrganizationConfig (176fc912),
New-ManagementRoleAssignment (5b17f5f3, the ``App``
parameter set Exchange Online uses) and New-ApplicationAccessPolicy (72890f30; its
parameter table types AccessRight as ApplicationAccessPolicyIdParameter where the syntax
block says ApplicationAccessPolicyRight: the syntax is followed). A parameter a page
documents but the emulator does not model is refused with ``System.NotSupportedException``
and status 501, naming it, instead of PowerShell's "cannot be found", so a client using a
real parameter learns the emulator is the limit. Cmdlets whose page was not read here
know only the parameters the emulator models; their names still bind case-insensitively
and their modelled types are checked. Set-OrganizationConfig's names come from its page
(commit 176fc912), whose syntax types ``EwsAllowedAppIDs`` as one ``String`` and whose
example passes the IDs comma-separated in one string.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

BINDING = "System.Management.Automation.ParameterBindingException"
_NOT_SERVED = "System.NotSupportedException"
COMMON = frozenset(
    {
        "Debug",
        "ErrorAction",
        "ErrorVariable",
        "InformationAction",
        "InformationVariable",
        "OutBuffer",
        "OutVariable",
        "PipelineVariable",
        "ProgressAction",
        "Verbose",
        "WarningAction",
        "WarningVariable",
    }
)
_ALIASES = {"cf": "Confirm", "wi": "WhatIf"}
BOOLEAN, SWITCH, STRING, STRINGS, MULTI = (
    "Boolean",
    "SwitchParameter",
    "String",
    "String[]",
    "MultiValuedProperty",
)
_SINGLE = frozenset({STRING})

_CAS_BOOLEANS = (
    "ActiveSyncDebugLogging",
    "ActiveSyncEnabled",
    "ActiveSyncSuppressReadReceipt",
    "ECPEnabled",
    "EwsAllowEntourage",
    "EwsAllowMacOutlook",
    "EwsAllowOutlook",
    "EwsEnabled",
    "HasActiveSyncDevicePartnership",
    "ImapEnabled",
    "ImapEnableExactRFC822Size",
    "ImapForceICalForCalendarRetrievalOption",
    "ImapSuppressReadReceipt",
    "ImapUseProtocolDefaults",
    "IsOptimizedForAccessibility",
    "MacOutlookEnabled",
    "MAPIBlockOutlookExternalConnectivity",
    "MAPIBlockOutlookNonCachedMode",
    "MAPIBlockOutlookRpcHttp",
    "MAPIEnabled",
    "MapiHttpEnabled",
    "OneWinNativeOutlookEnabled",
    "OutlookMobileEnabled",
    "OWAEnabled",
    "OWAforDevicesEnabled",
    "PopEnabled",
    "PopEnableExactRFC822Size",
    "PopForceICalForCalendarRetrievalOption",
    "PopSuppressReadReceipt",
    "PopUseProtocolDefaults",
    "PublicFolderClientAccess",
    "ShowGalAsDefaultView",
    "SmtpClientAuthenticationDisabled",
    "UniversalOutlookEnabled",
)
# Set-OrganizationConfig's parameters (commit 176fc912, all parameter sets) besides the EWS
# ones typed below; their types do not matter here, as the emulator serves none of them.
_ORG_OTHERS = tuple(
    """
ShortenEventScopeDefault ActionableMessagesExtenalAccessTokenEnabled
ActivityBasedAuthenticationTimeoutEnabled ActivityBasedAuthenticationTimeoutInterval
ActivityBasedAuthenticationTimeoutWithSingleSignOnEnabled AppsForOfficeEnabled AsyncSendEnabled
AuditDisabled AutoArchivingThresholdPercentage AutodiscoverPartialDirSync AutoEnableArchiveMailbox
AutoExpandingArchive AutomaticForcedReadReceiptEnabled BlockMoveMessagesForGroupFolders
BookingsAddressEntryRestricted BookingsAuthEnabled BookingsBlockedWordsEnabled
BookingsCreationOfCustomQuestionsRestricted BookingsEnabled BookingsExposureOfStaffDetailsRestricted
BookingsMembershipApprovalRequired BookingsNamingPolicyEnabled BookingsNamingPolicyPrefix
BookingsNamingPolicyPrefixEnabled BookingsNamingPolicySuffix BookingsNamingPolicySuffixEnabled
BookingsNotesEntryRestricted BookingsPaymentsEnabled BookingsPhoneNumberEntryRestricted
BookingsSearchEngineIndexDisabled BookingsSmsMicrosoftEnabled BookingsSocialSharingRestricted
ByteEncoderTypeFor7BitCharsets CalendarVersionStoreEnabled ComplianceMLBgdCrawlEnabled
ConnectorsActionableMessagesEnabled ConnectorsEnabled ConnectorsEnabledForOutlook
ConnectorsEnabledForSharepoint ConnectorsEnabledForTeams ConnectorsEnabledForYammer
CustomerLockboxEnabled DefaultAuthenticationPolicy DefaultFolderPermissionRestricted
DefaultGroupAccessType DefaultMinutesToReduceLongEventsBy DefaultMinutesToReduceShortEventsBy
DefaultPublicFolderAgeLimit DefaultPublicFolderDeletedItemRetention
DefaultPublicFolderIssueWarningQuota DefaultPublicFolderMaxItemSize
DefaultPublicFolderMovedItemRetention DefaultPublicFolderProhibitPostQuota
DirectReportsGroupAutoCreationEnabled DisablePlusAddressInRecipients DistributionGroupDefaultOU
DistributionGroupNameBlockedWordsList DistributionGroupNamingPolicy DLPViaDcsEnabled
DLPWaitOnSendEnabled DLPWaitOnSendTimeout ElcProcessingDisabled
EnableForwardingAddressSyncForMailboxes EnableOutlookEvents EndUserDLUpgradeFlowsDisabled
EnforceExoAppRbacPermissions EnforceShortenEventSetting EwsAllowEntourage EwsAllowMacOutlook
EwsAllowOutlook ExchangeAttributesCloudManagedByDefault ExchangeAttributesServerManagedByDefault
ExchangeNotificationEnabled ExchangeNotificationRecipients FindTimeAttendeeAuthenticationEnabled
FindTimeAutoScheduleDisabled FindTimeLockPollForAttendeesEnabled FindTimeOnlineMeetingOptionDisabled
FocusedInboxOn HierarchicalAddressBookRoot HybridRSVPEnabled InRegionRoutingEnabled IPListBlocked
IsAgendaMailEnabled IsGroupFoldersAndRulesEnabled IsGroupMemberAllowedToEditContent
LeanPopoutEnabled LinkPreviewEnabled MailTipsAllTipsEnabled MailTipsExternalRecipientsTipsEnabled
MailTipsGroupMetricsEnabled MailTipsLargeAudienceThreshold MailTipsMailboxSourcedTipsEnabled
MaskClientIpInReceivedHeadersEnabled MatchSenderOrganizerProperties MessageHighlightsEnabled
MessageRecallAlertRecipientsEnabled MessageRecallAlertRecipientsReadMessagesOnlyEnabled
MessageRecallEnabled MessageRecallMaxRecallableAge MessageRemindersEnabled MobileAppEducationEnabled
OAuth2ClientProfileEnabled OnlineMeetingsByDefaultEnabled OutlookGifPickerDisabled
OutlookMobileGCCRestrictionsEnabled OutlookMobileHelpShiftEnabled OutlookMobileSingleAccountEnabled
OutlookPayEnabled OutlookTextPredictionDisabled PerTenantSwitchToESTSEnabled
PostponeRoamingSignaturesUntilLater PreferredInternetCodePageForShiftJis
PublicComputersDetectionEnabled PublicFoldersEnabled PublicFolderShowClientControl
ReadTrackingEnabled RecallReadMessagesEnabled RefreshSessionEnabled RecipientDelimiters
RejectDirectSend RemotePublicFolderMailboxes RequiredCharsetCoverage SendFromAliasEnabled
SharedDomainEmailAddressFlowEnabled SiteMailboxCreationURL SmtpActionableMessagesEnabled
TwoClickMailPreviewEnabled UnblockUnsafeSenderPromptEnabled VisibleMeetingUpdateProperties
WebPushNotificationsDisabled WebSuggestedRepliesDisabled WorkspaceTenantEnabled AdfsAudienceUris
AdfsEncryptCertificateThumbprint AdfsIssuer AdfsSignCertificateThumbprints
AdfsAuthenticationConfiguration ACLableSyncedObjectEnabled CustomerFeedbackEnabled
DataClassifications DomainController EmptyAddressBookForNonExchangeUsers EnableAuthAdminReadSession
EnableDownloadDomains EnableOrgWidePermissionOnScopedRoles Industry IsExcludedFromOffboardMigration
IsExcludedFromOnboardMigration IsFfoMigrationInProgress MailboxDataEncryptionEnabled
ManagedFolderHomepage MapiHttpEnabled MaxConcurrentMigrations
MicrosoftExchangeRecipientEmailAddresses MicrosoftExchangeRecipientEmailAddressPolicyEnabled
MicrosoftExchangeRecipientPrimarySmtpAddress MicrosoftExchangeRecipientReplyRecipient
MitigationsEnabled OabShadowDistributionOldestFileAgeLimit OrganizationSummary
PublicFolderMailboxesLockedForNewConnections PublicFolderMailboxesMigrationComplete
PublicFolderMigrationComplete PublicFoldersLockedForMigration SCLJunkThreshold UMAvailableLanguages
UseIcsSyncStateStreaming WACDiscoveryEndpoint DelayedDelicensingEnabled
EndUserMailNotificationForDelayedDelicensingEnabled
TenantAdminNotificationForDelayedDelicensingEnabled PermanentlyDeleteDisabled
PublicFolderContentReplicationDisabled
""".split()  # noqa: SIM905 (a word list read from the page)
)

# Parameter -> type, as each cmdlet's reference page lists them (all of them).
DOCUMENTED: dict[str, dict[str, str]] = {
    "Set-CASMailbox": {
        "Identity": STRING,  # MailboxIdParameter
        **dict.fromkeys(_CAS_BOOLEANS, BOOLEAN),
        **dict.fromkeys(
            ("ActiveSyncAllowedDeviceIDs", "ActiveSyncBlockedDeviceIDs", "EwsAllowList", "EwsBlockList"),
            MULTI,
        ),
        "ActiveSyncMailboxPolicy": STRING,
        "OwaMailboxPolicy": STRING,  # MailboxPolicyIdParameter
        "DisplayName": STRING,
        "DomainController": STRING,
        "MAPIBlockOutlookVersions": STRING,
        "Name": STRING,
        "PrimarySmtpAddress": STRING,
        "SamAccountName": STRING,
        "EmailAddresses": "ProxyAddressCollection",
        "EwsApplicationAccessPolicy": "EwsApplicationAccessPolicy",
        "ImapMessagesRetrievalMimeFormat": "MimeTextFormat",
        "PopMessagesRetrievalMimeFormat": "MimeTextFormat",
        **dict.fromkeys(("Confirm", "IgnoreDefaultScope", "ResetAutoBlockedDevices", "WhatIf"), SWITCH),
    },
    "New-ManagementRoleAssignment": {
        "Name": STRING,
        "Role": STRING,
        "App": STRING,  # RoleIdParameter, ServicePrincipalIdParameter
        "CustomResourceScope": STRING,
        "RecipientAdministrativeUnitScope": STRING,
        "RecipientGroupScope": STRING,
        **dict.fromkeys(("Confirm", "Delegating", "Force", "WhatIf"), SWITCH),
        # The other parameter sets (Computer, Policy, SecurityGroup, User):
        "Computer": STRING,
        "Policy": STRING,
        "SecurityGroup": STRING,
        "User": STRING,
        "CustomConfigWriteScope": STRING,
        "CustomRecipientWriteScope": STRING,
        "DomainController": STRING,
        "ExclusiveConfigWriteScope": STRING,
        "ExclusiveRecipientWriteScope": STRING,
        "RecipientOrganizationalUnitScope": STRING,
        "RecipientRelativeWriteScope": "RecipientWriteScopeType",
        "UnScopedTopLevel": SWITCH,
    },
    "Set-OrganizationConfig": {
        **dict.fromkeys(_ORG_OTHERS, ""),
        "EwsEnabled": BOOLEAN,
        "EwsAllowList": MULTI,
        "EwsBlockList": MULTI,
        "EwsApplicationAccessPolicy": "EwsApplicationAccessPolicy",
        # The page types it String and its example passes one comma-separated string; the
        # emulator also takes a list (see exchange_ews), so it is not checked as a String.
        "EwsAllowedAppIDs": "String (comma-separated)",
        **dict.fromkeys(("Confirm", "Force", "WhatIf"), SWITCH),
    },
    "New-ApplicationAccessPolicy": {
        "AccessRight": "ApplicationAccessPolicyRight",
        "AppId": STRINGS,
        "PolicyScopeGroupId": STRING,
        "Description": STRING,
        "Confirm": SWITCH,
        "WhatIf": SWITCH,
    },
}
# Types of modelled parameters of cmdlets whose page was not read in full (names from the
# emulator's own list): the EWS switches of Set-OrganizationConfig are Boolean and its
# lists multi-valued; every Confirm / Force / Exclusive is a switch.
_KNOWN_TYPES: dict[str, str] = {
    "EwsEnabled": BOOLEAN,
    "Confirm": SWITCH,
    "Force": SWITCH,
    "Exclusive": SWITCH,
    "Identity": STRING,
    "Name": STRING,
    "Description": STRING,
    "DisplayName": STRING,
}


class BindingError(Exception):
    def __init__(self, type_name: str, text: str, status: int = 400) -> None:
        super().__init__(text)
        self.type_name, self.text, self.status = type_name, text, status


def bind(cmdlet: str, given: Mapping[str, Any], modelled: frozenset[str]) -> dict[str, Any]:
    """The parameters under the names the emulator's handlers use, each value converted."""
    documented = DOCUMENTED.get(cmdlet, {})
    names = {n.lower(): n for n in (*documented, *modelled)}
    names.update({alias: name for alias, name in _ALIASES.items() if name.lower() in names})
    common = {n.lower() for n in COMMON}
    bound: dict[str, Any] = {}
    for key, value in given.items():
        name = names.get(key.lower())
        if name is None:
            if key.lower() in common:
                continue  # every cmdlet takes them; they change nothing the emulator answers
            raise BindingError(BINDING, f"A parameter cannot be found that matches parameter name '{key}'.")
        if name in bound:
            raise BindingError(
                BINDING,
                f"Cannot bind parameter because parameter '{name}' is specified more than once. To provide "
                "multiple values to parameters that can accept multiple values, use the array syntax. For "
                'example, "-parameter value1,value2,value3".',
            )
        if name not in modelled:
            raise BindingError(
                _NOT_SERVED, f"The emulator does not serve the parameter '{name}' of {cmdlet}.", 501
            )
        bound[name] = _converted(name, documented.get(name) or _KNOWN_TYPES.get(name), value)
    return bound


def _converted(name: str, kind: str | None, value: Any) -> Any:
    if kind == BOOLEAN:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            return value != 0
        raise BindingError(
            BINDING,
            f"Cannot process argument transformation on parameter '{name}'. Cannot convert value "
            f'"{_type_name(value)}" to type "System.Boolean". Boolean parameters accept only Boolean '
            "values and numbers, such as $True, $False, 1 or 0.",
        )
    if kind == SWITCH:
        if isinstance(value, bool):
            return value
        raise BindingError(
            BINDING,
            f"Cannot process argument transformation on parameter '{name}'. Cannot convert the "
            f'"{value}" value of type "{_type_name(value)}" to type '
            '"System.Management.Automation.SwitchParameter".',
        )
    if kind in _SINGLE and isinstance(value, (list, dict)):
        raise BindingError(
            BINDING,
            f"Cannot convert '{_type_name(value)}' to the type 'System.String' required by parameter "
            f"'{name}'. Specified method is not supported.",
        )
    return value


def _type_name(value: Any) -> str:
    return {
        str: "System.String",
        bool: "System.Boolean",
        int: "System.Int32",
        float: "System.Double",
        list: "System.Object[]",
        dict: "System.Collections.Hashtable",
    }.get(type(value), "System.Object")
