"""Plain-text tables (they must read well in a CI log): metric rows, sssctl | naive | ratio."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Result = Mapping[str, Any]
RTT_SECONDS = 0.05
LABEL_WIDTH = 46  # every section's table lines up, whatever its longest label


@dataclass(frozen=True)
class Metric:
    label: str
    value: Callable[[Result], float | int | str | None]
    digits: int = 0
    ratio: bool = True


def _rtt_estimate(r: Result) -> float:
    return float(r["requests"]) * RTT_SECONDS + float(r["seconds"])


def _converged(r: Result) -> str | None:
    left = r.get("remaining")
    if left is None:
        return None
    return "yes" if left == 0 else f"NO ({left} left)"


METRICS = (
    Metric("HTTP requests (all services)", lambda r: r["requests"]),
    Metric("write operations", lambda r: r["writes"]),
    Metric("MiB received (response bodies)", lambda r: r.get("received_mib"), digits=1),
    Metric("KiB sent (request bodies)", lambda r: r.get("sent_kib")),
    Metric("seconds (wall)", lambda r: r["seconds"], digits=2),
    Metric("client peak memory MiB (tracemalloc)", lambda r: r.get("peak_mib"), digits=1),
    Metric("client peak RSS MiB (whole process)", lambda r: r["rss_mib"], digits=1),
    Metric("est. seconds at 50 ms RTT (sequential)", _rtt_estimate, digits=1),
    Metric("throttled (429)", lambda r: r["throttled"] or None, ratio=False),
    Metric("converged (fresh sssctl plan finds 0)", _converged, ratio=False),
)


def _cell(value: float | int | str | None, digits: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:,.{digits}f}"


def _ratio(ours: float | int | str | None, theirs: float | int | str | None) -> str:
    if not isinstance(ours, int | float) or not isinstance(theirs, int | float):
        return ""
    if ours == 0:
        return "same" if theirs == 0 else "n/a"
    factor = theirs / ours
    return f"{factor:,.1f}x" if factor < 100 else f"{factor:,.0f}x"


def table(sssctl: Result, naive: Result, found_label: str, *, estimate: bool = True) -> list[str]:
    """One row per metric; the ratio is naive / sssctl (how many times more the naive way costs).

    Without ``estimate`` the RTT row is left out: with latency added by the emulator the
    measured seconds already carry it, and adding it again would count it twice.
    """
    chosen = [m for m in METRICS if estimate or m.value is not _rtt_estimate]
    metrics = (*chosen[:-1], Metric(found_label, lambda r: r["found"], ratio=False), chosen[-1])
    width = max(LABEL_WIDTH, *(len(m.label) for m in metrics))
    lines = [f"  {'metric':<{width}}  {'sssctl':>12}  {'naive':>12}  {'naive/sssctl':>12}"]
    lines.append("  " + "-" * (width + 42))
    for metric in metrics:
        ours, theirs = metric.value(sssctl), metric.value(naive)
        if ours is None and theirs is None:
            continue
        ratio = _ratio(ours, theirs) if metric.ratio else ""
        lines.append(
            f"  {metric.label:<{width}}  {_cell(ours, metric.digits):>12}  "
            f"{_cell(theirs, metric.digits):>12}  {ratio:>12}"
        )
    return lines


def routes(label: str, result: Result, limit: int = 12) -> list[str]:
    """The busiest routes, to show where the requests went."""
    by_route: Mapping[str, int] = result.get("by_route", {})
    busiest = sorted(by_route.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [f"  {label} requests by route:"] + [f"    {count:>8,}  {route}" for route, count in busiest]


def header(lines: Sequence[tuple[str, str]]) -> list[str]:
    width = max(len(k) for k, _ in lines)
    return [f"{key:<{width}}  {value}" for key, value in lines]
