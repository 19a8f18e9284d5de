"""Counters that must add up across processes and are not in the database: rejected events.

An event is rejected in the listener or in any worker, so a counter in one process's memory
would know only its share. Each rejection is added to one Redis hash per deployment, which the
metrics endpoint and `serbero status` read. With the embedded broker (no Redis) rejections are
only logged.
"""

from __future__ import annotations

import logging

import redis

from serbero.config import Settings
from serbero.ops import redis_store

log = logging.getLogger(__name__)

REJECTED = "events_rejected"


def count_rejection(settings: Settings, reason: str) -> None:
    """Add one rejected event with `reason` to the deployment's counter; never raises, because
    counting must not stop the listener or a worker."""
    if not settings.redis_url:
        return
    try:
        redis_store.client(settings.redis_url).hincrby(
            redis_store.key(settings.redis_namespace, REJECTED), reason, 1)
    except redis.RedisError as exc:
        log.warning("rejection_not_counted", extra={"reason": reason, "error": str(exc)})


def rejections(client: redis.Redis, namespace: str) -> dict[str, int]:
    """Rejected events by reason since the counter was created (Redis was last flushed)."""
    raw = client.hgetall(redis_store.key(namespace, REJECTED))
    return {k.decode(): int(v) for k, v in sorted(raw.items())}
