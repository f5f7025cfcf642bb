"""``org_setting.<Name>``: one OrgDBOrgSettings entry in ``organization.orgdborgsettings``.

Only the managed elements are ever sent; the server merges them into the stored XML, so
every other setting keeps its bytes (reference §2.1). An element that is absent means the
platform default from the catalogue.

Restoring a setting whose original was "absent" writes the catalogue default explicitly:
the only way to remove an element is to wipe the whole XML and rewrite the rest, which
would silently reset unrelated, opt-in settings. An explicit default behaves the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from sssctl.catalog.orgdborgsettings import lookup
from sssctl.config.model import Desired
from sssctl.engine.kind import Applied, AuditCheck, Context, KindDefaults, KindSpec, Observed, Rule
from sssctl.engine.plan import Action, Change
from sssctl.kinds._shared import (
    READ_ORGANIZATION,
    WRITE_ORGANIZATION,
    as_bool,
    etag_of,
    read_organization,
    write_organization,
)
from sssctl.kinds._xml import XmlValueError, orgsettings_patch, parse_elements

log = structlog.get_logger(__name__)

PREFIX = "org_setting."
DEFAULT_MARK = "(default: "


@dataclass(frozen=True)
class SettingSpec:
    name: str  # canonical spelling: the one written back to Dataverse
    type: str  # Boolean | Number | Double | String
    default: str


def spec_of(name: str, sample: Any = None) -> SettingSpec:
    """The catalogue entry, or a spec guessed from the configured value's type."""
    found = lookup(name)
    if found is not None:
        return SettingSpec(found.name, found.type, found.default or "")
    if isinstance(sample, bool):
        return SettingSpec(name, "Boolean", "")
    if isinstance(sample, int):
        return SettingSpec(name, "Number", "")
    if isinstance(sample, float):
        return SettingSpec(name, "Double", "")
    return SettingSpec(name, "String", "")


def typed(spec: SettingSpec, value: Any) -> Any:
    """The comparable value: ``True``/``"1"``/``"true"`` agree, ``3``/``"03"`` agree."""
    if value is None:
        return None
    try:
        if spec.type == "Boolean":
            parsed = as_bool(value)
            return parsed if parsed is not None else str(value)
        if spec.type == "Number":
            return int(str(value).strip())
        if spec.type == "Double":
            return float(str(value).strip())
    except ValueError:
        return str(value)
    return str(value)


