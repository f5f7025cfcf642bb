"""The fleet file is validated like a config, and its JSON Schema is the committed one."""

from __future__ import annotations

from pathlib import Path

import pytest

from sssctl import exitcodes
from sssctl.app.fleet.run import most_severe
from sssctl.config.errors import ConfigError
from sssctl.fleet import file as fleet_file

ROOT = Path(__file__).resolve().parents[3]


def test_the_committed_schema_is_the_generated_one() -> None:
    committed = (ROOT / "configs" / "fleet.schema.json").read_text(encoding="utf-8")
    assert committed == fleet_file.render_schema()


def test_the_example_fleet_loads_with_paths_relative_to_it() -> None:
    fleet = fleet_file.load(ROOT / "configs" / "fleet" / "fleet.toml")
    assert fleet.names() == ["dev", "test", "prod", "prod-emea"] and fleet.baseline == "prod"
    emea = fleet.member("prod-emea")
    assert emea.config == ROOT / "configs" / "fleet" / "prod.toml"
    assert emea.overrides() == {"url": "https://contoso-emea.crm4.dynamics.com", "name": "contoso-prod-emea"}


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "fleet.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        fleet_file.load(path)
    return [f.render() for f in caught.value.findings]


def test_a_misspelt_key_names_file_line_key_and_suggestion(tmp_path: Path) -> None:
    problems = _problems(tmp_path, 'version = 1\n[members.dev]\nconfig = "dev.toml"\nulr = "https://x"\n')
    assert problems == [f'{tmp_path / "fleet.toml"}:4: members.dev.ulr: unknown key in [members.dev]; '
                        'allowed: config, url, name (did you mean "url"?)']


def test_bad_values_and_dangling_baseline_are_all_reported(tmp_path: Path) -> None:
    problems = _problems(tmp_path, 'version = 1\nbaseline = "prd"\n[members.prod]\nconfig = "p.toml"\n'
                                   'url = "http://plain"\n[members.dev]\nconfig = "d.toml"\nname = "x"\n'
                                   '[members.uat]\nconfig = "u.toml"\nname = "x"\n')
    joined = "\n".join(problems)
    assert 'baseline: names no member; members: prod, dev, uat (did you mean "prod"?)' in joined
    assert "members.prod.url" in joined and "https://" in joined
    assert "members.uat.name: 'x' is also the name of member 'dev'" in joined


def test_an_unknown_member_selected_is_refused_with_a_suggestion() -> None:
    fleet = fleet_file.load(ROOT / "configs" / "fleet" / "fleet.toml")
    with pytest.raises(ConfigError, match="no such member") as caught:
        fleet.select(["prodd"])
    assert caught.value.findings[0].suggestion == "prod"


@pytest.mark.parametrize(("codes", "worst"), [
    ([0, 2, 0], exitcodes.CHANGES_PRESENT),
    ([2, 3, 0], exitcodes.INCOMPLETE),
    ([3, 1, 4], exitcodes.ERROR),
    ([], exitcodes.OK),
])
def test_the_fleet_exits_with_the_most_severe_member_code(codes: list[int], worst: int) -> None:
    assert most_severe(codes) == worst


def test_a_member_whose_apply_met_an_unknown_exits_3_and_is_not_counted_failed() -> None:
    from sssctl.app.fleet.run import applied
    from sssctl.engine.applier import ApplyReport, Outcome
    from sssctl.engine.plan import Action, Change, Plan
    from sssctl.fleet.file import Member

    plan = Plan((), "https://x", "o", None, 0, "d", "t")
    unknown = Outcome(Change("app", Action.CREATE, None, {"a": 1}, "r"), "unknown", "graph: field keyId")
    member = applied(Member("a", Path("a.toml")), "a", plan, ApplyReport([unknown]))
    assert member.exit_code == exitcodes.INCOMPLETE and member.error is None
    assert "Unknown: app: graph: field keyId" in member.detail
    failed = Outcome(Change("b", Action.UPDATE, {}, {"a": 1}, "r"), "failed", "boom")
    other = applied(Member("b", Path("b.toml")), "b", plan, ApplyReport([failed]))
    assert most_severe([member.exit_code, other.exit_code]) == exitcodes.ERROR
