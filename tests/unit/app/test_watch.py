"""The rules of a watch cycle that need no service: what it reverts, who it emails, health."""

from __future__ import annotations

import time
from typing import Any

import pytest

from sssctl.app import watch_notify
from sssctl.app.watch import CycleResult, revertible, watched_kinds
from sssctl.app.watch_http import Health
from sssctl.config.model import WatchPolicy
from sssctl.engine.plan import Action, Change
from sssctl.kinds import load_kinds

pytestmark = pytest.mark.timeout(30)


def _change(kind: str, action: Action, address: str | None = None, **extra: Any) -> Change:
    return Change(address or kind, action, {}, {}, "why", kind=kind, **extra)


def test_revert_names_kinds_or_addresses() -> None:
    registry = load_kinds()
    kinds, targets = watched_kinds(registry, WatchPolicy(revert=("mailboxes", "server_profile.default")))
    assert {k.spec.name for k in kinds} == {"server_profile_default", "mailboxes"}
    assert targets == []
    kinds, targets = watched_kinds(registry, WatchPolicy(revert=("org_setting.Foo", "user_settings")))
    assert {k.spec.name for k in kinds} == {"org_setting", "user_settings"}
    assert targets == ["org_setting.Foo", "user_settings"]


def test_only_updates_are_reverted_and_never_behind_an_unknown_read() -> None:
    registry = load_kinds().only({"mailbox_defaults", "mailboxes", "user_settings", "org_setting"})
    changes = [
        _change("mailbox_defaults", Action.UNKNOWN),
        _change("mailboxes", Action.UPDATE),           # runs after mailbox_defaults: blocked
        _change("user_settings", Action.UPDATE),
        _change("org_setting", Action.CREATE, "org_setting.X"),
        _change("org_setting", Action.UPDATE, "org_setting.Y", restore=True),
        _change("org_setting", Action.NOOP, "org_setting.Z", report_only=True),
    ]
    reverts, reported, blocked = revertible(changes, registry)
    assert [c.address for c in reverts] == ["user_settings"]
    assert {c.address for c in reported} == {"mailboxes", "org_setting.X", "org_setting.Y", "org_setting.Z"}
    assert "mailboxes" in blocked and "user_settings" not in blocked


def test_each_author_is_emailed_once_and_sssctl_never() -> None:
    row = {"name": "a@contoso.com", "old": {}, "new": {}}
    authors = [{"id": "U1"}, {"id": "u1"}, {"id": "SSSCTL"}, None]
    event = {"reverted": [
        {"status": "applied", "rows": [{**row, "changed_by": author} for author in authors]},
        {"status": "failed", "rows": [{**row, "changed_by": {"id": "u2"}}]},
    ]}
    assert {k: len(v) for k, v in watch_notify.by_author(event, "sssctl").items()} == {"u1": 2}


def test_a_failing_notification_is_counted_and_stops_at_the_budget() -> None:
    delivery = watch_notify.Delivery()
    attempts: list[float] = []

    def failing() -> None:
        attempts.append(time.monotonic())
        raise ConnectionError("refused")

    started = time.monotonic()
    watch_notify._retrying("webhook", failing, started + 0.8, delivery)
    assert delivery.failed == 1 and delivery.sent == 0 and "refused" in delivery.errors[0]
    assert len(attempts) == 2 and time.monotonic() - started < 1.0   # 0.5 s pause, no second pause


def test_health_goes_stale_after_three_intervals() -> None:
    health = Health(interval=0.05)
    health.succeeded()
    assert health.report()[0]
    time.sleep(0.2)
    healthy, body = health.report()
    assert not healthy and body["status"] == "stale"
    health.standing_by()
    assert health.report()[0] and not health.report()[1]["leader"]


@pytest.mark.parametrize(("result", "outcome"), [
    (CycleResult(ok=True), "ok"),
    (CycleResult(ok=False, unknown=2), "unknown"),
    (CycleResult(ok=False, unknown=1, failed=1), "failed"),     # a failure outweighs an unknown
    (CycleResult(ok=False), "failed"),                          # ended early: guard, fault
])
def test_a_cycle_is_ok_unknown_or_failed(result: CycleResult, outcome: str) -> None:
    assert result.outcome == outcome


def test_an_unknown_revert_is_counted_and_reported_apart_from_a_failed_one() -> None:
    from types import SimpleNamespace

    from sssctl.app.watch import Watch
    from sssctl.app.watch_http import EnvironmentMetrics, WatchMetrics
    from sssctl.engine.applier import ApplyReport, Outcome

    watch = object.__new__(Watch)      # only what settling a cycle's outcomes touches
    watch.label, watch.cycles = "env", 0
    watch.metrics = EnvironmentMetrics(WatchMetrics(), "env")
    session: Any = SimpleNamespace(who=SimpleNamespace(organization_id="org"), store=None)
    report = ApplyReport([
        Outcome(_change("mailboxes", Action.UPDATE), "unknown", "outcome unknown: bad reply"),
        Outcome(_change("canary", Action.UPDATE), "skipped", "depends on mailboxes", after_unknown=True),
        Outcome(_change("user_settings", Action.UPDATE), "failed", "boom"),
    ])

    event, applied, failed, unknown = watch._settle(report, {}, session, started_wall=time.time(),
                                                    reported=[], blocked=[])

    assert (applied, failed, unknown) == (0, 1, 2)
    assert [u["address"] for u in event["unknown"]] == ["mailboxes", "canary"]
    assert [f["address"] for f in event["failed"]] == ["user_settings"]
    text = watch.metrics.all.text().decode()
    assert 'sssctl_watch_unknown_total{environment="env",kind="mailboxes"} 1.0' in text
    assert 'sssctl_watch_failed_total{environment="env",kind="user_settings"} 1.0' in text
    assert 'sssctl_watch_failed_total{environment="env",kind="mailboxes"}' not in text
