from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sssctl.config.errors import ConfigError, Finding
from sssctl.config.loader import load
from sssctl.config.model import Desired

CONFIGS = Path(__file__).resolve().parents[3] / "configs"

Write = Callable[..., Path]


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """Write a TOML file under tmp_path (``version = 1`` prepended unless told otherwise)."""

    def _write(text: str, name: str = "sssctl.toml", *, versioned: bool = True) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(("version = 1\n" if versioned else "") + text, encoding="utf-8")
        return path

    return _write


def load_ok(path: Path, environ: dict[str, str] | None = None) -> Desired:
    return load(path, environ or {})


def findings_of(path: Path, environ: dict[str, str] | None = None) -> list[Finding]:
    with pytest.raises(ConfigError) as caught:
        load(path, environ or {})
    return caught.value.findings


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, [f.render() for f in findings]
    return findings[0]
