"""The doorbell: wakes a process's idle dramatiq consumers when work arrives, so they can wait
long between Redis polls while idle and still pick a message up within a millisecond or two.

dramatiq's Redis consumers poll (a Lua `fetch`) and sleep between misses; to keep a queue hop
short, Serbero capped that sleep at 100 ms, which made every idle worker process run about a
hundred Redis scripts a second (12 consumers: 6 queues and their delay queues) and cost an idle
deployment about a tenth of a core. With the doorbell a miss waits on a per-queue event instead,
set by:

* an enqueue in this process (the broker rings its own bell first), or in any process of the
  namespace (the broker also PUBLISHes the queue name on `<namespace>:doorbell`, and one
  subscriber thread per consuming process sets the event);
* an ack or nack of that queue here (a consumer whose prefetch was full can fetch again).

A ring is only a hint: the database and Redis stay the truth. A ring that is lost (the
subscriber reconnecting, a message put there by something that does not ring: dramatiq's
requeue of a dead worker's messages, another tool) costs at most one idle wait, `idle_ms`.
"""

from __future__ import annotations

import contextlib
import logging
import threading

import redis

log = logging.getLogger(__name__)

#: Seconds the subscriber waits for a ring before it looks at its stop flag again.
LISTEN_TIMEOUT_S = 1.0
#: Seconds before the subscriber re-subscribes after losing Redis.
RESUBSCRIBE_AFTER_S = 1.0


class Doorbell:
    """Per-queue wake-up events of one process, fed by enqueues here and rings from others."""

    def __init__(self, client: redis.Redis, namespace: str) -> None:
        self.client = client
        self.channel = f"{namespace}:doorbell"
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def event(self, queue_name: str) -> threading.Event:
        """The wake-up event of `queue_name` (a queue or a delay queue)."""
        found = self._events.get(queue_name)
        if found is None:
            with self._lock:
                found = self._events.setdefault(queue_name, threading.Event())
        return found

    def wake(self, queue_name: str) -> None:
        """Wake this process's consumer of `queue_name`, if it waits."""
        self.event(queue_name).set()

    def ring(self, queue_name: str) -> None:
        """Work arrived on `queue_name`: wake its consumers here and in every other process.
        Never raises; the enqueue it follows already succeeded, and a lost ring only delays."""
        self.wake(queue_name)
        try:
            self.client.publish(self.channel, queue_name)
        except redis.RedisError as exc:
            log.debug("doorbell_ring_failed", extra={"error": str(exc)[:200]})

    def listen(self) -> None:
        """Start the subscriber thread (once per process; only consuming processes need it)."""
        with self._lock:
            if self._thread is not None:
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._listen, name="serbero-doorbell",
                                            daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            with contextlib.suppress(redis.RedisError):
                self.client.publish(self.channel, "")  # ends the subscriber's wait: no queue
            thread.join(LISTEN_TIMEOUT_S + 1)

    def _woken(self, data: object) -> None:
        """A ring from Redis: wake the named queue's consumer if this process has one (a name
        nobody here consumes, or garbage, creates nothing)."""
        name = data.decode(errors="replace") if isinstance(data, bytes) else str(data)
        event = self._events.get(name)
        if event is not None:
            event.set()

    def _listen(self) -> None:
        while not self._stop.is_set():
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.channel)
                # Rings may have been missed while (re)subscribing: wake everyone once.
                for event in list(self._events.values()):
                    event.set()
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=LISTEN_TIMEOUT_S)
                    if message is not None and message.get("type") == "message":
                        self._woken(message["data"])
            except (redis.RedisError, OSError, ValueError) as exc:
                log.debug("doorbell_listen_failed", extra={"error": str(exc)[:200]})
                self._stop.wait(RESUBSCRIBE_AFTER_S)
            finally:
                with contextlib.suppress(Exception):
                    pubsub.close()
