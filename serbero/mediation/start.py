"""Starting mediation for a dispute (START-*, ELIG-*): decide whether it is eligible, claim it
(one session row per dispute, ever: GAP-10), run the opening classification before any take
(START-7), and then either hand it to a person before taking it, or store the guarded opening
questions and ask Mostro for the dispute (`takes`).

Runs on the `mediation` queue: the classification is a model call, made outside any
transaction. A worker that dies while classifying leaves the session `opening` with a leased
`open` timer, which the tick fires again once the lease is over.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from nostr_sdk import Keys

from serbero.config import Settings
from serbero.db.connection import database
from serbero.db.models import AuditEvent, Dispute, audit
from serbero.disputes import lifecycle
from serbero.escalation.models import EscalationHandoff
from serbero.followup import NOTHING, FollowUp
from serbero.mediation import (
    catalog,
    escalate,
    evaluate,
    policy,
    rules,
    sessions,
    takes,
    timers,
    verdicts,
)
from serbero.mediation.models import MediationSession, MediationTimer
from serbero.mediation.policy import AskClarification, Escalate, Summarize
from serbero.mostro import info
from serbero.reasoning.calls import CallScope
from serbero.reasoning.setup import Reasoning
from serbero.reasoning.types import ClassificationRequest

log = logging.getLogger(__name__)

DETECTED, TICK_RETRY = "detected", "tick_retry"
#: Lifecycle states from which a dispute may be mediated: nobody has taken it (GAP-21).
ELIGIBLE_STATES = (lifecycle.NEW, lifecycle.NOTIFIED)
#: Disputes the periodic scan starts per run, oldest first.
START_BATCH = 10
#: The scan leaves alone disputes detected longer ago than this: people have them by then.
START_WINDOW_S = 86400


@dataclass(frozen=True, kw_only=True)
class Started(FollowUp):
    """What a start did: `taking`, `escalated`, `stopped:<reason>`, `already_started`, …"""

    outcome: str
    session_id: str | None = None


def ineligible(dispute_id: str) -> str | None:
    """Why the dispute may not be mediated (ELIG-1, GAP-10, GAP-21), or None."""
    dispute = Dispute.get_or_none(Dispute.dispute_id == dispute_id)
    if dispute is None:
        return "unknown_dispute"
    if dispute.dispute_status != "initiated":
        return f"mostro_status_{dispute.dispute_status}"
    if dispute.lifecycle_state not in ELIGIBLE_STATES:
        return f"lifecycle_{dispute.lifecycle_state}"
    earlier = sessions.of_dispute(dispute_id)
    if earlier is not None:
        return f"mediated_before_{earlier.state}"
    if EscalationHandoff.select().where(EscalationHandoff.dispute_id == dispute_id).exists():
        return "handed_off"
    return None


def candidates(now: int, *, limit: int = START_BATCH) -> list[str]:
    """Recent eligible disputes no session was started for, oldest first (ELIG-2)."""
    started = MediationSession.select(MediationSession.dispute_id)
    handed = EscalationHandoff.select(EscalationHandoff.dispute_id)
    query = (Dispute.select(Dispute.dispute_id)
             .where((Dispute.dispute_status == "initiated")
                    & Dispute.lifecycle_state.in_(ELIGIBLE_STATES)
                    & (Dispute.detected_at >= now - START_WINDOW_S)
                    & Dispute.dispute_id.not_in(started) & Dispute.dispute_id.not_in(handed))
             .order_by(Dispute.event_timestamp, Dispute.dispute_id).limit(limit))
    return [d for (d,) in query.tuples()]


def _stopped(dispute_id: str, reason: str, now: int) -> Started:
    """Every silence is explained, once per dispute and reason (the scan asks again later)."""
    said = any(row.payload.get("stop_reason") == reason for row in AuditEvent.select().where(
        (AuditEvent.dispute_id == dispute_id) & (AuditEvent.kind == "start_attempt_stopped")))
    if not said:
        audit("start_attempt_stopped", dispute_id=dispute_id, at=now, stop_reason=reason)
        log.info("mediation_not_started", extra={"dispute_id": dispute_id, "reason": reason})
    return Started(outcome=f"stopped:{reason}")


def why_not_now(settings: Settings, reasoning: Reasoning | None) -> str | None:
    """What keeps every start back at the moment (checked once per scan, then per start)."""
    if not settings.mediation.enabled:
        return "mediation_disabled"
    if reasoning is None:
        return "mediation_unavailable"
    profile = info.current_profile(settings)
    if not profile.can_take:
        return f"cannot_take_{profile.refusal}"
    if reasoning.chain.all_failing():
        return "reasoning_unhealthy"
    return None


def start(dispute_id: str, *, settings: Settings, signer: Keys, reasoning: Reasoning | None,
          now: int, trigger: str = DETECTED) -> Started:
    """The start job: claim the dispute if it may be mediated now, classify, then hand off
    or take."""
    reason = ineligible(dispute_id) or why_not_now(settings, reasoning)
    if reason is not None:
        return _stopped(dispute_id, reason, now)
    assert reasoning is not None
    lease_s = rules.model_lease_s(settings)
    session_id, held = str(uuid.uuid4()), uuid.uuid4().hex
    with database.atomic():
        claimed = (MediationSession.insert(
            session_id=session_id, dispute_id=dispute_id, state=sessions.OPENING,
            started_by=trigger, started_at=now, last_transition_at=now,
            **rules.pinned(settings, reasoning.bundle),
        ).on_conflict_ignore().as_rowcount().execute()) == 1
        if claimed:
            MediationTimer.create(session_id=session_id, kind=timers.OPEN, token=held,
                                  due_at=now + lease_s)
            audit("start_attempt_started", dispute_id=dispute_id, session_id=session_id,
                  at=now, trigger=trigger)
    if not claimed:
        log.info("mediation_already_started", extra={"dispute_id": dispute_id})
        return Started(outcome="already_started")
    session = sessions.get(session_id)
    assert session is not None
    result = classify_opening(session, held, settings=settings, signer=signer,
                              reasoning=reasoning, now=now)
    return Started(outcome=result.outcome, session_id=session_id, **result.parts())


def classify_opening(session: MediationSession, held: str, *, settings: Settings, signer: Keys,
                     reasoning: Reasoning, now: int) -> Started:
    """START-7…START-10 for a session in `opening` whose `open` timer this job holds."""
    dispute = Dispute.get_by_id(session.dispute_id)
    request = ClassificationRequest(session_id=session.session_id, dispute_id=dispute.dispute_id,
                                    initiator_role=dispute.initiator_role)
    verdict = evaluate.classify(reasoning.chain, reasoning.bundle, request, policy.OPENING,
                                scope=CallScope(dispute_id=dispute.dispute_id,
                                                session_id=session.session_id))
    with database.atomic():
        session = sessions.get(session.session_id)
        assert session is not None
        if session.state != sessions.OPENING:
            timers.done(session.session_id, timers.OPEN, held)
            return Started(outcome=f"moved_on_{session.state}", session_id=session.session_id)
        rid = verdicts.record(session, verdict, now=now)
        follow_up, outcome = _decide(session, verdict.decision, rid, settings=settings,
                                     signer=signer, now=now)
        timers.done(session.session_id, timers.OPEN, held)
    if outcome == "taking":
        follow_up = follow_up.then(takes.request(session, settings=settings, signer=signer,
                                                 now=now))
    return Started(outcome=outcome, session_id=session.session_id, **follow_up.parts())


def _decide(session: MediationSession, decision: policy.Decision, rid: str | None, *,
            settings: Settings, signer: Keys, now: int) -> tuple[FollowUp, str]:
    if isinstance(decision, AskClarification):
        too_long = max(len(decision.buyer_text), len(decision.seller_text)) \
            > catalog.MAX_QUESTION_CHARS
        if too_long:
            decision = Escalate(policy.INVALID_MODEL_OUTPUT)
    if isinstance(decision, Escalate):
        audit("start_attempt_stopped", dispute_id=session.dispute_id,
              session_id=session.session_id, at=now, reason="policy_escalate",
              trigger=decision.trigger, **session.pinned())
        return escalate.hand_off(session, decision.trigger, signer=signer, now=now, evidence=(),
                                 rationale=[rid] if rid else []), "escalated"
    columns: dict[str, object]
    if isinstance(decision, Summarize):
        columns = {"opening_decision": policy.decision_name(decision)}
    else:
        assert isinstance(decision, AskClarification)
        columns = {"opening_decision": policy.decision_name(decision),
                   "opening_buyer_text": decision.buyer_text,
                   "opening_seller_text": decision.seller_text}
    if not sessions.transition(session, sessions.TAKING, at=now, reason="cleared_for_take",
                               **columns):
        return NOTHING, f"moved_on_{session.state}"
    return NOTHING, "taking"
