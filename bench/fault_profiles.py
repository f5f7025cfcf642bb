"""The trouble the bench applies under, defined once: fault profiles and freshly seeded data.

Both fault benchmarks run ``configs/hardened.toml`` at 5,000 mailboxes under the same
**standard fault profile**: 20 % of requests answered 429 (a Dataverse one standing for
the three service protection limits drawn evenly, each with its code), 5 % 503 and 2 %
dropped connections, on every service, sign-in included, seeded so a rerun meets the
same sequence. :mod:`bench.contention` measures its cost with Microsoft's usual 1 s
``Retry-After``; :mod:`bench.faulted_applies` checks correctness over many seeds with
0.2 s, so the runs fit the time (the shape of the reaction is the same).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sssctl.emulator.admin_client import AdminClient

MAILBOXES = 5_000
HALF_BUDGETS = {"competing_share": 0.5}  # another integration, as the same user, takes half of each


def standard_profile(*, retry_after: float, seed: int) -> dict[str, Any]:
    """The standard fault profile with this ``Retry-After`` and fault seed."""
    return {"throttle_probability": 0.20, "retry_after_seconds": retry_after,
            "throttle_mix": "requests:1,execution:1,concurrent:1",
            "error_probability": 0.05, "drop_probability": 0.02, "fault_seed": seed}


def lost_answers(route: str, seed: int) -> dict[str, Any]:
    """30 % of the requests under ``route`` carried out, then their answer lost."""
    return {"lost_response_probability": 0.3, "fault_route": route, "fault_seed": seed}


def fresh_data(admin: AdminClient, mailboxes: int, faults: Mapping[str, Any] | None = None,
               **shape: Any) -> None:
    """Reseed the large dataset at ``mailboxes`` (plus ``shape``), zeroing counters and limit
    windows, then set ``faults`` alone: knobs of an earlier run never leak into this one."""
    admin.clear_faults()
    admin.reset(dataset="large", mailboxes=mailboxes, **shape)
    admin.clear_faults()
    if faults:
        admin.faults(**faults)
