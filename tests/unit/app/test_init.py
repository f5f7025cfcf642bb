"""`sssctl init` and the packaged examples that `init` and `demo` read from any directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from sssctl.app.demo import EXAMPLES, FLEET_EXAMPLE, InitError, example_path, packaged
from sssctl.cli import cli
from sssctl.config.loader import load

CONFIGS = Path(__file__).resolve().parents[3] / "configs"


def as_written(name: str, target: Path) -> str:
    """The example as init writes it: its usage lines name the file written."""
    return example_path(name).read_text(encoding="utf-8").replace(f"configs/{name}.toml", str(target))


def init(*args: str) -> Result:
    return CliRunner().invoke(cli, ["init", *args])


ROOT = CONFIGS.parent


@pytest.mark.parametrize("name", EXAMPLES)
def test_packaged_example_is_identical_to_the_one_in_configs(name: str) -> None:
    assert packaged(f"{name}.toml").read_bytes() == (CONFIGS / f"{name}.toml").read_bytes()


@pytest.mark.parametrize(("packaged_dir", "origin", "pattern"), [
    ("fleet", CONFIGS / "fleet", "*.toml"),
    ("policy", ROOT / "examples" / "policy", "*.rego"),
])
def test_packaged_fleet_and_policies_are_identical_to_the_repositorys(packaged_dir: str, origin: Path,
                                                                      pattern: str) -> None:
    shipped = {p.name: p.read_bytes() for p in packaged(packaged_dir).glob(pattern)}
    assert shipped == {p.name: p.read_bytes() for p in origin.glob(pattern)} != {}


def test_the_package_declares_its_types_and_ships_every_example() -> None:
    """What setuptools puts in the wheel: the package-data patterns must match every shipped file."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["sssctl"]
    package = ROOT / "sssctl"
    assert (package / "py.typed").is_file() and "py.typed" in patterns
    shipped = {p for pattern in patterns for p in package.glob(pattern)}
    assert {p for p in (package / "examples").rglob("*") if p.is_file()} <= shipped


def test_init_writes_the_example_fleet_into_a_directory_and_it_loads(tmp_path: Path) -> None:
    from sssctl.fleet import file as fleet_file

    target = tmp_path / "fleet"
    result = init("--example", "fleet", str(target))
    assert result.exit_code == 0, result.output
    fleet = fleet_file.load(target / "fleet.toml")
    assert fleet.names() == ["dev", "test", "prod", "prod-emea"]
    assert all(load(m.config, {}).environment.name for m in fleet.members)
    assert "configs/" not in (target / "fleet.toml").read_text()
    assert f"sssctl fleet validate {target / 'fleet.toml'}" in result.output
    again = init("--example", "fleet", str(target))
    assert again.exit_code == 1 and "nothing was written" in again.output


def test_policy_path_names_the_shipped_policies_and_schema_fleet_the_fleet_schema() -> None:
    result = CliRunner().invoke(cli, ["policy", "path"])
    assert result.exit_code == 0
    shipped = Path(result.output.strip())
    assert sorted(p.name for p in shipped.glob("*.rego")) == sorted(
        p.name for p in (ROOT / "examples" / "policy").glob("*.rego"))
    fleet_schema = CliRunner().invoke(cli, ["schema", "--fleet"])
    assert fleet_schema.output == (CONFIGS / "fleet.schema.json").read_text(encoding="utf-8")


def test_validate_without_a_file_takes_sssctl_toml_like_every_command(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SSSCTL_CONFIG", raising=False)
    missing = CliRunner().invoke(cli, ["validate"])
    assert missing.exit_code == 1 and "sssctl init" in missing.output
    assert init("--example", "minimal").exit_code == 0
    found = CliRunner().invoke(cli, ["validate"])
    assert found.exit_code == 0 and "sssctl.toml: valid" in found.output


def test_the_written_file_names_itself_not_the_repository_path(tmp_path: Path) -> None:
    target = tmp_path / "prod.toml"
    assert init("--example", "hardened", str(target)).exit_code == 0
    text = target.read_text()
    assert "configs/hardened.toml" not in text and f"sssctl validate {target}" in text


def test_the_cli_offers_exactly_the_packaged_examples() -> None:
    command = cli.commands["init"]
    example = next(p for p in command.params if p.name == "example")
    assert isinstance(example.type, click.Choice)
    assert tuple(example.type.choices) == (*EXAMPLES, FLEET_EXAMPLE)


def test_init_writes_the_hardened_example_to_sssctl_toml_and_it_validates(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = init()
    assert result.exit_code == 0, result.output
    written = tmp_path / "sssctl.toml"
    assert written.read_text() == as_written("hardened", Path("sssctl.toml"))
    assert load(written, {}).environment.name == "contoso-prod"
    assert "sssctl validate sssctl.toml" in result.output


def test_init_writes_the_chosen_example_where_asked(tmp_path: Path) -> None:
    target = tmp_path / "incident.toml"
    assert init("--example", "lockdown", str(target)).exit_code == 0
    assert target.read_text() == as_written("lockdown", target)


def test_init_refuses_to_overwrite_and_leaves_the_file_alone(tmp_path: Path) -> None:
    target = tmp_path / "sssctl.toml"
    target.write_text("mine")
    result = init(str(target))
    assert result.exit_code == 1
    assert "already exists" in result.output and "--force" in result.output
    assert target.read_text() == "mine"


def test_init_force_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "sssctl.toml"
    target.write_text("mine")
    assert init("--force", "--example", "minimal", str(target)).exit_code == 0
    assert target.read_text() == as_written("minimal", target)


def test_init_into_a_directory_says_to_name_a_file(tmp_path: Path) -> None:
    result = init(str(tmp_path))
    assert result.exit_code == 1
    assert "is a directory" in result.output


def test_an_unknown_example_name_lists_the_known_ones() -> None:
    with pytest.raises(InitError, match="hardened, hardened-rbac, lockdown, minimal"):
        example_path("strict")


def test_shell_completion_offers_init_and_its_examples() -> None:
    env = {**os.environ, "_SSSCTL_COMPLETE": "bash_complete", "COMP_WORDS": "sssctl init --example ",
           "COMP_CWORD": "3"}
    done = subprocess.run([sys.executable, "-m", "sssctl"], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.stdout.split() == [f"plain,{name}" for name in (*EXAMPLES, FLEET_EXAMPLE)]
