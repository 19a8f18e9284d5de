"""After a handoff or a summary, Serbero still holds the dispute's chat until a person takes it
over: what the parties write there is forwarded to the routed solvers, in batches (the first
message of a batch arms the `forward` timer; one DM per solver per batch), since no solver can
read Serbero's channels.
"""

from __future__ import annotations

import logging

from nostr_sdk import Keys

from serbero.config import Settings
from serbero.db.connection import database
from serbero.db.models import Dispute, audit
from serbero.escalation import routing
from serbero.followup import NOTHING, FollowUp
from serbero.mediation import sessions, solver_dms, timers, transcript
from serbero.mediation.models import INBOUND, MediationMessage, MediationSession
from serbero.messages import message as subjects
from serbero.messages.message import SolverMessage

log = logging.getLogger(__name__)


def fire(session: MediationSession, *, settings: Settings, signer: Keys, now: int) -> FollowUp:
    """Forward every message not forwarded yet; skipped (with an audit row) once the session
    ended, or when no solver can receive it."""
    with database.atomic():
        rows = list(MediationMessage.select()
                    .where((MediationMessage.session_id == session.session_id)
                           & (MediationMessage.direction == INBOUND)
                           & MediationMessage.forwarded_at.is_null())
                    .order_by(MediationMessage.inner_event_created_at, MediationMessage.id))
        if not rows:
            return NOTHING
        if session.state not in sessions.FORWARDING:
            return _skip(session, f"state_{session.state}", len(rows), now)
        route = solver_dms.recipients_for(session.dispute_id, settings)
        if route.kind == routing.UNROUTABLE:
            return _skip(session, "unroutable", len(rows), now)
        dispute = Dispute.get_by_id(session.dispute_id)
        body = "\n".join([f"Session: {session.session_id}",
                          *transcript.lines(rows, session_id=session.session_id)])
        message = SolverMessage(dispute_id=session.dispute_id,
                                subject=subjects.forwarded(len(rows)), body=body, original=body,
                                notice_type=solver_dms.FORWARD,
                                lifecycle_state=dispute.lifecycle_state, occurred_at=now)
        queued = solver_dms.write(message, route.recipients, notif_type=solver_dms.FORWARD,
                                  settings=settings, signer=signer, now=now)
        (MediationMessage.update(forwarded_at=now)
         .where(MediationMessage.id.in_([r.id for r in rows])).execute())
    log.info("mediation_forwarded", extra={
        "session_id": session.session_id, "messages": len(rows), "solvers": len(queued)})
    return FollowUp(publish=tuple(queued))


def arm_for_waiting(session: MediationSession, *, batch_s: int, now: int) -> FollowUp:
    """Arm forwarding for messages that arrived while a summary was being written."""
    waiting = (MediationMessage.select()
               .where((MediationMessage.session_id == session.session_id)
                      & (MediationMessage.direction == INBOUND)
                      & MediationMessage.forwarded_at.is_null()).exists())
    return timers.arm_unless_armed(session.session_id, timers.FORWARD, now + batch_s) \
        if waiting else NOTHING


def _skip(session: MediationSession, reason: str, count: int, now: int) -> FollowUp:
    audit("forward_skipped", dispute_id=session.dispute_id, session_id=session.session_id,
          at=now, reason=reason, messages=count)
    return NOTHING
