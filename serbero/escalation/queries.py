"""Read-only views of handoffs for operators (`serbero escalations list`), OBS-9/10 style.

Handoffs written by other code and not yet seen by the dispatcher are listed too, as pending.
"""

from __future__ import annotations

from dataclasses import dataclass

from peewee import JOIN

from serbero.db.models import AuditEvent, Notification, Outbox
from serbero.escalation.models import (
    HANDOFF_PREPARED,
    PENDING,
    WAITING,
    EscalationDm,
    EscalationHandoff,
)


@dataclass(frozen=True)
class HandoffView:
    handoff_id: int
    dispute_id: str
    session_id: str | None
    trigger: str
    status: str
    route: str | None
    recipients: list[str]
    delivered: int
    attempts: int
    created_at: int
    next_attempt_at: int | None
    requested_by: str | None


def list_handoffs(*, pending_only: bool = False, limit: int = 50) -> list[HandoffView]:
    """Newest first; `pending_only` keeps the handoffs no human has received yet."""
    h = EscalationHandoff
    query = (AuditEvent.select(AuditEvent, h)
             .join(h, JOIN.LEFT_OUTER, on=(h.handoff_event_id == AuditEvent.id), attr="tracked")
             .where(AuditEvent.kind == HANDOFF_PREPARED)
             .order_by(AuditEvent.id.desc()).limit(limit))
    if pending_only:
        query = query.where(h.status.in_(WAITING) | h.status.is_null())
    views = []
    for event in query:
        tracked: EscalationHandoff | None = getattr(event, "tracked", None)
        if tracked is not None and tracked.handoff_event_id is None:
            tracked = None
        views.append(HandoffView(
            handoff_id=event.id, dispute_id=tracked.dispute_id if tracked else
            (event.dispute_id or "unknown"), session_id=event.session_id,
            trigger=(tracked.trigger if tracked else None) or _trigger(event),
            status=tracked.status if tracked else PENDING,
            route=tracked.route if tracked else None,
            recipients=tracked.recipient_list if tracked else [],
            delivered=_delivered(event.id), attempts=tracked.attempts if tracked else 0,
            created_at=event.occurred_at,
            next_attempt_at=tracked.next_attempt_at if tracked else None,
            requested_by=tracked.requested_by if tracked else None))
    return views


def _trigger(event: AuditEvent) -> str:
    try:
        value = event.payload.get("trigger")
    except (ValueError, AttributeError, RecursionError):
        return "?"
    return value if isinstance(value, str) else "?"


def _delivered(handoff_id: int) -> int:
    """Solvers whose relay accepted this handoff's DM, over all attempts."""
    return (Notification.select().join(Outbox, on=(Notification.outbox == Outbox.id))
            .join(EscalationDm, on=(EscalationDm.outbox_id == Outbox.id))
            .where((EscalationDm.handoff_event_id == handoff_id)
                   & (Notification.status == "sent")).count())
