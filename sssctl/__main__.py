"""``python -m sssctl`` and the installed ``sssctl`` command; a Ctrl-C while the modules
load exits 130 with one line and no traceback.

The console script pip generates imports its target before any of sssctl's own code
runs, so pointing it at ``sssctl.cli:main`` would put the half-second import of click,
httpx, MSAL and the kinds outside every ``try``. It points here instead: this module
imports only the standard library, and :func:`run` makes the heavy import inside one.
"""

import os
import sys


def run() -> None:
    """Load the CLI and run it; a Ctrl-C during the load leaves at once, with exit 130."""
    try:
        from sssctl.cli import main
    except KeyboardInterrupt:
        sys.stderr.write("\nInterrupted (Ctrl-C) while starting: nothing was read or written.\n")
        sys.stderr.flush()
        os._exit(130)
    main()


if __name__ == "__main__":
    run()
