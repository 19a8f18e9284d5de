"""Running the listener as a service: the loop that watches relays and Redis, drives the
ticker, writes the heartbeat, reads the wanted subscriptions, saves the cursor and starts the
periodic catch-up, until SIGTERM or SIGINT; then the listener stops cleanly. No step of the loop
can end it: each failure is logged and the step is tried again at its next turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time

from serbero.listener import heartbeat
from serbero.listener.listen import Listener
from serbero.ticker import Ticker

log = logging.getLogger(__name__)

#: Seconds between saves of the resume cursor.
CURSOR_FLUSH_EVERY_S = 5
#: Seconds between periodic catch-ups, in case the notification stream dropped events.
RECONCILE_EVERY_S = 300
#: The same, while events are coming: a relay can drop live events under a burst (issue 8:
#: 13 of 1,000 in bench/chaos.py on a loaded machine), and a dropped one must be read within
#: a minute, inside the cursor's overlap, not five.
BUSY_RECONCILE_EVERY_S = 20
#: Seconds between reads of the wanted subscriptions.
WANTED_EVERY_S = 2
#: Seconds between probes of Redis: is it back (while down), does it still hold its data (while
#: up)?
REDIS_PROBE_EVERY_S = 1.0
#: How often the loop wakes up to run the ticker and watch the relays.
LOOP_INTERVAL_S = 0.5


async def serve(listener: Listener, stop: asyncio.Event, *, ticker: Ticker | None = None) -> None:
    """Run the listener (and the ticker) until `stop` is set; always stop cleanly. No step of
    the loop can end it: each is logged and tried again at its next turn."""
    await listener.start()
    last_flush = last_reconcile = time.monotonic()
    last_probe = 0.0  # at once: the first probe marks Redis, so a flush from then on shows
    last_wanted = last_flush - WANTED_EVERY_S  # read the wanted subscriptions at once
    try:
        while not stop.is_set():
            started = time.monotonic()
            with _step("relay_watch_failed"):
                await listener.watch_relays()
            if started - last_probe >= REDIS_PROBE_EVERY_S:
                last_probe = started
                with _step("redis_probe_failed"):
                    await listener.watch_redis()
            if ticker is not None and not listener.redis.down:
                ticker.tick_once(time.time())
            with _step("heartbeat_failed"):
                await heartbeat.beat(listener)
            if started - last_wanted >= WANTED_EVERY_S:
                last_wanted = started
                with _step("wanted_refresh_failed"):
                    await listener.wanted.refresh()
            if started - last_flush >= CURSOR_FLUSH_EVERY_S:
                last_flush = started
                listener.save_cursor()
            since_reconcile = started - last_reconcile
            busy = (listener.last_event_at is not None
                    and listener.last_event_at > time.time() - since_reconcile)
            if since_reconcile >= (BUSY_RECONCILE_EVERY_S if busy else RECONCILE_EVERY_S):
                last_reconcile = started
                listener.reconcile("busy" if busy else "periodic")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), LOOP_INTERVAL_S)
    finally:
        await listener.stop()


@contextlib.contextmanager
def _step(failed_as: str):
    try:
        yield
    except Exception:
        log.exception(failed_as)


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM set `stop`; the service then drains and exits."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _signalled, stop, sig)


def _signalled(stop: asyncio.Event, sig: signal.Signals) -> None:
    log.info("shutdown signal received, stopping", extra={"signal": sig.name})
    stop.set()
