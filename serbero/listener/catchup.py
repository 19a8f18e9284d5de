"""Catching up: reading a relay's events of the resuming subscriptions back to where the
listener has to start, however many there are.

A relay answers one request with at most a page of its newest matching events (500 on many
relays), so one request after an outage, a restart or a cold start would leave the older ones
unread. Each relay is therefore read on its own, page by page backwards: the next page asks
`until` the oldest event of the previous one, until a page brings nothing new. Pages are per
relay because relays cap pages separately; merging them first could skip what one relay
holds between its own oldest event and another relay's.

While a relay is being read (or is down, not yet read) the resume cursor is held where its
reading starts, so a crash in the middle resumes from there. A relay counts as read only if one
connection served every page: nostr-sdk answers a request to a relay that is not connected
with an empty list, which must not pass for "nothing there".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from nostr_sdk import Event, Filter, ReqTarget, Timestamp

from serbero import clock
from serbero.nostr.relays import connections, parse_relay_url

if TYPE_CHECKING:
    from serbero.listener.listen import Listener

log = logging.getLogger(__name__)

#: How long one page may take.
PAGE_TIMEOUT_S = 10
#: Seconds after a catch-up that met live traffic (any but the quiet periodic one) before the
#: relay is read once more: a relay may drop live events to a connection it is busy answering a
#: catch-up on (issue 8: a re-read after a FLUSHALL mid-burst missed what came live meanwhile;
#: the re-read that runs every 20 s while events come dropped one of a burst's last events,
#: which then waited 20 s for the next). The second read repeats while it still finds events
#: the stream missed.
SETTLE_AFTER_S = 5.0
#: The reason of that second read.
SETTLE = "settle"
#: The reason of the catch-up that runs while nothing comes (no second read after it).
PERIODIC = "periodic"
#: A bound on the pages of one relay's reading, against a relay that never runs out of "new"
#: events (100,000 pages of 500 is far beyond any Mostro node's history).
MAX_PAGES = 100_000

@dataclass(frozen=True)
class Read:
    """One relay read back to `since`: pages asked, events new to this reading, and how many of
    those were handed over (not rejected, not duplicates)."""

    pages: int
    events: int
    handed_over: int


async def read_relay(client, url: str, subscriptions: Iterable[tuple[str, list[Filter]]],
                     since: int, handle: Callable[[Event, str], str]) -> Read:
    """Page backwards through `url`'s events of each (subscription name, filters) since
    `since`, handing each new one to `handle(event, name)`, which returns its outcome."""
    target = parse_relay_url(url)
    pages = events = handed = 0
    for name, filters in subscriptions:
        until: int | None = None
        seen: set[str] = set()
        largest = 0
        while pages < MAX_PAGES:
            page_filters = filters if until is None else [
                f.until(Timestamp.from_secs(until)) for f in filters]
            page = await client.fetch_events(ReqTarget.single(target, page_filters),
                                             timeout=timedelta(seconds=PAGE_TIMEOUT_S))
            pages += 1
            largest = max(largest, len(page))
            fresh = [e for e in page if e.id().to_hex() not in seen]
            in_window = []
            for event in fresh:
                seen.add(event.id().to_hex())
                try:
                    outcome = handle(event, name)
                except Exception:  # one event's bug must not end the read (issue 10, defect 7)
                    log.exception("event_not_handled", extra={"relay": url, "subscription": name})
                    outcome = "failed"
                handed += outcome in ("enqueued", "deferred")
                created = event.created_at().as_secs()
                if since <= created and (until is None or created <= until):
                    in_window.append(created)
            events += len(fresh)
            await asyncio.sleep(0)  # let the live stream in between pages
            if in_window:
                until = min(in_window)
            elif until is not None and page and len(page) >= largest > 1:
                # As many events at the second `until` as the largest page: the relay may hold
                # more at that second than a page, and cannot page within one second, so go on
                # below it (if it did hold more, those stay unread from this relay).
                log.info("catch_up_stepped_past_a_second", extra={
                    "relay": url, "second": until, "events_at_that_second": len(page)})
                until -= 1
            else:
                break
            if until < since:
                break
    return Read(pages, events, handed)


class CatchUp:
    """The listener's catch-ups: at most one reading per relay at a time; asking again while
    one runs reads again right after it, from the earlier of the two starting points."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self._pending: dict[str, int] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._settles: dict[str, asyncio.TimerHandle] = {}

    @staticmethod
    def hold_name(url: str) -> str:
        return f"relay:{url}"

    def request(self, urls: Iterable[str], base: int | None, reason: str) -> None:
        """Read `urls` back from cursor value `base` (None: from where each is held, or the
        cursor's low-water mark), holding the cursor there until each is read. A relay that is
        not connected is only held: it is read when it connects (`relay_back`)."""
        now = clock.now()
        cursor = self.listener.cursor
        states = self.listener.relays.states
        fallback = cursor.low_water(now)
        for url in urls:
            start = base if base is not None else cursor.held(self.hold_name(url))
            start = start if start is not None else fallback if fallback is not None else now
            held = cursor.hold(self.hold_name(url), start, now)
            if url in states and not states[url].connected:
                continue
            self._pending[url] = held
            task = self._tasks.get(url)
            if task is None or task.done():
                self._tasks[url] = asyncio.create_task(self._run(url, reason))

    def running(self) -> bool:
        return any(not t.done() for t in self._tasks.values())

    async def cancel(self) -> None:
        for timer in self._settles.values():
            timer.cancel()
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _run(self, url: str, reason: str) -> None:
        listener = self.listener
        while (base := self._pending.pop(url, None)) is not None:
            started, started_at = time.monotonic(), clock.now()
            since = max(0, base - listener.cursor.overlap_s)
            try:
                before = (await connections(listener.client)).get(url)
                if before is None:
                    raise ConnectionError("relay not connected")
                read = await read_relay(listener.client, url, listener.resuming_filters(since),
                                        since, listener.handle_fetched)
                if (await connections(listener.client)).get(url) != before:
                    raise ConnectionError("relay reconnected while it was being read")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The hold stays: the relay is read again when it is back, or at the next
                # periodic catch-up.
                self._pending.pop(url, None)
                log.warning("catch_up_incomplete", extra={"relay": url, "reason": reason,
                                                          "error": str(exc)[:200]})
                return
            if url not in self._pending:
                listener.cursor.release(self.hold_name(url))
                if reason != PERIODIC and (reason != SETTLE or read.handed_over):
                    # what the stream may have dropped came while this read ran
                    listener.cursor.hold(self.hold_name(url), started_at, clock.now())
                    self._settles[url] = asyncio.get_running_loop().call_later(
                        SETTLE_AFTER_S, self.request, [url], None, SETTLE)
            log.info("caught_up", extra={
                "relay": url, "reason": reason, "since": since, "pages": read.pages,
                "events": read.events, "handed_over": read.handed_over,
                "took_ms": round((time.monotonic() - started) * 1000)})
