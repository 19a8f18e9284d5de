"""The relay listener: holds its subscriptions on every relay (the deployment's, plus those
workers want for a while), checks each event, and hands it to its target's queue once; it also
drives the ticker and saves its resume cursor.

It writes nothing but the cursor and its heartbeat (and, at start-up, the node's info event it
reads, so takes use what the node announces now). It never stops because relays are down:
nostr-sdk reconnects in the background and re-sends the subscriptions, and a periodic fetch
catches anything a burst or a reconnect made the notification stream drop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta

from nostr_sdk import Client, ReqTarget

from serbero import clock, rejections
from serbero.config import Settings
from serbero.cursor import ResumeCursor
from serbero.dedup import SeenFilter
from serbero.errors import EventRejected
from serbero.listener import heartbeat
from serbero.listener.subscriptions import DISPUTES, Subscription, deployment
from serbero.listener.wanted import WantedSubscriptions
from serbero.nostr.relays import open_client
from serbero.ticker import Ticker

log = logging.getLogger(__name__)

CURSOR_NAME = "disputes"
#: Seconds between saves of the resume cursor.
CURSOR_FLUSH_EVERY_S = 5
#: Seconds between fetches that re-read recent events in case the stream dropped some.
RECONCILE_EVERY_S = 300
RECONCILE_TIMEOUT_S = 10
#: Seconds between reads of the wanted subscriptions.
WANTED_EVERY_S = 2
#: How often the service loop wakes up to run the ticker.
LOOP_INTERVAL_S = 0.5

Targets = Mapping[str, Callable[[str], None]]


class Listener:
    def __init__(self, settings: Settings, *, targets: Targets, seen: SeenFilter,
                 cursor: ResumeCursor | None = None,
                 subscriptions: Sequence[Subscription] | None = None) -> None:
        self.settings = settings
        self.targets = targets
        self.seen = seen
        self.cursor = cursor or ResumeCursor(CURSOR_NAME,
                                             overlap_s=settings.timeouts.resume_overlap_seconds)
        every = deployment(settings) if subscriptions is None else subscriptions
        #: The subscriptions held from start to stop: those whose target this process has.
        self.subscriptions = {s.name: s for s in every if s.target in targets}
        self.wanted = WantedSubscriptions(self)
        self.client: Client | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._background: list[asyncio.Task[object]] = []
        self.last_event_at: float | None = None

    async def start(self) -> None:
        saved = self.cursor.load()
        since = self.cursor.since(clock.now())
        log.info("listener_starting", extra={"relays": len(self.settings.relays), "since": since,
                                             "resumed": saved is not None})
        self.client = await open_client(self.settings.relays)
        stream = self.client.notifications()  # taken before subscribing, or events are lost
        for sub in self.subscriptions.values():
            out = await self.client.subscribe(ReqTarget.auto(sub.filters(since)), id=sub.name)
            log.info("subscribed", extra={"subscription": sub.name, "ok": len(out.success),
                                          "failed": len(out.failed)})
            if sub.at_start is not None:
                self._background.append(asyncio.create_task(self._at_start(sub)))
        self._consumer = asyncio.create_task(self._consume(stream))

    async def _at_start(self, sub: Subscription) -> None:
        assert self.client is not None and sub.at_start is not None
        try:
            await sub.at_start(self.client)
        except Exception:
            log.exception("subscription_start_check_failed", extra={"subscription": sub.name})

    async def _consume(self, stream) -> None:
        while (notification := await stream.next()) is not None:
            if notification.is_new_event():
                name = notification.subscription_id
                raw = notification.event.as_json()
                if name in self.subscriptions:
                    self.handle(raw, name)
                else:
                    self.wanted.handle(name, raw)

    def handle(self, raw: str, subscription: str = DISPUTES) -> str:
        """Check one event of a subscription and hand it to its target once; return what
        happened to it."""
        sub = self.subscriptions[subscription]
        now = clock.now()
        try:
            checked = sub.check(raw)
        except EventRejected as rejected:
            return self.rejected(rejected, sub.rejected_as, sub.counter_prefix)
        if sub.resumes and checked.created_at is not None:
            # Tracked before enqueueing: if the queue fails, the cursor still holds this event
            # back and the next reconcile hands it over again.
            self.cursor.track(checked.event_id, checked.created_at, now)
        outcome = self.hand_over(checked.event_id, raw, self.targets[sub.target])
        if outcome == "enqueued" and sub.received_as is not None:
            self.last_event_at = time.time()
            log.info(sub.received_as, extra=checked.facts or {})
        return outcome

    def hand_over(self, event_id: str, raw: str, enqueue: Callable[[str], None]) -> str:
        if not self.seen.first_time(event_id):
            return "duplicate"
        try:
            enqueue(raw)
        except Exception:
            self.seen.forget(event_id)
            log.exception("enqueue_failed", extra={"event_id": event_id})
            return "enqueue_failed"
        return "enqueued"

    def rejected(self, rejected: EventRejected, event: str, prefix: str = "") -> str:
        rejections.count(self.settings, prefix + rejected.reason)
        log.warning(event, extra={"reason": rejected.reason, "detail": rejected.detail[:120]})
        return f"rejected:{rejected.reason}"

    async def reconcile(self) -> int:
        """Re-read recent events of the resuming subscriptions; return how many were new to
        the queue."""
        assert self.client is not None
        since = self.cursor.since(clock.now())
        found = 0
        for sub in self.subscriptions.values():
            if not sub.resumes:
                continue
            events = await self.client.fetch_events(
                ReqTarget.auto(sub.filters(since)), timeout=timedelta(seconds=RECONCILE_TIMEOUT_S))
            found += sum(self.handle(e.as_json(), sub.name) == "enqueued" for e in events)
        return found

    async def stop(self) -> None:
        """Stop handing events to the queue, save the cursor, close the connections."""
        for task in (self._consumer, *self._background):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self.cursor.flush(clock.now())
        await heartbeat.forget(self)
        if self.client is not None:
            await self.client.shutdown()
        log.info("listener_stopped", extra={"cursor": self.cursor.saved})


async def serve(listener: Listener, stop: asyncio.Event, *, ticker: Ticker | None = None) -> None:
    """Run the listener (and the ticker) until `stop` is set; always stop cleanly."""
    await listener.start()
    last_flush = last_reconcile = time.monotonic()
    last_wanted = last_flush - WANTED_EVERY_S  # read the wanted subscriptions at once
    try:
        while not stop.is_set():
            if ticker is not None:
                ticker.tick_once(time.time())
            await heartbeat.beat(listener)
            if time.monotonic() - last_wanted >= WANTED_EVERY_S:
                await listener.wanted.refresh()
                last_wanted = time.monotonic()
            if time.monotonic() - last_flush >= CURSOR_FLUSH_EVERY_S:
                listener.cursor.flush(clock.now())
                last_flush = time.monotonic()
            if time.monotonic() - last_reconcile >= RECONCILE_EVERY_S:
                try:
                    found = await listener.reconcile()
                    if found:
                        log.warning("reconcile_found_missed_events", extra={"count": found})
                except Exception:
                    log.exception("reconcile_failed")
                last_reconcile = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), LOOP_INTERVAL_S)
    finally:
        await listener.stop()


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM set `stop`; the service then drains and exits."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _signalled, stop, sig)


def _signalled(stop: asyncio.Event, sig: signal.Signals) -> None:
    log.info("shutdown signal received, stopping", extra={"signal": sig.name})
    stop.set()
