"""Acknowledgement and tier figures for the metrics endpoint (issue 9): time to acknowledge
(MTTA) and time to resolve (MTTR) as histograms, acknowledgements by solver and source, and
how far disputes climbed the tiers. Read from the database at scrape time, like every other
figure, so what any worker wrote adds up. Read-only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from peewee import fn
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

from serbero.acks.models import SolverAcknowledgement
from serbero.db.connection import database
from serbero.disputes import lifecycle
from serbero.tiers.models import NotificationTier

#: Upper bounds (seconds) of the time-to-acknowledge buckets: minutes matter most.
MTTA_BUCKETS_S = (30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)
#: Upper bounds (seconds) of the time-to-resolve buckets: hours to days.
MTTR_BUCKETS_S = (300, 900, 1800, 3600, 7200, 21600, 43200, 86400, 259200, 604800)


@dataclass(frozen=True)
class Spread:
    """Seconds of many disputes: how many, their sum, and how many fit under each bound."""

    count: int
    sum_s: int
    cumulative: tuple[int, ...]


def _spread(expression: str, where: str, buckets: tuple[int, ...]) -> Spread:
    sums = "".join(f", SUM(CASE WHEN {expression} <= {b} THEN 1 ELSE 0 END)" for b in buckets)
    sql = (f"SELECT COUNT(*), COALESCE(SUM({expression}), 0){sums}"  # noqa: S608 - constants
           f" FROM disputes WHERE {where}")
    row = database.execute_sql(sql).fetchone()
    return Spread(int(row[0]), int(row[1] or 0), tuple(int(v or 0) for v in row[2:]))


def mtta() -> Spread:
    """Detection → first acknowledgement, of every acknowledged dispute."""
    return _spread("acknowledged_at - detected_at", "acknowledged_at IS NOT NULL",
                   MTTA_BUCKETS_S)


def mttr() -> Spread:
    """Detection → resolution, of every resolved dispute (its last state change)."""
    return _spread("last_state_change - detected_at",
                   f"lifecycle_state = '{lifecycle.RESOLVED}' AND last_state_change IS NOT NULL",
                   MTTR_BUCKETS_S)


def acknowledgements() -> dict[tuple[str, str], int]:
    """Acknowledgements by (solver hex, source)."""
    a = SolverAcknowledgement
    return {(solver, source): n for solver, source, n in
            a.select(a.solver_pubkey, a.source, fn.COUNT(a.id))
            .group_by(a.solver_pubkey, a.source).tuples()}


def tiers_reached() -> dict[int, int]:
    """Disputes by the highest tier they reached (1 = the first)."""
    t = NotificationTier
    return {index + 1: n for index, n in
            t.select(t.tier_index, fn.COUNT(t.dispute_id)).group_by(t.tier_index).tuples()}


def _histogram(name: str, doc: str, spread: Spread,
               buckets: tuple[int, ...]) -> HistogramMetricFamily:
    pairs = [(repr(float(b)), n) for b, n in zip(buckets, spread.cumulative, strict=True)]
    return HistogramMetricFamily(name, doc, buckets=[*pairs, ("+Inf", spread.count)],
                                 sum_value=spread.sum_s)


def families() -> Iterator[Metric]:
    yield _histogram("serbero_time_to_acknowledge_seconds",
                     "Time from detecting a dispute to its first acknowledgement (MTTA).",
                     mtta(), MTTA_BUCKETS_S)
    yield _histogram("serbero_time_to_resolve_seconds",
                     "Time from detecting a dispute to its resolution (MTTR).",
                     mttr(), MTTR_BUCKETS_S)
    acks = CounterMetricFamily("serbero_acknowledgements", "Solver acknowledgements, by solver "
                               "(hex pubkey) and source (reply, take).",
                               labels=["solver", "source"])
    for (solver, source), n in sorted(acknowledgements().items()):
        acks.add_metric([solver, source], n)
    yield acks
    reached = CounterMetricFamily("serbero_notification_tier_reached", "Disputes by the highest "
                                  "escalation tier they reached (1 = the first).",
                                  labels=["tier"])
    for tier, n in sorted(tiers_reached().items()):
        reached.add_metric([str(tier)], n)
    yield reached
