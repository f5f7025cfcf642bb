"""Process exit codes (ARCHITECTURE §7). One meaning per code, never reused."""

OK = 0                 # success, or no changes
ERROR = 1              # any error, including invalid configuration
CHANGES_PRESENT = 2    # plan --detailed-exitcode found changes
INCOMPLETE = 3         # some objects could not be read; the plan is incomplete
LOCKED = 4             # the state lock is held by another run
FINDINGS = 5           # audit --fail-on: a finding at or above the threshold
INTERRUPTED = 130      # stopped by Ctrl-C (128 + SIGINT, the shell's convention); state saved
