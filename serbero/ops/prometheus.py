"""The Prometheus endpoint (`serbero metrics`): the numbers of `serbero status`, plus counters of
notifications, rejected events and escalations and the detection → DM-published latency
histogram, all computed at scrape time from the database and Redis.

Computing at scrape time is what makes counters add up across processes: a counter kept in
each worker's memory would know only that worker's share. The registry is private, so this
process's own Python metrics stay out too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from peewee import PeeweeException
from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from serbero.config import Settings
from serbero.ops import ack_metrics, figures, heartbeat, snapshot
from serbero.reasoning import metrics as reasoning_metrics

log = logging.getLogger(__name__)

QUEUE_STATES = ("ready", "in_flight", "delayed", "dead")
_UP_DOC = ("1 when the daemon can notify: a listener and a worker process have fresh "
           "heartbeats (in every mode, `serbero run` included).")


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


class SerberoCollector(Collector):
    """Collector that reads one snapshot per scrape and turns it into metric families."""

    def __init__(self, settings: Settings, queue_names: Iterable[str], *,
                 alive_within_s: float) -> None:
        self.settings = settings
        self.queue_names = tuple(queue_names)
        self.alive_within_s = alive_within_s

    def collect(self) -> Iterator[Metric]:
        started = time.monotonic()
        now = time.time()
        try:
            snap = snapshot.take(self.settings, self.queue_names,
                                 alive_within_s=self.alive_within_s, now=now)
        except PeeweeException as exc:
            log.warning("metrics_database_unreadable", extra={"error": str(exc)})
            yield _gauge("serbero_database_up", "1 when the database answered this scrape.", 0)
            yield _gauge("serbero_up", _UP_DOC, 0)
            yield from self._redis(snapshot.read_redis(self.settings, self.queue_names, now=now))
        else:
            yield _gauge("serbero_database_up", "1 when the database answered this scrape.", 1)
            yield from self._processes(snap.processes, now)
            yield from self._redis(snap.redis)
            yield from self._database(snap, now)
        yield _gauge("serbero_scrape_duration_seconds", "Time this scrape took to compute.",
                     time.monotonic() - started)

    def _processes(self, p: heartbeat.Processes | None, now: float) -> Iterator[Metric]:
        """From the process heartbeats in the database: the same in every mode."""
        listeners = p.listeners if p is not None else ()
        workers = p.workers if p is not None else ()
        yield _gauge("serbero_up", _UP_DOC, int(bool(listeners) and bool(workers)))
        yield _gauge("serbero_listeners_up", "Listeners (`serbero listen`, `serbero run`) whose "
                     "heartbeat is fresh.", len(listeners))
        yield _gauge("serbero_workers_alive", "Worker processes that consume (never producers) "
                     "whose heartbeat is fresh.", len(workers))
        threads = GaugeMetricFamily("serbero_worker_threads", "Threads of the alive worker "
                                    "processes, by state.", labels=["state"])
        total, busy = p.worker_threads if p is not None else (0, 0)
        threads.add_metric(["busy"], busy)
        threads.add_metric(["idle"], max(total - busy, 0))
        yield threads
        if not listeners:
            return
        freshest = listeners[0]
        yield _gauge("serbero_listener_heartbeat_age_seconds",
                     "Age of the freshest listener heartbeat.", max(now - freshest.at, 0))
        relays = [r for r in freshest.details.get("relays", []) if isinstance(r, dict)]
        yield _gauge("serbero_relays_connected", "Relays the freshest listener is connected to.",
                     sum(bool(r.get("connected")) for r in relays))
        configured = freshest.details.get("relays_configured")
        yield _gauge("serbero_relays_configured", "Relays the listener is configured with.",
                     configured if isinstance(configured, int) else len(relays))
        per_relay = GaugeMetricFamily("serbero_relay_connected", "1 when the freshest listener "
                                      "is connected to the relay.", labels=["relay"])
        for r in relays:
            per_relay.add_metric([str(r.get("url"))], int(bool(r.get("connected"))))
        yield per_relay
        if p is not None and p.last_event_seen_at is not None:
            yield _gauge("serbero_last_dispute_event_seen_timestamp_seconds",
                         "When a listener last handed a dispute event to the queue.",
                         p.last_event_seen_at)

    def _redis(self, view: snapshot.RedisView | None) -> Iterator[Metric]:
        if view is None:
            return  # embedded broker: nothing shared to read
        yield _gauge("serbero_redis_up", "1 when Redis answered this scrape.",
                     0 if view.error else 1)
        if view.error:
            return
        depth = GaugeMetricFamily("serbero_queue_messages", "Messages per queue and state.",
                                  labels=["queue", "state"])
        for q in view.queues:
            for state in QUEUE_STATES:
                depth.add_metric([q.name, state], getattr(q, state))
        yield depth
        rejected = CounterMetricFamily("serbero_events_rejected", "Events refused by the "
                                       "listener or a worker (and stale tier steps dropped), "
                                       "by reason, summed over every process.", labels=["reason"])
        for reason, n in (view.rejections or {}).items():
            rejected.add_metric([reason], n)
        yield rejected

    def _database(self, snap: snapshot.Snapshot, now: float) -> Iterator[Metric]:
        disputes = GaugeMetricFamily("serbero_disputes", "Disputes by lifecycle state.",
                                     labels=["state"])
        for state, n in snap.disputes.items():
            disputes.add_metric([state], n)
        yield disputes
        u = snap.unattended
        yield _gauge("serbero_unattended_disputes", "Disputes no solver has taken yet.",
                     u.count if u else 0)
        yield _gauge("serbero_oldest_unattended_dispute_age_seconds",
                     "How long the oldest unattended dispute has waited (0 when none).",
                     max(now - u.detected_at, 0) if u else 0)
        if snap.last_event_applied_at is not None:
            yield _gauge("serbero_last_dispute_event_applied_timestamp_seconds",
                         "When a worker last applied a dispute event.", snap.last_event_applied_at)
        yield from self._handoffs(snap.handoffs, now)
        sent = CounterMetricFamily("serbero_notifications", "Solver notifications settled, by "
                                   "type and outcome (sent, failed, cancelled).",
                                   labels=["notif_type", "status"])
        pending = GaugeMetricFamily("serbero_notifications_pending",
                                    "Solver notifications not yet published, by type.",
                                    labels=["notif_type"])
        for (notif_type, status), n in sorted(snap.notifications.items()):
            if status == "pending":
                pending.add_metric([notif_type], n)
            else:
                sent.add_metric([notif_type, status], n)
        yield sent
        yield pending
        escalations = CounterMetricFamily("serbero_escalations", "Escalations recorded, by "
                                          "trigger.", labels=["trigger"])
        for trigger, n in snap.escalations.items():
            escalations.add_metric([trigger], n)
        yield escalations
        if snap.sessions is not None:
            sessions = GaugeMetricFamily("serbero_mediation_sessions",
                                         "Mediation sessions by state.", labels=["state"])
            for state, n in snap.sessions.items():
                sessions.add_metric([state], n)
            yield sessions
        yield latency_histogram(snap.latency)
        yield from ack_metrics.families()
        yield from reasoning_metrics.families()

    def _handoffs(self, h: figures.Handoffs | None, now: float) -> Iterator[Metric]:
        if h is None:
            return  # the escalation migration has not been applied
        yield _gauge("serbero_handoffs_awaiting_dispatch",
                     "Escalation handoffs not yet delivered to any solver.", h.awaiting_dispatch)
        yield _gauge("serbero_oldest_handoff_awaiting_age_seconds",
                     "How long the oldest undelivered handoff has waited (0 when none).",
                     max(now - h.oldest_awaiting_at, 0) if h.oldest_awaiting_at else 0)
        dispatches = GaugeMetricFamily("serbero_escalation_dispatches",
                                       "Handoff dispatch rows by status.", labels=["status"])
        for status, n in h.dispatches_by_status.items():
            dispatches.add_metric([status], n)
        yield dispatches


def latency_histogram(lat: figures.Latency) -> HistogramMetricFamily:
    buckets: list[tuple[str, float]] = [
        (_le(ms), n) for ms, n in zip(figures.LATENCY_BUCKETS_MS, lat.cumulative, strict=True)]
    buckets.append(("+Inf", lat.count))
    return HistogramMetricFamily(
        "serbero_detection_to_dm_seconds",
        "Time from detecting a dispute to publishing each solver's initial DM.",
        buckets=buckets, sum_value=lat.sum_ms / 1000)


def _le(ms: int) -> str:
    return repr(ms / 1000)


def metrics_app(collector: Collector) -> Callable[..., Any]:
    """WSGI app serving the collector at /metrics (and /), 404 elsewhere."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    exposition = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "/") in ("/", "/metrics"):
            return exposition(environ, start_response)
        body = b"not found: the metrics are at /metrics\n"
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8"),
                                         ("Content-Length", str(len(body)))])
        return [body]
    return app
