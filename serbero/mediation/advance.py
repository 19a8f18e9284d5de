"""Advancing a session after the parties wrote (FU-*): once the quiet period is over, classify
the transcript with the session's pinned bundle (GAP-33: a worker holding another bundle hands
the dispute to a person instead), decide with the policy table, and act — a new round of
questions, a summary, or a handoff. The model is called outside any transaction; what the
verdict decides is committed only if nobody else committed a round since (the session's
`version`), so two workers evaluating one session produce one outbound round.

A new round waits until every party has answered the last one (their reply clocks run
meanwhile); a party asking for a person, a fraud signal or conflicting claims act at once.
Three evaluations in a row with no usable answer hand the dispute over (FU-8).
"""

from __future__ import annotations

import logging

from nostr_sdk import Keys

from serbero.config import Settings
from serbero.db.connection import database
from serbero.db.models import Dispute, audit
from serbero.followup import NOTHING, FollowUp
from serbero.mediation import (
    catalog,
    escalate,
    evaluate,
    guard,
    outbound,
    policy,
    replies,
    sessions,
    timers,
    transcript,
    verdicts,
)
from serbero.mediation.models import MediationSession
from serbero.mediation.policy import AskClarification, Escalate, Round, Summarize
from serbero.reasoning.calls import CallScope
from serbero.reasoning.setup import Reasoning
from serbero.reasoning.types import BUYER, SELLER, ClassificationRequest

log = logging.getLogger(__name__)

#: FU-8: evaluations in a row without a usable answer before the dispute goes to a person.
MAX_EVAL_FAILURES = 3
#: Seconds before trying again after a failed evaluation (times the failures so far).
RETRY_AFTER_S = 60
#: What a round decides on that other jobs change (the pinned rules never do).
ROUND_COLUMNS = ("rounds_asked", "evaluations", "evaluated_through",
                 "consecutive_eval_failures", "buyer_waiting_since", "seller_waiting_since",
                 "buyer_reminded_at", "seller_reminded_at", "buyer_language", "seller_language",
                 "current_classification", "current_confidence")


def unusable_bundle(session: MediationSession, reasoning: Reasoning | None,
                    settings: Settings) -> str | None:
    """The trigger when this worker cannot evaluate the session with what it pinned."""
    if reasoning is None:
        return escalate.POLICY_BUNDLE_MISSING if settings.mediation.enabled \
            else escalate.MEDIATION_DISABLED
    if reasoning.bundle.policy_hash != session.policy_hash:
        return escalate.POLICY_BUNDLE_MISSING
    return None


def evaluate_session(session: MediationSession, held: str, *, settings: Settings, signer: Keys,
                     reasoning: Reasoning | None, now: int) -> FollowUp:
    """The `evaluate` timer's job, holding the timer under `held`."""
    try:
        return _evaluate(session, settings=settings, signer=signer, reasoning=reasoning, now=now)
    finally:
        timers.done(session.session_id, timers.EVALUATE, held)


def _evaluate(session: MediationSession, *, settings: Settings, signer: Keys,
              reasoning: Reasoning | None, now: int) -> FollowUp:
    if session.state != sessions.AWAITING:
        return _skip(session, f"state_{session.state}", now)
    trigger = unusable_bundle(session, reasoning, settings)
    if trigger is not None:
        return escalate.hand_off(session, trigger, signer=signer, now=now,
                                 evidence=[f"policy:{session.policy_hash}"])
    assert reasoning is not None
    entries, through = transcript.for_model(session.session_id)
    if through <= session.evaluated_through:
        return _skip(session, "nothing_new", now)
    initiator = Dispute.select(Dispute.initiator_role).where(
        Dispute.dispute_id == session.dispute_id).scalar()
    request = ClassificationRequest(session_id=session.session_id, dispute_id=session.dispute_id,
                                    initiator_role=initiator, transcript=entries,
                                    round_count=session.rounds_asked)
    version = session.version
    verdict = evaluate.classify(reasoning.chain, reasoning.bundle, request,
                                Round(session.evaluations),
                                scope=CallScope(dispute_id=session.dispute_id,
                                                session_id=session.session_id))
    with database.atomic():
        # The claim comes first: on PostgreSQL a concurrent evaluation blocks on this row and
        # then finds the version moved, before it has written anything.
        claimed = (MediationSession.update(version=MediationSession.version + 1,
                                           last_transition_at=now)
                   .where((MediationSession.session_id == session.session_id)
                          & (MediationSession.state == sessions.AWAITING)
                          & (MediationSession.version == version)).execute()) == 1
        if not claimed:
            return _lost(session, through, now)
        session.version = version + 1
        sessions.refresh(session, *ROUND_COLUMNS)  # what ingest may have changed meanwhile
        if verdict.error_category is not None:
            return _failed(session, verdict, signer=signer, now=now)
        rid = verdicts.record(session, verdict, now=now)
        (MediationSession.update(consecutive_eval_failures=0, evaluated_through=through)
         .where(MediationSession.session_id == session.session_id).execute())
        return _act(session, verdict.decision, rid, signer=signer, now=now)


