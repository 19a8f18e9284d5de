"""Wiring for processes that produce jobs (the listener) or run workers in-process
(`serbero run`): what the listener calls to enqueue, de-duplicate and claim ticks."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import dramatiq

from serbero import ticks
from serbero.config import Settings
from serbero.dedup import LocalSeen, RedisSeen, SeenFilter
from serbero.listener import Listener, serve
from serbero.runtime import Runtime
from serbero.ticker import Claim, LocalClaims, RedisClaims, Ticker
from workers import actors, mediation
from workers.broker import POLL_CAP_MS, broker, is_embedded
from workers.context import install

#: Threads of the in-process worker of `serbero run`.
EMBEDDED_THREADS = 8
#: How long `serbero run` lets in-flight jobs finish on shutdown, in milliseconds.
WORKER_STOP_TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class ProducerHooks:
    seen: SeenFilter
    claim: Claim

    @staticmethod
    def enqueue_event(event_json: str) -> None:
        actors.ingest_dispute_event.send(event_json)

    @staticmethod
    def enqueue_mostro_event(event_json: str) -> None:
        actors.ingest_mostro_event.send(event_json)

    @staticmethod
    def fire_tick(name: str, bucket: int) -> None:
        actor = mediation.run_mediation_tick if name in ticks.MEDIATION_JOBS else actors.run_tick
        actor.send(name, bucket)


def producer_hooks(settings: Settings) -> ProducerHooks:
    """Shared Redis de-duplication and tick claims, or local ones for the embedded broker."""
    if is_embedded():
        return ProducerHooks(seen=LocalSeen(), claim=LocalClaims())
    client = broker.client
    owner = f"listener-{uuid.uuid4()}"
    return ProducerHooks(seen=RedisSeen(client, settings.redis_namespace),
                         claim=RedisClaims(client, settings.redis_namespace, owner))


def start_worker(threads: int = EMBEDDED_THREADS) -> dramatiq.Worker:
    """An in-process worker on every queue; `process_boot` must be emitted by hand, or time
    limits are silently not enforced."""
    broker.emit_after("process_boot")
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=POLL_CAP_MS)
    worker.start()
    return worker


def build_listener(settings: Settings) -> tuple[Listener, Ticker]:
    """The listener and ticker of this deployment, enqueueing through the configured broker."""
    hooks = producer_hooks(settings)
    listener = Listener(settings, enqueue=hooks.enqueue_event, seen=hooks.seen,
                        enqueue_mostro=hooks.enqueue_mostro_event)
    return listener, Ticker(ticks.periods(settings), claim=hooks.claim, fire=hooks.fire_tick)


async def run_all_in_one(settings: Settings, stop: asyncio.Event, *,
                         threads: int = EMBEDDED_THREADS) -> None:
    """`serbero run`: listener, ticker and an in-process worker until `stop` is set. On the way
    out the listener saves its cursor first, then the worker finishes what it holds."""
    rt = Runtime.open(settings)
    install(rt)
    worker = start_worker(threads)
    listener, ticker = build_listener(settings)
    try:
        await serve(listener, stop, ticker=ticker)
    finally:
        await asyncio.to_thread(worker.stop, WORKER_STOP_TIMEOUT_MS)
        install(None)
        rt.close()
