"""The disputes list: one page of disputes, newest first, narrowed by the filters, with what
each row shows beside its columns (notices sent and failed, escalated, mediated), read in one
query per fact for the whole page, never one per row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from peewee import fn

from serbero.db.models import Dispute, Notification
from serbero.escalation.models import EscalationHandoff
from serbero.mediation.models import MediationSession
from serbero.ops.web import filters

#: Disputes per page.
PAGE_SIZE = 50
#: The last page anyone may ask for (a bigger number is a 400, not a slow query).
MAX_PAGE = 10_000


@dataclass(frozen=True)
class Row:
    dispute: Dispute
    sent: int
    failed: int
    escalated: bool
    mediation: str | None  # the session's state


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    total: int
    number: int
    pages: int


def page(parsed: dict[str, Any], *, number: int, now: int, size: int = PAGE_SIZE) -> Page:
    """Page `number` (from 1) of the disputes the filters let through."""
    query = filters.narrow(Dispute.select(), parsed, now)
    total = query.count()
    disputes = list(query.order_by(Dispute.detected_at.desc(), Dispute.dispute_id.desc())
                    .paginate(number, size))
    ids = [d.dispute_id for d in disputes]
    return Page(rows=_rows(disputes, ids), total=total, number=number,
                pages=max(1, -(-total // size)))


def _rows(disputes: list[Dispute], ids: list[str]) -> list[Row]:
    if not ids:
        return []
    counts: dict[tuple[str, str], int] = {
        (d, s): n for d, s, n in
        Notification.select(Notification.dispute, Notification.status, fn.COUNT(Notification.id))
        .where(Notification.dispute.in_(ids)).group_by(Notification.dispute, Notification.status)
        .tuples()}
    escalated = {d for (d,) in EscalationHandoff.select(EscalationHandoff.dispute_id)
                 .where(EscalationHandoff.dispute_id.in_(ids)).distinct().tuples()}
    mediation = dict(MediationSession.select(MediationSession.dispute_id, MediationSession.state)
                     .where(MediationSession.dispute_id.in_(ids)).tuples())
    return [Row(d, counts.get((d.dispute_id, "sent"), 0), counts.get((d.dispute_id, "failed"), 0),
                d.dispute_id in escalated, mediation.get(d.dispute_id)) for d in disputes]
