"""`sssctl init` and the packaged examples that `init` and `demo` read from any directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from sssctl.app.demo import EXAMPLES, InitError, example_path
from sssctl.cli import cli
from sssctl.config.loader import load

CONFIGS = Path(__file__).resolve().parents[3] / "configs"


def init(*args: str) -> Result:
    return CliRunner().invoke(cli, ["init", *args])


@pytest.mark.parametrize("name", EXAMPLES)
def test_packaged_example_is_identical_to_the_one_in_configs(name: str) -> None:
    assert example_path(name).read_bytes() == (CONFIGS / f"{name}.toml").read_bytes()


def test_the_cli_offers_exactly_the_packaged_examples() -> None:
    command = cli.commands["init"]
    example = next(p for p in command.params if p.name == "example")
    assert isinstance(example.type, click.Choice)
    assert tuple(example.type.choices) == EXAMPLES


def test_init_writes_the_hardened_example_to_sssctl_toml_and_it_validates(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = init()
    assert result.exit_code == 0, result.output
    written = tmp_path / "sssctl.toml"
    assert written.read_bytes() == example_path("hardened").read_bytes()
    assert load(written, {}).environment.name == "contoso-prod"
    assert "sssctl validate sssctl.toml" in result.output


def test_init_writes_the_chosen_example_where_asked(tmp_path: Path) -> None:
    target = tmp_path / "incident.toml"
    assert init("--example", "lockdown", str(target)).exit_code == 0
    assert target.read_bytes() == example_path("lockdown").read_bytes()


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
    assert target.read_bytes() == example_path("minimal").read_bytes()


def test_init_into_a_directory_says_to_name_a_file(tmp_path: Path) -> None:
    result = init(str(tmp_path))
    assert result.exit_code == 1
    assert "is a directory" in result.output


def test_an_unknown_example_name_lists_the_known_ones() -> None:
    with pytest.raises(InitError, match="hardened, lockdown, minimal"):
        example_path("strict")


def test_shell_completion_offers_init_and_its_examples() -> None:
    env = {**os.environ, "_SSSCTL_COMPLETE": "bash_complete", "COMP_WORDS": "sssctl init --example ",
           "COMP_CWORD": "3"}
    done = subprocess.run([sys.executable, "-m", "sssctl"], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.stdout.split() == [f"plain,{name}" for name in EXAMPLES]
