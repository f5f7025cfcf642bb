"""Run one job in a fresh Python process and read its one-line JSON answer.

Shared by the suite (``bench.worker`` jobs) and W1 (``bench.w1`` jobs), so that neither
imports the other.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.scenarios import REPO

WORKER_TIMEOUT = 900.0


class BenchError(RuntimeError):
    """A run failed; the message says which and carries the worker's last words."""


def run_worker(module: str, job: Mapping[str, Any], job_file: Path, what: str,
               timeout: float = WORKER_TIMEOUT) -> dict[str, Any]:
    """Run ``python -m module JOB.json`` in a fresh process; its last stdout line is the JSON result."""
    job_file.write_text(json.dumps(job), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", module, str(job_file)],
        cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = "\n".join(done.stderr.strip().splitlines()[-20:])
        raise BenchError(f"{what} failed with exit {done.returncode}:\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result
