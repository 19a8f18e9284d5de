"""A session's delayed work, as rows: one per (session, kind) with a fresh token and when it is
due. Arming writes the row in the transaction that decided it and returns the delayed job
(carrying the token) for after commit; the job acts only if it can lease the row with that
token, so a stale or repeated job is a no-op (STYLE habit 5). A job that needs long (a model
call) holds the row under a lease token until it is done: if its worker dies, the lease runs
out and the periodic tick fires the row again. With no broker at all (a restart of
`serbero run`, a flushed Redis) the tick finds every due row: timers are re-armed from the
database.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from serbero.db.models import audit
from serbero.followup import FollowUp, Later
from serbero.mediation.models import MediationTimer

log = logging.getLogger(__name__)

#: The opening classification, the quiet-period evaluation, the parties' reply deadlines,
#: the summary, and forwarding what parties write after a handoff. Stored codes.
OPEN, EVALUATE, REPLY, SUMMARIZE, FORWARD = "open", "evaluate", "reply", "summarize", "forward"
KINDS = (OPEN, EVALUATE, REPLY, SUMMARIZE, FORWARD)
#: The delayed job that fires a timer (its args: session id, kind, token).
JOB = "mediation_timer"
#: Timers the tick fires, per run; the next run takes the rest.
DUE_BATCH = 200
#: A timer due this long ago whose job has not leased it is fired by the tick: its job was lost.
LOST_AFTER_S = 5


def _token() -> str:
    return uuid.uuid4().hex


def arm(session_id: str, kind: str, due_at: int) -> FollowUp:
    """Set (or reset) the timer; the returned follow-up is its delayed job. Any job of an
    earlier arming is stale from now on. Call inside the deciding transaction."""
    token = _token()
    (MediationTimer.insert(session_id=session_id, kind=kind, token=token, due_at=due_at)
     .on_conflict(conflict_target=[MediationTimer.session_id, MediationTimer.kind],
                  update={MediationTimer.token: token, MediationTimer.due_at: due_at})
     .execute())
    return FollowUp(later=(Later(JOB, due_at, (session_id, kind, token)),))


def arm_unless_armed(session_id: str, kind: str, due_at: int) -> FollowUp:
    """Arm the timer only if it is not set: a batch window starts with its first message."""
    inserted = (MediationTimer.insert(session_id=session_id, kind=kind, token=_token(),
                                      due_at=due_at)
                .on_conflict_ignore().as_rowcount().execute())
    if not inserted:
        return FollowUp()
    row = MediationTimer.get((MediationTimer.session_id == session_id)
                             & (MediationTimer.kind == kind))
    return FollowUp(later=(Later(JOB, row.due_at, (session_id, kind, row.token)),))


def lease(session_id: str, kind: str, token: str, *, now: int, lease_s: int) -> str | None:
    """Take the timer for a job carrying `token`, if it is still the current one and due:
    the row gets a new (lease) token, due again when the lease ends. Returns the lease token,
    or None (a stale job, or one that came early), with an audit row."""
    held = _token()
    won = (MediationTimer.update(token=held, due_at=now + lease_s)
           .where((MediationTimer.session_id == session_id) & (MediationTimer.kind == kind)
                  & (MediationTimer.token == token) & (MediationTimer.due_at <= now))
           .execute()) == 1
    if won:
        return held
    audit("mediation_timer_skipped", dispute_id=None, session_id=session_id, at=now,
          timer=kind, reason="stale_or_early")
    log.info("mediation_timer_skipped", extra={"session_id": session_id, "kind": kind})
    return None


def done(session_id: str, kind: str, held: str) -> None:
    """The leased job has finished: remove the timer unless it was re-armed meanwhile."""
    (MediationTimer.delete().where((MediationTimer.session_id == session_id)
                                   & (MediationTimer.kind == kind)
                                   & (MediationTimer.token == held)).execute())


def cancel(session_id: str, kinds: Iterable[str] = KINDS) -> int:
    """Drop timers (a session that ended, a party that answered); their jobs become stale."""
    return (MediationTimer.delete().where((MediationTimer.session_id == session_id)
                                          & MediationTimer.kind.in_(list(kinds))).execute())


def due(now: int, *, limit: int = DUE_BATCH) -> FollowUp:
    """The jobs of timers due a while ago that no job has leased: their delayed job was lost
    (a restart, a flushed Redis, the embedded broker). Firing twice is harmless: one lease wins."""
    rows = (MediationTimer.select().where(MediationTimer.due_at <= now - LOST_AFTER_S)
            .order_by(MediationTimer.due_at).limit(limit))
    return FollowUp(later=tuple(Later(JOB, now, (r.session_id, r.kind, r.token)) for r in rows))


def pending(session_id: str) -> dict[str, int]:
    """kind → due_at of a session's timers, for inspection."""
    return {r.kind: r.due_at for r in
            MediationTimer.select().where(MediationTimer.session_id == session_id)}
