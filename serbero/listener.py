"""The relay listener: subscribes to the Mostro node's dispute events on every relay, checks
each one, and hands it to the queue; it also drives the ticker and saves its resume cursor.

It writes nothing but the cursor (and, at start-up, the node's info event it reads, so takes
use what the node announces now). It never stops because relays are down: nostr-sdk reconnects
in the background and re-sends the subscription, and a periodic fetch catches anything a burst
or a reconnect made the notification stream drop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from datetime import timedelta

from nostr_sdk import Client, Filter, Kind, PublicKey, ReqTarget, Timestamp

from serbero import clock
from serbero.config import Settings
from serbero.cursor import ResumeCursor
from serbero.dedup import SeenFilter
from serbero.disputes.events import DISPUTE_KIND, parse_dispute_event
from serbero.errors import EventRejected
from serbero.mostro import daemon as mostro_daemon
from serbero.nostr.relays import open_client
from serbero.ops import counters, heartbeat
from serbero.ticker import Ticker

log = logging.getLogger(__name__)

SUBSCRIPTION_ID = "serbero-disputes"
CURSOR_NAME = "disputes"
#: Seconds between saves of the resume cursor.
CURSOR_FLUSH_EVERY_S = 5
#: Seconds between fetches that re-read recent events in case the stream dropped some.
RECONCILE_EVERY_S = 300
RECONCILE_TIMEOUT_S = 10
#: How often the service loop wakes up to run the ticker.
LOOP_INTERVAL_S = 0.5


class Listener:
    def __init__(self, settings: Settings, *, enqueue: Callable[[str], None], seen: SeenFilter,
                 cursor: ResumeCursor | None = None,
                 enqueue_mostro: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.enqueue = enqueue
        self.enqueue_mostro = enqueue_mostro
        self.seen = seen
        self.cursor = cursor or ResumeCursor(CURSOR_NAME,
                                             overlap_s=settings.timeouts.resume_overlap_seconds)
        self.client: Client | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._node_check: asyncio.Task[None] | None = None
        self.last_event_at: float | None = None

    def dispute_filter(self, since: int) -> Filter:
        mostro = PublicKey.parse(self.settings.mostro_pubkey)
        return Filter().kind(Kind(DISPUTE_KIND)).author(mostro).since(Timestamp.from_secs(since))

    async def start(self) -> None:
        saved = self.cursor.load()
        since = self.cursor.since(clock.now())
        log.info("listener_starting", extra={"relays": len(self.settings.relays), "since": since,
                                             "resumed": saved is not None})
        self.client = await open_client(self.settings.relays)
        stream = self.client.notifications()  # taken before subscribing, or events are lost
        out = await self.client.subscribe(ReqTarget.auto([self.dispute_filter(since)]),
                                          id=SUBSCRIPTION_ID)
        log.info("subscribed to dispute events", extra={
            "kind": DISPUTE_KIND, "ok": len(out.success), "failed": len(out.failed)})
        if self.enqueue_mostro is not None:
            await self.client.subscribe(ReqTarget.auto(mostro_daemon.subscription_filters(
                self.settings, clock.now())), id=mostro_daemon.SUBSCRIPTION_ID)
            self._node_check = asyncio.create_task(self._check_node())
        self._consumer = asyncio.create_task(self._consume(stream))

    async def _check_node(self) -> None:
        """Read the node's announcement once at start-up, in the background: a `serbero` key
        that is not ours is logged loudly here, in the listener's own start-up log."""
        assert self.client is not None
        try:
            await mostro_daemon.startup_check(self.client, self.settings, clock.now())
        except Exception:
            log.exception("mostro_startup_check_failed")

    async def _consume(self, stream) -> None:
        while (notification := await stream.next()) is not None:
            if notification.is_new_event() and notification.subscription_id == SUBSCRIPTION_ID:
                self.handle(notification.event.as_json())
            elif (notification.is_new_event()
                  and notification.subscription_id == mostro_daemon.SUBSCRIPTION_ID):
                self.handle_mostro(notification.event.as_json())

    def handle(self, raw: str) -> str:
        """Check one dispute event and hand it to the queue once; return what happened to it."""
        now = clock.now()
        try:
            event = parse_dispute_event(raw, mostro_pubkey=self.settings.mostro_pubkey, now=now)
        except EventRejected as rejected:
            return self._rejected(rejected, "dispute_event_rejected")
        # Tracked before enqueueing: if the queue fails, the cursor still holds this event back
        # and the next reconcile hands it over again.
        self.cursor.track(event.event_id, event.created_at, now)
        outcome = self._hand_over(event.event_id, raw, self.enqueue)
        if outcome == "enqueued":
            self.last_event_at = time.time()
            log.info("dispute event received", extra={
                "dispute_id": event.dispute_id, "status": event.status,
                "event_id": event.event_id})
        return outcome

    def handle_mostro(self, raw: str) -> str:
        """Hand an event for the Mostro layer (node info, replies to Serbero) to the queue once."""
        assert self.enqueue_mostro is not None
        try:
            event_id = mostro_daemon.precheck(raw, self.settings)
        except EventRejected as rejected:
            return self._rejected(rejected, "mostro_event_rejected", prefix="mostro_")
        return self._hand_over(event_id, raw, self.enqueue_mostro)

    def _hand_over(self, event_id: str, raw: str, enqueue: Callable[[str], None]) -> str:
        if not self.seen.first_time(event_id):
            return "duplicate"
        try:
            enqueue(raw)
        except Exception:
            self.seen.forget(event_id)
            log.exception("enqueue_failed", extra={"event_id": event_id})
            return "enqueue_failed"
        return "enqueued"

    def _rejected(self, rejected: EventRejected, event: str, prefix: str = "") -> str:
        counters.count_rejection(self.settings, prefix + rejected.reason)
        log.warning(event, extra={"reason": rejected.reason, "detail": rejected.detail[:120]})
        return f"rejected:{rejected.reason}"

    async def reconcile(self) -> int:
        """Re-read recent events from the relays; return how many were new to the queue."""
        assert self.client is not None
        since = self.cursor.since(clock.now())
        events = await self.client.fetch_events(ReqTarget.auto([self.dispute_filter(since)]),
                                                timeout=timedelta(seconds=RECONCILE_TIMEOUT_S))
        return sum(self.handle(e.as_json()) == "enqueued" for e in events)

    async def stop(self) -> None:
        """Stop handing events to the queue, save the cursor, close the connections."""
        for task in (self._consumer, self._node_check):
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
    try:
        while not stop.is_set():
            if ticker is not None:
                ticker.tick_once(time.time())
            await heartbeat.beat(listener)
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
