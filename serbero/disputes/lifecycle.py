"""The dispute lifecycle: its states, the one table of legal moves, and `transition()`.

Every state change in Serbero goes through `transition()`, a compare-and-set UPDATE with a
row-count check, so two workers racing on one dispute cannot both move it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from serbero.db import bulk
from serbero.db.models import Dispute, Transition

log = logging.getLogger(__name__)

NEW = "new"
NOTIFIED = "notified"
TAKEN = "taken"
WAITING = "waiting"
ESCALATED = "escalated"
RESOLVED = "resolved"
STATES = (NEW, NOTIFIED, TAKEN, WAITING, ESCALATED, RESOLVED)

#: to-state → states it may be entered from (LC-2). The original also allows
#: `notified → notified` for re-notification but never writes it; here no self-move is legal,
#: so the second solver's delivered notice cannot log a second `→ notified`.
PREDECESSORS: dict[str, frozenset[str]] = {
    NOTIFIED: frozenset({NEW}),
    TAKEN: frozenset({NEW, NOTIFIED, WAITING}),
    WAITING: frozenset({TAKEN}),
    ESCALATED: frozenset({NOTIFIED, TAKEN, WAITING}),
    RESOLVED: frozenset({NEW, NOTIFIED, TAKEN, WAITING, ESCALATED}),
}
#: The first take of a dispute is a take whatever came before (ASSIGN-4): a dispute escalated
#: by hand and then taken by a solver is `taken`. A later take of an escalated dispute stays a
#: re-take (issue 10, defect 3).
FIRST_TAKE_FROM = PREDECESSORS[TAKEN] | {ESCALATED}
#: How many times `transition` re-reads after losing a compare-and-set to a concurrent writer.
MAX_CAS_ATTEMPTS = 5


def is_legal(from_state: str, to_state: str) -> bool:
    return from_state in PREDECESSORS.get(to_state, ())


def transition(dispute_id: str, to_state: str, *, trigger: str, at: int,
               from_states: frozenset[str] | None = None, **updates: Any) -> str | None:
    """Move a dispute to `to_state` if it sits in a legal predecessor (`from_states`, one of
    the tables above; default PREDECESSORS[to_state]); return the state it left.

    `updates` are further columns written by the same UPDATE. Returns None, quietly, when the
    dispute is unknown or the move is not legal from where it is: a lost race, not an error.
    Call inside a transaction so the audit row commits with the change.
    """
    legal = from_states if from_states is not None else PREDECESSORS[to_state]
    only = next(iter(legal)) if len(legal) == 1 else None
    for _ in range(MAX_CAS_ATTEMPTS):
        # With a single legal predecessor there is nothing to read first.
        current = only or (Dispute.select(Dispute.lifecycle_state)
                           .where(Dispute.dispute_id == dispute_id).scalar())
        if current is None or current not in legal:
            return None
        won = (Dispute.update(lifecycle_state=to_state, last_state_change=at, **updates)
               .where((Dispute.dispute_id == dispute_id) & (Dispute.lifecycle_state == current))
               .execute())
        if won == 1:
            Transition.create(dispute=dispute_id, from_state=current, to_state=to_state,
                              transitioned_at=at, trigger=trigger)
            log.info("lifecycle_transition", extra={
                "dispute_id": dispute_id, "from": current, "to": to_state, "trigger": trigger})
            return current
        if only:
            return None
    log.warning("lifecycle_transition_contended", extra={"dispute_id": dispute_id, "to": to_state})
    return None


def transition_many(dispute_ids: Sequence[str], to_state: str, *, from_state: str, trigger: str,
                    at: int, **updates: Any) -> list[str]:
    """`transition` for several disputes that all leave one legal predecessor (the initial
    notices of a burst landing): one compare-and-set UPDATE for all, and one audit row per
    dispute it moved. Returns the disputes moved; the others were elsewhere (a lost race)."""
    if not is_legal(from_state, to_state):
        raise ValueError(f"{from_state} → {to_state} is not a legal move")
    if not dispute_ids:
        return []
    moved = [dispute_id for (dispute_id,) in
             Dispute.update(lifecycle_state=to_state, last_state_change=at, **updates)
             .where(Dispute.dispute_id.in_(list(dispute_ids))
                    & (Dispute.lifecycle_state == from_state))
             .returning(Dispute.dispute_id).tuples().execute()]
    if moved:
        bulk.insert_rows(Transition, [dict(dispute=dispute_id, from_state=from_state,
                                           to_state=to_state, transitioned_at=at,
                                           trigger=trigger) for dispute_id in moved])
    for dispute_id in moved:
        log.info("lifecycle_transition", extra={
            "dispute_id": dispute_id, "from": from_state, "to": to_state, "trigger": trigger})
    return moved
