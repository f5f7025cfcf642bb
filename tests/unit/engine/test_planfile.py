from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from sssctl.engine import planfile
from sssctl.engine.errors import EngineError, StalePlan
from sssctl.engine.plan import Action, Change, Plan

ORG = "org-1"
URL = "https://contoso.crm.dynamics.com"


def a_plan(**overrides: object) -> Plan:
    values: dict[str, object] = dict(
        changes=(
            Change("approval", Action.UPDATE, {"require_for_users": False}, {"require_for_users": True},
                   "not required", 'W/"12"', {"ids": ["a", "b"], "nested": {"n": (1, 2)}}),
            Change("mailboxes", Action.UNKNOWN, None, None, "could not be read: 403"),
        ),
        environment_url=URL, organization_id=ORG, state_lineage="lin", state_serial=4,
        config_digest="abc", created_at="2026-01-01T00:00:00Z",
    )
    values.update(overrides)
    return Plan(**values)  # type: ignore[arg-type]


def test_saved_plan_round_trips_every_change_field(tmp_path: Path) -> None:
    path = tmp_path / "p.plan"
    planfile.save(path, a_plan(), environment_name="contoso", config_path="/x/hardened.toml")
    saved = planfile.load(path)
    assert saved.environment_name == "contoso" and saved.config_path == "/x/hardened.toml"
    assert saved.plan.changes[0].etag == 'W/"12"'
    assert saved.plan.changes[0].detail == {"ids": ["a", "b"], "nested": {"n": [1, 2]}}
    assert saved.plan.changes[1].action is Action.UNKNOWN
    assert saved.plan.state_serial == 4 and saved.plan.state_lineage == "lin"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert {"format_version", "sssctl_version", "environment", "state", "config", "created_at",
            "changes"} <= set(document)


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


def test_not_a_plan_is_refused_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.plan"
    bad.write_text("{}")
    with pytest.raises(EngineError, match="not an sssctl plan"):
        planfile.load(bad)
    with pytest.raises(EngineError, match="does not exist"):
        planfile.load(tmp_path / "missing.plan")
    bad.write_text("{")
    with pytest.raises(EngineError, match="cannot be read as JSON"):
        planfile.load(bad)


def test_a_plan_made_before_any_state_is_refused_once_state_exists() -> None:
    plan = a_plan(state_lineage=None, state_serial=0)
    with pytest.raises(StalePlan, match="state was created since the plan was made"):
        planfile.check_fresh(plan, url=URL, organization_id=ORG, lineage="new", serial=1, config_digest="abc")
