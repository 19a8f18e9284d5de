"""Reading the deployment's rejected-event counter (written by `serbero.rejections`)."""

from __future__ import annotations

import redis

from serbero import redis_store
from serbero.rejections import KEY


def rejections(client: redis.Redis, namespace: str) -> dict[str, int]:
    """Rejected events by reason since the counter was created (Redis was last flushed)."""
    raw = client.hgetall(redis_store.key(namespace, KEY))
    return {k.decode(): int(v) for k, v in sorted(raw.items())}
