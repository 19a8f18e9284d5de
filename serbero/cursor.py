"""The listener's resume cursor: where to ask relays to start after a restart.

The cursor is a low-water mark, not "the newest event seen": it never passes an event that was
handed to the queue but not yet applied by a worker (no row in the inbox). So a crash, a flushed
Redis or the embedded broker's lost memory cannot make the listener skip an event: on restart it
asks again from before it, and the inbox drops what was already applied.

It never passes the local clock either: the parser accepts events dated up to an hour ahead,
and a cursor saved there would make the next start skip disputes opened in between (issue 10).
Nor does it pass a *hold*: a relay not yet read back to where it should be (a catch-up still
paging, a relay that is down) keeps the cursor where that relay's reading has to start.

On a cold start (no saved cursor) it starts a look-back before now, not at now: dispute
events are addressable, so a relay keeps only a dispute's latest revision, dated by its last
change; a dispute opened weeks ago and still waiting is dated weeks ago.
"""

from __future__ import annotations

import logging

from serbero.db.models import ListenerCursor, ProcessedInput

log = logging.getLogger(__name__)

#: An event unconfirmed for this long (a dead-lettered job) stops holding the cursor back; so
#: does a hold (a relay down all that time).
MAX_UNCONFIRMED_AGE_S = 6 * 3600
#: Ids per inbox lookup.
LOOKUP_CHUNK = 500


class ResumeCursor:
    def __init__(self, name: str, *, overlap_s: int, lookback_s: int = 0) -> None:
        self.name = name
        self.overlap_s = overlap_s
        self.lookback_s = lookback_s
        #: event id → (event created_at, when it was handed to the queue)
        self.unconfirmed: dict[str, tuple[int, int]] = {}
        #: hold name → (the cursor value it holds, when it was first held)
        self.holds: dict[str, tuple[int, int]] = {}
        self.newest_seen: int | None = None
        self.saved: int | None = None

    def load(self) -> int | None:
        """The saved cursor, or None on a cold start."""
        self.saved = (ListenerCursor.select(ListenerCursor.since)
                      .where(ListenerCursor.name == self.name).scalar())
        self.newest_seen = self.saved
        return self.saved

    def start(self, now: int) -> int:
        """Where reading starts (the saved cursor, or now minus the look-back when cold), saved
        at once: a crash right after start resumes from here, not from a later cold start."""
        base = min(self.saved, now) if self.saved is not None else max(0, now - self.lookback_s)
        if self.newest_seen is None:
            self.newest_seen = base
        self._save(base, now)
        return base

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

    def hold(self, name: str, value: int, now: int) -> int:
        """Keep the cursor at or before `value` until `release(name)`; return what is held."""
        held = self.holds.get(name)
        if held is None or value < held[0]:
            self.holds[name] = (value, held[1] if held else now)
        return self.holds[name][0]

    def held(self, name: str) -> int | None:
        found = self.holds.get(name)
        return None if found is None else found[0]

    def release(self, name: str) -> None:
        self.holds.pop(name, None)

    def _confirmed(self, ids: list[str]) -> set[str]:
        done: set[str] = set()
        for i in range(0, len(ids), LOOKUP_CHUNK):
            chunk = ids[i:i + LOOKUP_CHUNK]
            done.update(key for (key,) in ProcessedInput.select(ProcessedInput.key)
                        .where(ProcessedInput.key.in_(chunk)).tuples())
        return done

    def low_water(self, now: int) -> int | None:
        """Drop applied events and expired holds; return the low-water mark (not saved)."""
        for event_id in self._confirmed(list(self.unconfirmed)):
            del self.unconfirmed[event_id]
        for event_id, (_, handed_at) in list(self.unconfirmed.items()):
            if now - handed_at > MAX_UNCONFIRMED_AGE_S:
                log.warning("cursor_gave_up_waiting", extra={"event_id": event_id})
                del self.unconfirmed[event_id]
        for name, (_, held_at) in list(self.holds.items()):
            if now - held_at > MAX_UNCONFIRMED_AGE_S:
                log.warning("cursor_gave_up_waiting", extra={"hold": name})
                del self.holds[name]
        if self.unconfirmed:
            value: int | None = min(created for created, _ in self.unconfirmed.values())
        else:
            value = self.newest_seen
        if self.holds:
            held = min(v for v, _ in self.holds.values())
            value = held if value is None else min(value, held)
        return None if value is None else min(value, now)

    def flush(self, now: int) -> int | None:
        """Compute the low-water mark and save it; return it."""
        value = self.low_water(now)
        if value is not None and value != self.saved:
            self._save(value, now)
        return value

    def _save(self, value: int, now: int) -> None:
        (ListenerCursor.insert(name=self.name, since=value, updated_at=now)
         .on_conflict(conflict_target=[ListenerCursor.name],
                      update={ListenerCursor.since: value, ListenerCursor.updated_at: now})
         .execute())
        self.saved = value
