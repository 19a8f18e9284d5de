"""A worker process's liveness: its heartbeat row (`serbero.liveness`: consuming, threads,
busy threads, whether Redis answers), written every few seconds by a thread of its own while
the dramatiq worker runs, and Redis outages told as one line, not a flood.

dramatiq logs a Redis outage from every consumer thread (two per queue) every few seconds, at
critical level and with tracebacks from actors whose follow-up could not be enqueued. The log
filter here drops those records and reports them to one outage tracker instead: one warning
when Redis goes, one line a minute while it stays down, one when it is back (the heartbeat
thread's ping notices that). Nothing is lost meanwhile: the database holds every state change,
and the periodic jobs re-derive what could not be enqueued.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.errors import BrokerConnectionError

from serbero.db.connection import database
from serbero.liveness import WORKER, Beater
from serbero.outage import Outage, is_connection_error

log = logging.getLogger(__name__)

#: Seconds between pings of a Redis that is down, so "back" is said within about a second.
REDIS_PROBE_EVERY_S = 1.0

class WorkerLiveness(dramatiq.Middleware):
    """Middleware that counts busy worker threads and, while a worker runs in this process,
    writes the process's heartbeat row."""

    def __init__(self) -> None:
        self.command = "worker"
        self.redis = Outage("redis", log)
        self.database = Outage("database", log)
        self._busy = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        #: Wakes the heartbeat thread early: to stop, or to probe a Redis that just went down.
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._worker: dramatiq.Worker | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._worker = worker
        self._stop.clear()
        self._wake.clear()
        beater = Beater(WORKER, self.command)
        self._thread = threading.Thread(target=self._beat_until_stopped, args=(broker, beater),
                                        name="serbero-heartbeat", daemon=True)
        self._thread.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        with self._lock:
            self._busy += 1

    def after_process_message(self, broker: dramatiq.Broker, message: Any, *,
                              result: Any = None, exception: BaseException | None = None) -> None:
        with self._lock:
            self._busy = max(self._busy - 1, 0)

    after_skip_message = after_process_message

    def redis_failed(self, exc: BaseException | str) -> None:
        """A Redis call failed somewhere in this process: one outage, probed every second."""
        if self.redis.failed(exc):
            self._wake.set()

    def details(self, broker: dramatiq.Broker) -> dict[str, Any]:
        worker = self._worker
        return {"threads": getattr(worker, "worker_threads", 0), "busy": self._busy,
                "queues": sorted(getattr(worker, "consumer_whitelist", None) or [])
                or "all",
                "redis": ("embedded" if not isinstance(broker, RedisBroker)
                          else "down" if self.redis.down else "up")}

    def _beat_until_stopped(self, broker: dramatiq.Broker, beater: Beater) -> None:
        try:
            while not self._stop.is_set():
                if isinstance(broker, RedisBroker):
                    self._ping(broker)
                if beater.due():
                    self._beat(broker, beater)
                self._wake.wait(REDIS_PROBE_EVERY_S if self.redis.down else beater.every_s)
                self._wake.clear()
            self._beat(broker, beater, stopped=True)
        finally:
            with contextlib.suppress(Exception):
                database.close()  # this thread's connection, not kept after the thread

    def _ping(self, broker: RedisBroker) -> None:
        try:
            broker.client.ping()
        except Exception as exc:
            self.redis.failed(exc)
        else:
            self.redis.ok()

    def _beat(self, broker: dramatiq.Broker, beater: Beater, *, stopped: bool = False) -> None:
        try:
            beater.beat(self.details(broker), stopped=stopped)
        except Exception as exc:
            self.database.failed(exc)
        else:
            self.database.ok()


class RedisOutageFilter(logging.Filter):
    """Log filter that turns dramatiq's records of a lost Redis connection into reports to
    one outage tracker; every other record passes."""

    def __init__(self, liveness: WorkerLiveness) -> None:
        super().__init__()
        self.liveness = liveness

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("dramatiq"):
            return True
        # the error is the record's exception, or its first argument ("… error: %s", e)
        exc = record.exc_info[1] if record.exc_info else next(
            (a for a in (record.args or ()) if isinstance(a, BaseException)), None)
        text = record.msg if isinstance(record.msg, str) else ""
        if (exc is not None and (isinstance(exc, BrokerConnectionError)
                                 or is_connection_error(exc))) or "connection error" in text:
            self.liveness.redis_failed(exc if exc is not None else "connection error")
            return False
        # the restarts that follow each failure say nothing more while the outage lasts
        return not (self.liveness.redis.down and text.startswith("Restarting consumer in"))


def install_log_filter(liveness: WorkerLiveness) -> None:
    """Put the outage filter on every handler of the root logger (after `logs.setup`)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedisOutageFilter) for f in handler.filters):
            handler.addFilter(RedisOutageFilter(liveness))
