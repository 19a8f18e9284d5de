"""Periodic scans that keep solvers informed: re-notifying unattended disputes (RENOT-*, with
GAP-9's cap and back-off) and retrying initial notices that never landed (GAP-3).

Each scan claims a dispute's round with a conditional UPDATE, so two scans that run at once
(two listeners, a retried tick) produce one round, not two. They return what to publish once
the transaction has committed.

A reminder round counts (`renotify_count`, the next due time, the cap) only once a relay
accepted one of its DMs (`notify.on_sent`). A round nobody received by the time the next one
is due is replaced by a current one (RENOT-4): at most one reminder per dispute is ever
pending, and after a relay outage solvers receive one current reminder, not a pile of stale
ones (issue 10, defect 2); the round's copies for observers and webhooks are replaced with it.
"""

from __future__ import annotations

import logging

from nostr_sdk import Keys

from serbero import outbox
from serbero.config import Settings
from serbero.db.connection import database
from serbero.db.models import Dispute, Notification, Outbox, audit
from serbero.disputes import lifecycle, notices
from serbero.disputes.notify import fan_out, pending_notices
from serbero.disputes.renotify import reminder_interval_s
from serbero.followup import FollowUp, combine

log = logging.getLogger(__name__)

#: Disputes handled per scan; the next tick takes the rest.
SCAN_BATCH = 200
#: Why an undelivered reminder is cancelled when its dispute's next round is written.
STALE_REMINDER = "superseded by a current reminder"
#: GAP-3: first retry of a dispute nobody could be told about, doubling up to the maximum.
INITIAL_RETRY_BASE_S = 60
INITIAL_RETRY_MAX_S = 3600


def initial_retry_delay_s(rounds: int) -> int:
    return min(INITIAL_RETRY_MAX_S, INITIAL_RETRY_BASE_S * 2 ** max(0, rounds - 1))


def renotify_due(now: int, settings: Settings, signer: Keys) -> FollowUp:
    """Write the next reminder for every `notified` dispute whose reminder is due, replacing
    one still pending from an earlier, undelivered round."""
    due = (Dispute.select(Dispute.dispute_id, Dispute.renotify_count, Dispute.next_renotify_at,
                          Dispute.acknowledged_by)
           .where((Dispute.lifecycle_state == lifecycle.NOTIFIED)
                  & Dispute.next_renotify_at.is_null(False)
                  & (Dispute.next_renotify_at <= now))
           .order_by(Dispute.next_renotify_at).limit(SCAN_BATCH))
    follow_ups: list[FollowUp] = []
    for dispute_id, sent, due_at, acknowledger in list(due.tuples()):
        # Once a solver acknowledged the dispute, only they are reminded, on their schedule.
        interval = reminder_interval_s(sent, settings, acknowledged=acknowledger is not None)
        with database.atomic():
            # Until a relay accepts it, the round is due again after its own interval.
            won = (Dispute.update(next_renotify_at=now + interval)
                   .where((Dispute.dispute_id == dispute_id) & (Dispute.renotify_count == sent)
                          & (Dispute.next_renotify_at == due_at)
                          & (Dispute.lifecycle_state == lifecycle.NOTIFIED)).execute())
            if not won:
                continue  # another scan took this round, or the dispute moved on
            cancelled = [follow_up for row in pending_notices(dispute_id, notices.RENOTIFICATION)
                         if (follow_up := outbox.cancel(row, STALE_REMINDER, now)) is not None]
            dispute = Dispute.get_by_id(dispute_id)
            follow_up = fan_out(dispute, notices.RENOTIFICATION, settings=settings,
                                signer=signer, now=now, include_invalid=False,
                                to=None if acknowledger is None else {acknowledger},
                                with_copies=acknowledger is None)
            if follow_up.publish:
                log.info("renotification_round", extra={
                    "dispute_id": dispute_id, "round": sent + 1, "replaced": len(cancelled)})
            follow_ups += [*cancelled, follow_up]
    return combine(follow_ups)


def _initial_in_flight(dispute_id: str) -> bool:
    return (Outbox.select().join(Notification, on=(Notification.outbox == Outbox.id))
            .where((Outbox.dispute == dispute_id) & (Outbox.status == "pending")
                   & (Notification.notif_type == notices.INITIAL)).exists())


def _tier_audience(dispute_id: str) -> set[str]:
    """With tiers, a retried initial notice goes to whom the tiers chose, never to everyone."""
    return {r for (r,) in Outbox.select(Outbox.recipient).where(
        (Outbox.dispute == dispute_id) & (Outbox.notice_type == notices.INITIAL)
        & (Outbox.purpose == "solver_dm")).tuples()}


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
                                now=now, include_invalid=False, with_copies=False,
                                to=_tier_audience(dispute_id) if settings.notifications.tiers
                                else None)
            if follow_up.publish:  # with no valid solver, fan_out explained it once
                audit("initial_notification_retried", dispute_id=dispute_id, at=now,
                      round=rounds + 1, notices=len(follow_up.publish))
            follow_ups.append(follow_up)
    return combine(follow_ups)
