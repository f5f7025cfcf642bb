#!/usr/bin/env python3
"""Entry point of ``make bench`` (see bench/suite.py for what is measured and how).

Run as a script, so the repository root is put on the import path to reach the
``bench`` package the same way the workers do (``python -m bench.worker``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.suite import main  # needs the path above

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
