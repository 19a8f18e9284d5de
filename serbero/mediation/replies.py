"""Waiting for each party's answer (GAP-19: measured per party, not per session). A question
round starts both parties' clocks; a party's reply stops theirs. A party silent for the
session's `reminder_after_s` gets one reminder; silent for `reply_timeout_s` after the question,
the dispute goes to a person (`party_unresponsive`). One `reply` timer per session fires at the
nearest of these moments.
"""

from __future__ import annotations

import logging

from nostr_sdk import Keys

from serbero.db.connection import database
from serbero.db.models import audit
from serbero.followup import NOTHING, FollowUp
from serbero.mediation import catalog, escalate, outbound, sessions, timers
from serbero.mediation.models import PARTIES, MediationSession

log = logging.getLogger(__name__)


def _next_moment(session: MediationSession, party: str) -> int | None:
    since = session.of(party, "waiting_since")
    if since is None:
        return None
    reminder, timeout = session.reminder_after_s, session.reply_timeout_s
    if reminder and session.of(party, "reminded_at") is None:
        return since + reminder
    return since + timeout if timeout else None


def _rearm(session: MediationSession) -> FollowUp:
    moments = [m for p in PARTIES if (m := _next_moment(session, p)) is not None]
    if not moments:
        timers.cancel(session.session_id, [timers.REPLY])
        return NOTHING
    return timers.arm(session.session_id, timers.REPLY, min(moments))


def asked(session: MediationSession, *, now: int) -> FollowUp:
    """A question round went to both parties: count it and start both clocks. Call inside the
    transaction that wrote the round."""
    (MediationSession.update(rounds_asked=MediationSession.rounds_asked + 1,
                             buyer_waiting_since=now, seller_waiting_since=now,
                             buyer_reminded_at=None, seller_reminded_at=None)
     .where(MediationSession.session_id == session.session_id).execute())
    session.rounds_asked += 1
    for party in PARTIES:
        setattr(session, f"{party}_waiting_since", now)
        setattr(session, f"{party}_reminded_at", None)
    return _rearm(session)


def answered(session: MediationSession, party: str) -> FollowUp:
    """`party` wrote: their clock stops (the other party's keeps running)."""
    if session.of(party, "waiting_since") is None:
        return NOTHING
    (MediationSession.update(**{f"{party}_waiting_since": None, f"{party}_reminded_at": None})
     .where(MediationSession.session_id == session.session_id).execute())
    setattr(session, f"{party}_waiting_since", None)
    setattr(session, f"{party}_reminded_at", None)
    return _rearm(session)


def waiting(session: MediationSession) -> list[str]:
    """The parties who have not answered their latest question."""
    return [p for p in PARTIES if session.of(p, "waiting_since") is not None]


def fire(session: MediationSession, *, signer: Keys, now: int) -> FollowUp:
    """The `reply` timer: remind whoever is due a reminder, hand the dispute to a person if
    someone stayed silent past the deadline, re-arm for what is left."""
    with database.atomic():
        if session.state != sessions.AWAITING:
            audit("mediation_timer_skipped", dispute_id=session.dispute_id,
                  session_id=session.session_id, at=now, timer=timers.REPLY,
                  reason=f"state_{session.state}")
            return NOTHING
        silent = [p for p in PARTIES if session.of(p, "waiting_since") is not None
                  and session.reply_timeout_s
                  and now >= session.of(p, "waiting_since") + session.reply_timeout_s]
        if silent:
            audit("party_unresponsive", dispute_id=session.dispute_id,
                  session_id=session.session_id, at=now, parties=silent, **session.pinned())
            return escalate.hand_off(session, escalate.PARTY_UNRESPONSIVE, signer=signer,
                                     now=now, evidence=[f"party:{p}" for p in silent])
        due = [p for p in PARTIES if session.of(p, "waiting_since") is not None
               and session.reminder_after_s and session.of(p, "reminded_at") is None
               and now >= session.of(p, "waiting_since") + session.reminder_after_s]
        reminders = NOTHING
        if due:
            reminders = outbound.write(session, outbound.drafts(session, catalog.REMINDER,
                                                                dict.fromkeys(due)),
                                       signer=signer, now=now)
            (MediationSession.update(**{f"{p}_reminded_at": now for p in due})
             .where(MediationSession.session_id == session.session_id).execute())
            for p in due:
                setattr(session, f"{p}_reminded_at", now)
            log.info("mediation_reminded", extra={"session_id": session.session_id,
                                                  "parties": ",".join(due)})
        return reminders.then(_rearm(session))
