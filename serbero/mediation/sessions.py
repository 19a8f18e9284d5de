"""Mediation session states, the one table of legal moves, and `transition()`: every state change
of a session is a compare-and-set UPDATE with a row-count check, so two workers racing on one
session cannot both move it (DESIGN invariant 3). A lost race returns False, quietly, with an
audit row saying so.

```
opening ──► taking ──► awaiting_response ──► summary_pending ──► summary_delivered ──► closed
   │           │   └──────────────┬──────────────┘                      (forwarding)
   │           │                  ├──► escalation_recommended (forwarding) ──► closed
   │           │                  │        ▲ (a summary no solver could receive)
   └───────────┴──► failed        └──► superseded_by_human
```

`opening`: a worker claimed the dispute and runs the opening classification; `taking`: the take
request is out; `awaiting_response` and `summary_pending` are live (Serbero talks to the
parties). After a summary or a handoff Serbero only forwards what the parties still write, until
a person takes the dispute over or it is resolved (`closed`). A live session a person took over,
or that was resolved, is `superseded_by_human`. States are stored codes: never renamed.
"""

from __future__ import annotations

import logging
from typing import Any

from serbero.db.models import audit
from serbero.mediation.models import MediationSession

log = logging.getLogger(__name__)

OPENING = "opening"
TAKING = "taking"
AWAITING = "awaiting_response"
SUMMARY_PENDING = "summary_pending"
SUMMARY_DELIVERED = "summary_delivered"
ESCALATED = "escalation_recommended"
SUPERSEDED = "superseded_by_human"
CLOSED = "closed"
FAILED = "failed"
STATES = (OPENING, TAKING, AWAITING, SUMMARY_PENDING, SUMMARY_DELIVERED, ESCALATED, SUPERSEDED,
          CLOSED, FAILED)

#: Serbero works on the dispute: it may still write questions to the parties.
LIVE = frozenset({OPENING, TAKING, AWAITING, SUMMARY_PENDING})
#: A person has (or is about to have) the case; what the parties write is forwarded.
FORWARDING = frozenset({SUMMARY_DELIVERED, ESCALATED})
#: Nothing more happens.
ENDED = frozenset({SUPERSEDED, CLOSED, FAILED})

#: to-state → the states it may be entered from. No self-move is legal.
PREDECESSORS: dict[str, frozenset[str]] = {
    TAKING: frozenset({OPENING}),
    AWAITING: frozenset({TAKING}),
    SUMMARY_PENDING: frozenset({TAKING, AWAITING}),
    SUMMARY_DELIVERED: frozenset({SUMMARY_PENDING}),
    ESCALATED: frozenset(LIVE | {SUMMARY_DELIVERED}),
    SUPERSEDED: frozenset(LIVE),
    CLOSED: frozenset(FORWARDING),
    FAILED: frozenset({OPENING, TAKING}),
}


def is_legal(from_state: str, to_state: str) -> bool:
    return from_state in PREDECESSORS.get(to_state, ())


def transition(session: MediationSession, to_state: str, *, at: int, reason: str,
               version: int | None = None, **updates: Any) -> bool:
    """Move `session` to `to_state` if it sits where it was read, in a legal predecessor (and, if
    `version` is given, nobody committed a round since). `updates` are further columns of the
    same UPDATE. On success the object is updated and an audit row written; True. Call inside
    a transaction."""
    if not is_legal(session.state, to_state):
        _lost(session, to_state, reason, at, why="illegal")
        return False
    where = ((MediationSession.session_id == session.session_id)
             & (MediationSession.state == session.state))
    if version is not None:
        where &= MediationSession.version == version
    columns: dict[str, Any] = {"state": to_state, "last_transition_at": at,
                               "version": MediationSession.version + 1, **updates}
    if to_state in ENDED | FORWARDING:
        columns.setdefault("end_reason", reason)
    if to_state in ENDED:
        columns.setdefault("ended_at", at)
    if MediationSession.update(**columns).where(where).execute() != 1:
        _lost(session, to_state, reason, at, why="lost_race")
        return False
    previous = session.state
    session.state = to_state
    session.version = (version if version is not None else session.version) + 1
    for name, value in updates.items():
        setattr(session, name, value)
    audit("mediation_transition", dispute_id=session.dispute_id, session_id=session.session_id,
          at=at, **session.pinned(), **{"from": previous, "to": to_state, "reason": reason})
    log.info("mediation_transition", extra={"session_id": session.session_id,
                                            "dispute_id": session.dispute_id, "from": previous,
                                            "to": to_state, "reason": reason})
    return True


def _lost(session: MediationSession, to_state: str, reason: str, at: int, *, why: str) -> None:
    audit("mediation_transition_refused", dispute_id=session.dispute_id,
          session_id=session.session_id, at=at, **{"from": session.state, "to": to_state,
                                                    "reason": reason, "why": why})
    log.info("mediation_transition_refused", extra={
        "session_id": session.session_id, "from": session.state, "to": to_state, "why": why})


def get(session_id: str) -> MediationSession | None:
    return MediationSession.get_or_none(MediationSession.session_id == session_id)


def of_dispute(dispute_id: str) -> MediationSession | None:
    return MediationSession.get_or_none(MediationSession.dispute_id == dispute_id)


def by_author(sign_pubkey: str) -> tuple[MediationSession, str] | None:
    """The session whose buyer or seller channel is signed by `sign_pubkey`, and that party."""
    row = MediationSession.get_or_none((MediationSession.buyer_sign_pubkey == sign_pubkey)
                                       | (MediationSession.seller_sign_pubkey == sign_pubkey))
    if row is None:
        return None
    return row, "buyer" if row.buyer_sign_pubkey == sign_pubkey else "seller"


def refresh(session: MediationSession, *columns: str) -> MediationSession:
    """Read `columns` of the session again (inside a transaction, what it decides on); the
    pinned rules never change, so a full re-read is not needed."""
    fields = [getattr(MediationSession, name) for name in columns]
    values = (MediationSession.select(*fields)
              .where(MediationSession.session_id == session.session_id).tuples().get())
    for name, value in zip(columns, values, strict=True):
        setattr(session, name, value)
    return session


def followed() -> list[MediationSession]:
    """Sessions whose chat channels the listener must hold: opened and not ended."""
    return list(MediationSession.select().where(
        MediationSession.state.in_(list(LIVE | FORWARDING))
        & MediationSession.buyer_sign_pubkey.is_null(False)))
