"""Check a merged desired-state document against format v1 and report every problem.

The walk follows :data:`sssctl.config.spec.DOCUMENT`; the checks that relate two places
of the document (references by name, custom-cloud endpoints) follow it. Nothing stops at
the first problem, because an admin fixing a file wants the whole list at once.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sssctl.catalog import options
from sssctl.catalog.orgdborgsettings import Setting, catalogue
from sssctl.config import spec
from sssctl.config.errors import Finding

KeyPath = tuple[str, ...]
Locate = Callable[[KeyPath], tuple[str, int | None]]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SECRET_HINT = 'inline secrets are refused: write { env = "VARIABLE" } or { file = "path/to/file" }'


def render_path(path: Iterable[str]) -> str:
    """Dotted key path as written in TOML: quoted where needed, ``[i]`` for array items."""
    out = ""
    for part in path:
        if part.startswith("[") and part.endswith("]"):
            out += part
            continue
        text = part if _BARE_KEY.fullmatch(part) else '"' + part.replace('"', '\\"') + '"'
        out = f"{out}.{text}" if out else text
    return out


def suggest(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """Closest candidate ignoring case, answered in the candidate's own spelling."""
    folded: dict[str, str] = {}
    for candidate in candidates:
        folded.setdefault(candidate.casefold(), candidate)
    if word.casefold() in folded:
        return folded[word.casefold()]
    match = difflib.get_close_matches(word.casefold(), list(folded), n=1, cutoff=cutoff)
    return folded[match[0]] if match else None


def toml_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "table"
    if isinstance(value, list):
        return "array"
    return "date/time"


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_EXPECTED: Mapping[str, str] = {
    "boolean": "true or false", "integer": "an integer", "number": "a number", "string": "a string",
}


def _type_ok(expected: str, value: object) -> bool:
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)


def _outside(value: float, low: float | None, high: float | None) -> bool:
    return (low is not None and value < low) or (high is not None and value > high)