def xml_text(value: Any) -> str:
    """How a value is written into the XML (booleans lower case, as tools write them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def default_display(spec: SettingSpec) -> str:
    shown = spec.default if spec.default != "" else "unset"
    return f"{DEFAULT_MARK}{shown})"


def is_default_mark(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(DEFAULT_MARK)


AUDIT_CHECKS = (
    AuditCheck(
        "high", "users can approve their own mailbox without the approve privilege",
        Rule("SSS004", "SelfApprovalAllowed", "Users can approve their own mailbox",
             "OrgDBOrgSetting RequirePrivilegeToSelfApproveEmailAddress is off, so users approve their own "
             "mailbox without the approve privilege.",
             "Set `[org_settings] RequirePrivilegeToSelfApproveEmailAddress = true` and run `sssctl apply`."),
        address="org_setting.RequirePrivilegeToSelfApproveEmailAddress",
        config_key=("org_settings", "RequirePrivilegeToSelfApproveEmailAddress"),
    ),
    AuditCheck(
        "medium", "user mailboxes are not forced to track only email from email-enabled records",
        Rule("SSS006", "FilteringNotForced", "User mailboxes are not forced to track email-enabled "
             "records only",
             "OrgDBOrgSetting SSSForceFilteringMethodForUserMailboxes does not force the "
             "'email messages from records that are email enabled' filter.",
             "Set `[org_settings] SSSForceFilteringMethodForUserMailboxes = 3` and run `sssctl apply`."),
        address="org_setting.SSSForceFilteringMethodForUserMailboxes",
        config_key=("org_settings", "SSSForceFilteringMethodForUserMailboxes"),
    ),
)


class OrgSettingKind(KindDefaults):
    spec = KindSpec(
        name="org_setting",
        checks=AUDIT_CHECKS,
        prefix="org_setting",
        privileges=(READ_ORGANIZATION, WRITE_ORGANIZATION),
    )

    def addresses(self, desired: Desired) -> list[str]:
        return [PREFIX + name for name in desired.org_settings]

    def read(self, ctx: Context) -> Observed:
        recorded = {a: e for a, e in ctx.state.items() if a.startswith(PREFIX)}
        names = {PREFIX + n: n for n in ctx.desired.org_settings}
        names.update({a: a[len(PREFIX) :] for a in recorded})
        organization = read_organization(ctx)
        etag = etag_of(organization)
        try:
            stored = parse_elements(organization.get("orgdborgsettings"), "orgdborgsettings")
        except XmlValueError as exc:
            return Observed(objects={}, errors={a: str(exc) for a in names}, recorded=recorded)
        lowered = {k.lower(): v for k, v in stored.items()}
        objects = {
            address: {"name": name, "value": lowered.get(name.lower())} for address, name in names.items()
        }
        return Observed(
            objects=objects,
            etags=dict.fromkeys(names, etag),
            recorded=recorded,
            extra={"organization_id": organization.get("organizationid")},
        )

    def diff(self, desired: Desired, observed: Observed) -> list[Change]:
        changes: list[Change] = []
        wanted = {PREFIX + n: v for n, v in desired.org_settings.items()}
        for address in sorted(set(wanted) | set(observed.recorded)):
            if address in observed.errors:
                changes.append(Change(address, Action.UNKNOWN, None, None, observed.errors[address]))
                continue
            live = observed.objects.get(address) or {}
            if address in wanted:
                changes.append(self._converge(address, wanted[address], live, observed))
            else:
                changes.append(self._restore(address, live, observed))
        return changes

    def _before(self, spec: SettingSpec, raw: str | None) -> Any:
        return default_display(spec) if raw is None else typed(spec, raw)

    def _converge(self, address: str, value: Any, live: Mapping[str, Any], observed: Observed) -> Change:
        spec = spec_of(address[len(PREFIX) :], value)
        raw = live.get("value")
        current = typed(spec, raw if raw is not None else (spec.default or None))
        after = {"value": typed(spec, value)}
        before = {"value": self._before(spec, raw)}
        if current == after["value"]:
            # An absent element equal to the platform default is not drift: the effective
            # value is already the desired one.
            return Change(address, Action.NOOP, before, after, "already in effect")
        reason = "differs from the desired value"
        detail = {
            "name": spec.name,
            "text": xml_text(value),
            "organization_id": observed.extra.get("organization_id"),
        }
        return Change(address, Action.UPDATE, before, after, reason, observed.etags.get(address), detail)

    def _restore(self, address: str, live: Mapping[str, Any], observed: Observed) -> Change:
        spec = spec_of(address[len(PREFIX) :])
        original = (observed.recorded[address].get("original") or {}).get("value")
        raw = live.get("value")
        before = {"value": self._before(spec, raw)}
        if original is None or is_default_mark(original):
            target_text = spec.default
            after = {"value": default_display(spec)}
            target = typed(spec, spec.default)
        else:
            target = typed(spec, original)
            target_text = xml_text(target)
            after = {"value": target}
        current = typed(spec, raw if raw is not None else (spec.default or None))
        if target_text == "":
            return Change(
                address,
                Action.NOOP,
                before,
                before,
                "no longer managed; it was unset and has no catalogue default to write back, so it stays",
                forget=True,
            )
        if current == target:
            return Change(
                address,
                Action.NOOP,
                before,
                after,
                "no longer managed; already at its original value",
                forget=True,
            )
        detail = {
            "name": spec.name,
            "text": target_text,
            "organization_id": observed.extra.get("organization_id"),
        }
        return Change(
            address,
            Action.UPDATE,
            before,
            after,
            "no longer managed: restore the original value",
            observed.etags.get(address),
            detail,
            restore=True,
        )

    def apply(self, ctx: Context, change: Change) -> Applied:
        name = str(change.detail["name"])
        text = str(change.detail["text"])
        write_organization(
            ctx,
            str(change.detail["organization_id"]),
            {"orgdborgsettings": orgsettings_patch({name: text})},
            change.etag,
        )
        log.info("org_setting.written", address=change.address)
        if change.restore:
            return Applied(change.address, managed=None, writes=1, message="restored")
        return Applied(change.address, managed=dict(change.after or {}), writes=1, message="updated")

    def describe(self, observed: Observed) -> dict[str, Any]:
        """Settings present in the XML; an absent one is the platform default, left unsaid."""
        settings = {
            str(obj["name"]): typed(spec_of(str(obj["name"])), obj["value"])
            for _, obj in sorted(observed.objects.items())
            if obj and obj.get("value") is not None
        }
        return {"org_settings": settings} if settings else {}



KIND = OrgSettingKind()
