"""The emulator is an extra: a production install carries no web server, and the two
commands that need one say what to install instead of failing with a traceback."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from sssctl.cli import cli
from sssctl.config.loader import tomllib
from sssctl.emulator import extra

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "sssctl"
EMULATOR_ONLY = {"starlette", "uvicorn", "jwt"}


def _top_level_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_only_the_emulator_imports_the_web_stack_or_jwt() -> None:
    offenders = {str(p.relative_to(ROOT)): sorted(_top_level_imports(p) & EMULATOR_ONLY)
                 for p in PACKAGE.rglob("*.py") if "emulator" not in p.relative_to(PACKAGE).parts}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_runtime_requirements_leave_the_web_stack_to_the_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = " ".join(project["dependencies"]).lower()
    assert not any(name in runtime for name in ("starlette", "uvicorn", "pyjwt"))
    emulator = " ".join(project["optional-dependencies"]["emulator"]).lower()
    assert all(name in emulator for name in ("starlette", "uvicorn", "pyjwt"))
    assert "sssctl[emulator]" in project["optional-dependencies"]["dev"]


@pytest.mark.parametrize("args", [["demo"], ["emulator", "serve"]])
def test_without_the_extra_the_command_names_what_to_install(
        args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extra, "find_spec", lambda name: None if name == "uvicorn" else object())
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert "pip install '.[emulator]'" in result.output
    assert "missing: uvicorn" in result.output
    assert "Traceback" not in result.output


def test_with_the_extra_nothing_is_missing() -> None:
    assert extra.missing() == []
    assert extra.missing_message("demo") is None


def test_a_real_interpreter_without_the_web_stack_refuses_the_demo_and_runs_the_rest() -> None:
    """Hides starlette and uvicorn from the import system, as an install without the extra has
    them absent, then runs the CLI: the demo refuses in one sentence, validate still works."""
    script = textwrap.dedent("""
        import sys
        class Hide:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {"starlette", "uvicorn"}:
                    raise ModuleNotFoundError(name)
                return None
        sys.meta_path.insert(0, Hide())
        import importlib.util
        real = importlib.util.find_spec
        def find_spec(name, package=None):
            try:
                return real(name, package)
            except ModuleNotFoundError:
                return None
        import sssctl.emulator.extra as extra
        extra.find_spec = find_spec
        from sssctl.cli import main
        sys.argv = ["sssctl", *sys.argv[1:]]
        main()
    """)
    demo = subprocess.run([sys.executable, "-c", script, "demo"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert demo.returncode == 1, demo.stderr
    assert "missing: starlette, uvicorn" in demo.stderr
    assert "pip install '.[emulator]'" in demo.stderr
    valid = subprocess.run([sys.executable, "-c", script, "validate", str(ROOT / "configs" / "minimal.toml")],
                           capture_output=True, text=True, timeout=60, check=False)
    assert valid.returncode == 0, valid.stdout + valid.stderr
