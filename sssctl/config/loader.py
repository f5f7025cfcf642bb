"""Read a desired-state file (and the files it ``extends``) into a validated ``Desired``.

Order of work: parse every file of the ``extends`` chain, merge them (later file wins key by
key; tables merge deeply, arrays and secret references are replaced whole), take the
digest, apply the ``SSSCTL_*`` environment overrides, validate, build.

A secret written inline in a file is refused whatever the environment says: the variable
that would replace it (``SSSCTL_CLIENT_SECRET``) leaves it in place for validation, since
a secret committed to git is exposed whether or not this run uses it, and a CI ``validate``
gating a pull request runs exactly where that variable is set.

The digest is taken *before* environment overrides on purpose: a pipeline injects its
URL and secret through the environment, and a saved plan must still match the config it
was made from when ``apply`` runs in another job with other variables.

Files are untrusted input: only regular files are read (a device, FIFO, directory or
standard input is refused before a byte is read), at most 1 MiB, and a parsed document
nested too deep, with absurdly long keys or too many of them, or with integers beyond
TOML's 64 bits is refused before anything walks it recursively. A UTF-8 byte-order mark
is accepted and dropped, since common Windows editors write one. Every refusal is a
``ConfigError`` naming the file, and the key path and line where one applies.
"""

from __future__ import annotations

import codecs
import copy
import hashlib
import json
import os
import re
import stat
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sssctl.config import build, spec
from sssctl.config.errors import ConfigError, Finding
from sssctl.config.lines import MAX_PARTS, LineIndex
from sssctl.config.model import Desired
from sssctl.config.validate import validate

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on 3.10
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

KeyPath = tuple[str, ...]
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")
_REPLACED_WHOLE: frozenset[KeyPath] = spec.secret_ref_paths()

