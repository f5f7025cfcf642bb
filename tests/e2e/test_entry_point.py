"""The installed ``sssctl`` command: a Ctrl-C while its modules load exits 130, one line.

pip's console script imports its target before any of sssctl's code runs; a slow import
is made to hang deterministically here (a ``sitecustomize`` whose import hook sleeps when
``sssctl.cli`` is asked for and says so in a file), so the Ctrl-C lands inside it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sssctl.config.loader import tomllib
from tests.e2e.conftest import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "sssctl"

SLOW_IMPORT = """
import sys, time
from pathlib import Path

class Slow:
    def find_spec(self, name, path=None, target=None):
        if name == "sssctl.cli":
            Path({marker!r}).write_text("importing")
            time.sleep(30)
        return None

sys.meta_path.insert(0, Slow())
"""


def test_the_console_script_points_at_the_guarded_entry() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts["sssctl"] == "sssctl.__main__:run"


@pytest.mark.skipif(not SCRIPT.exists(), reason="sssctl is not installed beside this Python")
def test_ctrl_c_while_the_installed_command_loads_exits_130_without_a_traceback(tmp_path: Path) -> None:
    marker = tmp_path / "importing"
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SLOW_IMPORT.format(marker=str(marker)), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(hooks)}
    running = subprocess.Popen([str(SCRIPT), "--help"], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(marker.exists, timeout=30, what="the command to start loading sssctl.cli")
        running.send_signal(signal.SIGINT)
        out, err = running.communicate(timeout=20)
    finally:
        running.kill()

    assert running.returncode == 130, out + err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert err.strip() == "Interrupted (Ctrl-C) while starting: nothing was read or written."
