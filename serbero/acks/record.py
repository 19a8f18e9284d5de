"""Recording an acknowledgement and what follows from it, inside one transaction: the row (one
per solver and scope), the dispute's first acknowledgement (a conditional UPDATE, so of two
solvers acknowledging at once exactly one is first), the end of the tier chain, the
acknowledger's slower reminders, and one `acknowledged by <solver>` notice to the other
solvers who heard of the dispute. Only the first acknowledgement tells anyone anything.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nostr_sdk import Keys

from serbero import outbox
from serbero.acks.models import DISPUTE, REPLY, SolverAcknowledgement
from serbero.config import Settings
from serbero.db.models import Dispute, Outbox, audit
from serbero.disputes import lifecycle, notices, notify
from serbero.disputes.notify import pending_notices
from serbero.followup import NOTHING, FollowUp, combine
from serbero.nostr.keys import short
from serbero.tiers import steps

log = logging.getLogger(__name__)

#: Outbox purposes that carry a message to a solver about a dispute.
SOLVER_PURPOSES = ("solver_dm", "handoff_dm", "mediation_dm")
#: Outbox statuses of a message that counts as told: on its way, or delivered.
TOLD_STATUSES = (outbox.PENDING, outbox.SENT)
#: Why a reminder to another solver is cancelled once someone acknowledged.
ACKNOWLEDGED_REASON = "acknowledged by another solver"

FIRST, LATE, REPEATED = "acknowledged", "acknowledged_late", "already_acknowledged"


@dataclass(frozen=True, kw_only=True)
class Recorded(FollowUp):
    """`outcome`: acknowledged (first), acknowledged_late (someone was first) or
    already_acknowledged (this solver, this scope, before)."""

    outcome: str


def told(dispute_id: str, solver_hex: str) -> set[str]:
    """The purposes of the messages about the dispute on their way to, or delivered to, the
    solver (a solver can only acknowledge what they were told)."""
    return {p for (p,) in Outbox.select(Outbox.purpose).where(
        (Outbox.dispute == dispute_id) & (Outbox.recipient == solver_hex)
        & Outbox.purpose.in_(SOLVER_PURPOSES)
        & Outbox.status.in_(TOLD_STATUSES)).tuples()}


def acknowledge(dispute_id: str, solver_hex: str, *, scope: str, source: str,
                settings: Settings, signer: Keys, now: int) -> Recorded:
    """Record that `solver_hex` acknowledged; call inside a transaction."""
    inserted = (SolverAcknowledgement.insert(
        dispute_id=dispute_id, solver_pubkey=solver_hex, scope=scope, source=source,
        acknowledged_at=now).on_conflict_ignore().as_rowcount().execute())
    if not inserted:
        return Recorded(outcome=REPEATED)
    first = (Dispute.update(acknowledged_by=solver_hex, acknowledged_at=now)
             .where((Dispute.dispute_id == dispute_id) & Dispute.acknowledged_at.is_null())
             .execute()) == 1
    audit("solver_acknowledged", dispute_id=dispute_id, at=now, solver=short(solver_hex),
          scope=scope, source=source, first=first)
    log.info("solver_acknowledged", extra={"dispute_id": dispute_id, "solver": short(solver_hex),
                                           "scope": scope, "source": source, "first": first})
    if not first:
        return Recorded(outcome=LATE)
    steps.stop(dispute_id, steps.ACKNOWLEDGED, now)
    if source != REPLY:
        return Recorded(outcome=FIRST)  # a take: the take's own notice tells everyone
    if scope == DISPUTE:
        (Dispute.update(next_renotify_at=now + settings.notifications.ack_reminder_seconds)
         .where((Dispute.dispute_id == dispute_id)
                & (Dispute.lifecycle_state == lifecycle.NOTIFIED)).execute())
    cancelled = [outbox.cancel(row, ACKNOWLEDGED_REASON, now)
                 for notif_type in (notices.RENOTIFICATION, notices.TIER_REMINDER)
                 for row in pending_notices(dispute_id, notif_type)
                 if row.recipient != solver_hex]
    others = {r for (r,) in Outbox.select(Outbox.recipient).where(
        (Outbox.dispute == dispute_id) & Outbox.purpose.in_(SOLVER_PURPOSES)
        & Outbox.status.in_(TOLD_STATUSES)).tuples()} - {solver_hex}
    told_others = NOTHING
    if others:
        told_others = notify.fan_out(Dispute.get_by_id(dispute_id), notices.ACKNOWLEDGED,
                                     settings=settings, signer=signer, now=now,
                                     include_invalid=False, to=others)
    result = combine([*cancelled, told_others])
    return Recorded(outcome=FIRST, **result.parts())
