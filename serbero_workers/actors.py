"""The actors of the `events`, `notify`, `webhooks` and `ticks` queues: each decodes its
message, calls one `serbero` function and hands the follow-up to `wiring.follow_up`. Each names
the installed broker, so import order can never bind it to dramatiq's default one.

Messages carry only raw event JSON (on `events`) or natural keys, never objects or secrets.
"""

from __future__ import annotations

import logging

import dramatiq

from serbero import clock, ticks
from serbero.acks import inbox as acks
from serbero.disputes import ingest
from serbero.mediation import daemon as mediation_daemon
from serbero.tiers import steps
from serbero_workers import wiring
from serbero_workers.wiring import follow_up, runtime

log = logging.getLogger(__name__)

#: Options of a job that dramatiq retries when it raises (a database error, say): up to eight
#: times, backing off from half a second to a minute; each attempt may run a minute.
RETRIED = {"max_retries": 8, "min_backoff": 500, "max_backoff": 60_000, "time_limit": 60_000}


@dramatiq.actor(broker=wiring.broker(), queue_name="events", **RETRIED)
def ingest_dispute_event(event_json: str) -> None:
    """Apply one Mostro dispute event, then publish the notices it wrote, right here: one queue
    hop less per notice. A notice that fails stays in the outbox, whose tick retries it."""
    rt = runtime()
    follow_up(ingest.ingest(event_json, settings=rt.settings, signer=rt.signer,
                            now=clock.now()), inline=True)


@dramatiq.actor(broker=wiring.broker(), queue_name="events", **RETRIED)
def ingest_dispute_events(events: list[str]) -> None:
    """Apply the dispute events the listener handed over together (a burst) in one
    transaction, then publish all their notices at once, in one of the process's batch slots
    (`wiring.batch_slot`). A batch that fails is split: each event goes back on the queue as
    a job of its own, so an event that keeps failing holds back none of the others."""
    rt = runtime()
    with wiring.batch_slot():
        try:
            result = ingest.ingest_many(events, settings=rt.settings, signer=rt.signer,
                                        now=clock.now())
        except Exception:
            log.warning("dispute_batch_split", exc_info=True, extra={"events": len(events)})
            for raw in events:
                ingest_dispute_event.send(raw)
            return
        follow_up(result, inline=True)


@dramatiq.actor(broker=wiring.broker(), queue_name="events", **RETRIED)
def ingest_mostro_event(event_json: str) -> None:
    """Record the node's info event, or match a reply to Serbero's take request (and open or
    end the mediation session waiting for it)."""
    follow_up(mediation_daemon.mostro_event(event_json, runtime(), clock.now()))


@dramatiq.actor(broker=wiring.broker(), queue_name="events", priority=10, **RETRIED)
def ingest_chat_event(event_json: str) -> None:
    """Apply one dispute-chat message of a mediation session; no model call here (the
    evaluation it may arm runs on `mediation`). Behind dispute events in a worker's queue
    (priority 10, as mediation's jobs): a chatting session never delays a notice."""
    follow_up(mediation_daemon.chat_event(event_json, runtime(), clock.now()))


@dramatiq.actor(broker=wiring.broker(), queue_name="events", **RETRIED)
def ingest_solver_reply(event_json: str) -> None:
    """Apply one DM a configured solver sent Serbero: an acknowledgement, or ignored (a reply
    is never a command)."""
    rt = runtime()
    follow_up(acks.ingest(event_json, settings=rt.settings, signer=rt.signer, now=clock.now()))


@dramatiq.actor(broker=wiring.broker(), queue_name="notify", **RETRIED)
def notification_step(dispute_id: str, token: str) -> None:
    """One delayed step of a dispute's tier chain; a stale token does nothing."""
    rt = runtime()
    follow_up(steps.step(dispute_id, token, settings=rt.settings, signer=rt.signer,
                         now=clock.now()))


@dramatiq.actor(broker=wiring.broker(), queue_name="notify", **RETRIED)
def publish_outbox_row(row_id: int) -> None:
    """Publish one stored, already-signed event; relay failures are recorded on the row."""
    wiring.publish(row_id)


@dramatiq.actor(broker=wiring.broker(), queue_name="webhooks", **RETRIED)
def publish_webhook_row(row_id: int) -> None:
    """POST one stored webhook notice, on a queue of its own: a webhook that hangs delays no
    DM. Failures are recorded on the row and retried by the outbox tick."""
    wiring.publish(row_id)


@dramatiq.actor(broker=wiring.broker(), queue_name="ticks", max_retries=0, time_limit=300_000)
def run_tick(name: str, bucket: int) -> None:
    """One periodic job for one time bucket; its work comes from the database."""
    follow_up(ticks.run(name, runtime(), clock.now()))