# Limits far above any real configuration, so that a hostile or broken file ends in a
# ConfigError, not a hang, a RecursionError or a memory blow-up (module docstring).
MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 16           # the deepest real value sits 5 levels down
MAX_KEY_LENGTH = 256
MAX_KEYS = 2_000         # every OrgDBOrgSetting at once is a few hundred
MAX_EXTENDS = 16         # files in one extends chain
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_TOO_DEEP = "nested too deeply"
# A dotted key (or table header) of more than MAX_PARTS parts. It starts only where a key
# can start, so the search stays linear however long a key is.
_PART = r"""(?:[A-Za-z0-9_-]+|"[^"\n]*"|'[^'\n]*')"""
_LONG_DOTTED_KEY = re.compile(rf"(?<![A-Za-z0-9_-]){_PART}(?:[ \t]*\.[ \t]*{_PART}){{{MAX_PARTS}}}")
_OUT_OF_RANGE = "integer out of range: TOML integers are 64-bit (-2^63 to 2^63-1)"
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_NOCTTY = getattr(os, "O_NOCTTY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_FILE_TYPES = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


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


def _read(path: Path, label: str) -> tuple[LineIndex, dict[str, Any]]:
    """The parsed document of one file, refused unless it is safe to use (module docstring)."""
    text = _decode(_read_bytes(path, label), label)
    data = _parse(text, label)
    index = LineIndex(text)
    problem = shape_problem(data)
    if problem is not None:
        key_path, message = problem
        raise ConfigError([Finding(label, _spell(key_path), message, index.line_of(key_path))])
    return index, data


def _parse(text: str, label: str) -> dict[str, Any]:
    long_key = _LONG_DOTTED_KEY.search(text)
    if long_key is not None:  # the parser's time grows with the square of a key's parts
        why = f"{_TOO_DEEP}: a dotted key of more than {MAX_PARTS} parts"
        raise ConfigError([Finding(label, "", why, text.count("\n", 0, long_key.start()) + 1)])
    try:
        parsed: dict[str, Any] = tomllib.loads(text)
        return parsed
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        position = _TOML_POSITION.search(message)
        line = int(position.group(1)) if position else None
        raise ConfigError([Finding(label, "", f"TOML syntax error: {message}", line)]) from None
    except RecursionError:
        raise ConfigError([Finding(label, "", _TOO_DEEP)]) from None
    except ValueError as exc:  # an integer longer than Python converts from text
        raise ConfigError([Finding(label, "", _value_refused(exc))]) from None


def _value_refused(exc: ValueError) -> str:
    if "integer string conversion" in str(exc):
        return f"{_OUT_OF_RANGE}; this file has one with thousands of digits"
    return f"TOML value refused: {exc}"


def _read_bytes(path: Path, label: str) -> bytes:
    """At most ``MAX_FILE_BYTES`` of a regular file.

    ``O_NONBLOCK`` keeps a FIFO without a writer from blocking the open, and the type and
    size are checked with ``fstat`` on the descriptor that is then read, so nothing can be
    swapped in between the check and the read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | _O_NONBLOCK | _O_NOCTTY | _O_CLOEXEC)
    except FileNotFoundError:
        raise ConfigError([Finding(label, "", "file not found")]) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = getattr(exc, "strerror", None) or exc
        raise ConfigError([Finding(label, "", f"cannot read file: {reason}")]) from None
    try:
        return _bounded_read(fd, label)
    finally:
        os.close(fd)


def _bounded_read(fd: int, label: str) -> bytes:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        kind = _FILE_TYPES.get(stat.S_IFMT(info.st_mode), "not a regular file")
        raise ConfigError([Finding(label, "", f"cannot read file: it is {kind}; name a regular TOML file")])
    if info.st_size > MAX_FILE_BYTES:
        raise ConfigError([Finding(label, "", _too_big(info.st_size))])
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_FILE_BYTES:
        try:
            chunk = os.read(fd, MAX_FILE_BYTES + 1 - size)
        except OSError as exc:
            raise ConfigError([Finding(label, "", f"cannot read file: {exc.strerror or exc}")]) from None
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    raise ConfigError([Finding(label, "", _too_big(size))])  # it grew while being read


def _too_big(size: int) -> str:
    return (f"file too large ({size} bytes or more); a configuration file may be at most "
            f"{MAX_FILE_BYTES} bytes (1 MiB)")


def _decode(raw: bytes, label: str) -> str:
    """UTF-8 text; a leading UTF-8 byte-order mark (as Windows editors write) is dropped."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ConfigError([Finding(label, "", "not a UTF-8 text file: it is UTF-16; save it as UTF-8")])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError([Finding(label, "", "not a UTF-8 text file")]) from None


def shape_problem(data: Mapping[str, Any]) -> tuple[KeyPath, str] | None:
    """The first key path whose nesting, key length, key count or integer sssctl refuses.

    Walked with an explicit stack: the document may be nested as deep as the parser allows.
    """
    stack: list[tuple[KeyPath, int, Any]] = [((), 0, data)]
    keys = 0
    while stack:
        path, depth, value = stack.pop()
        if depth > MAX_DEPTH:
            return path, f"{_TOO_DEEP} (more than {MAX_DEPTH} levels)"
        if isinstance(value, dict):
            keys += len(value)
            if keys > MAX_KEYS:
                return path, f"more than {MAX_KEYS} keys; no sssctl configuration needs that many"
            for key, item in value.items():
                if len(key) > MAX_KEY_LENGTH:
                    return (*path, key), f"key longer than {MAX_KEY_LENGTH} characters"
                stack.append(((*path, key), depth + 1, item))
        elif isinstance(value, list):
            stack.extend((path, depth + 1, item) for item in value)
        elif isinstance(value, int) and not isinstance(value, bool) and not _INT64_MIN <= value <= _INT64_MAX:
            return path, _OUT_OF_RANGE
    return None


def _spell(path: KeyPath) -> str:
    """A key path fit for an error line, however long or deep the keys are."""
    shown = [key if len(key) <= 40 else key[:39] + "…" for key in path[:MAX_DEPTH]]
    return ".".join(shown) + (".…" if len(path) > MAX_DEPTH else "")


def _chain(path: Path, label: str, seen: list[Path]) -> list[tuple[Source, dict[str, Any]]]:
    """Every file of the ``extends`` chain, base first."""
    index, data = _read(path, label)
    source = Source(label, path.parent, index)
    resolved = path.resolve()
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
    if len(seen) + 1 >= MAX_EXTENDS:
        line = source.index.line_of(("extends",)) if source.index else None
        raise ConfigError([Finding(label, "extends", f"extends chain longer than {MAX_EXTENDS} files", line)])
    base = path.parent / parent
    try:
        return [*_chain(base, str(base), [*seen, resolved]), (source, data)]
    except ConfigError as exc:
        unreadable = _unreadable_base(exc, str(base))
        if unreadable is not None:
            line = source.index.line_of(("extends",)) if source.index else None
            raise ConfigError([Finding(label, "extends", unreadable, line)]) from None
        raise


def _unreadable_base(error: ConfigError, base: str) -> str | None:
    """The base file's own read failure, worded for the ``extends`` line that named it."""
    for finding in error.findings:
        if finding.file != base or finding.key_path:
            continue
        if finding.message == "file not found":
            return f"base file {base} not found"
        if finding.message.startswith("cannot read file: "):
            return f"base file {base} cannot be read: {finding.message.removeprefix('cannot read file: ')}"
    return None


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
            if isinstance(_lookup(merged.doc, path), str):
                continue  # an inline secret in the file stays there to be refused (below)
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


# Stands for a config made of the SSSCTL_* variables alone, no file (``sssctl export`` in a
# pipeline that has only the variables): loaded as an empty file would be, beside the
# working directory.
ENVIRONMENT_ONLY = Path("<SSSCTL_* variables>")


def load(path: Path, environ: Mapping[str, str] | None = None) -> Desired:
    """Load, layer, override from the environment, validate and build; raises ConfigError."""
    environ = os.environ if environ is None else environ
    path = Path(path)
    merged = _Merged()
    if path == ENVIRONMENT_ONLY:
        merged.origins[()] = Source(str(path), Path.cwd())
        path = Path.cwd() / path
    else:
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
