"""The per-run read cache: one load for concurrent callers, nothing shared outside a plan."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sssctl.config.model import Desired
from sssctl.engine.kind import Context

pytestmark = pytest.mark.timeout(30)


def context() -> Context:
    return Context(desired=Desired(version=1, source=Path("t.toml"), digest="d"), dataverse=None)  # type: ignore[arg-type]


class Loader:
    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail
        self.lock = threading.Lock()

    def __call__(self) -> list[str]:
        with self.lock:
            self.calls += 1
        time.sleep(0.02)  # long enough for every thread to arrive while the first loads
        if self.fail:
            raise LookupError("service said no")
        return ["profile"]


def test_concurrent_callers_share_one_load() -> None:
    ctx, load = context(), Loader()
    ctx.reads.share()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: ctx.reads.get("emailserverprofiles", load), range(8)))
    assert load.calls == 1 and answers == [["profile"]] * 8


def test_an_error_is_shared_too_not_retried_by_every_kind() -> None:
    ctx, load = context(), Loader(fail=True)
    ctx.reads.share()
    for _ in range(3):
        with pytest.raises(LookupError, match="service said no"):
            ctx.reads.get("queues", load)
    assert load.calls == 1


def test_apply_and_callers_outside_a_run_always_read_afresh() -> None:
    ctx, load = context(), Loader()
    ctx.reads.get("queues", load)
    ctx.reads.get("queues", load)
    assert load.calls == 2
    ctx.reads.share()
    ctx.reads.get("queues", load)
    ctx.reads.get("queues", load)
    assert load.calls == 3
    ctx.reads.stop_sharing()
    ctx.reads.get("queues", load)
    assert load.calls == 4


def test_forgetting_one_read_keeps_the_others() -> None:
    ctx, profiles, queues = context(), Loader(), Loader()
    ctx.reads.share()
    ctx.reads.get("emailserverprofiles", profiles)
    ctx.reads.get("queues", queues)
    ctx.reads.forget("emailserverprofiles")
    ctx.reads.get("emailserverprofiles", profiles)
    ctx.reads.get("queues", queues)
    assert (profiles.calls, queues.calls) == (2, 1)