class Checker:
    """Collects findings while walking the document."""

    def __init__(self, locate: Locate) -> None:
        self.locate = locate
        self.findings: list[Finding] = []

    def add(self, path: KeyPath, message: str, suggestion: str | None = None, *,
            near: KeyPath | None = None) -> None:
        """Record a finding; ``near`` locates a key that is absent by one that is written."""
        file, line = self.locate(near or path)
        self.findings.append(Finding(file, render_path(path), message, line, suggestion))

    # -- structure ----------------------------------------------------------------------
    def node(self, node: spec.Node, value: Any, path: KeyPath) -> None:
        if isinstance(node, spec.Scalar):
            self.scalar(node, value, path)
        elif isinstance(node, spec.Array):
            self.array(node, value, path)
        elif isinstance(node, spec.SecretRefSpec):
            self.secret_ref(value, path)
        elif isinstance(node, spec.OrgSettingsSpec):
            self.org_settings(value, path)
        elif isinstance(node, spec.Table):
            self.table(node, value, path)
        else:
            self.map_of(node, value, path)

    def _is_table(self, value: Any, path: KeyPath) -> bool:
        if isinstance(value, dict):
            return True
        self.add(path, f"expected a table, got {toml_type(value)} {_shown(value)}")
        return False

    def table(self, node: spec.Table, value: Any, path: KeyPath) -> None:
        if not self._is_table(value, path):
            return
        suggested: set[str] = set()
        for key, item in value.items():
            if key in node.fields:
                self.node(node.fields[key], item, (*path, key))
            else:
                suggested.add(self.unknown_key(node, path, key) or "")
        # a misspelt required key is one problem, not two
        for key in sorted(node.required - value.keys() - suggested):
            self.add((*path, key), f"missing required key {key!r}")
        given = [key for key in node.one_of if key in value]
        if node.one_of and len(given) != 1 and not (suggested & set(node.one_of)):
            written = f"; found {', '.join(given)}" if given else ""
            self.add(path, f"needs exactly one of {', '.join(node.one_of)}{written}")

    def unknown_key(self, node: spec.Table, path: KeyPath, key: str) -> str | None:
        """Report a key the table does not define; answers the suggestion made, if any."""
        hint = suggest(key, node.fields)
        setting = catalogue().lookup(key)
        if hint is None and setting is not None and not setting.is_org_column:
            self.add((*path, key), f"{setting.name} is an OrgDBOrgSetting: put it under [org_settings]")
            return None
        where = f"in [{render_path(path)}]" if path else "at the top level"
        self.add((*path, key), f"unknown key {where}; allowed: {', '.join(node.fields)}", hint)
        return hint

    def map_of(self, node: spec.MapOf, value: Any, path: KeyPath) -> None:
        if not self._is_table(value, path):
            return
        for key, item in value.items():
            fmt = node.key_format
            if fmt is not None and not fmt.check(key):
                self.add((*path, key), f"{node.key_title} {key!r} is not valid: expected {fmt.explain}")
            self.node(node.value, item, (*path, key))

    def array(self, node: spec.Array, value: Any, path: KeyPath) -> None:
        if not isinstance(value, list):
            self.add(path, f"expected an array, got {toml_type(value)} {_shown(value)}")
            return
        if len(value) < node.min_items:
            self.add(path, f"needs at least {node.min_items} entr{'y' if node.min_items == 1 else 'ies'}")
        for position, item in enumerate(value):
            self.scalar(node.item, item, (*path, f"[{position}]"))

    def scalar(self, node: spec.Scalar, value: Any, path: KeyPath) -> None:
        if not _type_ok(node.type, value):
            self.add(path, f"expected {_EXPECTED[node.type]}, got {toml_type(value)} {_shown(value)}")
            return
        if node.enum is not None and value not in node.enum:
            self.add(path, f"{value!r} is not one of: {', '.join(node.enum)}", suggest(value, node.enum))
        if node.type in ("integer", "number") and _outside(value, node.minimum, node.maximum):
            if node.minimum is not None and node.minimum == node.maximum:
                self.add(path, f"must be {node.minimum}, got {value}")
            else:
                self.add(path, f"{value} is out of range {node.minimum}..{node.maximum}")
        if node.format is not None and not node.format.check(value):
            self.add(path, f"{_shown(value)} is not valid: expected {node.format.explain}")

    def secret_ref(self, value: Any, path: KeyPath) -> None:
        # never echo the value here: it is very likely the secret itself
        if isinstance(value, str):
            self.add(path, _SECRET_HINT)
            return
        if not isinstance(value, dict):
            self.add(path, f"expected a secret reference, got {toml_type(value)}; {_SECRET_HINT}")
            return
        for key in value.keys() - {"env", "file"}:
            self.add((*path, key), "unknown key in a secret reference; allowed: env, file",
                     suggest(key, ("env", "file")))
        given = [key for key in ("env", "file") if key in value]
        if len(given) != 1:
            self.add(path, "a secret reference needs exactly one of env or file")
            return
        text = value[given[0]]
        if not isinstance(text, str) or not text.strip():
            self.add((*path, given[0]), f"expected a non-empty string, got {toml_type(text)}")
        elif given[0] == "env" and not _ENV_NAME.fullmatch(text):
            self.add((*path, "env"), f"{text!r} is not a valid environment variable name")

    # -- OrgDBOrgSettings ---------------------------------------------------------------
    def org_settings(self, value: Any, path: KeyPath) -> None:
        if not self._is_table(value, path):
            return
        cat = catalogue()
        for name, setting_value in value.items():
            where = (*path, name)
            home = options.org_column_home(name)
            setting = cat.lookup(name)
            if home is not None:
                self.add(where, f"{name} is an organization column, not an OrgDBOrgSetting; set it in {home}")
            elif setting is None:
                self.add(where, "unknown OrgDBOrgSetting (not in the catalogue)",
                         suggest(name, [s.name for s in cat.stored_settings()], cutoff=0.7))
            elif setting.is_org_column:
                self.add(where, f"{setting.name} is a column of the organization table, not stored in "
                         "OrgDBOrgSettings; sssctl does not manage it")
            else:
                if setting.name != name:
                    self.add(where, f"write the setting name exactly as Dataverse does: {setting.name}",
                             setting.name)
                self.org_value(setting, setting_value, where)

    def org_value(self, setting: Setting, value: Any, path: KeyPath) -> None:
        expected = {"Boolean": "boolean", "Number": "integer", "Double": "number", "String": "string"}
        kind = expected[setting.type]
        if not _type_ok(kind, value):
            self.add(path, f"{setting.name} is a {setting.type} setting: expected {_EXPECTED[kind]}, "
                     f"got {toml_type(value)} {_shown(value)}")
            return
        low, high = setting.minimum, setting.maximum
        if kind in ("integer", "number") and _outside(value, low, high):
            self.add(path, f"{value} is out of range for {setting.name}: "
                     f"{'' if low is None else low}..{'' if high is None else high}")


