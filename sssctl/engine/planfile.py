"""Saved plans: ``plan --out FILE`` writes one, ``apply FILE`` reads it back as untrusted data.

A saved plan is a promise about a moment: this state (lineage + serial), this config
(digest), this organization, these changes. It travels between machines and pipeline
jobs, so nothing in it is taken on trust:

* **Integrity.** The file carries a SHA-256 digest of its own canonical JSON (sorted
  keys, fixed separators). :func:`load` checks it before reading any field, so an edit
  or a corruption (a truncated upload, a flipped byte) is refused. It is a plain digest,
  not a signature: whoever can edit the file can also recompute it. What makes a
  consistent forgery useless is re-derivation (:func:`proven_changes`): at apply time
  the engine reads the environment afresh, derives the plan again from the
  configuration, runs every guard on those fresh reads, and executes the saved changes
  only once each one is proven equal to a freshly derived one. A forged plan can at
  most ask for what the configuration asks for anyway.
* **Strict reading.** Bounded size, strict JSON (no NaN/Infinity, no duplicate keys),
  and every field type-checked; unknown or missing fields are refused. The reader is
  :mod:`sssctl.strictjson`, which the state snapshot reader shares; this module keeps
  the plan's format, its freshness check and the proof of its changes.
* **Portability.** The config is recorded by digest and by a path relative to the plan
  file's directory, so a plan made in one checkout applies from another that holds the
  same config. Because the plan names its config, a pipeline that cannot trust the
  plan's storage should also pass ``-c`` to pin the config it reviewed.
* **Release.** Only the sssctl release that wrote a plan applies it, as Terraform does:
  another release may derive changes differently.

The file holds no secrets (changes never do) but describes the environment, hence
mode 0600.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import hmac
import json
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from sssctl import __version__, strictjson
from sssctl.engine.errors import EngineError, StalePlan
from sssctl.engine.plan import Action, Change, Plan
from sssctl.engine.render.common import to_plain
from sssctl.errors import cannot_write, writable_problem
from sssctl.strictjson import Mismatch, coerce, shown

FORMAT_VERSION = "2"
MAX_BYTES = 64 * 1024 * 1024
INTEGRITY_KEY = "integrity"
_ACTIONS = {a.word: a for a in Action}
_AGAIN = "make a new one with `sssctl plan --out`"

# Fields that differ between a saved change and a fresh one when the object itself moved
# on since the plan; any other difference means the change is not the one derived now.
_MOVED_FIELDS = frozenset({"before", "etag", "detail"})
# Prose for people, re-worded by time ("expires in 3 days") and never read by ``apply``.
_UNCOMPARED_FIELDS = frozenset({"reason"})


class InvalidPlanFile(EngineError):
    """The file is not an intact saved plan this release can apply."""


@dataclass(frozen=True)
class SavedPlan:
    plan: Plan
    environment_name: str
    config_path: str        # as recorded: relative to the plan file's directory
    config_file: Path       # ``config_path`` resolved against the plan file's directory
    sssctl_version: str
    targets: tuple[str, ...]


# --- writing ------------------------------------------------------------------------------


def change_to_dict(change: Change) -> dict[str, Any]:
    """Every dataclass field of the change, so new fields are carried without edits here."""
    return {f.name: _json_value(getattr(change, f.name)) for f in dataclasses.fields(change)}


def _json_value(value: Any) -> Any:
    if isinstance(value, Action):
        return value.word
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    return _plain(value)


def _plain(value: Any) -> Any:
    """Plain JSON types (kinds may hand in read-only mappings); refuse what JSON cannot hold."""
    plain = to_plain(value)
    try:
        json.dumps(plain, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise EngineError(f"a change holds a value a saved plan cannot carry: {exc}") from exc
    return plain


def relative_config_path(config_path: Path, plan_path: Path) -> str:
    """The config as seen from the plan file's directory (POSIX separators)."""
    relative = os.path.relpath(Path(config_path).resolve(), Path(plan_path).resolve().parent)
    return Path(relative).as_posix()


def to_document(plan: Plan, *, environment_name: str, config_path: str,
                targets: Sequence[str] = ()) -> dict[str, Any]:
    """The plan as JSON, sealed with the digest of everything else in the document."""
    document: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "sssctl_version": __version__,
        "environment": {"url": plan.environment_url, "organization_id": plan.organization_id,
                        "name": environment_name},
        "state": {"lineage": plan.state_lineage, "serial": plan.state_serial},
        "config": {"path": config_path, "digest": plan.config_digest},
        "created_at": plan.created_at,
        "refresh_only": plan.refresh_only,
        "destroy": plan.destroy,
        "targets": list(targets),
        "changes": [change_to_dict(c) for c in plan.changes],
    }
    document[INTEGRITY_KEY] = content_digest(document)
    return document


