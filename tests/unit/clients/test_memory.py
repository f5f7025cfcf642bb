"""The allocator cap is harmless to ask for, wherever the run happens."""

from __future__ import annotations

import sys

from sssctl.clients._memory import limit_malloc_arenas


def test_capping_the_allocators_arenas_is_idempotent_and_never_fails() -> None:
    first = limit_malloc_arenas()
    assert limit_malloc_arenas() is first
    if not sys.platform.startswith("linux"):
        assert first is False
