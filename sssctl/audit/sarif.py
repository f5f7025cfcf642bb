"""Audit findings as SARIF 2.1.0, the format GitHub code scanning ingests.

Code scanning tracks an alert across runs by its rule id and location, so rule ids are
fixed here and never renumbered; a new check gets a new id. GitHub refuses a result
without a physical location, so every result points into the configuration file: at the
key that governs the finding when the file declares it, else at its nearest enclosing
table, else at line 1 (the remedy is then to add the section). The resource address is
the logical location.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sssctl import __version__
from sssctl.audit.checks import Finding
from sssctl.config.lines import LineIndex

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    short: str
    full: str
    remedy: str
    severity: str          # high | medium | low | unknown


RULES: tuple[Rule, ...] = (
    Rule("SSS000", "CouldNotBeChecked", "A baseline object could not be read",
         "sssctl could not read an object the hardened baseline covers, so its posture is unknown; "
         "an unreadable object is never reported as compliant.",
         "Run `sssctl auth check` to see which permission or service is missing, fix it, and audit again.",
         "unknown"),
    Rule("SSS001", "DefaultProfileActive", "The first-party Exchange Online profile is active",
         "The built-in 'Microsoft Exchange Online' server profile is active, so Dataverse's own "
         "first-party app can synchronize every mailbox that uses it.",
         "Move mailboxes to a custom profile using your own app registration (Control 5), then set "
         "`[server_profiles.default] active = false` and run `sssctl apply`.", "high"),
    Rule("SSS002", "MailboxesOnFirstPartyProfile", "Mailboxes synchronize through the first-party profile",
         "Mailboxes still use the built-in Exchange Online profile, which relies on the first-party trust.",
         "Set `[mailbox_defaults] server_profile` to your custom profile and `[mailboxes] enforce = "
         "\"defaults\"`, then run `sssctl apply`.", "high"),
    Rule("SSS003", "ApprovePrivilegeTooWide", "Roles other than System Administrator can approve mailboxes",
         "Roles beyond the allowed ones hold 'Approve Email Addresses for Users or Queues' "
         "(prvApproveRejectEmailAddress), so more people can switch synchronization on.",
         "List the roles that may approve in `[privileges.prvApproveRejectEmailAddress] allowed_roles` "
         "and run `sssctl apply`; every other role loses the privilege in every business unit.", "high"),
    Rule("SSS004", "SelfApprovalAllowed", "Users can approve their own mailbox",
         "OrgDBOrgSetting RequirePrivilegeToSelfApproveEmailAddress is off, so users approve their own "
         "mailbox without the approve privilege.",
         "Set `[org_settings] RequirePrivilegeToSelfApproveEmailAddress = true` and run `sssctl apply`.",
         "high"),
    Rule("SSS005", "ApprovalNotRequired", "Mailboxes synchronize without approval",
         "The organization does not require an administrator to approve user or queue mailboxes.",
         "Set `[approval] require_for_users = true` and `require_for_queues = true`, then `sssctl apply`.",
         "medium"),
    Rule("SSS006", "FilteringNotForced", "User mailboxes are not forced to track email-enabled records only",
         "OrgDBOrgSetting SSSForceFilteringMethodForUserMailboxes does not force the "
         "'email messages from records that are email enabled' filter.",
         "Set `[org_settings] SSSForceFilteringMethodForUserMailboxes = 3` and run `sssctl apply`.",
         "medium"),
    Rule("SSS007", "UsersTrackAllEmail", "Some users track all email",
         "Users' incoming-email filtering tracks more than email from email-enabled records.",
         "Set `[user_settings] incoming_email_filtering = \"email_enabled_records\"` and run `sssctl apply`.",
         "medium"),
    Rule("SSS008", "NewMailboxesNotOnServerSideSync", "New mailboxes do not default to server-side sync",
         "The organization's defaults for new mailboxes do not use server-side synchronization.",
         "Set the `[mailbox_defaults]` methods to \"server_side_sync\" and run `sssctl apply`.", "low"),
    Rule("SSS010", "OwnAppProfileDependsOnEws", "An own-app profile depends on EWS",
         "The custom server profile signs in as your app over Exchange Web Services. Exchange Online "
         "blocks EWS for tenants that never set EwsEnabled since 2026-10-01, admits only the apps on "
         "EWSAllowedAppIDs where EWS is restricted, and shuts EWS down for everyone on 2027-04-01 "
         "(MC1227454). When Exchange refuses the app, synchronization through the profile stops.",
         "Give the app Microsoft Graph mailbox permissions instead of full_access_as_app (see "
         "configs/hardened-graph.toml) and run `sssctl apply`; until then keep it admitted with "
         "`ews = \"allow\"` on its `[app_registrations.<key>]` (and `ews_enabled = true` if EWS is off "
         "for the tenant).", "high"),
    Rule("SSS099", "DiffersFromBaseline", "A setting differs from the hardened baseline",
         "A setting the hardened baseline covers has another value live.",
         "Compare `sssctl plan` with configs/hardened.toml and set the value in the configuration.", "low"),
)
_BY_ADDRESS = {
    "server_profile.default": "SSS001",
    "mailboxes": "SSS002",
    "privilege.prvApproveRejectEmailAddress": "SSS003",
    "org_setting.RequirePrivilegeToSelfApproveEmailAddress": "SSS004",
    "approval": "SSS005",
    "org_setting.SSSForceFilteringMethodForUserMailboxes": "SSS006",
    "user_settings": "SSS007",
    "mailbox_defaults": "SSS008",
}
_LEVELS = {"high": "error", "unknown": "error", "medium": "warning", "low": "note"}
# GitHub ranks security alerts by this number: >= 7 high, >= 4 medium, below that low.
_SECURITY_SEVERITY = {"high": "8.0", "unknown": "7.0", "medium": "5.0", "low": "3.0"}


def rule_for(finding: Finding) -> Rule:
    if finding.severity == "unknown":
        return RULES[0]
    if finding.address.startswith("ews_readiness["):
        return next(rule for rule in RULES if rule.id == "SSS010")
    wanted = _BY_ADDRESS.get(finding.address, "SSS099")
    return next(rule for rule in RULES if rule.id == wanted)


def config_key(address: str) -> tuple[str, ...]:
    """The configuration key that governs ``address`` (``org_setting.X`` -> ``org_settings.X``)."""
    head, _, rest = address.partition(".")
    table = {"org_setting": "org_settings", "privilege": "privileges", "server_profile": "server_profiles"}
    return (table.get(head, head), rest) if rest else (table.get(head, head),)


def repository_root(path: Path) -> Path | None:
    """The top level of the git work tree holding ``path`` (where ``.git`` is), if any.

    Found by walking up rather than by running git, which a container image may lack; a
    work tree of ``git worktree`` or a submodule has a ``.git`` file, so either counts.
    """
    for folder in path.resolve().parents:
        if (folder / ".git").exists():
            return folder
    return None


def artifact_uri(config_path: Path, cwd: Path | None = None) -> str:
    """Relative to the repository root, which code scanning resolves ``%SRCROOT%`` to.

    Not to the working directory: a pipeline step running in ``working-directory: infra``
    would otherwise report ``configs/prod.toml`` for ``infra/configs/prod.toml``, and the
    alert would point at a file that does not exist. Outside any repository the working
    directory stands in; a file outside that too gets an absolute ``file:`` URI.
    """
    absolute = config_path.resolve()
    here = repository_root(absolute) or (cwd or Path.cwd()).resolve()
    try:
        return absolute.relative_to(here).as_posix()
    except ValueError:
        return absolute.as_uri()


def _artifact(uri: str) -> dict[str, str]:
    return {"uri": uri} if uri.startswith("file:") else {"uri": uri, "uriBaseId": "%SRCROOT%"}


def _read_lines(config_path: Path) -> LineIndex:
    try:
        return LineIndex(config_path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return LineIndex("")


def _rule_document(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.short},
        "fullDescription": {"text": rule.full},
        "help": {"text": f"{rule.full}\n\nRemedy: {rule.remedy}",
                 "markdown": f"{rule.full}\n\n**Remedy:** {rule.remedy}"},
        "defaultConfiguration": {"level": _LEVELS[rule.severity]},
        "properties": {"security-severity": _SECURITY_SEVERITY[rule.severity],
                       "tags": ["security", "dynamics-365", "server-side-sync"], "precision": "high"},
    }


def _result(finding: Finding, rule_index: int, uri: str, lines: LineIndex,
            member: str | None) -> dict[str, Any]:
    rule = RULES[rule_index]
    message = f"{finding.summary}: {finding.evidence}" if finding.evidence else finding.summary
    where = f"{member}: {finding.address}" if member else finding.address
    identity = f"{rule.id}\n{finding.address}" + (f"\n{member}" if member else "")
    fingerprint = hashlib.sha256(identity.encode()).hexdigest()[:32]
    return {
        "ruleId": rule.id,
        "ruleIndex": rule_index,
        "level": _LEVELS.get(finding.severity, "warning"),
        "message": {"text": f"{where}: {message}"},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": _artifact(uri),
                "region": {"startLine": lines.line_of(config_key(finding.address)) or 1},
            },
            "logicalLocations": [{"name": finding.address, "fullyQualifiedName": where,
                                  "kind": "resource"}],
        }],
        "partialFingerprints": {"sssctlFinding/v1": fingerprint},
        "properties": {"severity": finding.severity, **({"member": member} if member else {})},
    }


@dataclass(frozen=True)
class Audited:
    """One environment's findings and the config that governs it (a fleet member's overlay)."""

    findings: Sequence[Finding]
    config_path: Path
    member: str | None = None


def to_document(findings: Sequence[Finding], *, config_path: Path, cwd: Path | None = None) -> dict[str, Any]:
    return document_of([Audited(findings, config_path)], cwd=cwd)


def document_of(audited: Sequence[Audited], *, cwd: Path | None = None) -> dict[str, Any]:
    """One run for every environment: code scanning keeps one analysis per tool and category,
    so a fleet's members share a run, each result located in the member's own config and
    fingerprinted with the member's name (the same finding in two members is two alerts)."""
    index = {rule.id: i for i, rule in enumerate(RULES)}
    results: list[dict[str, Any]] = []
    for one in audited:
        uri = artifact_uri(one.config_path, cwd)
        lines = _read_lines(one.config_path)
        results += [_result(f, index[rule_for(f).id], uri, lines, one.member) for f in one.findings]
    driver = {"name": "sssctl", "version": __version__, "semanticVersion": __version__,
              "rules": [_rule_document(rule) for rule in RULES]}
    run = {"tool": {"driver": driver}, "results": results, "columnKind": "unicodeCodePoints"}
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}
