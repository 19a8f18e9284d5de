"""The dramatiq broker, built from the settings by `build`: Redis when a Redis URL is
configured, otherwise an in-process stub broker for `serbero run` (the embedded broker). Nothing
here runs at import; `workers.wiring.install` builds the process's one broker."""

from __future__ import annotations

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, Retries, ShutdownNotifications, TimeLimit

from serbero.config import ServiceSettings

#: Longest an idle consumer waits between Redis polls, in milliseconds. dramatiq's default of
#: 1000 ms adds up to a second of latency per queue hop; 100 ms costs ~20 cheap calls/s.
POLL_CAP_MS = 100
#: A worker silent this long is presumed dead and its unacked (prefetched or running) messages
#: are requeued (ms). A live worker refreshes its heartbeat with every Redis command, and its
#: idle consumers (every queue has a delay-queue consumer too) poll every POLL_CAP_MS, so a
#: live process is heard ten times a second; 5 s is fifty missed polls. Mistaking a stalled
#: process for a dead one costs a second run of idempotent jobs, never a second DM (the outbox
#: re-publishes the same signed event). dramatiq's default is 60 s.
HEARTBEAT_TIMEOUT_MS = 5_000
#: Seconds any Redis command may take before it fails.
REDIS_TIMEOUT_S = 5
#: Commands per million that run queue maintenance: the step that requeues a dead worker's
#: messages, and only those of the queue the command is about. A queue sees 10-20 polls a second
#: per worker process, so at 1 % a dead worker's jobs waited 0.3-8 s (measured) past the heartbeat
#: timeout; at 10 % about half a second. Without a dead worker the step is two sorted-set reads
#: inside the command's own script (no extra round trip).
MAINTENANCE_CHANCE = 100_000


class SerberoRedisBroker(RedisBroker):
    """A RedisBroker whose consumers never sleep longer than POLL_CAP_MS, however started."""

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000):
        return super().consume(queue_name, prefetch, min(timeout, POLL_CAP_MS))


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
