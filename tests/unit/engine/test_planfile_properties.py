"""Whatever JSON-shaped values kinds put in a change, a saved plan gives them back unchanged;
whatever byte of it is damaged, loading gives the same plan back or refuses, never anything else."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sssctl.engine import planfile
from sssctl.engine.errors import EngineError
from sssctl.engine.plan import Action, Change, Plan
from sssctl.engine.render.common import to_plain

scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
mappings = st.dictionaries(st.text(min_size=1, max_size=10), values, max_size=5)
changes = st.builds(
    Change,
    address=st.from_regex(r"[a-z_]{1,12}(\.[A-Za-z0-9]{1,12})?", fullmatch=True),
    action=st.sampled_from(list(Action)),
    before=st.none() | mappings,
    after=st.none() | mappings,
    reason=st.text(max_size=40),
    etag=st.none() | st.text(max_size=12),
    detail=mappings,
)


@pytest.mark.timeout(120)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(changes, max_size=6, unique_by=lambda c: c.address))
def test_saved_plans_round_trip(tmp_path: Path, items: list[Change]) -> None:
    plan = Plan(changes=tuple(items), environment_url="https://x", organization_id="o", state_lineage="l",
                state_serial=3, config_digest="d", created_at="t")
    path = tmp_path / "p.plan"
    planfile.save(path, plan, environment_name="e", config_path=tmp_path / "c.toml")
    loaded = planfile.load(path).plan
    assert len(loaded.changes) == len(items)
    for original, back in zip(items, loaded.changes, strict=True):
        assert (back.address, back.action, back.reason, back.etag) == (
            original.address, original.action, original.reason, original.etag)
        assert back.before == to_plain(original.before)
        assert back.after == to_plain(original.after)
        assert back.detail == to_plain(original.detail)


@pytest.mark.timeout(120)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_damaged_byte_is_refused_or_changes_nothing(tmp_path: Path, data: st.DataObject) -> None:
    plan = Plan(changes=(Change("approval", Action.UPDATE, {"on": False}, {"on": True}, "r", 'W/"1"',
                                {"ids": [1, 2]}),),
                environment_url="https://x", organization_id="o", state_lineage="l", state_serial=3,
                config_digest="d", created_at="t")
    path = tmp_path / "p.plan"
    planfile.save(path, plan, environment_name="e", config_path=tmp_path / "c.toml")
    raw = bytearray(path.read_bytes())
    where = data.draw(st.integers(0, len(raw) - 1))
    raw[where] = data.draw(st.integers(0, 255).filter(lambda b: b != raw[where]))
    path.write_bytes(bytes(raw))
    try:
        loaded = planfile.load(path).plan
    except EngineError:
        return
    assert loaded.changes == (dataclasses.replace(plan.changes[0], detail={"ids": [1, 2]}),)
    assert loaded == dataclasses.replace(plan, changes=loaded.changes)
