"""Reading the process heartbeats (`serbero.liveness`, written by listeners, `serbero run` and
worker processes) for the operator: which listeners and worker processes are alive, and, when
none is, the last one seen and how it ended.

Worker processes are counted from their own heartbeats, so only processes that consume count:
a listener or `serbero escalate` that enqueued lately is not a worker (dramatiq's broker
heartbeats, which every producer writes too, are not used).
"""

from __future__ import annotations

from dataclasses import dataclass

from serbero.db.connection import database
from serbero.liveness import ALIVE_WITHIN_S, LISTENER, WORKER, Beat, ProcessHeartbeat, read

__all__ = ["ALIVE_WITHIN_S", "Beat", "Processes", "processes"]


@dataclass(frozen=True)
class Processes:
    """What the heartbeats say, at `at` (Unix seconds)."""

    at: float
    alive_within_s: float
    #: Alive listeners (`serbero listen`, `serbero run`), freshest first.
    listeners: tuple[Beat, ...]
    #: Alive worker processes (`serbero worker` children, the worker inside `serbero run`).
    workers: tuple[Beat, ...]
    #: The freshest listener heartbeat of the last day, alive or not.
    last_listener: Beat | None

    @property
    def freshest_listener(self) -> Beat | None:
        return self.listeners[0] if self.listeners else None

    @property
    def last_event_seen_at(self) -> float | None:
        """When any listener last handed a dispute event to the queue."""
        seen = [b.details.get("last_event_at") for b in (*self.listeners, self.last_listener)
                if b is not None]
        return max((float(s) for s in seen if isinstance(s, int | float)), default=None)

    @property
    def worker_threads(self) -> tuple[int, int]:
        """(threads, busy threads) over the alive worker processes."""
        total = sum(_int(b.details.get("threads")) for b in self.workers)
        return total, sum(_int(b.details.get("busy")) for b in self.workers)


def _int(value: object) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def processes(now: float, *, alive_within_s: float = ALIVE_WITHIN_S) -> Processes | None:
    """Read the heartbeats now; None while the heartbeat migration has not been applied."""
    if not database.table_exists(ProcessHeartbeat._meta.table_name):
        return None
    beats = read(now)
    alive = [b for b in beats if b.alive(now, alive_within_s)]
    listeners = [b for b in beats if b.role == LISTENER]
    return Processes(
        at=now, alive_within_s=alive_within_s,
        listeners=tuple(b for b in alive if b.role == LISTENER),
        workers=tuple(b for b in alive if b.role == WORKER),
        last_listener=listeners[0] if listeners else None)
