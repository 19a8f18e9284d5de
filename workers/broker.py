"""The dramatiq broker: Redis when SERBERO_REDIS_URL is set, otherwise an in-process stub broker
for `serbero run` (the embedded broker). Imported before any actor module."""

from __future__ import annotations

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, Retries, ShutdownNotifications, TimeLimit

from serbero import config

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


def build(redis_url: str | None, namespace: str) -> dramatiq.Broker:
    if redis_url:
        # Timeouts: a Redis that stops answering must fail an enqueue, not freeze the listener.
        pool = redis.ConnectionPool.from_url(redis_url, socket_timeout=REDIS_TIMEOUT_S,
                                             socket_connect_timeout=REDIS_TIMEOUT_S)
        return SerberoRedisBroker(client=redis.Redis(connection_pool=pool), namespace=namespace,
                                  heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
                                  maintenance_chance=MAINTENANCE_CHANCE,
                                  middleware=middleware())
    return StubBroker(middleware=middleware())


broker = build(config.redis_url(), config.redis_namespace())
dramatiq.set_broker(broker)


def is_embedded() -> bool:
    return isinstance(broker, StubBroker)


class OpenRuntimeAtBoot(dramatiq.Middleware):
    """Middleware that prepares a worker process when it boots: logging as configured, the
    database, and the relay connections, so the first job does not pay for connecting."""

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        from serbero import logs
        from workers.context import runtime

        rt = runtime()
        logs.setup(rt.settings.log_level, rt.settings.log_format)
        rt.relay.start()


broker.add_middleware(OpenRuntimeAtBoot())
