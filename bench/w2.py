"""``make bench BENCH_ARGS="--w2"``: W2, 100,000 mailboxes in W1's shape, then the contention scenarios.

The same measurements as W1 (:mod:`bench.w1`: sssctl, the naive way and the floor side by
side, a scaling table, the hardened apply) at twice the size, followed by
:mod:`bench.contention`'s hardened applies under faults and shared budgets next to their
fault-free run, on the same emulator.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from bench.contention import run_contention
from bench.w1 import parse, run


def main(argv: Sequence[str]) -> int:
    counts, args = parse(argv, w2=True)
    contention = partial(run_contention, more_seeds=args.fault_seeds)
    extra = None if args.no_contention else contention
    return run(counts, hardened=not args.no_hardened, w2=True, extra=extra)
