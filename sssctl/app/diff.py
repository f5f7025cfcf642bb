"""``sssctl diff``: compare the posture of two live environments, not their identities.

Both sides are read exactly as ``export`` reads them, so what is compared is what a
config could say. What names an environment rather than its posture (the URL, tenant,
sign-in, state location, comments) is dropped before comparing; deepdiff does the
structured comparison, with list order ignored (roles, permissions, exclusions).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from deepdiff import DeepDiff

from sssctl.engine.kind import NOTE

IDENTITY_SECTIONS = frozenset({"version", "extends", "environment", "auth", "state", NOTE})
CONTROLS = {
    "server_profiles": "Control 1: synchronization profiles",
    "approval": "Control 1: mailbox approval",
    "org_settings": "Controls 2 and 4: organization settings",
    "privileges": "Control 2: approve privilege",
    "mailbox_defaults": "Control 3: mailbox defaults",
    "mailboxes": "Control 3: existing mailboxes",
    "user_settings": "Control 4: email filtering",
    "app_registrations": "Control 5: own app registration",
}


def posture(document: Mapping[str, Any]) -> dict[str, Any]:
    """The exported document without what identifies the environment, and without comments."""
    return {k: _without_notes(v) for k, v in document.items() if k not in IDENTITY_SECTIONS}


def _without_notes(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_notes(v) for k, v in value.items() if k != NOTE}
    return value


@dataclass(frozen=True)
class Difference:
    control: str
    path: str             # dotted key path in config terms
    left: Any
    right: Any


@dataclass
class Comparison:
    left: str
    right: str
    differences: list[Difference] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return not self.differences


_MISSING = "(not set)"


def compare(left_name: str, left: Mapping[str, Any], right_name: str, right: Mapping[str, Any]) -> Comparison:
    a, b = posture(left), posture(right)
    found = DeepDiff(a, b, ignore_order=True, view="tree")
    differences: list[Difference] = []
    for items in found.values():
        for item in items:
            path = [str(p) for p in item.path(output_format="list")]
            before = item.t1 if item.t1 is not _not_present(item.t1) else _MISSING
            after = item.t2 if item.t2 is not _not_present(item.t2) else _MISSING
            differences.append(Difference(_control(path), ".".join(path), _plain(before), _plain(after)))
    differences.sort(key=lambda d: (d.control, d.path))
    return Comparison(left_name, right_name, differences)


def _not_present(value: Any) -> Any:
    """deepdiff's marker for a side that has no such key; compared by type name, not import."""
    return value if type(value).__name__ == "NotPresent" else object()


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _control(path: Sequence[str]) -> str:
    if path[:2] == ["server_profiles", "custom"]:
        return "Control 5: own-app server profile"
    return CONTROLS.get(path[0], path[0]) if path else "(whole document)"


def render_text(c: Comparison) -> str:
    if c.equal:
        return f"{c.left} and {c.right} have the same posture.\n"
    lines = [f"{c.left} and {c.right} differ in {len(c.differences)} place(s):"]
    control = None
    for d in c.differences:
        if d.control != control:
            control = d.control
            lines += ["", f"{control}"]
        lines.append(f"  {d.path}: {c.left} = {_shown(d.left)}, {c.right} = {_shown(d.right)}")
    return "\n".join(lines) + "\n"


def _shown(value: Any) -> str:
    return value if value == _MISSING else json.dumps(value, sort_keys=True)


def to_json(c: Comparison) -> dict[str, Any]:
    return {"left": c.left, "right": c.right, "equal": c.equal, "differences": [
        {"control": d.control, "path": d.path, "left": d.left, "right": d.right} for d in c.differences]}


def render_markdown(c: Comparison) -> str:
    if c.equal:
        return f"**`{c.left}` and `{c.right}` have the same posture.**\n"
    lines = [f"### `{c.left}` vs `{c.right}`: {len(c.differences)} difference(s)", "",
             f"| control | key | `{c.left}` | `{c.right}` |", "|---|---|---|---|"]
    lines += [f"| {d.control} | `{d.path}` | {_cell(d.left)} | {_cell(d.right)} |" for d in c.differences]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    return _shown(value).replace("|", "\\|")