# -- checks between keys ------------------------------------------------------------------

def _table(doc: Mapping[str, Any], *path: str) -> Mapping[str, Any]:
    current: Any = doc
    for key in path:
        current = current.get(key) if isinstance(current, dict) else None
    return current if isinstance(current, dict) else {}


def check_references(doc: Mapping[str, Any], checker: Checker) -> None:
    """Names that must point at something declared elsewhere in the document."""
    _check_endpoints(doc, checker)
    custom = _table(doc, "server_profiles", "custom")
    apps = _table(doc, "app_registrations")
    if "default" in custom:
        checker.add(("server_profiles", "custom", "default"),
                    'the name "default" is reserved for the built-in profile; choose another name')
    for name, profile in custom.items():
        app = profile.get("app_registration") if isinstance(profile, dict) else None
        if isinstance(app, str) and app not in apps:
            checker.add(("server_profiles", "custom", name, "app_registration"),
                        f"no [app_registrations.{app}] is declared", suggest(app, apps))
    wanted = _table(doc, "mailbox_defaults").get("server_profile")
    if isinstance(wanted, str) and wanted != "default" and wanted not in custom:
        known = ["default", *custom]
        checker.add(("mailbox_defaults", "server_profile"),
                    f'{wanted!r} is neither "default" nor a declared [server_profiles.custom."<name>"]; '
                    f"known: {', '.join(repr(k) for k in known)}", suggest(wanted, known))
    _check_default_profile_use(doc, checker)
    used = {p.get("app_registration") for p in custom.values() if isinstance(p, dict)}
    for key, app in apps.items():
        scope = _table(app, "mailbox_scope")
        _check_mailbox_scope(("app_registrations", key, "mailbox_scope"), scope, checker)
        if isinstance(app, dict):
            _check_ews(("app_registrations", key), app, key in used, checker)


def _check_ews(path: KeyPath, app: Mapping[str, Any], profiled: bool, checker: Checker) -> None:
    """EWS admission serves a server profile; turning EWS on org-wide is never implied."""
    if "ews" in app and not profiled:
        checker.add((*path, "ews"), "ews admits the app to EWS for a server profile, but no "
                    '[server_profiles.custom."<name>"] uses this app; remove ews or add the profile',
                    near=(*path, "ews"))
    if "ews_enabled" in app:
        if app["ews_enabled"] is not True:
            checker.add((*path, "ews_enabled"), "ews_enabled can only be true (turn EWS on for the "
                        "organization); sssctl never turns EWS off for everyone: leave the key out",
                        near=(*path, "ews_enabled"))
        elif app.get("ews") != "allow":
            checker.add((*path, "ews_enabled"), 'ews_enabled = true needs ews = "allow": with EWS on, only '
                        "apps on EWSAllowedAppIDs may use it", near=(*path, "ews_enabled"))


def _check_mailbox_scope(path: KeyPath, scope: Mapping[str, Any], checker: Checker) -> None:
    """An application access policy can only name a group; the rest needs RBAC for Applications."""
    if scope.get("method", "access_policy") != "access_policy":
        return
    for key in ("administrative_unit", "filter", "propagation_minutes"):
        if key in scope:
            checker.add((*path, key), f'{key} needs method = "rbac": an application access policy '
                        "scopes by one mail-enabled security group only", near=(*path, key))


