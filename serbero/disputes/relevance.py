"""Which notices still mean something: a notice written while its dispute was in one state is
not worth sending once the dispute has moved on (a reminder after a take, say). Shared by the
solver notices and their copies to observers and webhooks."""

from __future__ import annotations

from collections.abc import Sequence

from serbero.db.models import Dispute, Outbox
from serbero.disputes import lifecycle, notices

#: notif_type → lifecycle states in which the notice still means something to a solver.
RELEVANT_IN = {
    notices.INITIAL: frozenset({lifecycle.NEW, lifecycle.NOTIFIED, lifecycle.TAKEN,
                                lifecycle.WAITING, lifecycle.ESCALATED}),
    notices.RENOTIFICATION: frozenset({lifecycle.NOTIFIED}),
    notices.ASSIGNMENT: frozenset({lifecycle.TAKEN, lifecycle.WAITING, lifecycle.ESCALATED}),
    notices.RESOLUTION: frozenset(lifecycle.STATES),
    notices.MEDIATING: frozenset({lifecycle.TAKEN}),
    notices.TIER_REMINDER: frozenset({lifecycle.NEW, lifecycle.NOTIFIED}),
    notices.ACKNOWLEDGED: frozenset({lifecycle.NEW, lifecycle.NOTIFIED, lifecycle.ESCALATED}),
}


def unwanted(rows: Sequence[Outbox]) -> dict[int, str]:
    """Notices no longer worth sending because their dispute moved on, with the reason; any
    other notice type (a handoff) is always wanted."""
    states = dict(Dispute.select(Dispute.dispute_id, Dispute.lifecycle_state)
                  .where(Dispute.dispute_id.in_({row.dispute_id for row in rows})).tuples())
    return {row.id: f"dispute is {state}" for row in rows
            if (state := states.get(row.dispute_id)) is not None
            and state not in RELEVANT_IN.get(row.notice_type, lifecycle.STATES)}
