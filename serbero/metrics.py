"""Prometheus counters and histograms shared by the listener and the workers.

Defined once here so every module counts into the same series; `serbero/` code increments
them, and whichever process serves /metrics exposes them.
"""

from prometheus_client import Counter

EVENTS_RECEIVED = Counter(
    "serbero_events_received_total", "Verified events handed to the queue by the listener.")
EVENTS_REJECTED = Counter(
    "serbero_events_rejected_total", "Events refused, by reason.", ["reason"])
EVENTS_APPLIED = Counter(
    "serbero_events_applied_total", "Dispute events applied by workers, by outcome.", ["outcome"])
DISPUTES_DETECTED = Counter("serbero_disputes_detected_total", "Disputes recorded.")
OUTBOX_PUBLISHED = Counter(
    "serbero_outbox_published_total", "Outbox rows settled, by kind and status.",
    ["kind", "status"])
