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
#: A worker silent this long is presumed dead and its unacked messages are requeued (ms).
HEARTBEAT_TIMEOUT_MS = 30_000
#: Seconds any Redis command may take before it fails.
REDIS_TIMEOUT_S = 5
#: Commands per million that run queue maintenance (1 %: crashed workers' jobs come back soon).
MAINTENANCE_CHANCE = 10_000


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
