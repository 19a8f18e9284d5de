"""What a dispute revision means for mediation, decided inside the dispute ingest's transaction
(so a revision and its consequences commit together):

* a new dispute starts a mediation job on the `mediation` queue (when mediation is on);
* an `in-progress` revision that follows Serbero's own take request is Serbero's take, not a
  person's: no "taken" notice (the session's `mediating` notice says it);
* any other `in-progress` revision is a person taking over (GAP-21): a live session is
  superseded at once — Serbero stops writing, tells both parties, stops following the chat;
* a closing revision ends the session too (XRES-*), thanks both parties, and sends every solver
  the `mediation_resolution_report/v1`.
"""

from __future__ import annotations

import logging

from nostr_sdk import Keys

from serbero.config import Settings
from serbero.db.models import Dispute, audit
from serbero.disputes.events import DisputeEvent
from serbero.followup import NOTHING, FollowUp, Later
from serbero.mediation import (
    catalog,
    forwarding,
    outbound,
    report,
    sessions,
    solver_dms,
    subscriptions,
    timers,
)
from serbero.mediation.models import MediationSession
from serbero.messages import message as subjects
from serbero.messages.message import SolverMessage
from serbero.mostro import take
from serbero.mostro.models import TakeRequest

log = logging.getLogger(__name__)

#: The mediation queue's job that starts a session for a new dispute (serbero_workers/mediation.py).
START_JOB = "start_mediation"
#: mostrod stamps its revision right after answering a take; one dated more than this after
#: the answer (or before the request, beyond clock skew) is someone else's.
OWN_REVISION_SKEW_S = 5
OWN_REVISION_WINDOW_S = 60
HUMAN_TOOK_OVER = "human_took_over"
RESOLVED_EXTERNALLY = "dispute_resolved_externally"


def detected(dispute_id: str, settings: Settings, now: int) -> FollowUp:
    """The start job for a new dispute, enqueued after the ingest commits."""
    if not settings.mediation.enabled:
        return NOTHING
    return FollowUp(later=(Later(START_JOB, now, (dispute_id,)),))


def is_own_take(event: DisputeEvent, *, serbero_pubkey: str, now: int) -> bool:
    """Whether this `in-progress` revision is the one Serbero's take caused; the first such
    revision is claimed for the session, any later one is a person's."""
    if event.solver not in (None, serbero_pubkey):
        return False
    session = sessions.of_dispute(event.dispute_id)
    if (session is None or session.own_revision_event_id is not None
            or session.state in sessions.ENDED or session.state == sessions.OPENING):
        return False
    request = (TakeRequest.select().where((TakeRequest.dispute_id == event.dispute_id)
                                          & (TakeRequest.created_at >= session.started_at)
                                          & TakeRequest.status.in_((take.PENDING, take.TAKEN)))
               .order_by(TakeRequest.id.desc()).first())
    if request is None:
        return False
    answered = request.resolved_at if request.resolved_at is not None else now
    if not (request.created_at - OWN_REVISION_SKEW_S <= event.created_at
            <= answered + OWN_REVISION_WINDOW_S):
        return False
    return (MediationSession.update(own_revision_event_id=event.event_id)
            .where((MediationSession.session_id == session.session_id)
                   & MediationSession.own_revision_event_id.is_null()).execute()) == 1


def _stop(session: MediationSession, *, reason: str, settings: Settings, signer: Keys,
          now: int) -> tuple[str, FollowUp]:
    """End whatever the session was doing; return the state it was in and what is left to
    send (what the parties wrote since the last forward goes to the solvers first)."""
    before = session.state
    flushed = NOTHING
    if before in sessions.FORWARDING:
        flushed = forwarding.fire(session, settings=settings, signer=signer, now=now)
        sessions.transition(session, sessions.CLOSED, at=now, reason=reason)
    elif before in sessions.LIVE and sessions.transition(session, sessions.SUPERSEDED, at=now,
                                                         reason=reason):
        audit("superseded_by_human", dispute_id=session.dispute_id,
              session_id=session.session_id, at=now, reason=reason, **session.pinned())
    timers.cancel(session.session_id)
    subscriptions.unfollow(session)
    if session.state != before:
        (Dispute.update(assigned_solver=None)
         .where((Dispute.dispute_id == session.dispute_id)
                & (Dispute.assigned_solver == settings.serbero_pubkey)).execute())
    return before, flushed


def human_took_over(event: DisputeEvent, *, settings: Settings, signer: Keys,
                    now: int) -> FollowUp:
    """A person's take: supersede a live session (telling both parties), close a forwarding
    one; nothing for a dispute Serbero never mediated. Call before the takeover notice is
    written, so it no longer names Serbero as the assigned solver."""
    session = sessions.of_dispute(event.dispute_id)
    if session is None or session.state in sessions.ENDED:
        return NOTHING
    before, flushed = _stop(session, reason=HUMAN_TOOK_OVER, settings=settings, signer=signer,
                            now=now)
    log.info("mediation_stopped_for_a_person", extra={
        "session_id": session.session_id, "dispute_id": session.dispute_id, "was": before,
        "event_id": event.event_id})
    told = outbound.to_both(session, catalog.HUMAN_TOOK_OVER, signer=signer, now=now) \
        if before in sessions.LIVE else NOTHING
    return flushed.then(told)


def resolved(event: DisputeEvent, *, settings: Settings, signer: Keys, now: int) -> FollowUp:
    """Mostro closed the dispute: end the session, thank both parties if Serbero talked to
    them, and report to every solver (once: the lifecycle moves to `resolved` once)."""
    session = sessions.of_dispute(event.dispute_id)
    if session is None or session.state == sessions.FAILED:
        return NOTHING
    before, flushed = _stop(session, reason=RESOLVED_EXTERNALLY, settings=settings,
                            signer=signer, now=now)
    thanks = outbound.to_both(session, catalog.RESOLVED, signer=signer, now=now) \
        if before in sessions.LIVE | sessions.FORWARDING else NOTHING
    body = report.text(session, state_before=before, final_status=event.status)
    dispute = Dispute.get_by_id(event.dispute_id)
    message = SolverMessage(dispute_id=event.dispute_id, subject=subjects.report(event.status),
                            body=body, original=body, notice_type=solver_dms.REPORT,
                            lifecycle_state=dispute.lifecycle_state, occurred_at=now)
    queued = solver_dms.write(message, solver_dms.everyone(settings),
                              notif_type=solver_dms.REPORT, settings=settings, signer=signer,
                              now=now)
    audit("resolved_externally_reported", dispute_id=event.dispute_id,
          session_id=session.session_id, at=now, classification=session.current_classification,
          confidence=session.current_confidence, state_before=before,
          outbound_party_messages_count=min(2, report.outbound_parties(session)),
          final_dispute_status=event.status)
    log.info("mediation_session_resolved", extra={
        "session_id": session.session_id, "dispute_id": event.dispute_id, "was": before,
        "status": event.status})
    return flushed.then(thanks, FollowUp(publish=tuple(queued)))
