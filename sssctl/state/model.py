"""The state snapshot: what sssctl last applied, and what was there before it.

One snapshot per environment (ARCHITECTURE §6). ``lineage`` identifies the history of
one environment's state and never changes; ``serial`` grows by one on every write, so a
saved plan can tell whether anything was applied since it was made. ``checksum`` covers
the canonical JSON of everything else: a file edited by hand or cut short is refused
rather than trusted, because a wrong ``original`` would make ``destroy`` restore the
wrong values.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from sssctl.state.errors import StateCorrupt
from sssctl.state.location import Location

FORMAT_VERSION = 1


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def canonical_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def checksum_of(document: Mapping[str, Any]) -> str:
    body = {k: v for k, v in document.items() if k != "checksum"}
    return "sha256:" + hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Snapshot:
    lineage: str
    serial: int
    environment: Mapping[str, Any]                 # url, organization_id, name
    resources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    updated_at: str = ""
    format_version: int = FORMAT_VERSION
    # Where the backend that wrote it keeps it (no secret); absent in older snapshots. Not
    # part of equality: the same snapshot copied elsewhere is still the same snapshot.
    location: Location | None = field(default=None, compare=False)

    @classmethod
    def new(cls, *, url: str, organization_id: str, name: str) -> Snapshot:
        """An empty snapshot with a fresh lineage; serial 0 means "never written"."""
        env = {"url": url, "organization_id": organization_id, "name": name}
        return cls(lineage=str(uuid.uuid4()), serial=0, environment=env, updated_at=utc_now())

    @property
    def organization_id(self) -> str | None:
        value = self.environment.get("organization_id")
        return str(value) if value else None

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "format_version": self.format_version,
            "lineage": self.lineage,
            "serial": self.serial,
            "environment": dict(self.environment),
            "resources": {a: dict(e) for a, e in sorted(self.resources.items())},
            "updated_at": self.updated_at,
        }
        if self.location is not None:
            document["location"] = self.location.to_document()
        document["checksum"] = checksum_of(document)
        return document

    @classmethod
    def from_document(cls, document: Any, *, where: str) -> Snapshot:
        """Parse and verify a stored document; ``where`` names the file in errors."""
        if not isinstance(document, dict):
            raise StateCorrupt(f"state file {where} is not a JSON object")
        if document.get("format_version") != FORMAT_VERSION:
            raise StateCorrupt(
                f"state file {where} has format_version {document.get('format_version')!r}; "
                f"this sssctl reads format {FORMAT_VERSION} only"
            )
        if document.get("checksum") != checksum_of(document):
            raise StateCorrupt(f"state file {where} fails its checksum: it was edited or cut short")
        problem = _shape_problem(document)
        if problem:
            raise StateCorrupt(f"state file {where} has a malformed field: {problem}")
        return cls(
            lineage=document["lineage"],
            serial=document["serial"],
            environment=dict(document["environment"]),
            resources={a: dict(e) for a, e in document["resources"].items()},
            updated_at=str(document.get("updated_at", "")),
            location=(Location.from_document(document["location"], where=f"state file {where}")
                      if "location" in document else None),
        )

    def stored_at(self, location: Location | None) -> Snapshot:
        """This snapshot as the backend at ``location`` writes it (same lineage and serial)."""
        return self if location is None or location == self.location else replace(self, location=location)

    def with_resources(self, resources: Mapping[str, Mapping[str, Any]], **env: Any) -> Snapshot:
        """The next snapshot: new resources, serial + 1, environment facts refreshed."""
        environment = {**self.environment, **{k: v for k, v in env.items() if v is not None}}
        return replace(
            self, serial=self.serial + 1, resources=dict(resources), environment=environment,
            updated_at=utc_now(),
        )


def _shape_problem(document: Mapping[str, Any]) -> str | None:
    """What is wrong with the document's shape, if anything.

    The checksum proves the file is whole, not that its author was sssctl: anyone can
    compute it. So every field later code relies on is checked for its type here.
    """
    serial = document.get("serial")
    if not isinstance(document.get("lineage"), str) or not document["lineage"]:
        return "lineage must be a non-empty string"
    if not isinstance(serial, int) or isinstance(serial, bool) or serial < 0:
        return "serial must be a non-negative integer"
    if not isinstance(document.get("environment"), dict):
        return "environment must be an object"
    resources = document.get("resources")
    if not isinstance(resources, dict):
        return "resources must be an object"
    for address, entry in resources.items():
        if not isinstance(entry, dict):
            return f"resources.{address} must be an object"
        for key in ("managed", "original", "fingerprints"):
            if entry.get(key) is not None and not isinstance(entry[key], dict):
                return f"resources.{address}.{key} must be an object or null"
    return None
