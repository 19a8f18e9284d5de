"""The relay listener: holds its subscriptions on every relay (the deployment's, plus those
workers want for a while), checks each event, and hands it to its target's queue once, and
keeps its resume cursor (`service.py` runs it, with the ticker, until it is told to stop).

It writes nothing but the cursor and its heartbeat (and, at start-up, the node's info event it
reads, so takes use what the node announces now). It never stops because a relay or Redis is
down, and it never loses an event on the way:

* an event that cannot be handed over (Redis down) holds the cursor back, and is read again
  from the relays as soon as Redis answers (`redis_back`), not at the next periodic catch-up;
* a relay that comes back (or reconnects) is read again at once from where it left off;
* every catch-up pages backwards until it reaches the cursor (`catchup.py`), so more events
  than a relay's page holds are still all read; and every five minutes a periodic catch-up
  catches anything a burst or a reconnect made the notification stream drop;
* an error in one event is logged and the next event is handled: the consumer never ends
  before the listener stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta

from nostr_sdk import Client, Event, Filter, ReqTarget

from serbero import clock, rejections
from serbero.config import Settings
from serbero.cursor import ResumeCursor
from serbero.dedup import SeenFilter
from serbero.errors import EventRejected
from serbero.listener import heartbeat
from serbero.listener.batch import Batcher
from serbero.listener.catchup import CatchUp
from serbero.listener.relay_watch import RelayWatch
from serbero.listener.subscriptions import DISPUTES, Subscription, deployment
from serbero.listener.wanted import WantedSubscriptions
from serbero.nostr.relays import connections, open_client_reporting, reachability
from serbero.outage import Outage, is_connection_error

log = logging.getLogger(__name__)

CURSOR_NAME = "disputes"
#: How long a one-page re-read of a subscription that does not resume may take.
REFETCH_TIMEOUT_S = 10
#: Seconds before reading again from a notification stream that raised.
STREAM_RETRY_S = 0.5

Targets = Mapping[str, Callable[[str], None]]
#: Target name → the call that enqueues several of its events as one job.
BatchTargets = Mapping[str, Callable[[list[str]], object]]


class Listener:
    def __init__(self, settings: Settings, *, targets: Targets, seen: SeenFilter,
                 cursor: ResumeCursor | None = None,
                 subscriptions: Sequence[Subscription] | None = None,
                 command: str = "listen", batched: BatchTargets | None = None) -> None:
        self.settings = settings
        #: The command running it (`listen`, `run`), as its heartbeat tells.
        self.command = command
        self.targets = targets
        self.seen = seen
        #: Targets whose events are handed over in batches (`serbero.listener.batch`).
        self.batches = {name: Batcher(send_many, seen=seen, on_error=self._batch_failed)
                        for name, send_many in (batched or {}).items()}
        timeouts = settings.timeouts
        self.cursor = cursor or ResumeCursor(CURSOR_NAME, overlap_s=timeouts.resume_overlap_seconds,
                                             lookback_s=timeouts.cold_start_lookback_seconds)
        every = deployment(settings) if subscriptions is None else subscriptions
        #: The subscriptions held from start to stop: those whose target this process has.
        self.subscriptions = {s.name: s for s in every if s.target in targets}
        self.wanted = WantedSubscriptions(self)
        self.relays = RelayWatch()
        self.catch_up = CatchUp(self)
        #: The queue's store (Redis): while it is down, events are not handed over but held.
        self.redis = Outage("redis", log)
        #: The database, for what the listener writes (cursor, heartbeat).
        self.database = Outage("database", log)
        self.client: Client | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[object]] = set()
        self.last_event_at: float | None = None

    async def start(self) -> None:
        saved = self.cursor.load()
        now = clock.now()
        base = self.cursor.start(now)
        log.info("listener_starting", extra={
            "relays": len(self.settings.relays), "since": max(0, base - self.cursor.overlap_s),
            "resumed": saved is not None})
        self.client, errors = await open_client_reporting(self.settings.relays)
        self.relays.started(await connections(self.client), errors)
        stream = self.client.notifications()  # taken before subscribing, or events are lost
        live_since = max(0, now - self.cursor.overlap_s)  # what came before: the catch-up's
        for sub in self.subscriptions.values():
            out = await self.client.subscribe(ReqTarget.auto(sub.filters(live_since)),
                                              id=sub.name)
            log.info("subscribed", extra={
                "subscription": sub.name, "relays": " ".join(sorted(map(str, out.success)))
                or "none", "waiting_for": " ".join(sorted(map(str, out.failed))) or "none"})
            if sub.at_start is not None:
                self._spawn(self._at_start(sub))
        self._consumer = asyncio.create_task(self._consume(stream))
        self.catch_up.request(self.relays.states, base, "start")

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _at_start(self, sub: Subscription) -> None:
        assert self.client is not None and sub.at_start is not None
        try:
            await sub.at_start(self.client)
        except Exception:
            log.exception("subscription_start_check_failed", extra={"subscription": sub.name})

    async def _consume(self, stream) -> None:
        """Hand over each new event until the client shuts down; an error in one event is
        logged and never ends the loop (issue 10, defect 7)."""
        while True:
            try:
                notification = await stream.next()
            except Exception:
                log.exception("notification_stream_failed")
                await asyncio.sleep(STREAM_RETRY_S)
                continue
            if notification is None:
                return
            if not notification.is_new_event():
                continue
            name = notification.subscription_id
            try:
                raw = notification.event.as_json()
                if name in self.subscriptions:
                    self.handle(raw, name)
                else:
                    self.wanted.handle(name, raw)
            except Exception:
                log.exception("event_not_handled", extra={"subscription": name})

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
            # back and the next catch-up hands it over again.
            self.cursor.track(checked.event_id, checked.created_at, now)
        outcome = self.hand_over(checked.event_id, raw, sub.target)
        if outcome == "enqueued" and sub.received_as is not None:
            self.last_event_at = time.time()
            log.info(sub.received_as, extra=checked.facts or {})
        return outcome

    def handle_fetched(self, event: Event, subscription: str) -> str:
        return self.handle(event.as_json(), subscription)

    def hand_over(self, event_id: str, raw: str, target: str) -> str:
        """Hand an event to its target's queue unless it was before: `enqueued` (or, for a
        batched target, put in the next batch), `duplicate`, `deferred` (Redis is down: it is
        read again once Redis is back) or `enqueue_failed`. Marked seen only after the enqueue
        worked (issue 10, defect 8)."""
        if self.redis.down:
            return "deferred"
        try:
            if self.seen.seen(event_id):
                return "duplicate"
            if (batch := self.batches.get(target)) is not None:
                # marked seen once its batch is enqueued
                return "enqueued" if batch.add(event_id, raw) else "duplicate"
            self.targets[target](raw)
            self.seen.mark(event_id)
        except Exception as exc:
            if is_connection_error(exc):
                self.redis.failed(exc)
                return "deferred"
            log.exception("enqueue_failed", extra={"event_id": event_id})
            return "enqueue_failed"
        return "enqueued"

    def _batch_failed(self, exc: Exception, events: int) -> None:
        """A batch that could not be enqueued: its events are read again (Redis's return, the
        next catch-up), the cursor holding them back meanwhile."""
        if is_connection_error(exc):
            self.redis.failed(exc)
        else:
            log.error("enqueue_failed", exc_info=exc, extra={"events": events})

    def tick_failed(self, job: str, exc: Exception) -> None:
        """The ticker's errors: a Redis outage joins the outage's lines, anything else is
        logged with its traceback."""
        if is_connection_error(exc):
            self.redis.failed(exc)
        else:
            log.error("tick_failed", exc_info=exc, extra={"job": job})

    def rejected(self, rejected: EventRejected, event: str, prefix: str = "") -> str:
        rejections.count(self.settings, prefix + rejected.reason)
        log.warning(event, extra={"reason": rejected.reason, "detail": rejected.detail[:120]})
        return f"rejected:{rejected.reason}"

    def resuming_filters(self, since: int) -> list[tuple[str, list[Filter]]]:
        return [(s.name, s.filters(since)) for s in self.subscriptions.values() if s.resumes]

    async def watch_relays(self) -> None:
        """Note relay changes; read a relay that came back at once, hold the cursor for one
        that went down, and say why it is down."""
        assert self.client is not None
        back, down = self.relays.observe(await connections(self.client))
        now = clock.now()
        for url in down:
            self.cursor.hold(CatchUp.hold_name(url), now, now)
            self._spawn(self._explain(url))
        if back:
            self.catch_up.request(back, None, "relay_back")

    async def _explain(self, url: str) -> None:
        self.relays.explain(url, await reachability(url))

    async def watch_redis(self) -> bool:
        """While Redis is down, probe it; while it is up, check that it still holds what it
        held (issue 8: a FLUSHALL emptied the queues and nothing was read again for five
        minutes). Once it answers again, or is found emptied, read everything again from the
        cursor (and the subscriptions that do not resume, once). True when it did."""
        was_down = self.redis.down
        try:
            if was_down:
                await asyncio.to_thread(self.seen.ping)
            # In this (the loop's) thread, so it never falls between an enqueue and its mark.
            forgot = self.seen.forgot()
        except Exception as exc:
            if was_down or is_connection_error(exc):
                self.redis.failed(exc)
                return False
            raise
        if was_down:
            self.redis.ok()
        elif forgot:
            log.warning("redis_lost_data", extra={"action": "reading every relay again from "
                                                            "the cursor"})
        else:
            return False
        reason = "redis_back" if was_down else "redis_lost_data"
        self.reconcile(reason)
        self._spawn(self._refetch_live_only())
        return True

    def reconcile(self, reason: str = "periodic") -> None:
        """Read every relay back to the cursor's low-water mark."""
        self.catch_up.request(self.relays.states, None, reason)

    async def _refetch_live_only(self) -> None:
        """One page of each subscription that does not resume (the node's replies, wanted
        subscriptions): what arrived while Redis was down, as far as the relays still hold."""
        assert self.client is not None
        now = clock.now()
        try:
            for sub in self.subscriptions.values():
                if not sub.resumes:
                    for event in await self._fetch(sub.filters(now)):
                        self.handle_fetched(event, sub.name)
            for sid, (_, filters) in list(self.wanted.held.items()):
                for event in await self._fetch(filters):
                    self.wanted.handle(sid, event.as_json())
        except Exception:
            log.exception("refetch_failed")

    async def _fetch(self, filters: list[Filter]) -> list[Event]:
        assert self.client is not None
        return await self.client.fetch_events(ReqTarget.auto(filters),
                                              timeout=timedelta(seconds=REFETCH_TIMEOUT_S))

    def save_cursor(self) -> None:
        """Save the cursor's low-water mark; a database that does not answer is an outage
        (logged once), and the next save tries again."""
        try:
            self.cursor.flush(clock.now())
        except Exception as exc:
            self.database.failed(exc)
        else:
            self.database.ok()

    async def stop(self) -> None:
        """Stop handing events to the queue, save the cursor, close the connections; whatever
        went wrong before, the cursor is saved."""
        await self.catch_up.cancel()
        for batch in self.batches.values():
            batch.flush()
        for task in (self._consumer, *self._background):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    try:
                        await task
                    except Exception:
                        log.exception("listener_task_failed")
        self.save_cursor()
        await heartbeat.forget(self)
        if self.client is not None:
            await self.client.shutdown()
        log.info("listener_stopped", extra={"cursor": self.cursor.saved})
