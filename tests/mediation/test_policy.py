"""The policy table (POL-1…POL-4, TST-U7), one test per row; each row's test also shows the row
wins over the rows below it, so a row that moves fails its test."""

from __future__ import annotations

from dataclasses import replace

import pytest

from serbero.mediation.policy import (
    OPENING,
    AskClarification,
    Escalate,
    Round,
    Summarize,
    decide,
)
from serbero.reasoning.types import ClassificationResponse, RationaleText

ASKING = ClassificationResponse(
    classification="coordination_failure_resolvable", confidence=0.8,
    suggested_action="ask_clarification", rationale=RationaleText("r"),
    buyer_clarification="When exactly did you send the transfer?",
    seller_clarification="Could you check your account again and tell me what you see?")
SUMMARY = replace(ASKING, suggested_action="summarize", buyer_clarification=None,
                  seller_clarification=None)
MID = Round(2)


def v(base: ClassificationResponse = ASKING, **changes: object) -> ClassificationResponse:
    return replace(base, **changes)


def test_row_0_a_party_asking_for_a_human_escalates_before_anything_else():
    verdict = v(human_requested=True, flags=frozenset({"fraud_risk"}), confidence=0.1)
    assert decide(verdict, MID) == Escalate("human_requested")


def test_row_1_fraud_risk_escalates_and_dominates_a_good_question():
    verdict = v(flags=frozenset({"fraud_risk", "conflicting_claims"}), confidence=0.99)
    assert decide(verdict, OPENING) == Escalate("fraud_indicator")


def test_row_2_conflicting_claims_escalates():
    verdict = v(flags=frozenset({"conflicting_claims", "authority_boundary_attempt"}))
    assert decide(verdict, OPENING) == Escalate("conflicting_claims")


def test_row_3_authority_boundary_flag_escalates_even_over_low_confidence():
    verdict = v(flags=frozenset({"authority_boundary_attempt"}), confidence=0.1)
    assert decide(verdict, Round(9)) == Escalate("authority_boundary_attempt")


def test_row_4_low_confidence_escalates_outside_the_bypass_window():
    assert decide(v(confidence=0.49, suggested_action="escalate"), OPENING) == \
        Escalate("low_confidence")
    assert decide(v(confidence=0.2), Round(4)) == Escalate("low_confidence")  # TST-P3-ESC-LOWCONF


@pytest.mark.parametrize("round_", [OPENING, Round(1), Round(2), Round(3)])
def test_pol3_a_low_confidence_question_may_still_be_asked_early(round_):
    assert isinstance(decide(v(confidence=0.1), round_), AskClarification)


def test_pol3_a_low_confidence_summary_is_never_bypassed():
    assert decide(v(SUMMARY, confidence=0.3), OPENING) == Escalate("low_confidence")


def test_pol3_the_threshold_is_exactly_one_half():
    assert isinstance(decide(v(SUMMARY, confidence=0.5), Round(7)), Summarize)


def test_row_5_a_model_that_suggests_escalating_gives_reasoning_unavailable():
    assert decide(v(suggested_action="escalate"), MID) == Escalate("reasoning_unavailable")


@pytest.mark.parametrize("side", ["buyer_clarification", "seller_clarification"])
def test_row_6_a_blank_question_gives_reasoning_unavailable(side):
    assert decide(v(**{side: "  \n"}), MID) == Escalate("reasoning_unavailable")


def test_row_7_a_question_that_trips_the_guard_is_suppressed_and_escalates():
    decision = decide(v(seller_clarification="Please release the funds to the buyer now."), MID)
    assert isinstance(decision, Escalate)
    assert decision.trigger == "authority_boundary_attempt"
    assert decision.guard_hit.category == "fund_action"


def test_row_7_a_question_quoting_a_pubkey_is_suppressed():
    decision = decide(v(buyer_clarification="Is the seller "
                        "npub1f70xglkskd77cv7um0ws9nf8jtnwvr8d9um6x4y0844s8rdc59rqezy70k?"), MID)
    assert decision.trigger == "authority_boundary_attempt"
    assert decision.guard_hit.category == "nostr_identifier"


def test_row_8_a_question_to_each_party_is_kept_separate():
    assert decide(v(buyer_clarification=" B? "), MID) == AskClarification(
        "B?", ASKING.seller_clarification)


def test_row_9_a_coordination_failure_is_summarised():
    assert decide(SUMMARY, MID) == Summarize("coordination_failure_resolvable", 0.8)


@pytest.mark.parametrize("label", ["conflicting_claims", "suspected_fraud", "unclear",
                                   "not_suitable_for_mediation"])
def test_row_10_summarising_anything_else_is_invalid_model_output(label):
    assert decide(v(SUMMARY, classification=label), MID) == Escalate("invalid_model_output")


def test_pol4_labels_alone_never_escalate():
    verdict = v(classification="suspected_fraud", flags=frozenset({"low_info",
                                                                   "unresponsive_party"}))
    assert isinstance(decide(verdict, MID), AskClarification)
