"""The listener's resume cursor: where to ask relays to start after a restart.

The cursor is a low-water mark, not "the newest event seen": it never passes an event that was
handed to the queue but not yet applied by a worker (no row in the inbox). So a crash, a flushed
Redis or the embedded broker's lost memory cannot make the listener skip an event: on restart it
asks again from before it, and the inbox drops what was already applied.

It never passes the local clock either: the parser accepts events dated up to an hour ahead,
and a cursor saved there would make the next start skip disputes opened in between (issue 10).
"""

from __future__ import annotations

import logging

from serbero.db.models import ListenerCursor, ProcessedInput

log = logging.getLogger(__name__)

#: An event unconfirmed for this long (a dead-lettered job) stops holding the cursor back.
MAX_UNCONFIRMED_AGE_S = 6 * 3600
#: Ids per inbox lookup.
LOOKUP_CHUNK = 500


class ResumeCursor:
    def __init__(self, name: str, *, overlap_s: int) -> None:
        self.name = name
        self.overlap_s = overlap_s
        #: event id → (event created_at, when it was handed to the queue)
        self.unconfirmed: dict[str, tuple[int, int]] = {}
        self.newest_seen: int | None = None
        self.saved: int | None = None

    def load(self) -> int | None:
        """The saved cursor, or None on a cold start."""
        self.saved = (ListenerCursor.select(ListenerCursor.since)
                      .where(ListenerCursor.name == self.name).scalar())
        self.newest_seen = self.saved
        return self.saved

    def since(self, now: int) -> int:
        """Where a subscription should start: the cursor minus the overlap, or now when cold
        (a cursor saved ahead of the clock by an older version counts as now)."""
        base = min(self.saved, now) if self.saved is not None else now
        return max(0, base - self.overlap_s)

    def track(self, event_id: str, created_at: int, now: int) -> None:
        """Remember an event handed to the queue until a worker has applied it; an event dated
        ahead of the clock counts as received now."""
        created_at = min(created_at, now)
        self.unconfirmed[event_id] = (created_at, now)
        if self.newest_seen is None or created_at > self.newest_seen:
            self.newest_seen = created_at

    def _confirmed(self, ids: list[str]) -> set[str]:
        done: set[str] = set()
        for i in range(0, len(ids), LOOKUP_CHUNK):
            chunk = ids[i:i + LOOKUP_CHUNK]
            done.update(key for (key,) in ProcessedInput.select(ProcessedInput.key)
                        .where(ProcessedInput.key.in_(chunk)).tuples())
        return done

    def flush(self, now: int) -> int | None:
        """Drop applied events, compute the low-water mark and save it; return it."""
        for event_id in self._confirmed(list(self.unconfirmed)):
            del self.unconfirmed[event_id]
        for event_id, (_, handed_at) in list(self.unconfirmed.items()):
            if now - handed_at > MAX_UNCONFIRMED_AGE_S:
                log.warning("cursor_gave_up_waiting", extra={"event_id": event_id})
                del self.unconfirmed[event_id]
        if self.unconfirmed:
            value: int | None = min(created for created, _ in self.unconfirmed.values())
        else:
            value = self.newest_seen
        if value is not None:
            value = min(value, now)
        if value is not None and value != self.saved:
            (ListenerCursor.insert(name=self.name, since=value, updated_at=now)
             .on_conflict(conflict_target=[ListenerCursor.name],
                          update={ListenerCursor.since: value, ListenerCursor.updated_at: now})
             .execute())
            self.saved = value
        return value
