"""The wiring of Serbero's processes, in one place: the process's broker (built from the
settings, every actor declared on it), its runtime, the one function that turns an entry
point's follow-up into messages, and the listener, ticker and in-process worker that
`serbero listen`, `serbero run` and `dramatiq serbero_workers.wiring:boot` start.

Install the broker before importing an actor module: actors bind to it when declared.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import pkgutil
import threading
import uuid
from collections.abc import Callable

import dramatiq
from dramatiq.brokers.stub import StubBroker

from serbero import clock, config, outbox, ticks
from serbero.config import ServiceSettings, Settings
from serbero.db.connection import is_sqlite
from serbero.dedup import LocalSeen, RedisSeen
from serbero.followup import ESCALATION, MEDIATION, NOTIFY, WEBHOOKS, FollowUp
from serbero.listener import Listener, serve
from serbero.listener.subscriptions import (
    INGEST_DISPUTE_EVENT,
    INGEST_MOSTRO_EVENT,
    INGEST_SOLVER_REPLY,
)
from serbero.mediation.subscriptions import TARGET as INGEST_CHAT_EVENT
from serbero.runtime import Runtime
from serbero.ticker import LocalClaims, RedisClaims, Ticker
from serbero_workers import broker as brokers
from serbero_workers.liveness import WorkerLiveness, install_log_filter

#: Threads of the in-process worker of `serbero run`.
EMBEDDED_THREADS = 8
#: How long `serbero run` lets in-flight jobs finish on shutdown, in milliseconds.
WORKER_STOP_TIMEOUT_MS = 15_000
#: Lane → the actor that publishes its rows.
LANES = {NOTIFY: "publish_outbox_row", ESCALATION: "publish_handoff_dm",
         WEBHOOKS: "publish_webhook_row", MEDIATION: "publish_mediation_row"}
#: The actors that take a raw event: the targets of the listener's subscriptions, static or
#: wanted (a wanted subscription naming anything else is refused by the listener).
EVENT_TARGETS = (INGEST_DISPUTE_EVENT, INGEST_MOSTRO_EVENT, INGEST_CHAT_EVENT, INGEST_SOLVER_REPLY)
#: Targets whose events the listener hands over in batches → the actor that takes a batch.
BATCHED_TARGETS = {INGEST_DISPUTE_EVENT: "ingest_dispute_events"}
#: A periodic job's queue → the actor that runs it there (ticks.JOBS names each job's queue).
TICK_ACTORS = {ticks.TICKS: "run_tick", ticks.MEDIATION: "run_mediation_tick"}
#: Dispute batches a worker process applies at once on SQLite. SQLite has one writer: with two
#: batches at once one writes while the other signs or publishes, and more only wait on its
#: write lock. A burst (issue 8, `serbero worker -t 8`) measured 340, 590 and 440 DM/s with 1,
#: 2 and 8 at once. PostgreSQL writes concurrently, and takes them all.
SQLITE_BATCH_SLOTS = 2
#: Modules of this package that declare no actors; every other one is imported by `install`.
NOT_ACTOR_MODULES = frozenset({"broker", "dashboard", "liveness", "process", "wiring"})

_lock = threading.Lock()
_sqlite_batch_slots = threading.BoundedSemaphore(SQLITE_BATCH_SLOTS)
_broker: dramatiq.Broker | None = None
_settings: Settings | None = None
_runtime: Runtime | None = None
#: A runtime was installed by the composition root (`serbero run`, the demo, a test), which
#: also set up logging; a worker process that opens its own sets logging up at boot.
_installed = False
#: The worker heartbeat and Redis-outage middleware of this process's broker.
_liveness = WorkerLiveness()


class OpenRuntimeAtBoot(dramatiq.Middleware):
    """Middleware that prepares a worker process when it boots: logging as configured (unless
    the process did, as `serbero run` does), the database, and the relay connections, so the
    first job does not pay for connecting."""

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        from serbero import logs

        rt = runtime()
        if not _installed:
            logs.setup(rt.settings.log_level, rt.settings.log_format)
        install_log_filter(_liveness)
        rt.relay.start()


def install(settings: ServiceSettings) -> dramatiq.Broker:
    """Build this process's broker from `settings` and declare every actor on it. A process has
    one broker (actors are bound to it), so a later call returns the first."""
    global _broker  # noqa: PLW0603 - one broker per process, by design
    with _lock:
        if _broker is None:
            _broker = brokers.build(settings)
            _broker.add_middleware(OpenRuntimeAtBoot())
            _broker.add_middleware(_liveness)
            dramatiq.set_broker(_broker)
        installed = _broker
    declare_all_actors()
    return installed


def broker() -> dramatiq.Broker:
    """The process's broker; `install` must have built it."""
    if _broker is None:
        raise RuntimeError("no broker installed: call serbero_workers.wiring.install(settings) "
                           "first")
    return _broker


def is_embedded() -> bool:
    return isinstance(broker(), StubBroker)


