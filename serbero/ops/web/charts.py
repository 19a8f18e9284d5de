"""The charts' figures: how long disputes waited to be noticed, acknowledged, taken and
resolved, over a window. Each series is one query returning (detected_at, seconds) per dispute
detected in the window; a new series is one function and one line in SERIES.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from peewee import fn

from serbero.db.models import Dispute, Outbox, Transition
from serbero.disputes import lifecycle, notices

#: Windows the charts page offers: name → seconds.
WINDOWS = {"24h": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400, "90d": 90 * 86_400}
DEFAULT_WINDOW = "7d"
#: Bars across a window.
BUCKETS = 24

Samples = list[tuple[int, float]]


def time_to_notify(since: int) -> Samples:
    """Detection → the first initial notice a relay accepted (ms precision)."""
    first = fn.MIN(Outbox.sent_at_ms)
    query = (Dispute.select(Dispute.detected_at, first - Dispute.detected_at_ms)
             .join(Outbox, on=(Outbox.dispute == Dispute.dispute_id))
             .where((Dispute.detected_at >= since) & (Outbox.purpose == "solver_dm")
                    & (Outbox.notice_type == notices.INITIAL) & Outbox.sent_at_ms.is_null(False)
                    & Dispute.detected_at_ms.is_null(False))
             .group_by(Dispute.dispute_id, Dispute.detected_at, Dispute.detected_at_ms))
    return [(at, ms / 1000) for at, ms in query.tuples()]


def time_to_acknowledge(since: int) -> Samples:
    """Detection → the first solver's acknowledgement (MTTA)."""
    query = (Dispute.select(Dispute.detected_at, Dispute.acknowledged_at - Dispute.detected_at)
             .where((Dispute.detected_at >= since) & Dispute.acknowledged_at.is_null(False)))
    return [(at, float(s)) for at, s in query.tuples()]


def _first_entry(state: str) -> Callable[[int], Samples]:
    def samples(since: int) -> Samples:
        query = (Dispute.select(Dispute.detected_at,
                                fn.MIN(Transition.transitioned_at) - Dispute.detected_at)
                 .join(Transition, on=(Transition.dispute == Dispute.dispute_id))
                 .where((Dispute.detected_at >= since) & (Transition.to_state == state))
                 .group_by(Dispute.dispute_id, Dispute.detected_at))
        return [(at, float(s)) for at, s in query.tuples()]
    samples.__doc__ = f"Detection → the first move to `{state}`."
    return samples


@dataclass(frozen=True)
class Series:
    name: str
    title: str
    samples: Callable[[int], Samples]


SERIES: tuple[Series, ...] = (
    Series("notify", "time to notify", time_to_notify),
    Series("acknowledge", "time to acknowledge", time_to_acknowledge),
    Series("take", "time to take", _first_entry(lifecycle.TAKEN)),
    Series("resolve", "time to resolve", _first_entry(lifecycle.RESOLVED)),
)


@dataclass(frozen=True)
class Bucket:
    start: int
    count: int
    p50: float | None
    p95: float | None


@dataclass(frozen=True)
class Chart:
    series: Series
    since: int
    until: int
    buckets: list[Bucket]
    count: int
    p50: float | None
    p95: float | None


def percentile(sorted_values: list[float], q: float) -> float | None:
    """The nearest-rank percentile `q` (0-100) of values already sorted; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def chart(series: Series, *, window_s: int, now: int, buckets: int = BUCKETS) -> Chart:
    since = now - window_s
    width = max(1, -(-window_s // buckets))
    grouped: list[list[float]] = [[] for _ in range(buckets)]
    everything = []
    for at, seconds in series.samples(since):
        index = min(buckets - 1, max(0, (at - since) // width))
        grouped[index].append(seconds)
        everything.append(seconds)
    everything.sort()
    rows = []
    for i, values in enumerate(grouped):
        values.sort()
        rows.append(Bucket(since + i * width, len(values), percentile(values, 50),
                           percentile(values, 95)))
    return Chart(series, since, now, rows, len(everything), percentile(everything, 50),
                 percentile(everything, 95))


def charts(*, window_s: int, now: int) -> list[Chart]:
    return [chart(s, window_s=window_s, now=now) for s in SERIES]
