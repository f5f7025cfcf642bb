"""``sssctl watch`` as its own process, for tests of signals and leadership.

Usage: ``python -m tests.support.watch_process CONFIG [HOST:PORT]``; logs JSON lines to
stderr, exits with the watcher's code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sssctl.app.watch import WatchRequest, install_signal_handlers, run_watch
from sssctl.logging import configure_logging


def main(argv: list[str]) -> int:
    configure_logging(log_format="json", verbose=1)  # a service logs what it does
    listen = None
    if len(argv) > 1:
        host, _, port = argv[1].rpartition(":")
        listen = (host, int(port))
    request = WatchRequest(Path(argv[0]), dict(os.environ), listen=listen)
    return run_watch(request, install_signals=install_signal_handlers)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
