"""Queue depths and dead letters, read straight from dramatiq's Redis layout
(dramatiq/brokers/redis/dispatch.lua) without importing dramatiq:

    <ns>:<q>            LIST  ids ready to run          <ns>:<q>.msgs     HASH ready + in flight
    <ns>:<q>.DQ.msgs    HASH  delayed (eta, back-off)   <ns>:<q>.XQ.msgs  HASH dead letters

(Workers are counted from their own heartbeats, `serbero.ops.heartbeat`: dramatiq's
`<ns>:__heartbeats__` has every producer in it too.)
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from serbero.redis_store import glob_escape

#: Suffixes dramatiq gives a queue's side keys; what precedes them is the queue's name.
_SIDE_SUFFIXES = (".DQ.msgs", ".XQ.msgs", ".msgs")


@dataclass(frozen=True)
class QueueDepth:
    """Messages of one queue by where they are."""

    name: str
    ready: int
    in_flight: int
    delayed: int
    dead: int


def discover(client: redis.Redis, namespace: str) -> set[str]:
    """Queues that hold any message right now, declared or not (e.g. by an older version)."""
    prefix = f"{namespace}:"
    names = set()
    for raw in client.scan_iter(match=glob_escape(prefix) + "*.msgs", count=1000):
        name = raw.decode()[len(prefix):]
        for suffix in _SIDE_SUFFIXES:
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        if name and not name.startswith("__"):
            names.add(name)
    return names


def depths(client: redis.Redis, namespace: str, queues: list[str]) -> list[QueueDepth]:
    """Depths of `queues`, in the order given, read in one round trip."""
    pipe = client.pipeline(transaction=False)
    for q in queues:
        base = f"{namespace}:{q}"
        pipe.llen(base)
        pipe.hlen(f"{base}.msgs")
        pipe.hlen(f"{base}.DQ.msgs")
        pipe.hlen(f"{base}.XQ.msgs")
    counts = pipe.execute()
    out = []
    for i, q in enumerate(queues):
        ready, total, delayed, dead = counts[4 * i: 4 * i + 4]
        out.append(QueueDepth(name=q, ready=ready, in_flight=max(total - ready, 0),
                              delayed=delayed, dead=dead))
    return out
