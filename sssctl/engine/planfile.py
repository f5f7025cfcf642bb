"""Saved plans: ``plan --out FILE`` writes one, ``apply FILE`` reads it back.

A saved plan is a promise about a moment: this state (lineage + serial), this config
(digest), this organization. :func:`check_fresh` refuses to apply it once any of those
moved, and every change still carries the ETag it was read at, so objects edited in the
meantime are refused by the server (If-Match) instead of overwritten. The file holds no
secrets (changes never do) but describes the environment, hence mode 0600.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sssctl import __version__
from sssctl.engine.errors import EngineError, StalePlan
from sssctl.engine.plan import Action, Change, Plan
from sssctl.engine.render.common import to_plain

FORMAT_VERSION = "1"
_ACTIONS = {a.word: a for a in Action}


@dataclass(frozen=True)
class SavedPlan:
    plan: Plan
    environment_name: str
    config_path: str
    sssctl_version: str


def change_to_dict(change: Change) -> dict[str, Any]:
    return {
        "address": change.address,
        "action": change.action.word,
        "before": _plain(change.before),
        "after": _plain(change.after),
        "reason": change.reason,
        "etag": change.etag,
        "detail": _plain(change.detail) or {},
    }


def _plain(value: Any) -> Any:
    """Plain JSON types (kinds may hand in read-only mappings); refuse what JSON cannot hold."""
    plain = to_plain(value)
    try:
        json.dumps(plain)
    except TypeError as exc:
        raise EngineError(f"a change holds a value a saved plan cannot carry: {exc}") from exc
    return plain


def change_from_dict(data: dict[str, Any]) -> Change:
    return Change(
        address=str(data["address"]),
        action=_ACTIONS[str(data["action"])],
        before=data.get("before"),
        after=data.get("after"),
        reason=str(data.get("reason", "")),
        etag=data.get("etag"),
        detail=data.get("detail") or {},
    )


def to_document(plan: Plan, *, environment_name: str, config_path: str) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "sssctl_version": __version__,
        "environment": {"url": plan.environment_url, "organization_id": plan.organization_id,
                        "name": environment_name},
        "state": {"lineage": plan.state_lineage, "serial": plan.state_serial},
        "config": {"path": config_path, "digest": plan.config_digest},
        "created_at": plan.created_at,
        "refresh_only": plan.refresh_only,
        "changes": [change_to_dict(c) for c in plan.changes],
    }


def save(path: Path, plan: Plan, *, environment_name: str, config_path: str) -> None:
    text = json.dumps(to_document(plan, environment_name=environment_name, config_path=config_path),
                      indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load(path: Path) -> SavedPlan:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise EngineError(f"plan file {path} does not exist") from exc
    except (OSError, ValueError) as exc:
        raise EngineError(f"plan file {path} cannot be read as JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("format_version") != FORMAT_VERSION:
        found = document.get("format_version") if isinstance(document, dict) else None
        raise EngineError(f"{path} is not an sssctl plan of format {FORMAT_VERSION} (found {found!r})")
    try:
        env, state, config = document["environment"], document["state"], document["config"]
        plan = Plan(
            changes=tuple(change_from_dict(c) for c in document["changes"]),
            environment_url=str(env["url"]),
            organization_id=str(env["organization_id"]),
            state_lineage=state.get("lineage"),
            state_serial=int(state["serial"]),
            config_digest=str(config["digest"]),
            created_at=str(document.get("created_at", "")),
            refresh_only=bool(document.get("refresh_only", False)),
        )
        return SavedPlan(plan, str(env.get("name", "")), str(config["path"]),
                         str(document.get("sssctl_version", "")))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        why = f"plan file {path} is malformed ({exc!r}); make a new one with `sssctl plan --out`"
        raise EngineError(why) from exc


def _same_url(a: str, b: str) -> bool:
    return a.rstrip("/").lower() == b.rstrip("/").lower()


def check_fresh(saved: Plan, *, url: str, organization_id: str, lineage: str | None, serial: int,
                config_digest: str) -> None:
    """Refuse, naming every reason, a saved plan that no longer describes reality."""
    reasons: list[str] = []
    if saved.organization_id != organization_id or not _same_url(saved.environment_url, url):
        reasons.append(
            f"it was made for organization {saved.organization_id} at {saved.environment_url}, "
            f"but this run signs in to {organization_id} at {url}"
        )
    if saved.state_lineage is None and lineage is not None:
        reasons.append("the state was created since the plan was made: something was applied in between")
    elif saved.state_lineage != lineage:
        reasons.append(f"the state lineage changed (plan: {saved.state_lineage}, now: {lineage})")
    elif saved.state_serial != serial:
        reasons.append(
            f"the state moved on since the plan was made (serial {saved.state_serial} -> {serial}): "
            "something was applied in between"
        )
    if saved.config_digest != config_digest:
        reasons.append("the configuration changed since the plan was made")
    if saved.refresh_only:
        reasons.append("it is a refresh-only plan, which proposes no changes")
    if reasons:
        raise StalePlan(
            "the saved plan cannot be applied: " + "; ".join(reasons) + ". Run `sssctl plan --out` again"
        )
