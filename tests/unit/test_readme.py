"""README.md is the first thing users copy from: every TOML sample in it must validate."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sssctl.config.errors import ConfigError
from sssctl.config.loader import load

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"^```toml\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)


def test_the_readme_has_toml_samples() -> None:
    assert BLOCKS


@pytest.mark.parametrize("number", range(len(BLOCKS)), ids=lambda n: f"block{n + 1}")
def test_readme_toml_block_validates(number: int, tmp_path: Path) -> None:
    path = tmp_path / "readme.toml"
    path.write_text(BLOCKS[number], encoding="utf-8")
    try:
        load(path, {})
    except ConfigError as exc:
        pytest.fail(f"README.md ```toml block {number + 1} is invalid:\n{exc.render()}")
