"""The machine plan in Terraform's JSON plan representation, so Terraform policies run unchanged.

A policy written for ``terraform show -json`` (OPA/Conftest, Sentinel-style checks) walks
``resource_changes[]`` and reads ``type``, ``name``, ``change.actions``, ``before`` and
``after``; those keys mean here what they mean there:

- ``type`` names one kind of object, never two: the resource kind (``org_setting``,
  ``server_profile_custom``), and for an object nested under a kind's address its own
  type (``app_registration.sss.credential`` is ``app_registration_credential``, so a
  rule about app registrations never fires on a secret rotation);
- ``name`` is the identifier before any index, as in ``aws_instance.web["a"]``: free of
  dots (``sss`` for ``app_registration.sss.credential``, ``custom`` with ``index``
  ``"EXO"`` for ``server_profile.custom["EXO"]``, the kind itself for a singleton);
- ``mode`` is always ``"managed"``; ``provider_name`` is :data:`PROVIDER_NAME`;
- ``change.actions`` uses Terraform's words: ``["create"]``, ``["update"]``,
  ``["delete"]``, ``["no-op"]``, and ``["read"]`` for an object that could not be read
  (its values are unknown until apply reads it, as a deferred data source's are);
- ``resource_drift`` lists what changed outside sssctl since it last applied (live value
  differs from the recorded one), in a normal plan as in a refresh-only plan, which
  proposes nothing;
- ``prior_state`` holds the live values read (Terraform's refreshed state) and
  ``planned_values`` the values after apply, each object once, with the same
  ``address``/``type``/``name`` as its change; an object that will not exist after
  apply, or whose values are unknown, is absent from ``planned_values``;
- ``errored``, ``applyable`` and ``complete`` at the top say whether apply may proceed.

``format_version`` is the version of Terraform's representation this document follows
(``1.2``, as Terraform 1.8 and later emit, the first with ``complete``). Readers such as
``hashicorp/terraform-json`` accept ``>= 0.1, < 2.0`` and must reject an unknown major,
so it stays ``1.x``. There is no ``terraform_version``: no Terraform made this plan, and
a reader gating features on it would be misled by any value; ``sssctl.version`` is the
release that did. ``variables``, ``configuration``, ``output_changes`` and ``checks`` are
absent: sssctl has no input variables, modules or outputs, and its guards refuse a plan
outright (``errored``, ``sssctl.refused``) instead of recording check results.

What only sssctl knows (environment, state lineage, reasons, summary) lives under the
``sssctl`` key at the top and in each resource change, never beside Terraform's keys;
``sssctl.format_version`` versions that part and the naming rules above (3.0: each kind
its own ``type``, ``name`` without dots; 2.0 was the last written at the top).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sssctl import __version__
from sssctl.engine.plan import Action, Change, Plan
from sssctl.engine.render.common import counts, to_plain

FORMAT_VERSION = "1.2"           # Terraform's JSON plan representation (module docstring)
SSSCTL_FORMAT_VERSION = "3.0"    # sssctl's own keys and naming rules
STATE_FORMAT_VERSION = "1.0"     # Terraform's JSON state representation, for prior_state
PROVIDER_NAME = "registry.sssctl.dev/sssctl/sssctl"

_ACTIONS = {Action.CREATE: "create", Action.UPDATE: "update", Action.DELETE: "delete",
            Action.NOOP: "no-op", Action.UNKNOWN: "read"}
# Fields holding fingerprints or descriptions of write-only values; marked as Terraform marks them.
_SENSITIVE = re.compile(r"secret|password|credential|certificate", re.IGNORECASE)
_INDEX = re.compile(r'^\[(?P<key>"(?:[^"\\]|\\.)*")\]$')


def identify(address: str, kind: str) -> tuple[str, str, str | None]:
    """``(type, name, index)`` of an address, as Terraform splits ``TYPE.NAME[INDEX]``.

    ``server_profile.custom["EXO"]`` -> ``("server_profile_custom", "custom", "EXO")``;
    ``app_registration.sss.credential`` -> ``("app_registration_credential", "sss", None)``;
    ``org_setting.X`` -> ``("org_setting", "X", None)``; ``approval`` -> ``("approval",
    "approval", None)``. Keys between dots are names (letters, digits, ``-``, ``_``); a
    further dotted part names an object nested under that one, hence a type of its own.
    """
    prefix = _kind_prefix(address, kind) or kind
    rest = address[len(prefix):] if address.startswith(prefix) else ""
    last = prefix.rsplit(".", 1)[-1]
    keyed = _INDEX.match(rest)
    if keyed:
        return kind, last, str(json.loads(keyed.group("key")))
    parts = [p for p in rest.split(".") if p]
    if not parts:
        return kind, last, None
    return "_".join([kind, *parts[1:]]), parts[0], None


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


def _identity(change: Change) -> dict[str, Any]:
    kind, name, index = identify(change.address, change.kind)
    document: dict[str, Any] = {"address": change.address, "mode": "managed", "type": kind, "name": name}
    if index is not None:
        document["index"] = index
    document["provider_name"] = PROVIDER_NAME
    return document


def resource_change(change: Change) -> dict[str, Any]:
    unknown = change.action is Action.UNKNOWN
    document = _identity(change)
    document["change"] = {
        "actions": [_ACTIONS[change.action]],
        "before": to_plain(change.before),
        "after": to_plain(change.after),
        "after_unknown": True if unknown else {},
        "before_sensitive": _sensitive(change.before),
        "after_sensitive": _sensitive(change.after),
    }
    document["sssctl"] = {"reason": change.reason, "symbol": change.action.value}
    if change.elevation:
        document["sssctl"]["needs_elevation"] = change.elevation
    return document


def _state_resource(change: Change, values: Mapping[str, Any]) -> dict[str, Any]:
    """One object of a ``planned_values`` / ``prior_state`` module, as Terraform writes it."""
    sensitive = _sensitive(values)
    return {**_identity(change), "schema_version": 0, "values": to_plain(values),
            "sensitive_values": sensitive if isinstance(sensitive, dict) else {}}


def _module(resources: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"root_module": {"resources": list(resources)}}


def planned_values(plan: Plan) -> dict[str, Any]:
    """The objects as they will be after apply: ``after`` of every known, surviving object."""
    if plan.refresh_only:
        return _module([])
    return _module([_state_resource(c, c.after) for c in plan.changes
                    if c.after is not None and c.action not in (Action.DELETE, Action.UNKNOWN)])


def prior_state(plan: Plan) -> dict[str, Any]:
    """What the plan read live (Terraform's refreshed prior state): ``before`` of each object."""
    resources = [_state_resource(c, c.before) for c in plan.changes
                 if c.before is not None and c.action is not Action.UNKNOWN]
    return {"format_version": STATE_FORMAT_VERSION, "values": _module(resources)}


def _extras(plan: Plan | None, environment_name: str | None) -> dict[str, Any]:
    extras: dict[str, Any] = {"format_version": SSSCTL_FORMAT_VERSION, "version": __version__,
                              "environment": {"name": environment_name}}
    if plan is None:
        return extras
    extras["environment"].update(url=plan.environment_url, organization_id=plan.organization_id)
    extras.update(state={"lineage": plan.state_lineage, "serial": plan.state_serial},
                  config_digest=plan.config_digest, refresh_only=plan.refresh_only, destroy=plan.destroy,
                  summary=counts(plan))
    return extras


def to_document(plan: Plan, *, environment_name: str) -> dict[str, Any]:
    changes = [resource_change(c) for c in plan.changes]
    drift = changes if plan.refresh_only else [resource_change(c) for c in plan.drift]
    complete = not plan.unknown
    extras = _extras(plan, environment_name)
    if plan.unknown:
        extras["incomplete"] = [f"{c.address}: {c.reason}" for c in plan.unknown]
    extras["needs_elevation"] = [c.address for c in plan.changes if c.elevation and c.writes]
    return {
        "format_version": FORMAT_VERSION,
        "timestamp": plan.created_at,
        "planned_values": planned_values(plan),
        "resource_drift": drift,
        "resource_changes": [] if plan.refresh_only else changes,
        "prior_state": prior_state(plan),
        "errored": False,
        "applyable": complete and not plan.refresh_only and bool(plan.actionable),
        "complete": complete,
        "sssctl": extras,
    }


def errored_document(error: str, *, environment_name: str | None = None) -> dict[str, Any]:
    """A plan that could not be made at all (sign-in refused, config invalid): still a document,
    errored, with the reason, so a pipeline that posts or checks the JSON has one to read."""
    document = refused_document([], environment_name=environment_name)
    del document["sssctl"]["refused"]
    document["sssctl"]["error"] = error
    return document


def refused_document(refusals: Sequence[str], *, environment_name: str | None = None) -> dict[str, Any]:
    """A plan the guards refused: nothing to apply, and why, as Terraform reports an errored plan."""
    extras = _extras(None, environment_name)
    extras["refused"] = list(refusals)
    return {
        "format_version": FORMAT_VERSION,
        "planned_values": _module([]),
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
