"""Serbero's own take, from mediation's side: ask Mostro for the dispute (the existing take
exchange, `serbero.mostro.take`), then act on its answer. A take that lands opens the session
(`opening.open_session`); a refusal ends it (`failed`, or `authorization_lost` when the node no
longer accepts Serbero as a solver); a take nobody answered goes to a person, since Mostro may
have assigned the dispute silently (Mostro issue 812); a request that never left is asked again
a few times.

`settle` looks at every session waiting for its take, so it serves both the event path (right
after a reply is matched) and the periodic tick (the safety net).
"""

from __future__ import annotations

import logging

from nostr_sdk import Keys

from serbero.config import Settings
from serbero.db.connection import database
from serbero.db.models import Dispute, audit
from serbero.disputes import lifecycle, notify
from serbero.disputes import notices as notice_types
from serbero.followup import NOTHING, FollowUp, combine
from serbero.mediation import escalate, sessions
from serbero.mediation.models import MediationSession
from serbero.mostro import info, take
from serbero.mostro.models import TakeRequest

log = logging.getLogger(__name__)

#: A session `taking` without a request this long after its last move asks again…
RETAKE_AFTER_S = 30
#: …at most this many times in all.
MAX_TAKE_ATTEMPTS = 3
#: Refusals meaning the node does not accept Serbero as a solver (any more).
AUTHORIZATION_REFUSALS = frozenset({"invalid_pubkey", "not_authorized", "is_not_your_dispute"})
AUTHORIZATION_LOST = "authorization_lost"


def request(session: MediationSession, *, settings: Settings, signer: Keys,
            now: int) -> FollowUp:
    """Send the take request for a session in `taking`; a request the take module refuses to
    send (the node trusts another Serbero key, the dispute is no longer `initiated`) ends the
    session as failed."""
    started = take.begin(session.dispute_id, signer=signer, node_pubkey=settings.mostro_pubkey,
                         profile=info.current_profile(settings), now=now,
                         timeout_s=settings.mostro.take_timeout_seconds)
    with database.atomic():
        (MediationSession.update(take_attempts=MediationSession.take_attempts + 1,
                                 last_transition_at=now)
         .where(MediationSession.session_id == session.session_id).execute())
        if started.outcome not in ("sent", "already_pending"):
            sessions.transition(session, sessions.FAILED, at=now,
                                reason=f"take_not_sent:{started.outcome}")
            return NOTHING
    audit("take_dispute_issued", dispute_id=session.dispute_id, session_id=session.session_id,
          at=now, outcome="requested", request_id=started.request_id, **session.pinned())
    return FollowUp(publish=started.publish, signed=started.signed)


def _latest(session: MediationSession) -> TakeRequest | None:
    return (TakeRequest.select().where((TakeRequest.dispute_id == session.dispute_id)
                                       & (TakeRequest.created_at >= session.started_at))
            .order_by(TakeRequest.id.desc()).first())


def settle(*, settings: Settings, signer: Keys, now: int) -> FollowUp:
    """Act on the answer to every session's take request."""
    waiting = list(MediationSession.select().where(MediationSession.state == sessions.TAKING))
    return combine(_settle_one(s, settings=settings, signer=signer, now=now) for s in waiting)


def _settle_one(session: MediationSession, *, settings: Settings, signer: Keys,
                now: int) -> FollowUp:
    from serbero.mediation import opening  # opening sends messages, which import takes' peers

    sent = _latest(session)
    if sent is None or sent.status == take.UNSENT:
        if now - session.last_transition_at < RETAKE_AFTER_S:
            return NOTHING
        if session.take_attempts >= MAX_TAKE_ATTEMPTS:
            with database.atomic():
                sessions.transition(session, sessions.FAILED, at=now, reason="take_not_sent")
            return NOTHING
        return request(session, settings=settings, signer=signer, now=now)
    if sent.status == take.PENDING:
        return NOTHING
    if sent.status == take.TAKEN:
        return opening.open_session(session, sent, settings=settings, signer=signer, now=now)
    if sent.status == take.REFUSED:
        return _refused(session, sent, settings=settings, signer=signer, now=now)
    # timed out, or a possible silent take: the node may hold the dispute for Serbero now
    return escalate.hand_off(session, escalate.TAKE_UNANSWERED, signer=signer, now=now,
                             evidence=[f"take_request:{sent.request_id}"])


def _refused(session: MediationSession, sent: TakeRequest, *, settings: Settings, signer: Keys,
             now: int) -> FollowUp:
    """A refusal ends the session. If an `in-progress` revision was taken for Serbero's own
    take meanwhile, it was someone else's: the solvers are told it is taken after all."""
    reason = sent.reason or "unspecified"
    with database.atomic():
        if reason in AUTHORIZATION_REFUSALS and session.own_revision_event_id is None:
            follow_up = escalate.hand_off(session, AUTHORIZATION_LOST, signer=signer, now=now,
                                          evidence=[f"take_request:{sent.request_id}"])
        else:
            sessions.transition(session, sessions.FAILED, at=now, reason=f"take_refused:{reason}")
            follow_up = NOTHING
        if session.own_revision_event_id is not None:
            follow_up = follow_up.then(_taken_by_someone_else(session, settings, signer, now))
    return follow_up


def _taken_by_someone_else(session: MediationSession, settings: Settings, signer: Keys,
                           now: int) -> FollowUp:
    changed = (Dispute.update(assigned_solver=None)
               .where((Dispute.dispute_id == session.dispute_id)
                      & (Dispute.assigned_solver == settings.serbero_pubkey)).execute())
    dispute = Dispute.get_by_id(session.dispute_id)
    if not changed or dispute.lifecycle_state != lifecycle.TAKEN:
        return NOTHING
    log.info("revision_was_not_serberos", extra={"dispute_id": session.dispute_id})
    return notify.fan_out(dispute, notice_types.ASSIGNMENT, settings=settings, signer=signer,
                          now=now)
