"""The provider chain: fallback to the next provider, health kept fresh without billable calls
before each open (GAP-15), and a record of every call (provider, model, latency, tokens,
outcome) without any content."""

from __future__ import annotations

import json

import pytest

from serbero.errors import ReasoningError
from serbero.reasoning import health
from serbero.reasoning.models import ProviderHealth, ReasoningCall
from serbero.reasoning.types import ClassificationRequest
from tests.reasoning.endpoint import anthropic_reply, json_reply, openai_reply, text_block

REQUEST = ClassificationRequest("s", "d-7", "buyer")
VERDICT = json.dumps({"classification": "unclear", "confidence": 0.9,
                      "suggested_action": "escalate", "rationale": "r"})


class Clock:
    def __init__(self, t: int = 1_700_000_000) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t


def test_a_failing_first_provider_falls_back_to_the_second(endpoint, endpoint_b, make_chain,
                                                          bundle):
    # Given a primary that is down and an Anthropic fallback that answers
    endpoint.script(json_reply({}, 503), json_reply({}, 503))
    endpoint_b.script(anthropic_reply(text_block(VERDICT)))
    first = endpoint.spec(attempts=2, model="primary")
    second = endpoint_b.spec("anthropic", model="backup", position=1)
    # When a classification is asked for
    answer = make_chain(first, second).classify(REQUEST, bundle)
    # Then the fallback's verdict comes back, naming who answered and who failed before
    assert answer.spec == second
    assert answer.failed_before == (("openai-compatible:primary", "unreachable"),)
    rows = list(ReasoningCall.select().order_by(ReasoningCall.id))
    assert [(r.model, r.outcome, r.position, r.attempts) for r in rows] == [
        ("primary", "unreachable", 0, 2), ("backup", "ok", 1, 1)]


def test_a_malformed_answer_also_moves_to_the_next_provider(endpoint, endpoint_b, make_chain,
                                                           bundle):
    endpoint.script(openai_reply("not json"))
    endpoint_b.script(openai_reply(VERDICT))
    answer = make_chain(endpoint.spec(), endpoint_b.spec(model="b", position=1)).classify(
        REQUEST, bundle)
    assert answer.spec.model == "b"
    first = ReasoningCall.get(ReasoningCall.position == 0)
    assert first.outcome == "malformed_response" and first.input_tokens == 120  # cost counted


def test_when_every_provider_fails_the_error_names_each(endpoint, endpoint_b, make_chain,
                                                        bundle):
    endpoint.script(json_reply({}, 401), json_reply({}, 401))
    endpoint_b.script(openai_reply("{}"))
    with pytest.raises(ReasoningError) as info:
        make_chain(endpoint.spec(attempts=3), endpoint_b.spec(model="b", position=1)).classify(
            REQUEST, bundle)
    assert info.value.category == "malformed_response"
    assert "refused" in str(info.value) and "all 2 providers failed" in str(info.value)
    refused = ReasoningCall.get(ReasoningCall.position == 0)
    assert (refused.outcome, refused.http_status, refused.attempts) == ("refused", 401, 1)


def test_a_provider_known_to_be_failing_is_skipped(endpoint, endpoint_b, make_chain, bundle):
    # Given a background check that just found the primary down
    clock = Clock()
    endpoint.script(json_reply({}, 500))
    endpoint_b.script(openai_reply("pong"), openai_reply(VERDICT))
    first, second = endpoint.spec(), endpoint_b.spec(model="b", position=1)
    chain = make_chain(first, second, now=clock)
    assert chain.refresh_health() == [(first, "unreachable"), (second, "ok")]
    # When a classification follows
    clock.t += 5
    answer = chain.classify(REQUEST, bundle)
    # Then the primary is not called again: the fallback answers at once
    assert answer.spec == second and answer.failed_before == ()
    assert len(endpoint.seen) == 1


def test_every_provider_failing_means_all_are_tried_anyway(endpoint, make_chain, bundle):
    clock = Clock()
    endpoint.script(json_reply({}, 500), openai_reply(VERDICT))
    chain = make_chain(endpoint.spec(), now=clock)
    chain.refresh_health()
    assert chain.classify(REQUEST, bundle).value.classification == "unclear"


def test_ready_reads_the_stored_health_and_makes_no_call(endpoint, make_chain):
    clock = Clock()
    endpoint.script(openai_reply("pong"))
    chain = make_chain(endpoint.spec(), interval_s=60, now=clock)
    assert not chain.ready()  # never checked
    chain.refresh_health()
    assert chain.ready() and len(endpoint.seen) == 1
    clock.t += 3 * 60  # still fresh: three periods
    assert chain.ready()
    clock.t += 1  # stale: the background job has stopped
    assert not chain.ready()
    assert len(endpoint.seen) == 1


def test_the_background_check_skips_providers_a_call_just_used(endpoint, make_chain, bundle):
    clock = Clock()
    endpoint.script(openai_reply(VERDICT), openai_reply("pong"))
    chain = make_chain(endpoint.spec(), interval_s=60, now=clock)
    chain.classify(REQUEST, bundle)
    clock.t += 29
    assert chain.refresh_health() == []  # the call counts as a check
    clock.t += 1
    assert [outcome for _, outcome in chain.refresh_health()] == ["ok"]


def test_health_state_counts_consecutive_failures_and_keeps_the_last_success(endpoint,
                                                                           make_chain):
    clock = Clock()
    spec = endpoint.spec()
    endpoint.script(openai_reply("pong"), json_reply({}, 500), json_reply({}, 502))
    chain = make_chain(spec, interval_s=10, now=clock)
    for _ in range(3):
        chain.refresh_health()
        clock.t += 10
    row = ProviderHealth.get_by_id(spec.key)
    assert (row.status, row.consecutive_failures) == ("unreachable", 2)
    assert row.healthy_at == 1_700_000_000
    assert [v.failing for v in health.view([spec], now=clock.t, max_age=30)] == [True]


def test_call_records_carry_figures_and_a_fingerprint_never_content(endpoint, make_chain,
                                                                   bundle):
    endpoint.script(openai_reply(VERDICT, prompt_tokens=900, completion_tokens=55))
    make_chain(endpoint.spec(model="m")).classify(REQUEST, bundle)
    row = ReasoningCall.get()
    assert (row.purpose, row.origin, row.provider, row.model, row.outcome) == \
        ("classify", "mediation", "openai-compatible", "m", "ok")
    assert (row.input_tokens, row.output_tokens, row.dispute_id) == (900, 55, "d-7")
    assert row.output_bytes == len(VERDICT.encode()) and len(row.output_sha16) == 16
    assert row.latency_ms >= 0 and row.attempts == 1
    assert VERDICT not in json.dumps(list(ReasoningCall.select().dicts()))
