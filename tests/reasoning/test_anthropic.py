"""The Anthropic adapter against a scripted server (RP-10…RP-13, TST-RA-*): URL folding, the
version and key headers, exact bodies, and the content-block rules."""

from __future__ import annotations

import json

import pytest

from serbero.errors import ReasoningError
from serbero.reasoning import prompts, providers
from serbero.reasoning.anthropic import messages_url
from serbero.reasoning.types import ClassificationRequest, SummaryRequest
from tests.reasoning.endpoint import API_KEY, anthropic_reply, json_reply, text_block

REQUEST = ClassificationRequest(session_id="s-1", dispute_id="d-1", initiator_role="seller")
VERDICT = {"classification": "unclear", "confidence": 0.4, "suggested_action":
           "ask_clarification", "buyer_clarification": "When did you pay?",
           "seller_clarification": "Did you check your account?", "flags": ["low_info"]}
TOOL_BLOCK = {"type": "tool_use", "id": "t1", "name": "x", "input": {}}


@pytest.mark.parametrize("base", ["https://api.anthropic.com", "https://api.anthropic.com/",
                                  "https://api.anthropic.com/v1", "https://api.anthropic.com/v1/"])
def test_the_url_folds_a_trailing_v1(base):
    assert messages_url(base) == "https://api.anthropic.com/v1/messages"


def test_other_path_suffixes_are_kept():
    assert messages_url("https://gw.example/anthropic/") == \
        "https://gw.example/anthropic/v1/messages"


def test_classify_posts_the_exact_rp12_body_with_version_and_key(endpoint, make_chain, bundle):
    endpoint.script(anthropic_reply(text_block(json.dumps(VERDICT))))
    answer = make_chain(endpoint.spec("anthropic", model="claude-x", path="")).classify(
        REQUEST, bundle)
    seen = endpoint.seen[0]
    assert seen.path == "/v1/messages"  # TST-RA-ROUTE
    assert seen.headers["x-api-key"] == API_KEY
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in seen.headers
    assert seen.body == {
        "model": "claude-x", "max_tokens": 2048, "system": bundle.system,
        "messages": [{"role": "user", "content": prompts.classification_prompt(
            REQUEST, bundle, prompts.TranscriptLimits())}],
        "temperature": 0.0,
    }
    assert answer.value.buyer_clarification == "When did you pay?"  # TST-RA-CLASSIFY
    assert (answer.completion.input_tokens, answer.completion.output_tokens) == (110, 25)


def test_summary_and_health_bodies(endpoint, make_chain, bundle):
    endpoint.script(anthropic_reply(text_block("pong")),
                    anthropic_reply(text_block("Fine.\nSUGGESTED_NEXT_STEP: x\nRATIONALE: y")))
    spec = endpoint.spec("anthropic", model="claude-x", path="/v1")
    chain = make_chain(spec)
    chain.check(spec, origin="health")
    chain.summarize(SummaryRequest("s-1", "d-1", "coordination_failure_resolvable", 0.9),
                    bundle)
    health, summary = (s.body for s in endpoint.seen)
    assert health == {"model": "claude-x", "max_tokens": 8,
                      "messages": [{"role": "user", "content": "ping"}], "temperature": 0.0}
    assert summary["max_tokens"] == 4096 and summary["temperature"] == 0.2
    assert summary["system"] == bundle.system


def test_json_split_across_text_blocks_around_other_blocks_parses(endpoint, make_chain, bundle):
    # TST-RA-MULTI-C: text blocks are joined in order, other block types skipped
    text = json.dumps(VERDICT)
    endpoint.script(anthropic_reply(text_block(text[:20]), TOOL_BLOCK,
                                    {"type": "thinking", "thinking": "{not json"},
                                    text_block(text[20:])))
    answer = make_chain(endpoint.spec("anthropic")).classify(REQUEST, bundle)
    assert answer.value.classification == "unclear"


def test_a_summary_split_across_blocks_is_concatenated(endpoint, make_chain, bundle):
    endpoint.script(anthropic_reply(text_block("Both agree the transfer was late."),
                                    text_block("\nSUGGESTED_NEXT_STEP: confirm receipt"),
                                    text_block("\nRATIONALE: consistent accounts")))
    answer = make_chain(endpoint.spec("anthropic")).summarize(
        SummaryRequest("s", "d", "coordination_failure_resolvable", 0.9), bundle)
    assert answer.value.summary_text == "Both agree the transfer was late."
    assert answer.value.rationale.reveal() == "consistent accounts"  # TST-RA-MULTI-S


@pytest.mark.parametrize(("blocks", "message"), [
    ((TOOL_BLOCK,), "no text block in anthropic response"),
    ((), "no text block in anthropic response"),
    (({"type": "text"},), "text block without text"),
    (({"type": "text", "text": 7},), "text block without text"),
])
def test_content_without_usable_text_is_malformed(endpoint, no_sleep, blocks, message):
    endpoint.script(anthropic_reply(*blocks))
    adapter = providers.build(endpoint.spec("anthropic"), backoff=no_sleep)
    with pytest.raises(ReasoningError) as info:
        adapter.complete("classify", "s", "p")
    assert info.value.category == "malformed_response" and message in str(info.value)
    adapter.close()


def test_http_200_with_an_error_object_is_refused(endpoint, no_sleep):
    endpoint.script(json_reply({"type": "error", "error": {"type": "overloaded_error"}}))
    adapter = providers.build(endpoint.spec("anthropic"), backoff=no_sleep)
    with pytest.raises(ReasoningError) as info:
        adapter.complete("classify", "s", "p")
    assert info.value.category == "refused" and "overloaded_error" in info.value.detail
    adapter.close()


def test_401_names_anthropic_and_the_status(endpoint, no_sleep):
    endpoint.script(json_reply({"type": "error", "error": {"type": "authentication_error"}},
                               401))
    adapter = providers.build(endpoint.spec("anthropic", attempts=2), backoff=no_sleep)
    with pytest.raises(ReasoningError) as info:
        adapter.complete("classify", "s", "p")
    assert str(info.value).startswith("anthropic http 401")  # TST-RA-401
    assert len(endpoint.seen) == 1
    adapter.close()


def test_a_retryable_status_names_its_retry_after(endpoint, no_sleep):
    endpoint.script(json_reply({}, 529, headers={"retry-after": "2"}))
    adapter = providers.build(endpoint.spec("anthropic"), backoff=no_sleep)
    with pytest.raises(ReasoningError) as info:
        adapter.complete("classify", "s", "p")
    assert str(info.value) == "anthropic http 529 (retry-after: 2)"
    adapter.close()


def test_prose_instead_of_json_is_malformed(endpoint, make_chain, bundle):
    endpoint.script(anthropic_reply(text_block("I think this is a coordination failure.")))
    with pytest.raises(ReasoningError) as info:  # TST-RA-NONJSON
        make_chain(endpoint.spec("anthropic")).classify(REQUEST, bundle)
    assert info.value.category == "malformed_response"
