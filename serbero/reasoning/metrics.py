"""Prometheus families of the reasoning layer, computed at scrape time from `reasoning_calls`
and `reasoning_health`, so figures from every worker process add up. Read-only."""

from __future__ import annotations

from collections.abc import Iterator

from peewee import fn
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from serbero.db.connection import database
from serbero.reasoning import health
from serbero.reasoning.models import ProviderHealth, ReasoningCall

LABELS = ["provider", "model", "purpose", "origin", "outcome"]


def families() -> Iterator[Metric]:
    """Calls, tokens and latency by provider, model, purpose, origin and outcome; each
    provider's latest health. Nothing before the reasoning migration has been applied."""
    if "reasoning_calls" not in database.get_tables():
        return
    calls = CounterMetricFamily("serbero_reasoning_calls", "Model calls, by provider, model, "
                                "purpose, origin and outcome (ok or an error category).",
                                labels=LABELS)
    tokens = CounterMetricFamily("serbero_reasoning_tokens", "Tokens the providers reported, "
                                 "by direction (input, output).", labels=[*LABELS, "direction"])
    latency = CounterMetricFamily("serbero_reasoning_call_seconds", "Time spent in model calls "
                                  "(retries included).", labels=LABELS)
    c = ReasoningCall
    rows = (c.select(c.provider, c.model, c.purpose, c.origin, c.outcome, fn.COUNT(c.id),
                     fn.COALESCE(fn.SUM(c.input_tokens), 0),
                     fn.COALESCE(fn.SUM(c.output_tokens), 0), fn.SUM(c.latency_ms))
            .group_by(c.provider, c.model, c.purpose, c.origin, c.outcome).tuples())
    for provider, model, purpose, origin, outcome, n, tin, tout, ms in rows:
        key = [provider, model, purpose, origin, outcome]
        calls.add_metric(key, n)
        tokens.add_metric([*key, "input"], tin)
        tokens.add_metric([*key, "output"], tout)
        latency.add_metric(key, (ms or 0) / 1000)
    yield calls
    yield tokens
    yield latency
    healthy = GaugeMetricFamily("serbero_reasoning_provider_healthy", "1 when the provider's "
                                "latest call or check succeeded.", labels=["provider", "model"])
    checked = GaugeMetricFamily("serbero_reasoning_provider_checked_timestamp_seconds",
                                "When the provider was last called or checked.",
                                labels=["provider", "model"])
    for row in ProviderHealth.select():
        healthy.add_metric([row.provider, row.model], 1 if row.status == health.OK else 0)
        checked.add_metric([row.provider, row.model], row.checked_at)
    yield healthy
    yield checked
