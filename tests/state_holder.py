"""A separate process that takes the state lock the CLI would take, holds it, then lets go.

``python -m tests.state_holder CONFIG SECONDS`` prints the lock ID once it holds the lock
(so the test knows when to start racing), sleeps, and unlocks; killed with SIGKILL it
leaves the lock behind exactly as a crashed run would. With ``--until-input`` it lets go
as soon as a line (or end of input) arrives on stdin, SECONDS being only the upper bound:
a test that must see another process wait releases the lock once it has seen the wait,
whatever the machine's speed.
"""

from __future__ import annotations

import os
import select
import sys
import time
from pathlib import Path

from sssctl.config.loader import load
from sssctl.state.factory import backend_for


def main() -> None:
    config, seconds = Path(sys.argv[1]), float(sys.argv[2])
    backend = backend_for(load(config, os.environ), os.environ)
    lock_id = backend.lock("apply")
    print(lock_id, flush=True)
    if "--until-input" in sys.argv[3:]:
        select.select([sys.stdin], [], [], seconds)
    else:
        time.sleep(seconds)
    backend.unlock(lock_id)


if __name__ == "__main__":
    main()
