"""Counting rejected events across processes: an event is rejected in the listener or in any
worker, so a counter in one process's memory would know only its share. Each rejection is
added to one Redis hash per deployment, which `serbero status` and the metrics endpoint read
(`serbero.ops.counters`). With the embedded broker (no Redis) rejections are only logged.
"""

from __future__ import annotations

import logging

import redis

from serbero import redis_store
from serbero.config import ServiceSettings

log = logging.getLogger(__name__)

#: The hash's name under the deployment's namespace.
KEY = "events_rejected"


def count(settings: ServiceSettings, reason: str) -> None:
    """Add one rejected event with `reason` to the deployment's counter; never raises, because
    counting must not stop the listener or a worker."""
    if not settings.redis_url:
        return
    try:
        redis_store.client(settings.redis_url).hincrby(
            redis_store.key(settings.redis_namespace, KEY), reason, 1)
    except redis.RedisError as exc:
        log.warning("rejection_not_counted", extra={"reason": reason, "error": str(exc)})
