"""The fleet file: TOML validated like a config, with file, key path, line and "did you mean".

The table below is the one description of the format; the validator walks it and
``configs/fleet.schema.json`` is generated from it, so the two cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sssctl.config import spec
from sssctl.config.errors import ConfigError, Finding
from sssctl.config.lines import LineIndex
from sssctl.config.loader import _read as read_toml_document
from sssctl.config.schema import node_schema
from sssctl.config.validate import Checker, suggest

KeyPath = tuple[str, ...]

MEMBER = spec.Table(
    "One environment of the fleet.",
    {
        "config": spec.Scalar("string", "The member's config file, relative to the fleet file "
                              "(usually an overlay that extends the baseline).", format=spec.NON_EMPTY),
        "url": spec.Scalar("string", "Overrides [environment].url of the config (and SSSCTL_URL).",
                           format=spec.HTTPS_URL),
        "name": spec.Scalar("string", "Overrides [environment].name: names the member's state snapshot.",
                            format=spec.NAME),
    },
    required=frozenset({"config"}),
)

FLEET = spec.Table(
    "sssctl fleet file, format v1: one baseline across many environments.",
    {
        "version": spec.Scalar("integer", "Format version; only 1 exists.", minimum=1, maximum=1),
        "baseline": spec.Scalar("string", "The member the others are compared with by "
                                "`sssctl diff --fleet` (default: the first member).", format=spec.NAME),
        "members": spec.MapOf("The environments, by member name.", MEMBER, "member name",
                              key_format=spec.NAME),
    },
    required=frozenset({"version", "members"}),
)


@dataclass(frozen=True)
class Member:
    name: str
    config: Path                   # resolved against the fleet file's directory
    url: str | None = None
    environment_name: str | None = None

    def overrides(self) -> dict[str, str]:
        return {k: v for k, v in (("url", self.url), ("name", self.environment_name)) if v}


@dataclass(frozen=True)
class Fleet:
    path: Path
    members: tuple[Member, ...]
    baseline: str

    def member(self, name: str) -> Member:
        for m in self.members:
            if m.name == name:
                return m
        raise ConfigError([Finding(str(self.path), "members", f"no member named {name!r}",
                                   suggestion=suggest(name, self.names()))])

    def names(self) -> list[str]:
        return [m.name for m in self.members]

    def select(self, names: Sequence[str]) -> tuple[Member, ...]:
        """The members asked for (``--member``), in fleet order; every unknown name is an error."""
        if not names:
            return self.members
        unknown = [n for n in names if n not in self.names()]
        if unknown:
            raise ConfigError([
                Finding(str(self.path), "members", f"--member {n!r}: no such member; members: "
                        f"{', '.join(self.names())}", suggestion=suggest(n, self.names()))
                for n in unknown])
        return tuple(m for m in self.members if m.name in names)


def load(path: Path) -> Fleet:
    """Read and validate a fleet file; raises :class:`ConfigError` listing every problem."""
    label = str(path)
    index, doc = read_toml_document(path, label)
    checker = Checker(lambda key_path: (label, index.line_of(key_path)))
    checker.node(FLEET, doc, ())
    _check_members(doc, checker, index)
    if checker.findings:
        raise ConfigError(sorted(checker.findings, key=lambda f: f.line or 0))
    base_dir = path.parent
    members = tuple(
        Member(name, base_dir / str(m["config"]), m.get("url"), m.get("name"))
        for name, m in doc["members"].items()
    )
    return Fleet(path, members, str(doc.get("baseline") or members[0].name))


def _check_members(doc: Mapping[str, Any], checker: Checker, index: LineIndex) -> None:
    members = doc.get("members")
    if not isinstance(members, dict):
        return
    if not members:
        checker.add(("members",), "a fleet needs at least one member: add [members.<name>] "
                    "with config = FILE")
        return
    baseline = doc.get("baseline")
    if isinstance(baseline, str) and baseline not in members:
        checker.add(("baseline",), f"names no member; members: {', '.join(members)}",
                    suggest(baseline, members))
    _check_distinct_names(members, checker)


def _check_distinct_names(members: Mapping[str, Any], checker: Checker) -> None:
    """Two members with the same environment name would share one state snapshot."""
    seen: dict[str, str] = {}
    for member, table in members.items():
        if not isinstance(table, dict) or not isinstance(table.get("name"), str):
            continue
        name = table["name"]
        if name in seen:
            checker.add(("members", member, "name"),
                        f"{name!r} is also the name of member {seen[name]!r}: each member needs its "
                        "own environment name, or they would share one state snapshot")
        seen[name] = member


def render_schema() -> str:
    """``configs/fleet.schema.json`` as committed."""
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "title": "sssctl fleet file (format v1)", **node_schema(FLEET)}
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


__all__ = ["FLEET", "Fleet", "Member", "load", "render_schema"]
