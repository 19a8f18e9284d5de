"""Handing a mediated dispute to a person (§6.1): every trigger goes through the one exactly-once
handoff writer with its evidence and rationale references (GAP-4, GAP-16); the parties are told
the case went to a person; the handoff is dispatched at once, and its DM to the solvers is
followed by the transcript (`transcript.send`, via the dispatcher). Before a session opened
(no take yet) the handoff is dispute-scoped, so solvers read `mediation could not start`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from nostr_sdk import Keys

from serbero.db.connection import database
from serbero.escalation import handoff
from serbero.followup import NOTHING, FollowUp, Later
from serbero.mediation import catalog, outbound, sessions, timers
from serbero.mediation.models import INBOUND, MediationMessage, MediationSession

log = logging.getLogger(__name__)

#: The escalation queue's job that dispatches one handoff now (serbero_workers/escalation.py).
DISPATCH_JOB = "dispatch_handoff"
#: The mediation queue's job that hands a session over (args: session id, trigger), for code
#: that cannot sign the parties' notices itself (the outbox's hooks).
HAND_OFF_JOB = "mediation_hand_off"
#: Evidence references per handoff: the newest inbound messages' inner event ids.
MAX_EVIDENCE = 20

# Triggers mediation adds to the catalogue of §6.1 (stored codes, never renamed).
FLOOD = "flood"
TAKE_UNANSWERED = "take_unanswered"
POLICY_BUNDLE_MISSING = "policy_bundle_missing"
NOTIFICATION_FAILED = "notification_failed"
PARTY_UNRESPONSIVE = "party_unresponsive"
ROUND_LIMIT = "round_limit"
MEDIATION_DISABLED = "mediation_disabled"


def evidence_of(session: MediationSession) -> list[str]:
    """The inner event ids of the newest messages the parties wrote (ids only, never text)."""
    rows = (MediationMessage.select(MediationMessage.inner_event_id)
            .where((MediationMessage.session_id == session.session_id)
                   & (MediationMessage.direction == INBOUND))
            .order_by(MediationMessage.id.desc()).limit(MAX_EVIDENCE).tuples())
    return [inner for (inner,) in reversed(list(rows))]


def mark_forwarded(session: MediationSession, now: int, *, through: int | None = None) -> None:
    """What the parties wrote so far reaches the solvers with the handoff (or summary); only
    later messages are forwarded on their own."""
    where = ((MediationMessage.session_id == session.session_id)
             & (MediationMessage.direction == INBOUND) & MediationMessage.forwarded_at.is_null())
    if through is not None:
        where &= MediationMessage.id <= through
    MediationMessage.update(forwarded_at=now).where(where).execute()


def hand_off(session: MediationSession, trigger: str, *, signer: Keys, now: int,
             evidence: Iterable[str] | None = None,
             rationale: Iterable[str] = ()) -> FollowUp:
    """Escalate a session from any live state; a session that already left them (a lost race)
    writes nothing. Runs in its own transaction, or the caller's."""
    with database.atomic():
        if not sessions.transition(session, sessions.ESCALATED, at=now, reason=trigger):
            return NOTHING
        refs = evidence_of(session) if evidence is None else list(evidence)
        prepared = handoff.prepare(
            session.dispute_id, trigger=trigger, now=now,
            session_id=session.session_id if session.opened else None, evidence_refs=refs,
            rationale_refs=[r for r in rationale if r], **session.pinned())
        timers.cancel(session.session_id)
        mark_forwarded(session, now)
        notices = outbound.to_both(session, catalog.HANDED_OFF, signer=signer, now=now)
    log.warning("mediation_handed_off", extra={
        "session_id": session.session_id, "dispute_id": session.dispute_id, "trigger": trigger,
        "handoff_id": prepared.handoff_id, "opened": session.opened})
    dispatch = FollowUp(later=(Later(DISPATCH_JOB, now, (prepared.handoff_id,)),)) \
        if prepared.created else NOTHING
    return notices.then(dispatch)


def later(session: MediationSession, trigger: str, now: int) -> FollowUp:
    """`hand_off` as a job, run where the signing key is (a repeat is a no-op: the session has
    left the states a handoff starts from)."""
    return FollowUp(later=(Later(HAND_OFF_JOB, now, (session.session_id, trigger)),))
