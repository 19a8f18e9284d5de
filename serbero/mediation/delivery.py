"""The outbox purposes of mediation's messages: what a publish outcome changes.

* `mediation_chat` (to a party): a question or reminder still waiting once Serbero stopped (a
  person took over, the case was handed off) is no longer sent; published, it is recorded
  (EVT-6 `outbound_sent`); given up, a live session goes to a person (`notification_failed`),
  since a party Serbero cannot reach cannot answer.
* `mediation_dm` (to a solver): its notification row follows the outcome; when no summary DM of
  a session can be delivered any more, the dispute goes to a person (SUM-6, through the handoff).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from serbero.config import Settings
from serbero.db.models import Notification, Outbox, audit
from serbero.followup import MEDIATION, FollowUp
from serbero.mediation import catalog, escalate, outbound, sessions, solver_dms
from serbero.mediation.models import MediationMessage, MediationSession
from serbero.outbox.purposes import Purpose

log = logging.getLogger(__name__)


def _message(row: Outbox) -> MediationMessage | None:
    return MediationMessage.get_or_none(MediationMessage.outer_event_id == row.message_id)


def chat_unwanted(rows: Sequence[Outbox]) -> dict[int, str]:
    """Questions and reminders of sessions no longer mediating; the closing notices still go.
    One query for the batch."""
    asking = {row.message_id: row.id for row in rows if row.notice_type in catalog.WHILE_MEDIATING}
    if not asking:
        return {}
    m, s = MediationMessage, MediationSession
    states = (m.select(m.outer_event_id, s.state)
              .join(s, on=(s.session_id == m.session_id))
              .where(m.outer_event_id.in_(list(asking))).tuples())
    return {asking[outer]: f"session is {state}" for outer, state in states
            if state not in sessions.LIVE}


def chat_sent(rows: Sequence[Outbox], now: int, settings: Settings) -> FollowUp | None:
    """Record the publication (EVT-6), a batch at a time (a round is two rows)."""
    m = MediationMessage
    dispute_of = {row.message_id: row.dispute_id for row in rows}
    sent = list(m.select(m.outer_event_id, m.session_id, m.shared_pubkey, m.inner_event_id,
                         m.prompt_bundle_id, m.policy_hash)
                .where(m.outer_event_id.in_(list(dispute_of))))
    m.update(published_at=now).where(m.outer_event_id.in_(list(dispute_of))).execute()
    for message in sent:
        audit("outbound_sent", dispute_id=dispute_of[message.outer_event_id],
              session_id=message.session_id, at=now, shared_pubkey=message.shared_pubkey,
              inner_event_id=message.inner_event_id, prompt_bundle_id=message.prompt_bundle_id,
              policy_hash=message.policy_hash)
    return None


def chat_failed(row: Outbox, error: str, now: int) -> FollowUp | None:
    message = _message(row)
    session = sessions.get(message.session_id) if message else None
    audit("party_message_failed", dispute_id=row.dispute_id,
          session_id=session.session_id if session else None, at=now,
          party=message.party if message else None, error=error[:300])
    log.warning("party_message_failed", extra={"dispute_id": row.dispute_id,
                                               "outbox_id": row.id})
    if session is None or session.state not in sessions.LIVE:
        return None
    return escalate.later(session, escalate.NOTIFICATION_FAILED, now)


def _notification(row: Outbox, **columns: object) -> None:
    (Notification.update(**columns)
     .where((Notification.outbox == row.id) & (Notification.status == "pending")).execute())


def dm_sent(rows: Sequence[Outbox], now: int, settings: Settings) -> FollowUp | None:
    for row in rows:
        _notification(row, status="sent", sent_at=now)
    return None


def dm_failed(row: Outbox, error: str, now: int) -> FollowUp | None:
    _notification(row, status="failed", error_message=error, sent_at=now)
    log.warning("mediation_dm_failed", extra={"dispute_id": row.dispute_id,
                                              "notice_type": row.notice_type})
    if row.notice_type != solver_dms.SUMMARY or solver_dms.alive(row.dispute_id,
                                                                 solver_dms.SUMMARY):
        return None
    session = sessions.of_dispute(row.dispute_id)
    if session is None or session.state != sessions.SUMMARY_DELIVERED:
        return None
    return escalate.later(session, escalate.NOTIFICATION_FAILED, now)


def dm_cancelled(row: Outbox, reason: str, now: int) -> FollowUp | None:
    _notification(row, status="cancelled", error_message=reason)
    return None


CHAT = Purpose(outbound.PURPOSE_NAME, lane=MEDIATION, unwanted=chat_unwanted,
               on_sent=chat_sent, on_failed=chat_failed)
DMS = Purpose(solver_dms.PURPOSE_NAME, lane=MEDIATION, on_sent=dm_sent, on_failed=dm_failed,
              on_cancelled=dm_cancelled)
