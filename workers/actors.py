"""The actors: each decodes its message, calls one `serbero` function and enqueues follow-ups.
Each names its broker, so import order can never bind it to dramatiq's default one.

Messages carry only raw event JSON (on `events`) or natural keys, never objects or secrets.
"""

from __future__ import annotations

import dramatiq

from serbero import clock, outbox, ticks
from serbero.disputes import ingest
from serbero.mostro import daemon as mostro_daemon
from workers.broker import broker
from workers.context import runtime

QUEUES = ("events", "notify", "ticks")


@dramatiq.actor(broker=broker, queue_name="events", max_retries=8, min_backoff=500,
                max_backoff=60_000, time_limit=60_000)
def ingest_dispute_event(event_json: str) -> None:
    """Apply one Mostro dispute event, then publish the notices it wrote, right here: one queue
    hop less per notice. A notice that fails stays in the outbox, whose tick retries it."""
    rt = runtime()
    result = ingest.ingest(event_json, settings=rt.settings, signer=rt.signer, now=clock.now())
    outbox.publish_many(result.outbox_ids, relay=rt.relay, settings=rt.settings,
                        now=clock.now(), signed=result.signed)


@dramatiq.actor(broker=broker, queue_name="events", max_retries=8, min_backoff=500,
                max_backoff=60_000, time_limit=60_000)
def ingest_mostro_event(event_json: str) -> None:
    """Record the node's info event, or match a reply to Serbero's take request."""
    rt = runtime()
    mostro_daemon.handle(event_json, settings=rt.settings, signer=rt.signer, now=clock.now())


@dramatiq.actor(broker=broker, queue_name="notify", max_retries=8, min_backoff=500,
                max_backoff=60_000, time_limit=60_000)
def publish_outbox_row(row_id: int) -> None:
    """Publish one stored, already-signed event; relay failures are recorded on the row."""
    rt = runtime()
    outbox.publish(row_id, relay=rt.relay, settings=rt.settings, now=clock.now())


@dramatiq.actor(broker=broker, queue_name="ticks", max_retries=0, time_limit=300_000)
def run_tick(name: str, bucket: int) -> None:
    """One periodic job for one time bucket; its work comes from the database."""
    for row_id in ticks.run(name, runtime(), clock.now()):
        publish_outbox_row.send(row_id)
