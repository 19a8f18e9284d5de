"""The OpenAI-compatible adapter against a scripted server (RP-6…RP-9, TST-PPQ-*, TST-P3-SWAP):
URL, headers, the exact request bodies, and reading the answer."""

from __future__ import annotations

import json

import pytest

from serbero.errors import ReasoningError
from serbero.reasoning import prompts, providers
from serbero.reasoning.openai_compat import chat_url
from serbero.reasoning.types import ClassificationRequest, SummaryRequest, TranscriptEntry
from tests.reasoning.endpoint import API_KEY, json_reply, openai_reply

REQUEST = ClassificationRequest(session_id="s-1", dispute_id="d-1", initiator_role="buyer",
                                transcript=(TranscriptEntry("buyer", 10, "I paid at 10:00"),))
VERDICT = {"classification": "coordination_failure_resolvable", "confidence": 0.8,
           "suggested_action": "summarize", "rationale": "both agree", "flags": []}


@pytest.mark.parametrize(("base", "url"), [
    ("https://api.openai.com/v1", "https://api.openai.com/v1/chat/completions"),
    ("https://api.openai.com/v1/", "https://api.openai.com/v1/chat/completions"),
    ("https://api.ppq.ai", "https://api.ppq.ai/chat/completions"),
    ("http://localhost:11434/v1", "http://localhost:11434/v1/chat/completions"),
])
def test_the_url_is_api_base_plus_chat_completions_without_adding_v1(base, url):
    assert chat_url(base) == url


def test_classify_sends_the_exact_rp8_body_and_the_bearer_key(endpoint, make_chain, bundle):
    endpoint.script(openai_reply(json.dumps(VERDICT)))
    chain = make_chain(endpoint.spec(model="gpt-4o-mini"))
    answer = chain.classify(REQUEST, bundle)
    seen = endpoint.seen[0]
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == f"Bearer {API_KEY}"
    assert seen.body == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "system", "content": bundle.system},
                     {"role": "user", "content": prompts.classification_prompt(
                         REQUEST, bundle, prompts.TranscriptLimits())}],
        "response_format": {"type": "json_object"},
        "temperature": 0.0,
    }
    assert answer.value.classification == "coordination_failure_resolvable"
    assert (answer.completion.input_tokens, answer.completion.output_tokens) == (120, 30)


def test_summarize_has_no_json_mode_and_temperature_0_2(endpoint, make_chain, bundle):
    endpoint.script(openai_reply("Both agree.\nSUGGESTED_NEXT_STEP: confirm\nRATIONALE: clear"))
    chain = make_chain(endpoint.spec(model="m"))
    request = SummaryRequest("s-1", "d-1", "coordination_failure_resolvable", 0.9,
                             REQUEST.transcript)
    answer = chain.summarize(request, bundle)
    body = endpoint.seen[0].body
    assert "response_format" not in body and body["temperature"] == 0.2
    assert body["messages"][1]["content"] == prompts.summary_prompt(
        request, bundle, prompts.TranscriptLimits())
    assert answer.value.suggested_next_step == "confirm"  # TST-PPQ-SUMMARY


def test_the_health_check_sends_ping_alone(endpoint, make_chain):
    endpoint.script(openai_reply("pong"))
    spec = endpoint.spec(model="m")
    make_chain(spec).check(spec, origin="health")
    assert endpoint.seen[0].body == {"model": "m", "messages": [{"role": "user",
                                                                  "content": "ping"}],
                                     "temperature": 0.0}


def test_gpt5_models_get_no_temperature_in_any_body(endpoint, make_chain, bundle):
    endpoint.script(openai_reply("pong"), openai_reply(json.dumps(VERDICT)))
    spec = endpoint.spec(model="gpt-5-mini")
    chain = make_chain(spec)
    chain.check(spec, origin="health")
    chain.classify(REQUEST, bundle)
    assert all("temperature" not in s.body for s in endpoint.seen)


def test_ppqai_shape_bare_host_posts_to_chat_completions(endpoint, make_chain, bundle):
    endpoint.script(openai_reply(json.dumps(VERDICT)))
    make_chain(endpoint.spec(path="")).classify(REQUEST, bundle)
    assert endpoint.seen[0].path == "/chat/completions"  # TST-PPQ-PATH


@pytest.mark.parametrize(("doc", "category"), [
    ({"choices": []}, "malformed_response"),
    ({"choices": [{"message": {"content": None}}]}, "malformed_response"),
    ({"choices": [{"message": {"content": 42}}]}, "malformed_response"),
    ({"choices": "nope"}, "malformed_response"),
    ([1, 2], "malformed_response"),
    ({"error": {"message": "quota", "type": "insufficient_quota"}}, "refused"),
])
def test_answers_without_a_message_are_errors_never_empty_text(endpoint, no_sleep, doc,
                                                              category):
    endpoint.script(json_reply(doc))
    adapter = providers.build(endpoint.spec(), backoff=no_sleep)
    with pytest.raises(ReasoningError) as info:
        adapter.complete("classify", "sys", "prompt")
    assert info.value.category == category
    adapter.close()


def test_401_is_one_request_and_names_the_status(endpoint, no_sleep):
    endpoint.script(json_reply({"error": {"message": "Incorrect API key"}}, 401))
    adapter = providers.build(endpoint.spec(attempts=3), backoff=no_sleep)
    with pytest.raises(ReasoningError) as info:
        adapter.complete("classify", "sys", "p")
    assert "401" in str(info.value) and len(endpoint.seen) == 1  # TST-PPQ-401, -404
    adapter.close()


def test_429_with_two_retries_makes_three_requests(endpoint, no_sleep):
    endpoint.script(*[json_reply({}, 429)] * 3)
    adapter = providers.build(endpoint.spec(attempts=3), backoff=no_sleep)
    with pytest.raises(ReasoningError) as info:
        adapter.complete("classify", "sys", "p")
    assert info.value.category == "unreachable" and len(endpoint.seen) == 3  # TST-PPQ-429
    adapter.close()


@pytest.mark.parametrize("name", ["openai", "openai-compatible"])
def test_two_configs_each_check_only_their_own_server(endpoint, endpoint_b, make_chain, name):
    # TST-P3-SWAP / -COMPAT: same adapter under both names, each hits its own mock once
    endpoint.script(openai_reply("pong"))
    endpoint_b.script(openai_reply("pong"))
    a, b = endpoint.spec(name), endpoint_b.spec(name)
    make_chain(a).check(a, origin="health")
    make_chain(b).check(b, origin="health")
    assert len(endpoint.seen) == 1 and len(endpoint_b.seen) == 1


def test_an_error_object_echoing_the_key_is_scrubbed(endpoint, no_sleep):
    endpoint.script(json_reply({"error": {"message": f"invalid key {API_KEY}"}}))
    adapter = providers.build(endpoint.spec(), backoff=no_sleep)
    with pytest.raises(ReasoningError) as info:
        adapter.complete("classify", "sys", "p")
    assert API_KEY not in info.value.detail and "***" in info.value.detail
    adapter.close()
