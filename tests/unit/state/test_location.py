"""The snapshot's recorded location and the breadcrumb: strictly typed, never a secret, optional."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sssctl.state.backend import LocalBackend
from sssctl.state.errors import StateCorrupt
from sssctl.state.location import Location, read_breadcrumb, write_breadcrumb
from sssctl.state.model import Snapshot, checksum_of

BLOB = {"kind": "azurerm", "account_url": "https://acct.blob.core.windows.net", "container": "sssctl",
        "key": "prod.sssctl.json"}


def sealed(document: dict[str, Any]) -> dict[str, Any]:
    document["checksum"] = checksum_of(document)
    return document


def snapshot_document(**extra: Any) -> dict[str, Any]:
    empty = Snapshot.new(url="https://contoso.crm.dynamics.com", organization_id="o", name="n")
    document = empty.to_document()
    del document["checksum"]
    return sealed({**document, **extra})


def test_a_snapshot_without_a_location_still_loads() -> None:
    assert Snapshot.from_document(snapshot_document(), where="old.json").location is None


def test_a_recorded_location_round_trips() -> None:
    loaded = Snapshot.from_document(snapshot_document(location=BLOB), where="s.json")
    assert loaded.location == Location.blob(BLOB["account_url"], "sssctl", "prod.sssctl.json")
    assert loaded.to_document()["location"] == BLOB


@pytest.mark.parametrize("location, said", [
    ("azurerm", "must be an object"),
    ({"kind": "s3", "path": "x"}, "location.kind"),
    ({"kind": "local", "path": 3}, "location.path must be a non-empty string"),
    ({"kind": "local", "path": ""}, "location.path must be a non-empty string"),
    ({"kind": "local", "path": "state", "container": "c"}, "unknown key"),
    ({**BLOB, "sas_token": "sv=2024&sig=abc"}, "unknown key"),
    ({**BLOB, "account_url": "https://acct.blob.core.windows.net/?sv=1&sig=abc"}, "without a query"),
    ({**BLOB, "account_url": "https://user:pw@acct.blob.core.windows.net"}, "user info"),
    ({**BLOB, "account_url": "http://acct.blob.core.windows.net"}, "https storage URL"),
    ({**BLOB, "container": "a/b"}, "must not contain '/'"),
    ({k: v for k, v in BLOB.items() if k != "key"}, "location.key must be a non-empty string"),
])
def test_a_malformed_location_is_refused_naming_the_file_and_key(location: Any, said: str) -> None:
    with pytest.raises(StateCorrupt) as refused:
        Snapshot.from_document(snapshot_document(location=location), where="s.json")
    assert said in str(refused.value) and "state file s.json" in str(refused.value)


def test_a_local_backend_records_its_directory_relative_to_the_config(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "state", "env")
    backend.location = Location.local(backend.directory, tmp_path)
    backend.breadcrumb = tmp_path / "state" / "env.location"
    first = Snapshot.new(url="https://contoso.crm.dynamics.com", organization_id="o", name="env")
    backend.write(first, replaces=None)
    stored = backend.read()
    assert stored is not None and stored.location == Location(kind="local", path="state")
    assert read_breadcrumb(backend.breadcrumb) == Location(kind="local", path="state")
    assert Location.local(Path("/elsewhere/state"), tmp_path).path == "/elsewhere/state"


@pytest.mark.parametrize("text", ["{", "[]", '{"kind": "local"}', '{"kind":"local","path":"a","path":"b"}',
                                  "x" * 5000])
def test_a_damaged_breadcrumb_is_ignored_not_trusted(tmp_path: Path, text: str) -> None:
    crumb = tmp_path / "env.location"
    crumb.write_text(text)
    assert read_breadcrumb(crumb) is None
    write_breadcrumb(crumb, Location(kind="local", path="state"))
    assert read_breadcrumb(crumb) == Location(kind="local", path="state")


def test_an_unwritable_breadcrumb_does_not_fail_the_run(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    write_breadcrumb(blocker / "env.location", Location(kind="local", path="state"))  # no exception
