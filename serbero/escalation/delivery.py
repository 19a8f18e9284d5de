"""The `handoff_dm` outbox purpose: what a handoff DM's outcome does to its notification row and
its handoff. Called by the outbox around publication; its rows go out on the escalation lane,
so an operator's escalation never waits behind a backlog of notices.

The first DM a relay accepts makes the handoff `dispatched` and records it so (`outcome.py`);
when every DM of an attempt has failed, the attempt is `send_failed` and the re-dispatch it
schedules is the follow-up (`retry.py`).
"""

from __future__ import annotations

import logging

from serbero.config import Settings
from serbero.db.models import Notification, Outbox
from serbero.escalation.models import (
    DISPATCHED,
    DM_PURPOSE,
    SENDING,
    EscalationDm,
    claim,
    lock,
)
from serbero.escalation.outcome import record_outcome
from serbero.escalation.retry import fail_attempt
from serbero.followup import ESCALATION, FollowUp
from serbero.nostr.keys import short
from serbero.outbox.purposes import Purpose, each

log = logging.getLogger(__name__)

#: Outbox statuses that still count for an attempt: on the way, or delivered.
ALIVE = ("pending", "sent")


def on_sent(row: Outbox, now: int, settings: Settings) -> None:
    (Notification.update(status="sent", sent_at=now)
     .where((Notification.outbox == row.id) & (Notification.status == "pending")).execute())
    link = EscalationDm.get_or_none(EscalationDm.outbox_id == row.id)
    if link is None:
        return
    handoff = lock(link.handoff_event_id, now)
    log.info("handoff_dm_sent", extra={"dispute_id": row.dispute_id,
                                       "handoff_id": link.handoff_event_id,
                                       "solver": short(row.recipient)})
    if (handoff is not None and handoff.status == SENDING and handoff.attempts == link.attempt
            and claim(handoff, at=now, status=DISPATCHED, delivered_at=now)):
        record_outcome(handoff, status=DISPATCHED, now=now)
        log.info("phase4_delivered", extra={"dispute_id": handoff.dispute_id,
                                            "handoff_id": handoff.handoff_event_id})


def on_failed(row: Outbox, error: str, now: int) -> FollowUp | None:
    (Notification.update(status="failed", error_message=error, sent_at=now)
     .where((Notification.outbox == row.id) & (Notification.status == "pending")).execute())
    log.warning("handoff_dm_failed", extra={"dispute_id": row.dispute_id,
                                            "solver": short(row.recipient), "error": error})
    return _settle_attempt(row, error, now)


def on_cancelled(row: Outbox, reason: str, now: int) -> FollowUp | None:
    (Notification.update(status="cancelled", error_message=reason)
     .where((Notification.outbox == row.id) & (Notification.status == "pending")).execute())
    return _settle_attempt(row, reason, now)


def _settle_attempt(row: Outbox, error: str, now: int) -> FollowUp | None:
    """End the attempt as `send_failed` once none of its DMs is pending or sent, and return the
    re-dispatch it schedules. The handoff row is locked first, so two DMs failing at once on
    PostgreSQL cannot both miss it."""
    link = EscalationDm.get_or_none(EscalationDm.outbox_id == row.id)
    if link is None:
        return None
    handoff = lock(link.handoff_event_id, now)
    if handoff is None or handoff.status != SENDING or handoff.attempts != link.attempt:
        return None
    alive = (Outbox.select().join(EscalationDm, on=(EscalationDm.outbox_id == Outbox.id))
             .where((EscalationDm.handoff_event_id == handoff.handoff_event_id)
                    & (EscalationDm.attempt == link.attempt) & Outbox.status.in_(ALIVE)))
    if alive.exists():
        return None
    retry = fail_attempt(handoff, now=now, reason=f"no relay accepted any DM (last error: {error})")
    return retry.follow_up() if retry else None


#: Once written, a handoff DM goes out even if the dispute resolves in the meantime; nothing is
#: recalled (DISP-14), so every row is wanted.
PURPOSE = Purpose(DM_PURPOSE, lane=ESCALATION, on_sent=each(on_sent), on_failed=on_failed,
                  on_cancelled=on_cancelled)
