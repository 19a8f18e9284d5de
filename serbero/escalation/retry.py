"""Re-dispatching a handoff none of whose DMs reached a relay (the original never retries a
`send_failed` handoff, GAP-23): the back-off, the token that turns a stale delayed job into a
no-op (STYLE habit 5), and when to give up.

A retry routes again with the configuration of the moment, so fixing a solver's mistyped
pubkey is enough for the next attempt to reach them; an operator's `--to` list stays pinned.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from serbero.db.models import AuditEvent
from serbero.escalation.models import (
    SEND_FAILED,
    EscalationHandoff,
    claim,
    record,
)
from serbero.escalation.outcome import record_outcome
from serbero.followup import FollowUp, Later

log = logging.getLogger(__name__)

#: First re-dispatch after a failed attempt; doubles per attempt up to the maximum (seconds).
RETRY_BASE_S = 60
RETRY_MAX_S = 3600
#: Attempts before a handoff is given up (about 20 hours with the delays above); an operator
#: can still send it with `serbero escalate DISPUTE_ID --again`.
MAX_ATTEMPTS = 24
#: The delayed job that re-dispatches a handoff (its args: handoff id, token).
JOB = "redispatch_handoff"


@dataclass(frozen=True)
class Retry:
    """A scheduled re-dispatch: the job that carries `token` is the only one that may run it."""

    handoff_id: int
    token: str
    at: int

    def follow_up(self) -> FollowUp:
        return FollowUp(later=(Later(JOB, self.at, (self.handoff_id, self.token)),))

    @classmethod
    def of(cls, follow_up: FollowUp) -> Retry | None:
        """The re-dispatch a follow-up schedules, if any."""
        job = next((j for j in follow_up.later if j.job == JOB), None)
        if job is None:
            return None
        handoff_id, token = job.args
        return cls(int(handoff_id), str(token), job.at)


def delay_s(attempts: int) -> int:
    """Seconds before attempt `attempts + 1`."""
    return min(RETRY_MAX_S, RETRY_BASE_S * 2 ** max(0, attempts - 1))


def fail_attempt(handoff: EscalationHandoff, *, now: int, reason: str) -> Retry | None:
    """Mark the current attempt `send_failed` (dispatch row, audit rows) and schedule the next
    one with a fresh token, or give up after MAX_ATTEMPTS. Call inside a transaction."""
    retry = None
    if handoff.attempts < MAX_ATTEMPTS:
        retry = Retry(handoff.handoff_event_id, uuid.uuid4().hex,
                      now + delay_s(handoff.attempts))
    token, at = (retry.token, retry.at) if retry else (None, None)
    if not claim(handoff, at=now, status=SEND_FAILED, retry_token=token, next_attempt_at=at):
        return None
    dispatch_id = record_outcome(handoff, status=SEND_FAILED, now=now)
    source = AuditEvent.get_or_none(AuditEvent.id == handoff.handoff_event_id)
    record("escalation_send_failed", dispute_id=handoff.dispute_id, at=now, source=source,
           dispatch_id=dispatch_id,
           handoff_event_id=handoff.handoff_event_id, attempt=handoff.attempts,
           reason=reason[:300], retry_at=at)
    extra = {"dispute_id": handoff.dispute_id, "handoff_id": handoff.handoff_event_id,
             "attempt": handoff.attempts, "retry_at": at}
    if retry is None:
        log.error("phase4_send_failed — giving up; use `serbero escalate --again`", extra=extra)
    else:
        log.warning("phase4_send_failed — re-dispatch scheduled", extra=extra)
    return retry
