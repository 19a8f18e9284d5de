"""The outcome of a dispatch attempt as the original records it (DISP-12): the dispatch row and
its `escalation_dispatched` audit row (EVT-18), with the same values.

Both are written when the outcome is known, not when the DMs are queued: `dispatched` once a
relay accepted one of the attempt's DMs (`delivery.py`), `send_failed` once none of them can
be (`retry.py`). While the DMs wait in the outbox the handoff is `sending` and neither row
claims anything (issue 10, defect 6: both said `dispatched` before any relay had answered).
"""

from __future__ import annotations

import uuid

from serbero.db.models import AuditEvent
from serbero.escalation import routing
from serbero.escalation.models import EscalationDispatch, EscalationHandoff, record


def record_outcome(handoff: EscalationHandoff, *, status: str, now: int) -> str:
    """Write `status` for the handoff's current attempt into its one dispatch row (inserted by
    the first outcome — its unique index refuses a second, DISP-13 — and updated by later
    attempts) and a matching audit row; return the dispatch id. Call inside a transaction."""
    source = AuditEvent.get_or_none(AuditEvent.id == handoff.handoff_event_id)
    targets = ",".join(handoff.recipient_list)
    fallback = handoff.route == routing.FALLBACK
    columns = {"target_solver": targets, "dispatched_at": now, "status": status,
               "fallback_broadcast": int(fallback), "attempt": handoff.attempts}
    existing = EscalationDispatch.get_or_none(
        EscalationDispatch.handoff_event_id == handoff.handoff_event_id)
    if existing is not None:
        dispatch_id = existing.dispatch_id
        (EscalationDispatch.update(**columns)
         .where(EscalationDispatch.dispatch_id == dispatch_id).execute())
    else:
        dispatch_id = str(uuid.uuid4())
        EscalationDispatch.create(dispatch_id=dispatch_id, dispute_id=handoff.dispute_id,
                                  session_id=source.session_id if source else None,
                                  handoff_event_id=handoff.handoff_event_id, created_at=now,
                                  **columns)
    record("escalation_dispatched", dispute_id=handoff.dispute_id, at=now, source=source,
           dispatch_id=dispatch_id, handoff_event_id=handoff.handoff_event_id,
           target_solver=targets, status=status, fallback_broadcast=fallback,
           route=handoff.route, attempt=handoff.attempts)
    return dispatch_id
