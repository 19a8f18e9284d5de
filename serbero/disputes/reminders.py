"""Periodic scans that keep solvers informed: re-notifying unattended disputes (RENOT-*, with
GAP-9's cap and back-off) and retrying initial notices that never landed (GAP-3).

Each scan claims a dispute's round with a conditional UPDATE on its counter, so two scans that
run at once (two listeners, a retried tick) produce one round, not two. They return what to
publish once the transaction has committed.
"""

from __future__ import annotations

import logging

from nostr_sdk import Keys

from serbero.config import Settings
from serbero.db.connection import database
from serbero.db.models import Dispute, Notification, Outbox, audit
from serbero.disputes import lifecycle, notices
from serbero.disputes.notify import fan_out
from serbero.disputes.renotify import following_renotify_at
from serbero.followup import FollowUp, combine

log = logging.getLogger(__name__)

#: Disputes handled per scan; the next tick takes the rest.
SCAN_BATCH = 200
#: GAP-3: first retry of a dispute nobody could be told about, doubling up to the maximum.
INITIAL_RETRY_BASE_S = 60
INITIAL_RETRY_MAX_S = 3600


def initial_retry_delay_s(rounds: int) -> int:
    return min(INITIAL_RETRY_MAX_S, INITIAL_RETRY_BASE_S * 2 ** max(0, rounds - 1))


def renotify_due(now: int, settings: Settings, signer: Keys) -> FollowUp:
    """Send the next reminder for every `notified` dispute whose reminder is due."""
    due = (Dispute.select(Dispute.dispute_id, Dispute.renotify_count)
           .where((Dispute.lifecycle_state == lifecycle.NOTIFIED)
                  & Dispute.next_renotify_at.is_null(False)
                  & (Dispute.next_renotify_at <= now))
           .order_by(Dispute.next_renotify_at).limit(SCAN_BATCH))
    follow_ups: list[FollowUp] = []
    for dispute_id, sent in list(due.tuples()):
        with database.atomic():
            next_at = following_renotify_at(now, sent + 1, settings.timeouts)
            won = (Dispute.update(renotify_count=sent + 1, next_renotify_at=next_at)
                   .where((Dispute.dispute_id == dispute_id) & (Dispute.renotify_count == sent)
                          & (Dispute.lifecycle_state == lifecycle.NOTIFIED)).execute())
            if not won:
                continue  # another scan took this round, or the dispute moved on
            dispute = Dispute.get_by_id(dispute_id)
            follow_ups.append(fan_out(dispute, notices.RENOTIFICATION, settings=settings,
                                      signer=signer, now=now, include_invalid=False))
            log.info("renotification_round", extra={"dispute_id": dispute_id, "round": sent + 1})
            if next_at is None:
                audit("renotification_cap_reached", dispute_id=dispute_id, at=now,
                      reminders=sent + 1)
                log.warning("renotification_cap_reached", extra={
                    "dispute_id": dispute_id, "reminders": sent + 1})
    return combine(follow_ups)


def _initial_in_flight(dispute_id: str) -> bool:
    return (Outbox.select().join(Notification, on=(Notification.outbox == Outbox.id))
            .where((Outbox.dispute == dispute_id) & (Outbox.status == "pending")
                   & (Notification.notif_type == notices.INITIAL)).exists())


def retry_unnotified(now: int, settings: Settings, signer: Keys) -> FollowUp:
    """GAP-3: a dispute still `new` once its initial notices all failed gets a fresh round, with
    back-off, until one lands; solvers added to the configuration later are included. Observers
    and webhooks had their copy with the first round: a retry sends them none."""
    due = (Dispute.select(Dispute.dispute_id, Dispute.notify_rounds)
           .where((Dispute.lifecycle_state == lifecycle.NEW)
                  & Dispute.next_notify_at.is_null(False) & (Dispute.next_notify_at <= now))
           .order_by(Dispute.next_notify_at).limit(SCAN_BATCH))
    follow_ups: list[FollowUp] = []
    for dispute_id, rounds in list(due.tuples()):
        with database.atomic():
            same_round = ((Dispute.dispute_id == dispute_id) & (Dispute.notify_rounds == rounds)
                          & (Dispute.lifecycle_state == lifecycle.NEW))
            if _initial_in_flight(dispute_id):  # the outbox is still trying: look again later
                (Dispute.update(next_notify_at=now + initial_retry_delay_s(rounds))
                 .where(same_round).execute())
                continue
            won = (Dispute.update(notify_rounds=rounds + 1,
                                  next_notify_at=now + initial_retry_delay_s(rounds + 1))
                   .where(same_round).execute())
            if not won:
                continue  # another scan took this round
            dispute = Dispute.get_by_id(dispute_id)
            follow_up = fan_out(dispute, notices.INITIAL, settings=settings, signer=signer,
                                now=now, include_invalid=False, with_copies=False)
            audit("initial_notification_retried", dispute_id=dispute_id, at=now,
                  round=rounds + 1, notices=len(follow_up.publish))
            follow_ups.append(follow_up)
    return combine(follow_ups)
