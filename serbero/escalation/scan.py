"""The dispatcher's cycle (DISP-2/3): every period, adopt stray escalations and dispatch each
handoff that is due, in id order, batch after batch.

All pending work is re-derived from the database, so a lost job costs one period. Parked
handoffs (unroutable, superseded) leave the due set until what parked them changes, so however
many there are they never hold back one that can go out (GAP-11), and one that raises is pushed
back without stopping the others.
"""

from __future__ import annotations

import logging

from nostr_sdk import Keys

from serbero.config import Settings
from serbero.db.connection import database
from serbero.db.models import Dispute
from serbero.disputes import lifecycle
from serbero.escalation import handoff
from serbero.escalation.dispatch import REMEDY, dispatch_one, routable
from serbero.escalation.models import (
    MANUAL_TRIGGER,
    PENDING,
    SEND_FAILED,
    SUPERSEDED,
    UNROUTABLE,
    EscalationHandoff,
)
from serbero.followup import NOTHING, FollowUp, combine
from serbero.runtime import Runtime

log = logging.getLogger(__name__)

#: Handoffs read per query (the original's per-cycle limit); a cycle reads batch after batch.
BATCH = 128
#: Most handoffs one cycle looks at; parked ones have left the due set, so the next cycle
#: starts where this one could not reach.
MAX_PER_CYCLE = 5000
#: How long a handoff whose dispatch raised is left alone before the scan tries it again.
ERROR_BACKOFF_S = 60


def due_ids(now: int, *, settings: Settings, after: int = 0, limit: int = BATCH) -> list[int]:
    """Handoffs worth a dispatch attempt now, oldest first, after handoff id `after`. Parked
    handoffs come back only once what parked them has changed."""
    h = EscalationHandoff
    not_before = h.next_attempt_at.is_null() | (h.next_attempt_at <= now)
    due = (((h.status == PENDING) & not_before)
           | ((h.status == SEND_FAILED) & h.next_attempt_at.is_null(False)
              & (h.next_attempt_at <= now)))
    if routable(settings):
        due |= (h.status == UNROUTABLE) & not_before
    live = Dispute.select(Dispute.dispute_id).where(Dispute.lifecycle_state != lifecycle.RESOLVED)
    due |= (h.status == SUPERSEDED) & h.dispute_id.in_(live) & not_before
    query = h.select(h.handoff_event_id).where(due & (h.handoff_event_id > after))
    if not settings.escalation.enabled:
        query = query.where(h.trigger == MANUAL_TRIGGER)
    return [i for (i,) in query.order_by(h.handoff_event_id).limit(limit).tuples()]


def dispatch_due(now: int, *, settings: Settings, signer: Keys,
                 limit: int = MAX_PER_CYCLE) -> FollowUp:
    """One dispatcher cycle: adopt stray escalations, dispatch every due handoff, and return
    what to publish. A handoff that raises is pushed back and never stops the cycle. With
    `[escalation].enabled = false` only manual escalations are dispatched."""
    if settings.escalation.enabled:
        handoff.adopt(now)
    follow_ups: list[FollowUp] = []
    after, seen = 0, 0
    while seen < limit:
        batch = due_ids(now, settings=settings, after=after, limit=min(BATCH, limit - seen))
        if not batch:
            break
        for handoff_id in batch:
            follow_ups.append(_dispatch_guarded(handoff_id, settings, signer, now))
        after, seen = batch[-1], seen + len(batch)
    waiting = EscalationHandoff.select().where(EscalationHandoff.status == UNROUTABLE).count()
    if waiting and not routable(settings):
        log.error("phase4_unroutable — handoffs are waiting for a solver who can receive them",
                  extra={"waiting": waiting, "configured_solver_count": len(settings.solvers),
                         "config_fallback_to_all_solvers":
                             settings.escalation.fallback_to_all_solvers, "remedy": REMEDY})
    return combine(follow_ups)


def _dispatch_guarded(handoff_id: int, settings: Settings, signer: Keys, now: int) -> FollowUp:
    """Dispatch one handoff; its rows are to publish, while a re-dispatch it schedules is left
    to the next cycles, which find the handoff once it is due."""
    try:
        outcome = dispatch_one(handoff_id, settings=settings, signer=signer, now=now)
    except Exception:  # one bad handoff must not stop the others (DISP-2)
        log.exception("phase4_dispatch_failed", extra={"handoff_id": handoff_id})
        with database.atomic():
            (EscalationHandoff.update(next_attempt_at=now + ERROR_BACKOFF_S)
             .where(EscalationHandoff.handoff_event_id == handoff_id).execute())
        return NOTHING
    return FollowUp(publish=outcome.publish)


def tick(rt: Runtime, now: int) -> FollowUp:
    """The periodic job (`serbero.ticks`): one dispatcher cycle with this process's runtime."""
    return dispatch_due(now, settings=rt.settings, signer=rt.signer)
