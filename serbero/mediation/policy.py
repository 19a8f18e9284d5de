"""The policy decision (POL-1…POL-4): the model classifies, this table decides. A pure function
from a parsed verdict and the round it belongs to, to ask / summarise / escalate; the first
matching row wins, in the order below, and every row has its own test.

| #  | condition                                            | decision                             |
|----|------------------------------------------------------|--------------------------------------|
| 0  | a party asked for a human (`human_requested`)        | Escalate(human_requested)            |
| 1  | flag fraud_risk                                      | Escalate(fraud_indicator)            |
| 2  | flag conflicting_claims                              | Escalate(conflicting_claims)         |
| 3  | flag authority_boundary_attempt                      | Escalate(authority_boundary_attempt) |
| 4  | confidence < 0.5, unless asking in the bypass window | Escalate(low_confidence)             |
| 5  | the model suggests escalating (reason not kept)      | Escalate(reasoning_unavailable)      |
| 6  | asking, and a question is blank                      | Escalate(reasoning_unavailable)      |
| 7  | asking, and a question trips the guard               | Escalate(authority_boundary_attempt) |
| 8  | asking                                               | AskClarification(buyer, seller)      |
| 9  | summarising a coordination failure                   | Summarize(label, confidence)         |
| 10 | summarising anything else                            | Escalate(invalid_model_output)       |

Row 7 goes beyond the original (GAP-13): no drafted question reaches a party unscanned.
Labels alone never escalate (POL-4); flags low_info and unresponsive_party are informational.
"""

from __future__ import annotations

from dataclasses import dataclass

from serbero.mediation import guard
from serbero.mediation.guard import GuardHit
from serbero.reasoning.types import (
    ASK,
    AUTHORITY_BOUNDARY_ATTEMPT,
    CONFLICTING_CLAIMS,
    COORDINATION_FAILURE,
    ESCALATE,
    FRAUD_RISK,
    SUMMARIZE,
    ClassificationResponse,
)

#: POL-3: below this confidence a verdict escalates (hard-coded, as in the original).
LOW_CONFIDENCE = 0.5
#: POL-3: mid-session follow-ups up to this number (inclusive) may still ask when unsure.
EARLY_MIDSESSION_BYPASS_FOLLOWUPS = 3

# Escalation triggers (§6.1): stored codes that never change meaning.
HUMAN_REQUESTED = "human_requested"
FRAUD_INDICATOR = "fraud_indicator"
LOW_CONFIDENCE_TRIGGER = "low_confidence"
REASONING_UNAVAILABLE = "reasoning_unavailable"
INVALID_MODEL_OUTPUT = "invalid_model_output"


@dataclass(frozen=True)
class Round:
    """Which evaluation this is: the opening one, or mid-session follow-up number N (1-based)."""

    followup_number: int = 0

    @property
    def opening(self) -> bool:
        return self.followup_number == 0

    @property
    def bypasses_low_confidence(self) -> bool:
        return self.opening or self.followup_number <= EARLY_MIDSESSION_BYPASS_FOLLOWUPS


OPENING = Round(0)


@dataclass(frozen=True)
class AskClarification:
    """One question per party, kept separate, already through the guard."""

    buyer_text: str
    seller_text: str


@dataclass(frozen=True)
class Summarize:
    classification: str
    confidence: float


@dataclass(frozen=True)
class Escalate:
    """Hand the dispute to a human; `guard_hit` says what a suppressed text tripped."""

    trigger: str
    guard_hit: GuardHit | None = None


Decision = AskClarification | Summarize | Escalate


def decide(response: ClassificationResponse, round_: Round) -> Decision:
    """The table above, top to bottom; the raw response never leaves this function (POL-1)."""
    if response.human_requested:
        return Escalate(HUMAN_REQUESTED)
    if FRAUD_RISK in response.flags:
        return Escalate(FRAUD_INDICATOR)
    if CONFLICTING_CLAIMS in response.flags:
        return Escalate(CONFLICTING_CLAIMS)
    if AUTHORITY_BOUNDARY_ATTEMPT in response.flags:
        return Escalate(AUTHORITY_BOUNDARY_ATTEMPT)
    asking = response.suggested_action == ASK
    if response.confidence < LOW_CONFIDENCE and not (asking and round_.bypasses_low_confidence):
        return Escalate(LOW_CONFIDENCE_TRIGGER)
    if response.suggested_action == ESCALATE:
        return Escalate(REASONING_UNAVAILABLE)
    if asking:
        buyer = (response.buyer_clarification or "").strip()
        seller = (response.seller_clarification or "").strip()
        if not buyer or not seller:
            return Escalate(REASONING_UNAVAILABLE)
        hit = guard.check(buyer) or guard.check(seller)
        if hit is not None:
            return Escalate(guard.TRIGGER, guard_hit=hit)
        return AskClarification(buyer, seller)
    if response.suggested_action == SUMMARIZE and response.classification == COORDINATION_FAILURE:
        return Summarize(response.classification, response.confidence)
    return Escalate(INVALID_MODEL_OUTPUT)


def decision_name(decision: Decision) -> str:
    """The stored code of a decision (EVT-3's `decision`)."""
    if isinstance(decision, AskClarification):
        return ASK
    if isinstance(decision, Summarize):
        return SUMMARIZE
    return ESCALATE
