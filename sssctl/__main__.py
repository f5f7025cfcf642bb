"""``python -m sssctl``; a Ctrl-C while the modules load exits 130 without a traceback."""

import os
import sys

try:
    from sssctl.cli import main
except KeyboardInterrupt:
    sys.stderr.write("\nInterrupted (Ctrl-C) while starting: nothing was read or written.\n")
    sys.stderr.flush()
    os._exit(130)

main()
