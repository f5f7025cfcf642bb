"""Read a desired-state file (and the files it ``extends``) into a validated ``Desired``.

Order of work: parse every file of the ``extends`` chain, merge them (later file wins key by
key; tables merge deeply, arrays and secret references are replaced whole), take the
digest, apply the ``SSSCTL_*`` environment overrides, validate, build.

The digest is taken *before* environment overrides on purpose: a pipeline injects its
URL and secret through the environment, and a saved plan must still match the config it
was made from when ``apply`` runs in another job with other variables.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sssctl.config import build, spec
from sssctl.config.errors import ConfigError, Finding
from sssctl.config.lines import LineIndex
from sssctl.config.model import Desired
from sssctl.config.validate import validate

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on 3.10
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

KeyPath = tuple[str, ...]
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")
_REPLACED_WHOLE: frozenset[KeyPath] = spec.secret_ref_paths()


@dataclass(frozen=True)
class Source:
    """Where a key came from: a file (with its line index) or an environment variable."""

    label: str
    base_dir: Path
    index: LineIndex | None = None


@dataclass
class Result:
    """Outcome of loading one file for ``validate``: a Desired, or the findings that stop it."""

    path: Path
    desired: Desired | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.desired is not None


@dataclass
class _Merged:
    doc: dict[str, Any] = field(default_factory=dict)
    origins: dict[KeyPath, Source] = field(default_factory=dict)

    def source_of(self, path: KeyPath) -> Source | None:
        for end in range(len(path), 0, -1):
            found = self.origins.get(path[:end])
            if found is not None:
                return found
        return None

    def locate(self, path: KeyPath) -> tuple[str, int | None]:
        source = self.source_of(path)
        if source is None:
            top = next(iter(self.origins.values()), None)
            return (top.label if top else "<config>", None)
        return source.label, source.index.line_of(path) if source.index else None


def _read(path: Path, label: str) -> tuple[str, dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Finding(label, "", "file not found")]) from None
    except UnicodeDecodeError:
        raise ConfigError([Finding(label, "", "not a UTF-8 text file")]) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = getattr(exc, "strerror", None) or exc
        raise ConfigError([Finding(label, "", f"cannot read file: {reason}")]) from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        position = _TOML_POSITION.search(message)
        line = int(position.group(1)) if position else None
        raise ConfigError([Finding(label, "", f"TOML syntax error: {message}", line)]) from None


def _chain(path: Path, label: str, seen: list[Path]) -> list[tuple[Source, dict[str, Any]]]:
    """Every file of the ``extends`` chain, base first."""
    resolved = path.resolve()
    text, data = _read(path, label)
    source = Source(label, path.parent, LineIndex(text))
    if resolved in seen:
        cycle = " -> ".join(str(p) for p in [*seen[seen.index(resolved):], resolved])
        line = source.index.line_of(("extends",)) if source.index else None
        raise ConfigError([Finding(label, "extends", f"extends cycle: {cycle}", line)])
    parent = data.get("extends")
    if parent is None:
        return [(source, data)]
    if not isinstance(parent, str) or not parent.strip():
        line = source.index.line_of(("extends",)) if source.index else None
        raise ConfigError([Finding(label, "extends", "expected the path of a base file (a string)", line)])
    base = path.parent / parent
    try:
        return [*_chain(base, str(base), [*seen, resolved]), (source, data)]
    except ConfigError as exc:
        if any(f.message == "file not found" and f.file == str(base) for f in exc.findings):
            line = source.index.line_of(("extends",)) if source.index else None
            raise ConfigError([Finding(label, "extends", f"base file {base} not found", line)]) from None
        raise


def _merge_into(target: dict[str, Any], layer: Mapping[str, Any], source: Source, merged: _Merged,
                path: KeyPath = ()) -> None:
    for key, value in layer.items():
        here = (*path, key)
        if not path and key == "extends":
            continue
        merged.origins[here] = source
        if isinstance(value, dict) and isinstance(target.get(key), dict) and here not in _REPLACED_WHOLE:
            _merge_into(target[key], value, source, merged, here)
        else:
            target[key] = copy.deepcopy(value)
            _forget_below(merged, here)
            _record(value, source, merged, here)


def _forget_below(merged: _Merged, path: KeyPath) -> None:
    for known in [p for p in merged.origins if len(p) > len(path) and p[: len(path)] == path]:
        del merged.origins[known]


def _record(value: Any, source: Source, merged: _Merged, path: KeyPath) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            here = (*path, key)
            merged.origins[here] = source
            _record(item, source, merged, here)


def digest_of(doc: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of the merged document (dates as ISO text)."""
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _set(doc: dict[str, Any], path: KeyPath, value: Any) -> bool:
    """Set a nested key; refuses (False) to replace a non-table the file wrote on the way,
    so that validation still reports the file's own mistake."""
    current = doc
    for key in path[:-1]:
        nested = current.setdefault(key, {})
        if not isinstance(nested, dict):
            return False
        current = nested
    current[path[-1]] = value
    return True


