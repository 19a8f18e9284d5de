"""Events handed to the queue together: under a burst one job carries every event of a target
that arrived within `WINDOW_S` of the last job, so a worker pays for one message, one
transaction and one relay round of publishing per batch instead of per event (issue 8: 1.5
times the burst rate, and 1.5 times that again with the bulk statements of
`serbero.disputes.ingest`). A lone event goes out at once, as before: a batch waits only while
another was sent less than `WINDOW_S` ago.

An event is marked seen only once its batch is enqueued. A batch that cannot be enqueued is
dropped here and read again: its events are neither marked seen nor confirmed, so the cursor
holds them back and the next read of the relays hands them over again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from serbero.dedup import SeenFilter

log = logging.getLogger(__name__)

#: How long after a batch the next one may wait for more events. Under a burst that bounds the
#: delay the batching adds; at a low rate it adds none.
WINDOW_S = 0.02
#: Events per job at most: a catch-up hands over a page of hundreds at once, and one job that
#: large would hold the database's write lock for a second.
MAX_EVENTS = 25


class Batcher:
    """Collects (event id, raw event) pairs and sends them as lists with `send_many`; call from
    the listener's event loop."""

    def __init__(self, send_many: Callable[[list[str]], object], *, seen: SeenFilter,
                 on_error: Callable[[Exception, int], None]) -> None:
        self.send_many = send_many
        self.seen = seen
        self.on_error = on_error
        self.pending: list[tuple[str, str]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._last_sent = float("-inf")

    def add(self, event_id: str, raw: str) -> bool:
        """Put an event in the next batch; False if it is there already (the same event from
        a second relay, within the window)."""
        if any(event_id == pending for pending, _ in self.pending):
            return False
        self.pending.append((event_id, raw))
        loop = asyncio.get_running_loop()
        due = self._last_sent + WINDOW_S
        if len(self.pending) >= MAX_EVENTS or loop.time() >= due:
            self.flush()
        elif self._timer is None:
            self._timer = loop.call_at(due, self.flush)
        return True

    def flush(self) -> None:
        """Send what is pending now; errors go to `on_error` with the number of events lost."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self.pending = self.pending, []
        if not batch:
            return
        try:
            self.send_many([raw for _, raw in batch])
            self.seen.mark_many([event_id for event_id, _ in batch])
        except Exception as exc:
            self.on_error(exc, len(batch))
        finally:
            self._last_sent = asyncio.get_running_loop().time()
