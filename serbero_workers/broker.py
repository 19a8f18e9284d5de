"""The dramatiq broker, built from the settings by `build`: Redis when a Redis URL is
configured, otherwise an in-process stub broker for `serbero run` (the embedded broker). Nothing
here runs at import; `serbero_workers.wiring.install` builds the process's one broker."""

from __future__ import annotations

from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import compute_backoff, dq_name
from dramatiq.middleware import AgeLimit, Retries, ShutdownNotifications, TimeLimit

from serbero.config import ServiceSettings
from serbero_workers.doorbell import Doorbell

#: Longest an idle consumer waits between Redis polls, in milliseconds (the default worker
#: timeout of Serbero's processes). Work arriving meanwhile rings the doorbell
#: (`serbero_workers.doorbell`), which ends the wait at once, so this bounds only how late a
#: message that nobody rang for is seen (a dead worker's requeued jobs, a ring lost while the
#: doorbell's subscriber reconnected). With the delay queues' longer wait below, an idle
#: process runs about 7 Redis polls a second instead of about 150 at the former 100 ms.
IDLE_POLL_MS = 1_000
#: The same for a delay queue's consumer. A delayed job is fetched when it is enqueued (the
#: ring wakes this consumer) and held by the worker until its eta, so this bounds only a lost
#: ring and a dead worker's delayed jobs. Idle, these consumers are half of the polls, and the
#: polls were three quarters of an idle worker's CPU.
IDLE_DELAY_POLL_MS = 5_000
#: A worker silent this long is presumed dead and its unacked (prefetched or running) messages
#: are requeued (ms). A live worker refreshes its heartbeat with every Redis command, and its
#: idle consumers poll at least every IDLE_POLL_MS (IDLE_DELAY_POLL_MS for delay queues), so a
#: live process is heard about seven times a second; 5 s is over thirty missed polls. Mistaking
#: a stalled process for a dead one costs a second run of idempotent jobs, never a second DM
#: (the outbox re-publishes the same signed event). dramatiq's default is 60 s.
HEARTBEAT_TIMEOUT_MS = 5_000
#: Seconds any Redis command may take before it fails.
REDIS_TIMEOUT_S = 5
#: Commands per million that run queue maintenance: the step that requeues a dead worker's
#: messages, and only those of the queue the command is about. An idle queue sees one or two
#: polls a second per worker process (the doorbell spares the rest), so at 10 % a dead worker's
#: jobs waited seconds past the heartbeat timeout; at 50 % about a second. Without a dead worker
#: the step is two sorted-set reads inside the command's own script (no extra round trip).
MAINTENANCE_CHANCE = 500_000


class SerberoRedisBroker(RedisBroker):
    """A RedisBroker with a doorbell: every enqueue rings it, and its consumers wait on it
    between polls instead of sleeping, at most their timeout (the worker timeout)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.doorbell = Doorbell(self.client, self.namespace)

    @property
    def consumer_class(self) -> type[_RedisConsumer]:
        return _DoorbellConsumer

    def consume(self, queue_name: str, prefetch: int = 1,
                timeout: int = IDLE_POLL_MS) -> _RedisConsumer:
        self.doorbell.listen()
        if queue_name == dq_name(queue_name):
            timeout = max(timeout, IDLE_DELAY_POLL_MS)
        return super().consume(queue_name, prefetch, timeout)

    def enqueue(self, message: dramatiq.Message, *, delay: int | None = None) -> dramatiq.Message:
        enqueued = super().enqueue(message, delay=delay)
        self.doorbell.ring(enqueued.queue_name)
        return enqueued

    def close(self) -> None:
        self.doorbell.close()
        super().close()


class _DoorbellConsumer(_RedisConsumer):
    """dramatiq's Redis consumer, whose misses wait on the doorbell instead of sleeping."""

    def __init__(self, broker: SerberoRedisBroker, queue_name: str, prefetch: int,
                 timeout: int) -> None:
        # dramatiq's own back-off sleep is turned off (0 ms): the wait below replaces it.
        super().__init__(broker, queue_name, prefetch, 0)
        self.idle_ms = timeout
        self.idle_misses = 0
        self.bell = broker.doorbell.event(queue_name)

    def __next__(self) -> dramatiq.MessageProxy | None:
        self.bell.clear()  # before fetching: a ring during the fetch ends the wait below
        message = super().__next__()
        if message is not None:
            self.idle_misses = 0
            return message
        self.idle_misses, wait_ms = compute_backoff(self.idle_misses, max_backoff=self.idle_ms)
        self.bell.wait(wait_ms / 1000)
        return None

    def ack(self, message: dramatiq.MessageProxy) -> None:
        try:
            super().ack(message)
        finally:
            self.bell.set()  # a prefetch slot is free

    def nack(self, message: dramatiq.MessageProxy) -> None:
        try:
            super().nack(message)
        finally:
            self.bell.set()


def middleware() -> list[dramatiq.Middleware]:
    """dramatiq's default stack minus Callbacks and Pipelines, which no actor uses: every
    middleware runs on every message."""
    return [AgeLimit(), TimeLimit(), ShutdownNotifications(), Retries()]


def build(settings: ServiceSettings) -> dramatiq.Broker:
    """The broker `settings` describe: Redis (its namespace prefixing every key) or embedded."""
    if settings.redis_url:
        # Timeouts: a Redis that stops answering must fail an enqueue, not freeze the listener.
        pool = redis.ConnectionPool.from_url(settings.redis_url, socket_timeout=REDIS_TIMEOUT_S,
                                             socket_connect_timeout=REDIS_TIMEOUT_S)
        return SerberoRedisBroker(client=redis.Redis(connection_pool=pool),
                                  namespace=settings.redis_namespace,
                                  heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
                                  maintenance_chance=MAINTENANCE_CHANCE,
                                  middleware=middleware())
    return StubBroker(middleware=middleware())