def _apply_environment(merged: _Merged, environ: Mapping[str, str]) -> None:
    for name, path in spec.ENV_OVERRIDES.items():
        value = environ.get(name)
        if not value:
            continue
        if name == "SSSCTL_CLIENT_SECRET":
            from sssctl.logging import register_secret  # lazily: structlog is slow to import

            register_secret(value)
        if _set(merged.doc, path, {"env": name} if name == "SSSCTL_CLIENT_SECRET" else value):
            _forget_below(merged, path)
            merged.origins[path] = Source(f"${name}", Path.cwd())
    _apply_fallbacks(merged, environ)


def _apply_fallbacks(merged: _Merged, environ: Mapping[str, str]) -> None:
    """Fill keys still unset from the standard Azure variables (spec.ENV_FALLBACKS)."""
    for name, path in spec.ENV_FALLBACKS.items():
        value = environ.get(name)
        if not value or _lookup(merged.doc, path) is not None:
            continue
        if _set(merged.doc, path, value):
            merged.origins[path] = Source(f"${name}", Path.cwd())


def _lookup(doc: Mapping[str, Any], path: KeyPath) -> Any:
    current: Any = doc
    for key in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def _expand_user(value: str) -> Path:
    try:
        return Path(value).expanduser()
    except RuntimeError:  # "~someone" who does not exist here: keep the text as written
        return Path(value)


def state_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """``$SSSCTL_STATE_DIR`` if set; ``None`` lets the state layer use its default."""
    value = (os.environ if environ is None else environ).get("SSSCTL_STATE_DIR")
    return Path(value) if value else None


def load(path: Path, environ: Mapping[str, str] | None = None) -> Desired:
    """Load, layer, override from the environment, validate and build; raises ConfigError."""
    environ = os.environ if environ is None else environ
    path = Path(path)
    merged = _Merged()
    for source, data in _chain(path, str(path), []):
        _merge_into(merged.doc, data, source, merged)
    digest = digest_of({"version": 1, **merged.doc})  # an omitted version means 1: same digest
    _apply_environment(merged, environ)
    findings = validate(merged.doc, merged.locate)
    if findings:
        raise ConfigError(sorted(findings, key=lambda f: (f.file != str(path), f.file, f.line or 0)))

    def resolve(key_path: KeyPath, value: str) -> Path:
        source = merged.source_of(key_path)
        return (source.base_dir if source else path.parent) / _expand_user(value)

    return build.desired(merged.doc, source=path, digest=digest, resolve=resolve,
                         state_dir=state_dir(environ))


def load_many(paths: Iterable[Path], environ: Mapping[str, str] | None = None) -> list[Result]:
    """Load each file independently; one broken file never hides the others' results."""
    results: list[Result] = []
    for path in paths:
        try:
            results.append(Result(Path(path), load(Path(path), environ)))
        except ConfigError as exc:
            results.append(Result(Path(path), None, exc.findings))
    return results