def declare_all_actors() -> None:
    """Import every actor module of `serbero_workers`, declaring its actors and queues."""
    import serbero_workers

    for info in pkgutil.iter_modules(serbero_workers.__path__):
        if not info.name.startswith("_") and info.name not in NOT_ACTOR_MODULES:
            importlib.import_module(f"serbero_workers.{info.name}")


def install_runtime(rt: Runtime | None) -> None:
    global _runtime, _installed  # one runtime per process, by design
    with _lock:
        _runtime, _installed = rt, rt is not None


def runtime() -> Runtime:
    """The runtime installed by `serbero run` or a test, or one opened on first use from the
    settings this process booted with (after fork, so nothing is shared)."""
    global _runtime  # noqa: PLW0603
    if _runtime is None:
        with _lock:
            if _runtime is None:
                _runtime = Runtime.open(_settings if _settings is not None else config.load())
    return _runtime


def follow_up(result: FollowUp, *, inline: bool = False) -> None:
    """After commit, turn what an entry point left to do into messages: each row to its lane's
    publish job (or, `inline`, the notify lane's rows published right here: one queue hop less
    per notice), each later job delayed until its time."""
    if inline and (here := [p.row_id for p in result.publish if p.lane == NOTIFY]):
        rt = runtime()
        published = outbox.publish_many(here, channels=rt.channels, settings=rt.settings,
                                        now=clock.now(), signed=result.signed)
        result = FollowUp(publish=tuple(p for p in result.publish if p.lane != NOTIFY),
                          later=result.later).then(published)
    jobs = broker()
    for publish in result.publish:
        jobs.get_actor(LANES[publish.lane]).send(publish.row_id)
    for later in result.later:
        jobs.get_actor(later.job).send_with_options(
            args=later.args, delay=max(0, later.at - clock.now()) * 1000)


def batch_slot() -> contextlib.AbstractContextManager[object]:
    """Where a dispute batch waits its turn in this process (SQLITE_BATCH_SLOTS)."""
    return _sqlite_batch_slots if is_sqlite(runtime().db) else contextlib.nullcontext()


def publish(row_id: int) -> None:
    """The publish jobs' one call: send one stored row, then its follow-up."""
    rt = runtime()
    follow_up(outbox.publish_many([row_id], channels=rt.channels, settings=rt.settings,
                                  now=clock.now()))


def targets() -> dict[str, Callable[[str], object]]:
    """Where the listener hands events: each actor of EVENT_TARGETS, by name."""
    jobs = broker()
    return {name: jobs.get_actor(name).send for name in EVENT_TARGETS}


def fire_tick(name: str, bucket: int) -> None:
    """The ticker's one call: enqueue periodic job `name` on its own queue."""
    broker().get_actor(TICK_ACTORS[ticks.queue(name)]).send(name, bucket)


def build_listener(settings: Settings, command: str = "listen") -> tuple[Listener, Ticker]:
    """The listener and ticker of this deployment, enqueueing through the installed broker:
    shared Redis de-duplication and tick claims, or local ones for the embedded broker."""
    install(settings)
    if is_embedded():
        seen, claim = LocalSeen(), LocalClaims()
    else:
        client = broker().client
        seen = RedisSeen(client, settings.redis_namespace)
        claim = RedisClaims(client, settings.redis_namespace, f"listener-{uuid.uuid4()}")
    jobs = broker()
    batched = {target: jobs.get_actor(actor).send for target, actor in BATCHED_TARGETS.items()}
    listener = Listener(settings, targets=targets(), seen=seen, command=command,
                        batched=batched)
    return listener, Ticker(ticks.periods(settings), claim=claim, fire=fire_tick,
                            on_error=listener.tick_failed)


def start_worker(threads: int = EMBEDDED_THREADS) -> dramatiq.Worker:
    """The in-process worker of `serbero run`, on every queue; `process_boot` must be emitted by
    hand, or time limits are silently not enforced."""
    jobs = broker()
    _liveness.command = "run"
    jobs.emit_after("process_boot")
    worker = dramatiq.Worker(jobs, worker_threads=threads, worker_timeout=brokers.IDLE_POLL_MS)
    worker.start()
    return worker


async def run_all_in_one(settings: Settings, stop: asyncio.Event, *,
                         threads: int = EMBEDDED_THREADS) -> None:
    """`serbero run`: listener, ticker and an in-process worker until `stop` is set. On the way
    out the listener saves its cursor first, then the worker finishes what it holds."""
    install(settings)
    rt = Runtime.open(settings)
    install_runtime(rt)
    worker = start_worker(threads)
    listener, ticker = build_listener(settings, "run")
    try:
        await serve(listener, stop, ticker=ticker)
    finally:
        await asyncio.to_thread(worker.stop, WORKER_STOP_TIMEOUT_MS)
        install_runtime(None)
        rt.close()


def boot(settings: Settings | None = None) -> None:
    """The entry point of `dramatiq serbero_workers.wiring:boot` and of `serbero worker`'s
    processes (which load the configuration first): install the broker that `settings`, by
    default the configuration ($SERBERO_CONFIG), describes."""
    from serbero.nostr import bindings

    global _settings  # noqa: PLW0603
    bindings.apply()
    _settings = settings if settings is not None else config.load()
    install(_settings)