def _check_default_profile_use(doc: Mapping[str, Any], checker: Checker) -> None:
    """New mailboxes must not be sent to a profile this same file switches off (unless they
    synchronize nothing at all, which is what a lockdown does)."""
    defaults = _table(doc, "mailbox_defaults")
    default_active = _table(doc, "server_profiles", "default").get("active")
    if defaults.get("server_profile") != "default" or default_active is not False:
        return
    methods = ("incoming_email", "outgoing_email", "appointments_contacts_tasks")
    if all(defaults.get(method) == "none" for method in methods):
        return
    checker.add(("mailbox_defaults", "server_profile"),
                'new mailboxes would use the built-in profile that [server_profiles.default] switches off '
                "(active = false); name a custom profile, or set every delivery method to \"none\"")


def endpoints_needed(doc: Mapping[str, Any]) -> tuple[str, ...]:
    """Which custom-cloud endpoints this document cannot do without: sign-in only.

    A missing Graph or Exchange endpoint is not refused here: a plan marks what needs that
    service unknown (naming the setting to add) and still plans everything else.
    """
    return ("login_url",)


def _check_endpoints(doc: Mapping[str, Any], checker: Checker) -> None:
    if _table(doc, "environment").get("cloud") != "custom":
        return
    endpoints = _table(doc, "environment", "endpoints")
    for key in endpoints_needed(doc):
        if key not in endpoints:
            path = ("environment", "endpoints", key)
            checker.add(path, f'cloud = "custom" needs environment.endpoints.{key} '
                        f"(or the environment variable {spec.env_var_for(path)})",
                        near=("environment", "cloud"))


_STORAGE_CREDENTIALS = ("sas_token", "connection_string", "auth")


def _check_state(doc: Mapping[str, Any], checker: Checker) -> None:
    """An azurerm backend needs its container, and one credential at most (else: the [auth] identity)."""
    state = _table(doc, "state")
    if state.get("backend") != "azurerm":
        return
    if "container" not in state:
        checker.add(("state", "container"), 'backend = "azurerm" needs state.container '
                    "(or the environment variable SSSCTL_STATE_CONTAINER)", near=("state", "backend"))
    given = [key for key in _STORAGE_CREDENTIALS if key in state]
    if len(given) > 1:
        checker.add(("state", given[-1]), f"give one of {', '.join(_STORAGE_CREDENTIALS)}, not "
                    f"{' and '.join(given)} (without any, sssctl signs in to storage with the [auth] "
                    "identity)")


def _check_watch(doc: Mapping[str, Any], checker: Checker) -> None:
    """What watch may revert, how often, and that an email to the user says whom it is from."""
    watch = _table(doc, "watch")
    interval = watch.get("interval")
    if (isinstance(interval, str) and spec.DURATION.check(interval)
            and spec.duration_seconds(interval) < spec.WATCH_MIN_INTERVAL):
        checker.add(("watch", "interval"), f"{interval!r} is shorter than the minimum of "
                    f"{spec.WATCH_MIN_INTERVAL:g}s (each cycle reads every watched kind)")
    revert = watch.get("revert")
    for index, item in enumerate(revert if isinstance(revert, list) else []):
        if not isinstance(item, str):
            continue
        path = ("watch", "revert", f"[{index}]")
        never = next((k for k in spec.WATCH_NEVER if item == k or item.startswith((f"{k}.", f"{k}["))), None)
        if never:
            checker.add(path, f"{item!r}: {never} creates or deletes objects, so watch never changes it; "
                        "its drift is reported and left to a reviewed apply")
        elif not any(item == k or item.startswith((f"{k}.", f"{k}[")) for k in spec.WATCH_REVERTIBLE):
            checker.add(path, f"{item!r} is neither a kind watch can revert nor one of its addresses; known "
                        f"kinds: {', '.join(spec.WATCH_REVERTIBLE)}",
                        suggest(item.split(".", 1)[0], spec.WATCH_REVERTIBLE))
    notify = _table(doc, "watch", "notify")
    if notify.get("email_user") is True and "from" not in notify:
        checker.add(("watch", "notify", "from"),
                    'email_user = true needs from = "<queue or mailbox address>"',
                    near=("watch", "notify", "email_user"))


def validate(doc: Mapping[str, Any], locate: Locate) -> list[Finding]:
    """Every finding for ``doc`` (already merged and overridden), in the order met."""
    checker = Checker(locate)
    checker.table(spec.DOCUMENT, doc, ())
    check_references(doc, checker)
    _check_state(doc, checker)
    _check_watch(doc, checker)
    return checker.findings
