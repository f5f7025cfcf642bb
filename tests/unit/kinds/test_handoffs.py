"""Kinds share facts through typed hand-offs, never through each other's ``detail`` or reading.

Every guard test plans through :func:`tests.support.planning.refusals`, which seals other
kinds' private data; these tests prove the seal bites and cover the hand-offs the
profiles' guards judge a teardown by.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from sssctl.config.model import Desired
from sssctl.engine.kind import Context, KindDefaults, KindSpec, Observed
from sssctl.engine.plan import Action, Change
from sssctl.kinds import server_profile_custom
from sssctl.kinds.handoffs import CanaryPlacements
from tests.support import planning

pytestmark = pytest.mark.timeout(30)

PROFILE = 'server_profile.custom["Contoso EXO"]'
CANARY = 'canary["Contoso EXO"]'


def _desired() -> Desired:
    return Desired(version=1, source=Path("t.toml"), digest="x")


def _context() -> Context:
    return Context(desired=_desired(), dataverse=None)  # type: ignore[arg-type]  # guards do no I/O


class Nosy(KindDefaults):
    """A guard that judges the plan by another kind's private data."""

    spec = KindSpec(name="nosy", prefix="nosy")

    def __init__(self, look: str) -> None:
        self.look = look

    def guard(self, ctx: Context, changes: Sequence[Change], observed: Mapping[str, Observed]) -> list[str]:
        if self.look == "detail":
            return [str(c.detail.get("profile_name")) for c in changes if c.address == "mailboxes"]
        return [str(observed["mailboxes"].objects.get("mailboxes"))]


@pytest.mark.parametrize("look", ["detail", "reading"])
def test_a_guard_reading_another_kinds_private_data_fails_the_test(look: str) -> None:
    changes = [Change("mailboxes", Action.UPDATE, {}, {}, "revert", detail={"profile_name": "Contoso EXO"})]
    observed = {"mailboxes": Observed(objects={"mailboxes": {}}), "nosy": Observed(objects={})}
    with pytest.raises(AssertionError, match="belongs to that kind"):
        planning.refusals([Nosy(look)], _context(), changes, observed)  # type: ignore[list-item]


def _teardown(ctx: Context) -> list[str]:
    """The custom profile's guard over deleting a profile one mailbox (the canary) still uses."""
    mine = Observed(objects={}, extra={"usage": {"Contoso EXO": {"id": "p-1", "mailboxes": 1}}})
    changes = [
        Change(CANARY, Action.DELETE, {"mailbox": "canary@contoso.com"}, None, "put back",
               detail={"mailbox_id": "m-1", "profile": "Contoso EXO"}),
        Change(PROFILE, Action.DELETE, {}, None, "delete", detail={"name": "Contoso EXO"}),
    ]
    observed: dict[str, Any] = {"server_profile_custom": mine, "canary": Observed(objects={CANARY: {}})}
    return planning.refusals([server_profile_custom.KIND], ctx, changes, observed)


def test_a_canary_put_back_frees_the_profile_it_was_handed_over_on() -> None:
    ctx = _context()
    ctx.handoffs.put("canary", CanaryPlacements(on_profile={CANARY: "contoso exo"}))
    assert _teardown(ctx) == []


def test_without_the_canarys_hand_off_its_mailbox_still_counts() -> None:
    ctx = _context()
    ctx.handoffs.put("canary", CanaryPlacements(on_profile={CANARY: "Fabrikam EXO"}))
    (refusal,) = _teardown(ctx)
    assert "1 mailboxes would still point at it" in refusal
    assert _teardown(_context()) == [refusal]