def _skip(session: MediationSession, reason: str, now: int) -> FollowUp:
    audit("evaluation_skipped", dispute_id=session.dispute_id, session_id=session.session_id,
          at=now, reason=reason)
    return NOTHING


def _lost(session: MediationSession, through: int, now: int) -> FollowUp:
    """Another evaluation committed first: this one's verdict is dropped. If it had seen
    messages the winner had not, they are evaluated again after the quiet period."""
    audit("evaluation_skipped", dispute_id=session.dispute_id, session_id=session.session_id,
          at=now, reason="lost_race")
    current = sessions.get(session.session_id)
    if current is not None and current.state == sessions.AWAITING \
            and current.evaluated_through < through:
        return timers.arm(session.session_id, timers.EVALUATE, now + session.quiet_period_s)
    return NOTHING


def _failed(session: MediationSession, verdict: evaluate.Evaluation, *, signer: Keys,
            now: int) -> FollowUp:
    failures = session.consecutive_eval_failures + 1
    (MediationSession.update(consecutive_eval_failures=failures)
     .where(MediationSession.session_id == session.session_id).execute())
    verdicts.record(session, verdict, now=now)
    log.warning("mediation_evaluation_failed", extra={
        "session_id": session.session_id, "failures": failures,
        "error_category": verdict.error_category})
    if failures >= MAX_EVAL_FAILURES:
        return escalate.hand_off(session, policy.REASONING_UNAVAILABLE, signer=signer, now=now)
    return timers.arm(session.session_id, timers.EVALUATE, now + RETRY_AFTER_S * failures)


def _act(session: MediationSession, decision: policy.Decision, rid: str | None, *,
         signer: Keys, now: int) -> FollowUp:
    """What the verdict decides, inside the transaction that claimed the round."""
    rationale = [rid] if rid else []
    if isinstance(decision, Escalate):
        return escalate.hand_off(session, decision.trigger, signer=signer, now=now,
                                 rationale=rationale)
    if isinstance(decision, Summarize):
        if not sessions.transition(session, sessions.SUMMARY_PENDING, at=now,
                                   reason="summarize"):
            return NOTHING
        timers.cancel(session.session_id, [timers.REPLY])
        return timers.arm(session.session_id, timers.SUMMARIZE, now)
    assert isinstance(decision, AskClarification)
    waiting = replies.waiting(session)
    if waiting:  # a new round would talk over a question still unanswered
        audit("round_held", dispute_id=session.dispute_id, session_id=session.session_id,
              at=now, waiting=waiting)
        return NOTHING
    if session.rounds_asked >= session.max_rounds:
        return escalate.hand_off(session, escalate.ROUND_LIMIT, signer=signer, now=now,
                                 rationale=rationale)
    if max(len(decision.buyer_text), len(decision.seller_text)) > catalog.MAX_QUESTION_CHARS:
        return escalate.hand_off(session, policy.INVALID_MODEL_OUTPUT, signer=signer, now=now,
                                 rationale=rationale)
    drafts = outbound.drafts(session, catalog.FOLLOW_UP_QUESTION,
                             {BUYER: decision.buyer_text, SELLER: decision.seller_text})
    if outbound.refusal(drafts) is not None:
        return escalate.hand_off(session, guard.TRIGGER, signer=signer, now=now,
                                 rationale=rationale)
    written = outbound.write(session, drafts, signer=signer, now=now)
    return written.then(replies.asked(session, now=now))
