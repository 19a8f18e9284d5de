"""One reading of everything an operator watches, taken by `serbero status` and by every
Prometheus scrape, so both always show the same numbers.

The database part (process heartbeats included, so listeners, relays and workers show in every
mode) needs the models bound to the deployment's database; the Redis part (queues, rejected
events) is missing with the embedded broker, and carries the error instead when Redis does not
answer.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import redis

from serbero import redis_store
from serbero.config import Settings, redact_url
from serbero.liveness import ALIVE_WITHIN_S
from serbero.mediation import queries as mediation_queries
from serbero.ops import counters, figures, heartbeat, queues


@dataclass(frozen=True)
class RedisView:
    """What Redis says: queues and rejected events."""

    url: str  # with any password replaced
    error: str | None = None
    queues: tuple[queues.QueueDepth, ...] = ()
    rejections: dict[str, int] | None = None


@dataclass(frozen=True)
class Snapshot:
    taken_at: float  # Unix seconds
    namespace: str
    alive_within_s: float  # a process whose heartbeat is this recent counts as alive
    redis: RedisView | None  # None with the embedded broker
    #: Listener and worker heartbeats, from the database (None before its migration).
    processes: heartbeat.Processes | None
    disputes: dict[str, int]
    unattended: figures.Unattended | None
    last_event_applied_at: int | None
    handoffs: figures.Handoffs | None  # None before the escalation migration
    notifications: dict[tuple[str, str], int]
    escalations: dict[str, int]
    latency: figures.Latency
    #: Mediation sessions by state; None before mediation's migration.
    sessions: dict[str, int] | None = None

    @property
    def workers_alive(self) -> int | None:
        """Worker processes (consumers, never producers) whose heartbeat is fresh."""
        return None if self.processes is None else len(self.processes.workers)

    @property
    def last_event_seen_at(self) -> float | None:
        """When any listener last handed a dispute event to the queue."""
        return None if self.processes is None else self.processes.last_event_seen_at


def read_redis(settings: Settings, queue_names: Iterable[str], *, now: float) -> RedisView | None:
    """The Redis half of a snapshot; None with the embedded broker."""
    if not settings.redis_url:
        return None
    url = redact_url(settings.redis_url)
    ns = settings.redis_namespace
    client = redis_store.client(settings.redis_url)
    try:
        names = sorted(set(queue_names) | queues.discover(client, ns))
        return RedisView(url=url, queues=tuple(queues.depths(client, ns, names)),
                         rejections=counters.rejections(client, ns))
    except redis.RedisError as exc:
        return RedisView(url=url, error=f"{type(exc).__name__}: {exc}")


def take(settings: Settings, queue_names: Iterable[str], *, alive_within_s: float = ALIVE_WITHIN_S,
         now: float | None = None) -> Snapshot:
    """Read Redis and the database now. Database errors propagate; Redis errors are kept in
    the snapshot, since the database half is still worth showing."""
    now = time.time() if now is None else now
    return Snapshot(
        taken_at=now,
        namespace=settings.redis_namespace,
        alive_within_s=alive_within_s,
        redis=read_redis(settings, queue_names, now=now),
        processes=heartbeat.processes(now, alive_within_s=alive_within_s),
        disputes=figures.disputes_by_state(),
        unattended=figures.oldest_unattended(),
        last_event_applied_at=figures.last_event_applied_at(),
        handoffs=figures.handoffs(),
        notifications=figures.notifications(),
        escalations=figures.escalations_by_trigger(),
        latency=figures.latency(),
        sessions=mediation_queries.by_state(),
    )