def content_digest(document: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of every key but the integrity one."""
    body = {k: v for k, v in document.items() if k != INTEGRITY_KEY}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return "sha256:" + hashlib.sha256(canonical.encode("ascii")).hexdigest()


def save(path: Path, plan: Plan, *, environment_name: str, config_path: Path,
         targets: Sequence[str] = ()) -> None:
    document = to_document(plan, environment_name=environment_name,
                           config_path=relative_config_path(config_path, path), targets=targets)
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise EngineError(cannot_write(path, exc, what="the plan file", remedy=_OUT_REMEDY)) from None


_OUT_REMEDY = "Nothing was applied; give --out a file in a directory you can write to"


def check_writable(path: Path) -> None:
    """Refuse ``--out FILE`` before the plan is made, not after minutes of reading."""
    problem = writable_problem(path)
    if problem is not None:
        raise EngineError(f"cannot write the plan file {path}: {problem}. {_OUT_REMEDY} "
                          "(sssctl creates the file, not its directory)")


# --- reading ------------------------------------------------------------------------------


def load(path: Path) -> SavedPlan:
    """Read a saved plan, refusing anything but an intact plan of this format and release."""
    document = _parse(_read_bounded(path), path)
    _check_integrity(document, path)
    _check_format_and_release(document, path)
    try:
        fields = _coerce(document, _DOCUMENT, "plan")
        return _saved_plan(fields, path)
    except Mismatch as exc:
        raise InvalidPlanFile(f"plan file {path} is malformed: {exc}; {_AGAIN}") from None


def _read_bounded(path: Path) -> bytes:
    """At most MAX_BYTES of a regular file; a FIFO or device would hang or never end."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InvalidPlanFile(f"plan file {path} does not exist") from None
    except OSError as exc:
        raise InvalidPlanFile(f"plan file {path} cannot be opened: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise InvalidPlanFile(f"plan file {path} is not a regular file")
        raw = handle.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise InvalidPlanFile(f"plan file {path} is larger than {MAX_BYTES // (1024 * 1024)} MiB, "
                              f"so it is not a plan sssctl wrote; {_AGAIN}")
    return raw


def _parse(raw: bytes, path: Path) -> dict[str, Any]:
    try:
        document = strictjson.loads(raw)
    except UnicodeDecodeError as exc:
        raise InvalidPlanFile(f"plan file {path} is not UTF-8 text ({exc.reason}); {_AGAIN}") from None
    except ValueError as exc:
        raise InvalidPlanFile(f"plan file {path} cannot be read as JSON: {exc}; {_AGAIN}") from None
    except RecursionError:
        raise InvalidPlanFile(f"plan file {path} is nested too deeply to be a plan; {_AGAIN}") from None
    if not isinstance(document, dict):
        raise InvalidPlanFile(f"{path} is not an sssctl plan (a JSON object); {_AGAIN}")
    return document


def _check_integrity(document: dict[str, Any], path: Path) -> None:
    recorded = document.get(INTEGRITY_KEY)
    if recorded is None:
        if document.get("format_version") == "1":
            raise InvalidPlanFile(_format_one(path))
        raise InvalidPlanFile(f"{path} is not an sssctl plan: it carries no integrity digest; {_AGAIN}")
    try:
        expected = content_digest(document)
    except (ValueError, RecursionError) as exc:
        raise InvalidPlanFile(f"plan file {path} cannot be checked: {exc}; {_AGAIN}") from None
    if not isinstance(recorded, str) or not hmac.compare_digest(recorded.encode("utf-8", "replace"),
                                                                expected.encode("ascii")):
        raise InvalidPlanFile(
            f"plan file {path} was modified after sssctl wrote it (its content does not match its "
            f"integrity digest), so nothing in it is used; {_AGAIN} and review it"
        )


def _format_one(path: Path) -> str:
    return (f"{path} is a plan of format 1, which is not bound to its content and can no longer be "
            f"applied; re-run `sssctl plan --out {path.name}` and apply the new plan")


def _check_format_and_release(document: dict[str, Any], path: Path) -> None:
    found = document.get("format_version")
    if found == "1":
        raise InvalidPlanFile(_format_one(path))
    if found != FORMAT_VERSION:
        raise InvalidPlanFile(f"{path} is not an sssctl plan of format {FORMAT_VERSION} "
                              f"(found {found!r}); {_AGAIN}")
    release = document.get("sssctl_version")
    if release != __version__:
        shown = release if isinstance(release, str) else repr(release)
        raise InvalidPlanFile(
            f"{path} was made by sssctl {shown[:40]}, and this is sssctl {__version__}: a saved plan is "
            f"applied only by the release that made it. Re-run `sssctl plan --out {path.name}` "
            "with this release"
        )


def _saved_plan(fields: dict[str, Any], path: Path) -> SavedPlan:
    env, state, config = fields["environment"], fields["state"], fields["config"]
    changes: tuple[Change, ...] = fields["changes"]
    _check_semantics(changes, state["serial"], config["path"])
    plan = Plan(
        changes=changes, environment_url=env["url"], organization_id=env["organization_id"],
        state_lineage=state["lineage"], state_serial=state["serial"], config_digest=config["digest"],
        created_at=fields["created_at"], refresh_only=fields["refresh_only"], destroy=fields["destroy"],
    )
    config_file = Path(os.path.normpath(Path(path).resolve().parent / config["path"]))
    return SavedPlan(plan, env["name"], config["path"], config_file, fields["sssctl_version"],
                     fields["targets"])


def _check_semantics(changes: Sequence[Change], serial: int, config_path: str) -> None:
    if serial < 0:
        raise Mismatch(f"state.serial is negative ({serial})")
    if not config_path or "\0" in config_path or PurePosixPath(config_path).is_absolute():
        raise Mismatch("config.path must be a path relative to the plan file's directory")
    seen: set[str] = set()
    for change in changes:
        if not change.address.strip():
            raise Mismatch("a change has an empty address")
        if change.address in seen:
            raise Mismatch(f"the address {change.address} appears twice")
        seen.add(change.address)


# --- type checking ------------------------------------------------------------------------


_DOCUMENT: dict[str, Any] = {
    "format_version": str,
    "sssctl_version": str,
    "environment": {"url": str, "organization_id": str, "name": str},
    "state": {"lineage": str | None, "serial": int},
    "config": {"path": str, "digest": str},
    "created_at": str,
    "refresh_only": bool,
    "destroy": bool,
    "targets": tuple[str, ...],
    "changes": tuple[Change, ...],
    INTEGRITY_KEY: str,
}


def _action(value: Any, where: str) -> Action:
    """An action as the file spells it: its word (``create``, ``no-op``), not its symbol."""
    if isinstance(value, str) and value in _ACTIONS:
        return _ACTIONS[value]
    raise Mismatch(f"{where} must be one of {', '.join(sorted(_ACTIONS))}, not {shown(value)}")


def _coerce(value: Any, hint: Any, where: str) -> Any:
    return coerce(value, hint, where, {Action: _action})


# --- applying -----------------------------------------------------------------------------


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


def proven_changes(saved: Sequence[Change], fresh: Sequence[Change]) -> list[Change]:
    """The saved (reviewed) changes, in the fresh safe order, once each equals a fresh one.

    ``fresh`` is the plan derived at apply time from the same config and targets, on fresh
    reads and with every guard run again. A saved change that is missing, extra, or
    differs in any field but its prose is refused, naming the address, and nothing is
    applied. The saved changes are what runs, so the ETags the reviewer saw are the ones
    sent as If-Match.
    """
    saved_by = {c.address: c for c in saved}
    fresh_by = {c.address: c for c in fresh}
    problems = [f"{a}: the saved plan carries a change the configuration does not derive now"
                for a in sorted(saved_by.keys() - fresh_by.keys())]
    problems += [f"{a}: the configuration now derives a change the saved plan lacks"
                 for a in sorted(fresh_by.keys() - saved_by.keys())]
    for address in sorted(saved_by.keys() & fresh_by.keys()):
        problem = _difference(saved_by[address], fresh_by[address])
        if problem:
            problems.append(f"{address}: {problem}")
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise StalePlan(
            "the saved plan does not match what its configuration derives from the environment now, "
            f"so nothing was applied:\n{listed}\n"
            "If the plan file was edited, discard it; otherwise run `sssctl plan --out` again and review it"
        )
    return [saved_by[c.address] for c in fresh]


def _difference(saved: Change, fresh: Change) -> str | None:
    mine, theirs = change_to_dict(saved), change_to_dict(fresh)
    differ = sorted(k for k in mine.keys() | theirs.keys()
                    if k not in _UNCOMPARED_FIELDS and mine.get(k) != theirs.get(k))
    if not differ:
        return None
    if set(differ) <= _MOVED_FIELDS:
        return f"the object changed since the plan was made ({', '.join(differ)} differ from a fresh read)"
    return f"the saved change is not the one derived now ({', '.join(differ)} differ)"
