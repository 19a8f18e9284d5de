"""Escalation actors, all on the `escalation` queue so an operator's escalation never waits
behind a backlog of notices: dispatch a handoff, publish its DMs, re-dispatch after a failed
send. Messages carry a handoff id, an outbox row id or a retry token; nothing else.
"""

from __future__ import annotations

import dramatiq

from serbero import clock
from serbero.escalation import dispatch
from serbero_workers import wiring
from serbero_workers.actors import RETRIED
from serbero_workers.wiring import follow_up, runtime

QUEUE = "escalation"


@dramatiq.actor(broker=wiring.broker(), queue_name=QUEUE, **RETRIED)
def dispatch_handoff(handoff_id: int) -> None:
    """Route one handoff and write its DMs (manual escalation); a repeat is a no-op."""
    rt = runtime()
    follow_up(dispatch.dispatch_one(handoff_id, settings=rt.settings, signer=rt.signer,
                                    now=clock.now()))


@dramatiq.actor(broker=wiring.broker(), queue_name=QUEUE, **RETRIED)
def redispatch_handoff(handoff_id: int, token: str) -> None:
    """Delayed re-dispatch after a failed send; a stale token means it already moved on."""
    rt = runtime()
    follow_up(dispatch.dispatch_one(handoff_id, settings=rt.settings, signer=rt.signer,
                                    now=clock.now(), token=token))


@dramatiq.actor(broker=wiring.broker(), queue_name=QUEUE, **RETRIED)
def publish_handoff_dm(row_id: int) -> None:
    """Publish one signed handoff DM; if that ended its attempt, its follow-up schedules the
    re-dispatch."""
    wiring.publish(row_id)
