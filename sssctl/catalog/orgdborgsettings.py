"""The OrgDBOrgSettings catalogue: which names exist, their type, default and range.

The data comes from ``orgdborgsettings.tsv`` (shipped as package data). A handful of its
rows are really columns of the ``organization`` table that the old editors showed next to
the XML settings; they are kept, flagged :attr:`Setting.is_org_column`, so that the
validator can say *where* such a name belongs instead of merely "unknown".

Lookups ignore case, because live XML and hand-written configs disagree on it, but always
answer with the canonical spelling: that is the spelling written back to Dataverse.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal

SettingType = Literal["Boolean", "Number", "String", "Double"]
_TYPES: frozenset[str] = frozenset({"Boolean", "Number", "String", "Double"})
_ORG_COLUMN_TAG = "organization column, not stored in orgdborgsettings"
_MIN_BUILD = re.compile(r"min build ([0-9][0-9.]*[0-9])")
_MAX_BUILD = re.compile(r"max build ([0-9][0-9.]*[0-9])")


@dataclass(frozen=True)
class Setting:
    """One catalogue row. ``minimum``/``maximum`` are ``None`` when the range is open."""

    name: str
    type: SettingType
    default: str | None
    minimum: int | float | None
    maximum: int | float | None
    description: str
    is_org_column: bool
    min_build: str | None
    max_build: str | None

    @property
    def summary(self) -> str:
        """The description without the bracketed provenance tag, for help and schema text."""
        return re.sub(r"\s*\[[^\]]*\]\s*$", "", self.description)


class Catalogue(Mapping[str, Setting]):
    """Case-insensitive, read-only view of every catalogue row, keyed by canonical name."""

    def __init__(self, settings: list[Setting]) -> None:
        self._by_name = {s.name: s for s in settings}
        self._by_folded = {s.name.casefold(): s for s in settings}

    def __getitem__(self, name: str) -> Setting:
        return self._by_folded[name.casefold()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.casefold() in self._by_folded

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def lookup(self, name: str) -> Setting | None:
        """The setting whatever the case of ``name``, or ``None`` if the catalogue lacks it."""
        return self._by_folded.get(name.casefold())

    def stored_settings(self) -> list[Setting]:
        """Settings that really live in the OrgDBOrgSettings XML (no organization columns)."""
        return [s for s in self._by_name.values() if not s.is_org_column]


def _number(text: str) -> int | float | None:
    text = text.strip()
    if not text:
        return None
    return float(text) if "." in text else int(text)


def _parse_row(row: dict[str, str]) -> Setting:
    kind = row["type"].strip()
    if kind not in _TYPES:
        raise ValueError(f"catalogue row {row['name']!r} has unknown type {kind!r}")
    description = row["description"].strip()
    min_build = _MIN_BUILD.search(description)
    max_build = _MAX_BUILD.search(description)
    return Setting(
        name=row["name"].strip(),
        type=kind,  # type: ignore[arg-type]  # checked against _TYPES just above
        default=row["default"].strip() or None,
        minimum=_number(row["min"]),
        maximum=_number(row["max"]),
        description=description,
        is_org_column=_ORG_COLUMN_TAG in description,
        min_build=min_build.group(1) if min_build else None,
        max_build=max_build.group(1) if max_build else None,
    )


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    """The shipped catalogue, parsed once per process (the CLI loads config on every command)."""
    text = resources.files("sssctl.catalog").joinpath("orgdborgsettings.tsv").read_text(encoding="utf-8")
    reader = csv.DictReader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)
    return Catalogue([_parse_row(row) for row in reader])


def lookup(name: str) -> Setting | None:
    """Shortcut for ``catalogue().lookup(name)``."""
    return catalogue().lookup(name)
