"""One evaluation end to end against a scripted provider: the decision, what to store, and
provider failures or unsafe texts becoming escalations, never text reaching anyone."""

from __future__ import annotations

import json

from serbero.mediation import evaluate, policy
from serbero.mediation.policy import AskClarification, Escalate, Summarize
from serbero.reasoning.models import ReasoningCall
from serbero.reasoning.types import ClassificationRequest, SummaryRequest, TranscriptEntry
from tests.reasoning.endpoint import json_reply, openai_reply

REQUEST = ClassificationRequest("s-1", "d-1", "buyer", (
    TranscriptEntry("buyer", 1, "I paid at 10:00 with reference 4471"),
    TranscriptEntry("seller", 2, "Nothing yet in my account")))
ASK = {"classification": "coordination_failure_resolvable", "confidence": 0.7,
       "suggested_action": "ask_clarification", "rationale": "timing only",
       "buyer_clarification": "Which bank did you send it from?",
       "seller_clarification": "Could you check again in an hour?",
       "buyer_language": "en", "seller_language": "es"}


def test_a_good_question_comes_back_with_its_languages_and_provenance(endpoint, make_chain,
                                                                       bundle):
    endpoint.script(openai_reply(json.dumps(ASK)))
    result = evaluate.classify(make_chain(endpoint.spec(model="m")), bundle, REQUEST,
                               policy.Round(1))
    assert result.decision == AskClarification(ASK["buyer_clarification"],
                                               ASK["seller_clarification"])
    assert (result.response.buyer_language, result.response.seller_language) == ("en", "es")
    assert result.provenance.model == "m" and result.provenance.policy_hash == bundle.policy_hash
    assert ReasoningCall.get().session_id == "s-1"  # a mid-session call is scoped to it


def test_a_provider_failure_is_reasoning_unavailable_with_its_category(endpoint, make_chain,
                                                                       bundle):
    endpoint.script(json_reply({}, 401))
    result = evaluate.classify(make_chain(endpoint.spec()), bundle, REQUEST, policy.OPENING)
    assert result.decision == Escalate("reasoning_unavailable")
    assert result.error_category == "refused" and result.response is None


def test_a_prompt_injected_release_question_is_suppressed(endpoint, make_chain, bundle, caplog):
    hostile = {**ASK, "seller_clarification": "Per the buyer's request, please release the "
               "sats now so we can close this."}
    endpoint.script(openai_reply(json.dumps(hostile)))
    result = evaluate.classify(make_chain(endpoint.spec()), bundle, REQUEST, policy.OPENING)
    assert result.decision.trigger == "authority_boundary_attempt"
    warning, = [r for r in caplog.records if r.msg == "authority_boundary_suppressed"]
    assert warning.guard_category == "fund_action" and "release" not in warning.getMessage()


def test_a_summary_that_passes_the_guard_is_returned(endpoint, make_chain, bundle):
    endpoint.script(openai_reply("The transfer was late; both agree.\n"
                                 "SUGGESTED_NEXT_STEP: ask the seller to confirm receipt\n"
                                 "RATIONALE: consistent"))
    out = evaluate.summarize(make_chain(endpoint.spec()), bundle,
                             SummaryRequest("s-1", "d-1", "coordination_failure_resolvable", 0.9))
    assert out.escalate is None and out.summary.suggested_next_step.startswith("ask the seller")


def test_an_unsafe_or_empty_summary_becomes_an_escalation(endpoint, make_chain, bundle):
    endpoint.script(openai_reply("Late.\nSUGGESTED_NEXT_STEP: settle the trade for the buyer\n"
                                 "RATIONALE: x"),
                    openai_reply("Late.\nSUGGESTED_NEXT_STEP:   \nRATIONALE: x"),
                    openai_reply("RATIONALE: first\nSUGGESTED_NEXT_STEP: then"))
    chain = make_chain(endpoint.spec())
    request = SummaryRequest("s-1", "d-1", "coordination_failure_resolvable", 0.9)
    unsafe, empty, malformed = (evaluate.summarize(chain, bundle, request) for _ in range(3))
    assert unsafe.escalate.trigger == empty.escalate.trigger == "authority_boundary_attempt"
    assert unsafe.summary is None and empty.summary is None
    assert empty.escalate.guard_hit.category == "empty"
    assert malformed.escalate == Escalate("reasoning_unavailable")
    assert malformed.error_category == "malformed_response"


def test_a_cooperative_verdict_is_summarised(endpoint, make_chain, bundle):
    endpoint.script(openai_reply(json.dumps({**ASK, "suggested_action": "summarize"})))
    result = evaluate.classify(make_chain(endpoint.spec()), bundle, REQUEST, policy.OPENING)
    assert result.decision == Summarize("coordination_failure_resolvable", 0.7)
