"""Figures read from the database for `serbero status` and the metrics endpoint. Every figure is
computed from rows at read time, so numbers written by any number of worker processes add up.

Read-only. The escalation tables belong to the escalation package and may not exist yet (before
its migration); their figures are read only after checking that the tables are there.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from peewee import fn

from serbero.db.connection import database
from serbero.db.models import AuditEvent, Dispute, Notification, ProcessedInput
from serbero.disputes import lifecycle, notices
from serbero.disputes.ingest import INPUT_KIND
from serbero.escalation.models import WAITING, EscalationDispatch, EscalationHandoff

log = logging.getLogger(__name__)

#: States in which no solver has taken the dispute yet.
UNATTENDED = (lifecycle.NEW, lifecycle.NOTIFIED)
#: Upper bounds (ms) of the detection → DM-published histogram's buckets; the targets are
#: p50 ≤ 100 ms and p99 ≤ 500 ms, so the buckets are finest there.
LATENCY_BUCKETS_MS = (25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000)

_LATENCY = "o.sent_at_ms - d.detected_at_ms"
_BUCKET_SUMS = "".join(f", SUM(CASE WHEN {_LATENCY} <= {ms} THEN 1 ELSE 0 END)"
                       for ms in LATENCY_BUCKETS_MS)
_LATENCY_SQL = (
    f"SELECT COUNT(*), COALESCE(SUM({_LATENCY}), 0){_BUCKET_SUMS}"  # noqa: S608 - constants only
    " FROM notifications n"
    " JOIN outbox o ON o.id = n.outbox_id"
    " JOIN disputes d ON d.dispute_id = n.dispute_id"
    f" WHERE n.notif_type = '{notices.INITIAL}'"
    " AND o.sent_at_ms IS NOT NULL AND d.detected_at_ms IS NOT NULL"
)


@dataclass(frozen=True)
class Unattended:
    """The dispute that has waited longest for a solver."""

    dispute_id: str
    state: str
    detected_at: int
    count: int  # how many disputes are unattended in all


@dataclass(frozen=True)
class Handoffs:
    """Escalation handoffs; present only once the escalation tables exist."""

    awaiting_dispatch: int  # handoffs no human has received yet (escalation.models.WAITING)
    oldest_awaiting_at: int | None
    dispatches_by_status: dict[str, int]
    handoffs_by_status: dict[str, int]


@dataclass(frozen=True)
class Latency:
    """Detection → DM-published latency of every published initial notice (one per solver)."""

    count: int
    sum_ms: int
    cumulative: tuple[int, ...]  # DMs at or under each LATENCY_BUCKETS_MS bound


def disputes_by_state() -> dict[str, int]:
    counts = dict.fromkeys(lifecycle.STATES, 0)
    for state, n in (Dispute.select(Dispute.lifecycle_state, fn.COUNT(Dispute.dispute_id))
                     .group_by(Dispute.lifecycle_state).tuples()):
        counts[state] = n  # an unknown state from a newer version is shown, not dropped
    return counts


def oldest_unattended() -> Unattended | None:
    query = Dispute.select().where(Dispute.lifecycle_state.in_(UNATTENDED))
    oldest = query.order_by(Dispute.detected_at, Dispute.dispute_id).first()
    if oldest is None:
        return None
    return Unattended(dispute_id=oldest.dispute_id, state=oldest.lifecycle_state,
                      detected_at=oldest.detected_at, count=query.count())


def last_event_applied_at() -> int | None:
    """When a worker last applied a dispute event (Unix seconds), from the inbox."""
    return (ProcessedInput.select(fn.MAX(ProcessedInput.processed_at))
            .where(ProcessedInput.kind == INPUT_KIND).scalar())


def notifications() -> dict[tuple[str, str], int]:
    """Solver notifications by (notif_type, status)."""
    return {(t, s): n for t, s, n in
            Notification.select(Notification.notif_type, Notification.status,
                                fn.COUNT(Notification.id))
            .group_by(Notification.notif_type, Notification.status).tuples()}


def escalations_by_trigger() -> dict[str, int]:
    """Escalations recorded (`escalation_recommended` audit rows), by trigger."""
    counts: dict[str, int] = {}
    for (payload,) in (AuditEvent.select(AuditEvent.payload_json)
                       .where(AuditEvent.kind == "escalation_recommended").tuples()):
        try:
            trigger = str(json.loads(payload).get("trigger") or "unknown")
        except (ValueError, AttributeError):
            trigger = "unknown"
        counts[trigger] = counts.get(trigger, 0) + 1
    return dict(sorted(counts.items()))


def handoffs() -> Handoffs | None:
    """Handoff figures, or None while the escalation migration has not been applied."""
    if not database.table_exists(EscalationHandoff._meta.table_name):
        return None
    count, oldest = (EscalationHandoff
                     .select(fn.COUNT(EscalationHandoff.handoff_event_id),
                             fn.MIN(EscalationHandoff.created_at))
                     .where(EscalationHandoff.status.in_(WAITING)).tuples().get())
    handoff, dispatch = EscalationHandoff, EscalationDispatch
    by_status = dict(handoff.select(handoff.status, fn.COUNT(handoff.handoff_event_id))
                     .group_by(handoff.status).tuples())
    dispatches = dict(dispatch.select(dispatch.status, fn.COUNT(dispatch.dispatch_id))
                      .group_by(dispatch.status).tuples())
    return Handoffs(awaiting_dispatch=count, oldest_awaiting_at=oldest,
                    dispatches_by_status=dict(sorted(dispatches.items())),
                    handoffs_by_status=dict(sorted(by_status.items())))


def latency() -> Latency:
    row = database.execute_sql(_LATENCY_SQL).fetchone()
    count, total = int(row[0]), int(row[1] or 0)
    return Latency(count=count, sum_ms=total, cumulative=tuple(int(v or 0) for v in row[2:]))
