"""Saved plans on disk: round trip, integrity, strict reading, freshness and re-derivation."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sssctl import __version__
from sssctl.engine import planfile
from sssctl.engine.errors import EngineError, StalePlan
from sssctl.engine.plan import Action, Change, Plan

ORG = "org-1"
URL = "https://contoso.crm.dynamics.com"
SELF_APPROVE = "org_setting.RequirePrivilegeToSelfApproveEmailAddress"

Document = dict[str, Any]


def a_plan(**overrides: object) -> Plan:
    values: dict[str, object] = dict(
        changes=(
            Change("approval", Action.UPDATE, {"require_for_users": False}, {"require_for_users": True},
                   "not required", 'W/"12"', {"ids": ["a", "b"], "nested": {"n": (1, 2)}}),
            Change(SELF_APPROVE, Action.UPDATE, {"value": False}, {"value": True}, "differs", 'W/"7"'),
            Change("org_setting.Other", Action.NOOP, {"value": 3}, {"value": 3}, "", 'W/"7"'),
        ),
        environment_url=URL, organization_id=ORG, state_lineage="lin", state_serial=4,
        config_digest="abc", created_at="2026-01-01T00:00:00Z",
    )
    values.update(overrides)
    return Plan(**values)  # type: ignore[arg-type]


@pytest.fixture
def saved_file(tmp_path: Path) -> Path:
    (tmp_path / "conf").mkdir()
    (tmp_path / "plans").mkdir()
    path = tmp_path / "plans" / "p.plan"
    planfile.save(path, a_plan(), environment_name="contoso", config_path=tmp_path / "conf" / "hardened.toml",
                  targets=["org_setting"])
    return path


def document_of(path: Path) -> Document:
    loaded: Document = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def write(path: Path, document: Document, *, reseal: bool) -> None:
    """Write an edited plan; ``reseal`` plays the attacker who recomputes the digest."""
    if reseal:
        document[planfile.INTEGRITY_KEY] = planfile.content_digest(document)
    path.write_text(json.dumps(document), encoding="utf-8")


# --- round trip -------------------------------------------------------------------------


def test_saved_plan_round_trips_every_change_field(saved_file: Path) -> None:
    saved = planfile.load(saved_file)
    assert saved.plan.changes == tuple(dataclasses.replace(
        c, detail={"ids": ["a", "b"], "nested": {"n": [1, 2]}} if c.detail else {}) for c in a_plan().changes)
    assert saved.environment_name == "contoso" and saved.targets == ("org_setting",)
    assert saved.plan.state_serial == 4 and saved.plan.state_lineage == "lin"
    assert saved.sssctl_version == __version__
    assert stat.S_IMODE(saved_file.stat().st_mode) == 0o600


def test_a_destroy_plan_stays_a_destroy_plan(tmp_path: Path) -> None:
    """apply derives a saved destroy plan again from an empty desired state, so the file says so."""
    path = tmp_path / "destroy.plan"
    planfile.save(path, a_plan(destroy=True), environment_name="e", config_path=tmp_path / "c.toml")
    assert planfile.load(path).plan.destroy is True
    assert planfile.load(path).plan == dataclasses.replace(planfile.load(path).plan, destroy=True)
    assert document_of(path)["destroy"] is True


def test_every_change_field_is_written_so_new_fields_need_no_edit() -> None:
    written = planfile.change_to_dict(a_plan().changes[0])
    assert list(written) == [f.name for f in dataclasses.fields(Change)]
    assert written["action"] == "update"


def test_the_config_is_recorded_relative_to_the_plan_and_resolved_against_it(saved_file: Path,
                                                                              tmp_path: Path) -> None:
    assert document_of(saved_file)["config"]["path"] == "../conf/hardened.toml"
    moved = tmp_path / "elsewhere" / "ci"
    moved.mkdir(parents=True)
    copy = moved / "p.plan"
    copy.write_bytes(saved_file.read_bytes())
    assert planfile.load(copy).config_file == tmp_path / "elsewhere" / "conf" / "hardened.toml"


# --- integrity: any edit without the digest recomputed ----------------------------------


def flip_action(doc: Document) -> None:
    doc["changes"][0]["action"] = "delete"


def edit_after(doc: Document) -> None:
    doc["changes"][1]["after"] = {"value": False}          # self-approval back on


def add_change(doc: Document) -> None:
    doc["changes"].append({**doc["changes"][1], "address": "org_setting.Injected"})


def remove_change(doc: Document) -> None:
    del doc["changes"][1]


def edit_etag(doc: Document) -> None:
    doc["changes"][1]["etag"] = 'W/"999"'


def edit_detail(doc: Document) -> None:
    doc["changes"][0]["detail"]["ids"].append("someone-else")


def edit_before(doc: Document) -> None:
    doc["changes"][1]["before"] = {"value": True}


TAMPERINGS: dict[str, tuple[Callable[[Document], None], str, str]] = {
    # name: (edit, address named at apply, what is said about it)
    "flipped action": (flip_action, "approval", "action differ"),
    "edited after": (edit_after, SELF_APPROVE, "after differ"),
    "added change": (add_change, "org_setting.Injected", "does not derive now"),
    "removed change": (remove_change, SELF_APPROVE, "the saved plan lacks"),
    "edited etag": (edit_etag, SELF_APPROVE, "changed since the plan was made (etag differ"),
    "edited detail": (edit_detail, "approval", "changed since the plan was made (detail differ"),
    "edited before": (edit_before, SELF_APPROVE, "changed since the plan was made (before differ"),
}


@pytest.mark.parametrize("name", sorted(TAMPERINGS))
def test_an_edit_without_a_new_digest_is_refused_before_any_field_is_used(saved_file: Path,
                                                                           name: str) -> None:
    edit, _, _ = TAMPERINGS[name]
    doc = document_of(saved_file)
    edit(doc)
    write(saved_file, doc, reseal=False)
    with pytest.raises(planfile.InvalidPlanFile, match="was modified after sssctl wrote it"):
        planfile.load(saved_file)


@pytest.mark.parametrize("field", ["environment", "state", "config", "targets", "created_at"])
def test_an_edited_header_without_a_new_digest_is_refused(saved_file: Path, field: str) -> None:
    doc = document_of(saved_file)
    doc[field] = {"environment": {**doc["environment"], "organization_id": "org-2"},
                  "state": {**doc["state"], "serial": 9}, "config": {**doc["config"], "digest": "x"},
                  "targets": [], "created_at": "2030-01-01T00:00:00Z"}[field]
    write(saved_file, doc, reseal=False)
    with pytest.raises(planfile.InvalidPlanFile, match="was modified"):
        planfile.load(saved_file)


def test_a_removed_digest_is_refused(saved_file: Path) -> None:
    doc = document_of(saved_file)
    del doc[planfile.INTEGRITY_KEY]
    write(saved_file, doc, reseal=False)
    with pytest.raises(planfile.InvalidPlanFile, match="carries no integrity digest"):
        planfile.load(saved_file)


# --- re-derivation: a consistent forgery (digest recomputed) ----------------------------


@pytest.mark.parametrize("name", sorted(TAMPERINGS))
def test_a_resealed_edit_is_refused_by_rederivation_naming_the_address(saved_file: Path, name: str) -> None:
    edit, address, words = TAMPERINGS[name]
    doc = document_of(saved_file)
    edit(doc)
    write(saved_file, doc, reseal=True)
    forged = planfile.load(saved_file)
    with pytest.raises(StalePlan) as caught:
        planfile.proven_changes(forged.plan.changes, a_plan().changes)
    message = str(caught.value)
    assert f"{address}: " in message and words in message
    assert "nothing was applied" in message


def test_proven_changes_are_the_saved_ones_in_the_fresh_order(saved_file: Path) -> None:
    saved = planfile.load(saved_file).plan.changes
    fresh = [dataclasses.replace(c, reason=f"re-worded {c.reason}") for c in reversed(a_plan().changes)]
    proven = planfile.proven_changes(saved, fresh)
    assert [c.address for c in proven] == [c.address for c in fresh]
    assert all(any(p is s for s in saved) for p in proven)     # what runs is what was reviewed


# --- strict typing of every field (digest recomputed, so only the type check stands) ----


def set_in(doc: Document, path: tuple[str | int, ...], value: Any) -> None:
    target: Any = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


@pytest.mark.parametrize(("path", "value", "words"), [
    (("changes", 0, "action"), "destroy-everything", "changes[0].action must be one of"),
    (("changes", 0, "action"), 1, "changes[0].action must be one of"),
    (("changes", 0, "detail"), ["not", "a", "mapping"], "changes[0].detail must be a JSON object"),
    (("changes", 0, "after"), "true", "changes[0].after must be"),
    (("changes", 0, "etag"), 12, "changes[0].etag must be"),
    (("changes", 0, "address"), None, "changes[0].address must be a string"),
    (("changes", 0, "address"), " ", "empty address"),
    (("changes", 1, "address"), "approval", "appears twice"),
    (("changes", 0, "surprise"), True, "unknown surprise"),
    (("state", "serial"), "4", "state.serial must be an integer"),
    (("state", "serial"), True, "state.serial must be an integer"),
    (("state", "serial"), -1, "negative"),
    (("refresh_only",), "no", "refresh_only must be true or false"),
    (("targets",), "org_setting", "targets must be a JSON array"),
    (("environment",), [], "environment must be a JSON object"),
    (("config", "path"), "/etc/evil.toml", "relative to the plan file"),
    (("changes",), {}, "changes must be a JSON array"),
])
def test_every_field_is_type_checked(saved_file: Path, path: tuple[str | int, ...], value: Any,
                                     words: str) -> None:
    doc = document_of(saved_file)
    set_in(doc, path, value)
    write(saved_file, doc, reseal=True)
    with pytest.raises(planfile.InvalidPlanFile, match="is malformed") as caught:
        planfile.load(saved_file)
    assert words in str(caught.value)


def test_a_missing_field_is_refused(saved_file: Path) -> None:
    doc = document_of(saved_file)
    del doc["changes"][0]["etag"]
    write(saved_file, doc, reseal=True)
    with pytest.raises(planfile.InvalidPlanFile, match=r"changes\[0\] has missing etag"):
        planfile.load(saved_file)


# --- bytes that are not a plan -----------------------------------------------------------


@pytest.mark.parametrize(("text", "words"), [
    ("", "cannot be read as JSON"),
    ("{", "cannot be read as JSON"),
    ("not json at all", "cannot be read as JSON"),
    ('{"serial": NaN}', "NaN is not a JSON number"),
    ('{"serial": -Infinity}', "-Infinity is not a JSON number"),
    ('{"serial": 1e999}', "out of range"),
    ('{"serial": ' + "9" * 5000 + "}", "a number of 5000 characters"),
    ('{"a": 1, "a": 2}', "duplicate key 'a'"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("[]", "not an sssctl plan"),
    ("{}", "carries no integrity digest"),
])
def test_bytes_that_are_not_a_plan_are_refused_clearly(tmp_path: Path, text: str, words: str) -> None:
    bad = tmp_path / "bad.plan"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(planfile.InvalidPlanFile) as caught:
        planfile.load(bad)
    assert words in str(caught.value)


def test_a_truncated_plan_is_refused(saved_file: Path) -> None:
    raw = saved_file.read_bytes()
    saved_file.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(planfile.InvalidPlanFile, match="cannot be read as JSON"):
        planfile.load(saved_file)


def test_a_plan_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.plan"
    bad.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(planfile.InvalidPlanFile, match="not UTF-8"):
        planfile.load(bad)


def test_a_huge_file_is_refused_without_reading_it_all(saved_file: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planfile, "MAX_BYTES", saved_file.stat().st_size - 1)
    with pytest.raises(planfile.InvalidPlanFile, match="larger than"):
        planfile.load(saved_file)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_is_refused_instead_of_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "p.plan"
    os.mkfifo(fifo)
    with pytest.raises(planfile.InvalidPlanFile, match="not a regular file"):
        planfile.load(fifo)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="does not exist"):
        planfile.load(tmp_path / "missing.plan")


# --- format and release ------------------------------------------------------------------


def test_a_plan_of_format_1_is_refused_with_the_way_out(tmp_path: Path) -> None:
    old = tmp_path / "old.plan"
    old.write_text(json.dumps({"format_version": "1", "changes": []}))
    with pytest.raises(planfile.InvalidPlanFile) as caught:
        planfile.load(old)
    assert "format 1" in str(caught.value) and "re-run `sssctl plan --out old.plan`" in str(caught.value)


def test_a_plan_of_another_release_is_refused(saved_file: Path) -> None:
    doc = document_of(saved_file)
    doc["sssctl_version"] = "0.0.1"
    write(saved_file, doc, reseal=True)
    with pytest.raises(planfile.InvalidPlanFile) as caught:
        planfile.load(saved_file)
    assert f"made by sssctl 0.0.1, and this is sssctl {__version__}" in str(caught.value)
    assert "with this release" in str(caught.value)


def test_an_unknown_format_is_refused(saved_file: Path) -> None:
    doc = document_of(saved_file)
    doc["format_version"] = "3"
    write(saved_file, doc, reseal=True)
    with pytest.raises(planfile.InvalidPlanFile, match="not an sssctl plan of format 2"):
        planfile.load(saved_file)


# --- freshness of the header -------------------------------------------------------------


def fresh(**kw: object) -> None:
    args: dict[str, object] = dict(url=URL, organization_id=ORG, lineage="lin", serial=4, config_digest="abc")
    args.update(kw)
    planfile.check_fresh(a_plan(), **args)  # type: ignore[arg-type]


def test_a_fresh_plan_passes() -> None:
    fresh()
    fresh(url=URL.upper() + "/")


@pytest.mark.parametrize(("change", "words"), [
    ({"serial": 5}, "serial 4 -> 5"),
    ({"lineage": "other"}, "lineage changed"),
    ({"config_digest": "def"}, "configuration changed"),
    ({"organization_id": "org-2"}, "made for organization org-1"),
    ({"url": "https://fabrikam.crm.dynamics.com"}, "made for organization org-1"),
])
def test_stale_plans_are_refused_with_the_reason(change: dict[str, object], words: str) -> None:
    with pytest.raises(StalePlan) as caught:
        fresh(**change)
    assert words in str(caught.value)
    assert "sssctl plan --out" in str(caught.value)


def test_a_plan_made_before_any_state_is_refused_once_state_exists() -> None:
    plan = a_plan(state_lineage=None, state_serial=0)
    with pytest.raises(StalePlan, match="state was created since the plan was made"):
        planfile.check_fresh(plan, url=URL, organization_id=ORG, lineage="new", serial=1, config_digest="abc")
