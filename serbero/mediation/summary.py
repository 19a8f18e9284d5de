"""The cooperative summary (SUM-*): once a verdict (opening or mid-session, GAP-1) says the
dispute is a coordination failure the parties agree on, the model summarises the transcript;
the summary goes through the guard (SUM-3, SUM-4), then to the assigned write solver or every
write solver (ROUTE-1), followed by the transcript; the parties are told a solver has it.
Anything that keeps a summary from a solver hands the dispute to a person instead, through the
handoff writer (GAP-4): a failed call, a suppressed text, nobody to send it to.
"""

from __future__ import annotations

import logging

from nostr_sdk import Keys

from serbero.config import Settings
from serbero.db.connection import database
from serbero.db.models import Dispute, audit
from serbero.escalation import routing
from serbero.followup import NOTHING, FollowUp
from serbero.mediation import (
    catalog,
    escalate,
    evaluate,
    forwarding,
    outbound,
    rationale,
    sessions,
    solver_dms,
    timers,
    transcript,
)
from serbero.mediation.advance import unusable_bundle
from serbero.mediation.models import MediationSession, MediationSummary
from serbero.messages import message as subjects
from serbero.messages.message import SolverMessage
from serbero.reasoning.calls import CallScope
from serbero.reasoning.setup import Reasoning
from serbero.reasoning.types import COORDINATION_FAILURE, SummaryRequest

log = logging.getLogger(__name__)


def body(summary_text: str, next_step: str, *, session_id: str, classification: str,
         confidence: float) -> str:
    """What the solver reads below the subject: the model's guarded texts, and code's lines."""
    return "\n".join([
        f"Session: {session_id}",
        f"Classification: {classification} (confidence {confidence:.2f})",
        "",
        summary_text,
        "",
        f"Suggested next step: {next_step}",
        "",
        "Written by Serbero's assistant from the dispute chat; it is not a decision. The "
        "transcript follows. Take the dispute in Mostro to act on it.",
    ])


def fire(session: MediationSession, held: str, *, settings: Settings, signer: Keys,
         reasoning: Reasoning | None, now: int) -> FollowUp:
    """The `summarize` timer's job, holding the timer under `held`."""
    try:
        return _summarize(session, settings=settings, signer=signer, reasoning=reasoning,
                          now=now)
    finally:
        timers.done(session.session_id, timers.SUMMARIZE, held)


def _summarize(session: MediationSession, *, settings: Settings, signer: Keys,
               reasoning: Reasoning | None, now: int) -> FollowUp:
    if session.state != sessions.SUMMARY_PENDING:
        audit("summary_skipped", dispute_id=session.dispute_id, session_id=session.session_id,
              at=now, reason=f"state_{session.state}")
        return NOTHING
    trigger = unusable_bundle(session, reasoning, settings)
    if trigger is not None:
        return escalate.hand_off(session, trigger, signer=signer, now=now)
    assert reasoning is not None
    entries, through = transcript.for_model(session.session_id)
    label = session.current_classification or COORDINATION_FAILURE
    confidence = session.current_confidence or 0.0
    outcome = evaluate.summarize(
        reasoning.chain, reasoning.bundle,
        SummaryRequest(session_id=session.session_id, dispute_id=session.dispute_id,
                       classification=label, confidence=confidence, transcript=entries),
        scope=CallScope(dispute_id=session.dispute_id, session_id=session.session_id))
    with database.atomic():
        current = sessions.get(session.session_id)
        if current is None or current.state != sessions.SUMMARY_PENDING:
            return NOTHING
        session = current
        rid = None
        if outcome.answer is not None and outcome.provenance is not None:
            rid = rationale.store(outcome.answer.value.rationale, outcome.provenance,
                                  dispute_id=session.dispute_id, session_id=session.session_id,
                                  at=now)
        if outcome.escalate is not None or outcome.summary is None:
            trigger = outcome.escalate.trigger if outcome.escalate else "reasoning_unavailable"
            audit("summary_suppressed", dispute_id=session.dispute_id,
                  session_id=session.session_id, at=now, trigger=trigger,
                  error_category=outcome.error_category, rationale_id=rid, **session.pinned())
            return escalate.hand_off(session, trigger, signer=signer, now=now,
                                     rationale=[rid] if rid else [])
        route = solver_dms.recipients_for(session.dispute_id, settings)
        if route.kind == routing.UNROUTABLE:
            return escalate.hand_off(session, escalate.NOTIFICATION_FAILED, signer=signer,
                                     now=now, rationale=[rid] if rid else [])
        summary = outcome.summary
        MediationSummary.create(
            session_id=session.session_id, dispute_id=session.dispute_id, classification=label,
            confidence=confidence, suggested_next_step=summary.suggested_next_step,
            summary_text=summary.summary_text, rationale_id=rid, generated_at=now,
            **session.pinned())
        audit("summary_generated", dispute_id=session.dispute_id, session_id=session.session_id,
              at=now, classification=label, confidence=confidence, rationale_id=rid,
              **session.pinned())
        dispute = Dispute.get_by_id(session.dispute_id)
        text = body(summary.summary_text, summary.suggested_next_step,
                    session_id=session.session_id, classification=label, confidence=confidence)
        message = SolverMessage(dispute_id=session.dispute_id, subject=subjects.SUMMARY,
                                body=text, original=text, notice_type=solver_dms.SUMMARY,
                                lifecycle_state=dispute.lifecycle_state, occurred_at=now)
        queued = solver_dms.write(message, route.recipients, notif_type=solver_dms.SUMMARY,
                                  settings=settings, signer=signer, now=now)
        queued += transcript.send(session.dispute_id, session.session_id, route.recipients,
                                  settings=settings, signer=signer,
                                  lifecycle_state=dispute.lifecycle_state, now=now)
        sessions.transition(session, sessions.SUMMARY_DELIVERED, at=now,
                            reason="summary_delivered")
        escalate.mark_forwarded(session, now, through=through)
        timers.cancel(session.session_id, [timers.EVALUATE, timers.REPLY])
        notices = outbound.to_both(session, catalog.SUMMARY_DELIVERED, signer=signer, now=now)
        later = forwarding.arm_for_waiting(
            session, batch_s=settings.mediation.forward_batch_seconds, now=now)
    log.info("mediation_summary_delivered", extra={
        "session_id": session.session_id, "dispute_id": session.dispute_id,
        "route": route.kind, "solvers": len(route.recipients)})
    return FollowUp(publish=tuple(queued)).then(notices, later)
