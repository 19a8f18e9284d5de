"""Escalation actors, all on the `escalation` queue so an operator's escalation never waits
behind a backlog of notices: dispatch a handoff, publish its DMs, re-dispatch after a failed
send. Messages carry a handoff id, an outbox row id or a retry token; nothing else.
"""

from __future__ import annotations

import dramatiq

from serbero import clock, outbox
from serbero.escalation import dispatch, retry
from workers.broker import broker
from workers.context import runtime

QUEUE = "escalation"


@dramatiq.actor(broker=broker, queue_name=QUEUE, max_retries=8, min_backoff=500, max_backoff=60_000,
                time_limit=60_000)
def dispatch_handoff(handoff_id: int) -> None:
    """Route one handoff and write its DMs (manual escalation); a repeat is a no-op."""
    rt = runtime()
    follow_up(dispatch.dispatch_one(handoff_id, settings=rt.settings, signer=rt.signer,
                                    now=clock.now()))


@dramatiq.actor(broker=broker, queue_name=QUEUE, max_retries=8, min_backoff=500, max_backoff=60_000,
                time_limit=60_000)
def redispatch_handoff(handoff_id: int, token: str) -> None:
    """Delayed re-dispatch after a failed send; a stale token means it already moved on."""
    rt = runtime()
    follow_up(dispatch.dispatch_one(handoff_id, settings=rt.settings, signer=rt.signer,
                                    now=clock.now(), token=token))


@dramatiq.actor(broker=broker, queue_name=QUEUE, max_retries=8, min_backoff=500, max_backoff=60_000,
                time_limit=60_000)
def publish_handoff_dm(row_id: int) -> None:
    """Publish one signed handoff DM; if that ended its attempt, schedule the re-dispatch."""
    rt = runtime()
    status = outbox.publish(row_id, relay=rt.relay, settings=rt.settings, now=clock.now())
    if status == outbox.FAILED and (again := retry.scheduled_for_dm(row_id)):
        redispatch_handoff.send_with_options(args=(again.handoff_id, again.token),
                                             delay=again.delay_ms(clock.now()))


def follow_up(outcome: dispatch.Outcome) -> None:
    """After commit: publish the handoff's DMs, and schedule its retry if it needs one."""
    for row_id in outcome.outbox_ids:
        publish_handoff_dm.send(row_id)
    if outcome.retry is not None:
        redispatch_handoff.send_with_options(args=(outcome.retry.handoff_id, outcome.retry.token),
                                             delay=outcome.retry.delay_ms(clock.now()))
