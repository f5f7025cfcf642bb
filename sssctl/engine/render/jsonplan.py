"""The machine plan in Terraform's JSON plan representation, so Terraform policies run unchanged.

A policy written for ``terraform show -json`` (OPA/Conftest, Sentinel-style checks) walks
``resource_changes[]`` and reads ``type``, ``change.actions``, ``before`` and ``after``;
those keys mean here what they mean there:

- ``type`` is the resource kind (``org_setting``, ``server_profile_custom``), ``name``
  the rest of the address, ``mode`` always ``"managed"``;
- ``provider_name`` is :data:`PROVIDER_NAME` for every resource, one stable value;
- ``change.actions`` uses Terraform's words: ``["create"]``, ``["update"]``,
  ``["delete"]``, ``["no-op"]``, and ``["read"]`` for an object that could not be read
  (its values are unknown until apply reads it, as a deferred data source's are);
- a refresh-only plan puts its findings in ``resource_drift`` and proposes nothing;
- ``errored``, ``applyable`` and ``complete`` at the top say whether apply may proceed.

What only sssctl knows (environment, state lineage, reasons, summary) lives under the
``sssctl`` key at the top and in each resource change, never beside Terraform's keys.
``format_version`` follows Terraform's rule: the minor grows with additions, the major
changes on a break (2.0 replaced sssctl's own ``kind`` shape by Terraform's).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sssctl import __version__
from sssctl.engine.plan import Action, Change, Plan
from sssctl.engine.render.common import counts, to_plain

FORMAT_VERSION = "2.0"
PROVIDER_NAME = "registry.sssctl.dev/sssctl/sssctl"

_ACTIONS = {Action.CREATE: "create", Action.UPDATE: "update", Action.DELETE: "delete",
            Action.NOOP: "no-op", Action.UNKNOWN: "read"}
# Fields holding fingerprints or descriptions of write-only values; marked as Terraform marks them.
_SENSITIVE = re.compile(r"secret|password|credential|certificate", re.IGNORECASE)
_INDEX = re.compile(r'^\[(?P<key>"(?:[^"\\]|\\.)*")\]$')


def name_and_index(address: str, kind: str) -> tuple[str, str | None]:
    """``server_profile.custom["EXO"]`` -> ``("EXO", "EXO")``; ``org_setting.X`` -> ``("X", None)``.

    Terraform's ``name`` is what follows the type in the address; a keyed instance also
    has an ``index``. Singletons (``approval``, ``mailboxes``) are named after themselves.
    """
    prefix = _kind_prefix(address, kind)
    rest = address[len(prefix):]
    if not rest:
        return prefix.rsplit(".", 1)[-1], None
    keyed = _INDEX.match(rest)
    if keyed:
        key = str(json.loads(keyed.group("key")))
        return key, key
    return rest.lstrip("."), None


def _kind_prefix(address: str, kind: str) -> str:
    """The part of ``address`` that spells its kind (``server_profile.custom`` for
    ``server_profile_custom``): the longest dotted prefix whose dots read as underscores."""
    parts = address.split("[", 1)[0].split(".")
    for count in range(len(parts), 0, -1):
        prefix = ".".join(parts[:count])
        if prefix.replace(".", "_") == kind:
            return prefix
    return ""


def _sensitive(values: Mapping[str, Any] | None) -> dict[str, bool] | bool:
    if values is None:
        return False
    return {key: True for key in values if _SENSITIVE.search(key)}


def resource_change(change: Change) -> dict[str, Any]:
    kind = change.kind
    name, index = name_and_index(change.address, kind)
    unknown = change.action is Action.UNKNOWN
    document: dict[str, Any] = {
        "address": change.address, "mode": "managed", "type": kind, "name": name,
    }
    if index is not None:
        document["index"] = index
    document["provider_name"] = PROVIDER_NAME
    document["change"] = {
        "actions": [_ACTIONS[change.action]],
        "before": to_plain(change.before),
        "after": to_plain(change.after),
        "after_unknown": True if unknown else {},
        "before_sensitive": _sensitive(change.before),
        "after_sensitive": _sensitive(change.after),
    }
    document["sssctl"] = {"reason": change.reason, "symbol": change.action.value}
    return document


def _extras(plan: Plan | None, environment_name: str | None) -> dict[str, Any]:
    extras: dict[str, Any] = {"version": __version__, "environment": {"name": environment_name}}
    if plan is None:
        return extras
    extras["environment"].update(url=plan.environment_url, organization_id=plan.organization_id)
    extras.update(state={"lineage": plan.state_lineage, "serial": plan.state_serial},
                  config_digest=plan.config_digest, refresh_only=plan.refresh_only, summary=counts(plan))
    return extras


def to_document(plan: Plan, *, environment_name: str) -> dict[str, Any]:
    changes = [resource_change(c) for c in plan.changes]
    complete = not plan.unknown
    extras = _extras(plan, environment_name)
    if plan.unknown:
        extras["incomplete"] = [f"{c.address}: {c.reason}" for c in plan.unknown]
    return {
        "format_version": FORMAT_VERSION,
        "timestamp": plan.created_at,
        "resource_drift": changes if plan.refresh_only else [],
        "resource_changes": [] if plan.refresh_only else changes,
        "errored": False,
        "applyable": complete and not plan.refresh_only and bool(plan.actionable),
        "complete": complete,
        "sssctl": extras,
    }


def refused_document(refusals: Sequence[str], *, environment_name: str | None = None) -> dict[str, Any]:
    """A plan the guards refused: nothing to apply, and why, as Terraform reports an errored plan."""
    extras = _extras(None, environment_name)
    extras["refused"] = list(refusals)
    return {
        "format_version": FORMAT_VERSION,
        "resource_drift": [],
        "resource_changes": [],
        "errored": True,
        "applyable": False,
        "complete": False,
        "sssctl": extras,
    }


def dumps(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def render(plan: Plan, *, environment_name: str) -> str:
    return dumps(to_document(plan, environment_name=environment_name))
