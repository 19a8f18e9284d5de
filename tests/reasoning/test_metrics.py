"""Call records as Prometheus counters (issue 7 item 1), through the metrics collector."""

from __future__ import annotations

import json

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from serbero.errors import ReasoningError
from serbero.ops.prometheus import SerberoCollector
from serbero.reasoning.types import ClassificationRequest
from tests.reasoning.endpoint import json_reply, openai_reply

VERDICT = json.dumps({"classification": "unclear", "confidence": 0.9,
                      "suggested_action": "escalate"})


def test_calls_tokens_latency_and_health_are_exported(endpoint, make_chain, make_settings,
                                                     bundle):
    # Given one failed and one answered classification, and a health check
    endpoint.script(json_reply({}, 401), openai_reply(VERDICT, prompt_tokens=700,
                                                      completion_tokens=40),
                    openai_reply("pong"))
    spec = endpoint.spec(model="m")
    chain = make_chain(spec)
    request = ClassificationRequest("s", "d", "buyer")
    with pytest.raises(ReasoningError):
        chain.classify(request, bundle)
    chain.classify(request, bundle)
    chain.check(spec, origin="health")
    # When Prometheus scrapes
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SerberoCollector(make_settings().replace(redis_url=None), [],
                                       alive_within_s=30))
    found = {(s.name, frozenset(s.labels.items())): s.value for f in
             text_string_to_metric_families(generate_latest(registry).decode())
             for s in f.samples}
    # Then the counters say what happened
    base = {"provider": "openai-compatible", "model": "m", "purpose": "classify",
            "origin": "mediation"}
    assert found[("serbero_reasoning_calls_total",
                  frozenset({**base, "outcome": "ok"}.items()))] == 1
    assert found[("serbero_reasoning_calls_total",
                  frozenset({**base, "outcome": "refused"}.items()))] == 1
    assert found[("serbero_reasoning_tokens_total", frozenset(
        {**base, "outcome": "ok", "direction": "input"}.items()))] == 700
    assert found[("serbero_reasoning_provider_healthy",
                  frozenset({"provider": "openai-compatible", "model": "m"}.items()))] == 1
