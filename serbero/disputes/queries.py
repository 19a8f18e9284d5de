"""Read-only views of disputes for operators: the list and one dispute's timeline."""

from __future__ import annotations

from dataclasses import dataclass

from serbero.db.models import AuditEvent, Dispute, Notification, Transition
from serbero.errors import NotFound
from serbero.nostr.keys import short


@dataclass(frozen=True)
class TimelineEntry:
    at: int
    what: str
    detail: str


def list_disputes(*, state: str | None = None, limit: int = 50) -> list[Dispute]:
    query = Dispute.select().order_by(Dispute.detected_at.desc(), Dispute.dispute_id).limit(limit)
    if state:
        query = query.where(Dispute.lifecycle_state == state)
    return list(query)


def get_dispute(dispute_id: str) -> Dispute:
    dispute = Dispute.get_or_none(Dispute.dispute_id == dispute_id)
    if dispute is None:
        raise NotFound(f"no dispute with id {dispute_id!r}; `serbero disputes list` shows them.")
    return dispute


def timeline(dispute_id: str) -> list[TimelineEntry]:
    """Transitions, notifications and audit events of one dispute, oldest first."""
    entries = [TimelineEntry(t.transitioned_at, "transition",
                             f"{t.from_state or '-'} → {t.to_state} ({t.trigger})")
               for t in Transition.select().where(Transition.dispute == dispute_id)
               .order_by(Transition.id)]
    for n in (Notification.select().where(Notification.dispute == dispute_id)
              .order_by(Notification.id)):
        detail = f"{n.notif_type} to {short(n.solver_pubkey)}: {n.status}"
        if n.error_message:
            detail += f" ({n.error_message})"
        entries.append(TimelineEntry(n.sent_at or n.created_at, "notification", detail))
    entries += [TimelineEntry(a.occurred_at, a.kind, a.payload_json)
                for a in AuditEvent.select().where(AuditEvent.dispute_id == dispute_id)
                .order_by(AuditEvent.id)]
    return sorted(entries, key=lambda e: e.at)
