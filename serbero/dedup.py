"""Listener-side duplicate filters: the same event from several relays, or replayed after a
reconnect or a restart, is handed to the queue once. The inbox table stays the backstop."""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

#: Event ids the in-process filter remembers.
LOCAL_CAPACITY = 100_000
#: How long Redis remembers an event id; longer than any resume overlap.
SEEN_TTL_S = 7 * 86400


class SeenFilter(Protocol):
    def first_time(self, event_id: str) -> bool: ...
    def forget(self, event_id: str) -> None: ...


class LocalSeen:
    """For one process (the embedded broker): a bounded memory of recent event ids."""

    def __init__(self, capacity: int = LOCAL_CAPACITY) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def first_time(self, event_id: str) -> bool:
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True

    def forget(self, event_id: str) -> None:
        self._ids.pop(event_id, None)


class RedisSeen:
    """Shared by every listener of a deployment: the first SET NX of an event id wins."""

    def __init__(self, client, namespace: str) -> None:
        self.client = client
        self.prefix = f"{namespace}:seen:"

    def first_time(self, event_id: str) -> bool:
        return bool(self.client.set(self.prefix + event_id, 1, nx=True, ex=SEEN_TTL_S))

    def forget(self, event_id: str) -> None:
        self.client.delete(self.prefix + event_id)
