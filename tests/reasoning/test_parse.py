"""Parsing model output (RP-17, RP-18, TST-U13): every malformed shape is a categorised error,
never a crash and never a half-parsed verdict."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serbero.errors import ReasoningError
from serbero.reasoning import parse
from serbero.reasoning.types import FLAGS, LABELS

ASK = {"classification": "unclear", "confidence": 0.7, "suggested_action": "ask_clarification",
       "buyer_clarification": "  When did you send it?  ",
       "seller_clarification": "Did you check?", "rationale": "thin", "flags": ["low_info"]}


def malformed(text: str) -> str:
    with pytest.raises(ReasoningError) as info:
        parse.classification(text)
    assert info.value.category == "malformed_response"
    return str(info.value)


def test_a_full_answer_parses_with_clarifications_trimmed():
    v = parse.classification(json.dumps({**ASK, "human_requested": False,
                                         "buyer_language": "es-ar", "seller_language": "PT",
                                         "extra": {"ignored": True}}))
    assert (v.classification, v.confidence, v.suggested_action) == \
        ("unclear", 0.7, "ask_clarification")
    assert v.buyer_clarification == "When did you send it?"
    assert v.flags == frozenset({"low_info"})
    assert (v.buyer_language, v.seller_language) == ("es-AR", "pt")
    assert v.rationale.reveal() == "thin" and "thin" not in repr(v)


def test_defaults_for_optional_keys():
    v = parse.classification('{"classification": "unclear", "confidence": 0.9, '
                             '"suggested_action": "escalate"}')
    assert v.flags == frozenset() and v.rationale.reveal() == "" and not v.human_requested
    assert v.buyer_clarification is None and v.buyer_language is None


@pytest.mark.parametrize(("raw", "clamped"), [(1.7, 1.0), (-3, 0.0), (0, 0.0), (1, 1.0)])
def test_confidence_is_clamped_to_0_1(raw, clamped):
    v = parse.classification(json.dumps({**ASK, "confidence": raw}))
    assert v.confidence == clamped


def test_a_json_code_fence_around_the_object_is_accepted():
    assert parse.classification("```json\n" + json.dumps(ASK) + "\n```").confidence == 0.7


@pytest.mark.parametrize(("doc", "names"), [
    ("not json at all", "not JSON"),
    ("[1, 2]", "not an object"),
    ('"just a string"', "not an object"),
    (json.dumps({**ASK, "classification": "guilty_party"}), "unknown classification"),
    (json.dumps({**ASK, "classification": None}), "unknown classification"),
    (json.dumps({k: v for k, v in ASK.items() if k != "confidence"}), "confidence"),
    (json.dumps({**ASK, "confidence": "0.9"}), "confidence"),
    (json.dumps({**ASK, "confidence": True}), "confidence"),
    ('{"classification": "unclear", "confidence": NaN, "suggested_action": "summarize"}',
     "finite"),
    (json.dumps({**ASK, "suggested_action": "release_funds"}), "unknown suggested_action"),
    (json.dumps({**ASK, "suggested_action": ""}), "unknown suggested_action"),
    (json.dumps({k: v for k, v in ASK.items() if k != "suggested_action"}),
     "unknown suggested_action"),
    (json.dumps({**ASK, "buyer_clarification": "   \n\t "}), "buyer_clarification"),
    (json.dumps({k: v for k, v in ASK.items() if k != "seller_clarification"}),
     "seller_clarification"),
    (json.dumps({**ASK, "seller_clarification": ["a list"]}), "seller_clarification"),
    (json.dumps({**ASK, "buyer_clarification": "x" * 5000}), "longer than"),
    (json.dumps({**ASK, "flags": ["fraud_risk", "settle_now"]}), "unknown flag"),
    (json.dumps({**ASK, "flags": "fraud_risk"}), "flags is not a list"),
    (json.dumps({**ASK, "rationale": 12}), "rationale"),
    (json.dumps({**ASK, "human_requested": "yes"}), "human_requested"),
    (json.dumps({**ASK, "buyer_language": 3}), "buyer_language"),
    ('{"classification": "unclear", "confidence": 0.5', "not JSON"),
])
def test_malformed_answers_name_the_problem_without_quoting_the_value(doc, names):
    message = malformed(doc)
    assert names in message
    assert "settle_now" not in message and "guilty_party" not in message


def test_a_language_that_is_no_bcp47_code_is_dropped_not_fatal():
    v = parse.classification(json.dumps({**ASK, "buyer_language": "Spanish (Argentina)"}))
    assert v.buyer_language is None


@settings(max_examples=150, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(),
                    lambda kids: st.lists(kids) | st.dictionaries(st.text(), kids),
                    max_leaves=20))
def test_arbitrary_json_never_crashes_the_parser(value):
    try:
        v = parse.classification(json.dumps(value))
    except ReasoningError as exc:
        assert exc.category == "malformed_response"
    else:
        assert v.classification in LABELS and 0.0 <= v.confidence <= 1.0
        assert v.flags <= set(FLAGS)


@settings(max_examples=100, deadline=None)
@given(st.fixed_dictionaries({
    "classification": st.sampled_from(LABELS), "confidence": st.floats(-5, 5),
    "suggested_action": st.sampled_from(["ask_clarification", "summarize", "escalate"]),
    "flags": st.lists(st.sampled_from(FLAGS), max_size=5),
    "buyer_clarification": st.text(max_size=30), "seller_clarification": st.text(max_size=30),
}))
def test_well_typed_answers_parse_or_fail_only_on_blank_questions(doc):
    try:
        v = parse.classification(json.dumps(doc))
    except ReasoningError as exc:
        assert doc["suggested_action"] == "ask_clarification"
        assert "clarification" in str(exc)
    else:
        if v.suggested_action == "ask_clarification":
            assert v.buyer_clarification and v.seller_clarification


# ---------------------------------------------------------------- summaries (RP-18)

def test_a_summary_splits_on_its_markers():
    s = parse.summary("  Both agree.\n\nSUGGESTED_NEXT_STEP:  confirm it \nRATIONALE: clear ")
    assert (s.summary_text, s.suggested_next_step, s.rationale.reveal()) == \
        ("Both agree.", "confirm it", "clear")


def test_missing_markers_give_empty_parts():
    s = parse.summary("Only a body")
    assert (s.summary_text, s.suggested_next_step, s.rationale.reveal()) == ("Only a body", "", "")
    s = parse.summary("Body\nRATIONALE: why")
    assert (s.suggested_next_step, s.rationale.reveal()) == ("", "why")


@pytest.mark.parametrize(("text", "names"), [
    ("Body\nRATIONALE: why\nSUGGESTED_NEXT_STEP: x", "out of order"),
    ("   \nSUGGESTED_NEXT_STEP: x\nRATIONALE: y", "empty summary body"),
    ("", "empty summary body"),
])
def test_bad_summaries_are_malformed(text, names):
    with pytest.raises(ReasoningError) as info:
        parse.summary(text)
    assert info.value.category == "malformed_response" and names in str(info.value)
