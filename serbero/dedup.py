"""Listener-side duplicate filters: the same event from several relays, or replayed after a
reconnect or a restart, is handed to the queue once. The inbox table stays the real dedup.

An event is marked only after its enqueue succeeded (issue 10, defect 8): a process killed
between the two leaves no mark, so a replay hands the event over again and the inbox drops the
second job. Marking first could leave a mark with no job, and the event would be skipped for
good by every later replay.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

#: Event ids the in-process filter remembers.
LOCAL_CAPACITY = 100_000
#: How long Redis remembers an event id; longer than any resume overlap.
SEEN_TTL_S = 7 * 86400


class SeenFilter(Protocol):
    def seen(self, event_id: str) -> bool: ...
    def mark(self, event_id: str) -> None: ...
    def mark_many(self, event_ids: list[str]) -> None: ...
    def ping(self) -> None: ...
    def forgot(self) -> bool: ...


class LocalSeen:
    """For one process (the embedded broker): a bounded memory of recent event ids."""

    def __init__(self, capacity: int = LOCAL_CAPACITY) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def seen(self, event_id: str) -> bool:
        return event_id in self._ids

    def mark(self, event_id: str) -> None:
        self._ids[event_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)

    def mark_many(self, event_ids: list[str]) -> None:
        for event_id in event_ids:
            self.mark(event_id)

    def ping(self) -> None:
        """Nothing to reach."""

    def forgot(self) -> bool:
        """Its memory goes only with its process."""
        return False


class RedisSeen:
    """Shared by every listener of a deployment. Two listeners racing on one event may both
    enqueue it; the inbox makes that one effect."""

    def __init__(self, client, namespace: str) -> None:
        self.client = client
        self.prefix = f"{namespace}:seen:"
        self.marker = f"{namespace}:seen-marker"
        self._marked = False

    def seen(self, event_id: str) -> bool:
        return bool(self.client.exists(self.prefix + event_id))

    def mark(self, event_id: str) -> None:
        self.client.set(self.prefix + event_id, 1, ex=SEEN_TTL_S)

    def mark_many(self, event_ids: list[str]) -> None:
        """Mark a batch's events in one round trip: a burst's listener spends its time
        waiting on Redis, not on the events."""
        pipe = self.client.pipeline(transaction=False)
        for event_id in event_ids:
            pipe.set(self.prefix + event_id, 1, ex=SEEN_TTL_S)
        pipe.execute()

    def ping(self) -> None:
        """Raise unless Redis answers."""
        self.client.ping()

    def forgot(self) -> bool:
        """Whether Redis lost what it held since the last call (a FLUSHALL, a restart
        without persistence that no call saw fail): the marker this filter keeps there is
        gone, and with it the queued jobs. The first call only sets the marker.

        The marks written since the loss are dropped too: one may belong to an event whose
        job was enqueued just before the loss (enqueue, flush, mark), and would make the
        re-read skip it. Call it from the thread that marks, never between an enqueue and its
        mark."""
        created = bool(self.client.set(self.marker, 1, nx=True))
        first, self._marked = not self._marked, True
        if not created or first:
            return False
        keys = list(self.client.scan_iter(self.prefix + "*", count=1000))
        for i in range(0, len(keys), 1000):
            self.client.delete(*keys[i:i + 1000])
        return True
