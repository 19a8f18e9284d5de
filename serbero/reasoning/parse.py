"""Parsing model output (RP-17, RP-18) into typed responses; anything else is a
`malformed_response` ReasoningError. Error messages never quote model output (RP-5): the
offending value, cut short, goes to `detail` only."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from serbero.errors import ReasoningError
from serbero.reasoning.types import (
    ACTIONS,
    ASK,
    FLAGS,
    LABELS,
    ClassificationResponse,
    RationaleText,
    SummaryResponse,
)

MALFORMED = "malformed_response"
NEXT_STEP_MARKER = "SUGGESTED_NEXT_STEP:"
RATIONALE_MARKER = "RATIONALE:"
#: A clarification goes to a party's phone; anything longer is not a question.
MAX_CLARIFICATION_CHARS = 1500
#: How much of an offending value `detail` keeps.
DETAIL_CHARS = 80

_FENCE = re.compile(r"\A\s*```(?:json)?\s*\n(.*)\n\s*```\s*\Z", re.DOTALL)
_BCP47 = re.compile(r"\A([A-Za-z]{2,3})((?:-[A-Za-z0-9]{2,8})*)\Z")


def _malformed(message: str, value: Any = None) -> ReasoningError:
    detail = "" if value is None else repr(value)[:DETAIL_CHARS]
    return ReasoningError(MALFORMED, message, detail=detail)


def _json_object(text: str) -> dict[str, Any]:
    fenced = _FENCE.match(text)
    try:
        doc = json.loads(fenced.group(1) if fenced else text)
    except (json.JSONDecodeError, RecursionError):
        raise _malformed("model output is not JSON") from None
    if not isinstance(doc, dict):
        raise _malformed(f"model output is a JSON {type(doc).__name__}, not an object")
    return doc


def _string(doc: dict[str, Any], key: str, default: str | None = None) -> str:
    value = doc.get(key, default)
    if not isinstance(value, str):
        raise _malformed(f"{key} missing or not a string", value)
    return value


def _confidence(doc: dict[str, Any]) -> float:
    value = doc.get("confidence")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _malformed("confidence missing or not a number", value)
    if not math.isfinite(value):
        raise _malformed("confidence is not a finite number", value)
    return min(1.0, max(0.0, float(value)))


def _clarification(doc: dict[str, Any], key: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _malformed(f"{key} missing or blank for ask_clarification", value)
    if len(value) > MAX_CLARIFICATION_CHARS:
        raise _malformed(f"{key} longer than {MAX_CLARIFICATION_CHARS} characters")
    return value.strip()


def _flags(doc: dict[str, Any]) -> frozenset[str]:
    value = doc.get("flags", [])
    if not isinstance(value, list):
        raise _malformed("flags is not a list", value)
    for flag in value:
        if flag not in FLAGS:
            raise _malformed("unknown flag", flag)
    return frozenset(value)


def _language(doc: dict[str, Any], key: str) -> str | None:
    """A BCP-47 code in canonical case ("pt-BR"); a string that is no such code is dropped."""
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _malformed(f"{key} is not a string", value)
    match = _BCP47.match(value.strip())
    if match is None:
        return None
    subtags = [s for s in match.group(2).split("-") if s]
    return "-".join([match.group(1).lower(),
                     *(s.upper() if len(s) == 2 else s.lower() for s in subtags)])


def classification(text: str) -> ClassificationResponse:
    """RP-17, plus the optional keys `human_requested` (a boolean) and `buyer_language` /
    `seller_language`. Unknown keys are ignored; known keys with wrong types are errors."""
    doc = _json_object(text)
    label = doc.get("classification")
    if label not in LABELS:
        raise _malformed("unknown classification", label)
    confidence = _confidence(doc)
    action = doc.get("suggested_action", "")
    if action not in ACTIONS:
        raise _malformed("unknown suggested_action", action)
    buyer = seller = None
    if action == ASK:
        buyer = _clarification(doc, "buyer_clarification")
        seller = _clarification(doc, "seller_clarification")
    human = doc.get("human_requested", False)
    if not isinstance(human, bool):
        raise _malformed("human_requested is not a boolean", human)
    return ClassificationResponse(
        classification=label,
        confidence=confidence,
        suggested_action=action,
        rationale=RationaleText(_string(doc, "rationale", "")),
        flags=_flags(doc),
        buyer_clarification=buyer,
        seller_clarification=seller,
        human_requested=human,
        buyer_language=_language(doc, "buyer_language"),
        seller_language=_language(doc, "seller_language"),
    )


def summary(text: str) -> SummaryResponse:
    """RP-18: the summary before the first marker, the next step after SUGGESTED_NEXT_STEP:,
    the rationale after RATIONALE:; markers out of order or an empty summary are errors."""
    step_at = text.find(NEXT_STEP_MARKER)
    why_at = text.find(RATIONALE_MARKER)
    if step_at >= 0 and why_at >= 0 and why_at < step_at:
        raise _malformed("summary markers out of order (RATIONALE: before SUGGESTED_NEXT_STEP:)")
    ends = [i for i in (step_at, why_at) if i >= 0]
    body = text[:min(ends)] if ends else text
    step = ""
    if step_at >= 0:
        start = step_at + len(NEXT_STEP_MARKER)
        step = text[start:why_at] if why_at >= 0 else text[start:]
    rationale = text[why_at + len(RATIONALE_MARKER):] if why_at >= 0 else ""
    if not body.strip():
        raise _malformed("empty summary body")
    return SummaryResponse(summary_text=body.strip(), suggested_next_step=step.strip(),
                           rationale=RationaleText(rationale.strip()))
