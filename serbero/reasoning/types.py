"""The values of the reasoning contract (spec §5.3): labels, flags, actions, requests and
responses. Plain data, no I/O; wire tokens are stored codes and never change meaning."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

COORDINATION_FAILURE = "coordination_failure_resolvable"
LABELS = (COORDINATION_FAILURE, "conflicting_claims", "suspected_fraud", "unclear",
          "not_suitable_for_mediation")

FRAUD_RISK = "fraud_risk"
CONFLICTING_CLAIMS = "conflicting_claims"
AUTHORITY_BOUNDARY_ATTEMPT = "authority_boundary_attempt"
FLAGS = (FRAUD_RISK, CONFLICTING_CLAIMS, "low_info", "unresponsive_party",
         AUTHORITY_BOUNDARY_ATTEMPT)

ASK = "ask_clarification"
SUMMARIZE = "summarize"
ESCALATE = "escalate"
ACTIONS = (ASK, SUMMARIZE, ESCALATE)

#: What a model call is for; the request bodies differ per purpose (RP-8, RP-12).
PURPOSE_CLASSIFY, PURPOSE_SUMMARIZE, PURPOSE_HEALTH = "classify", "summarize", "health"
#: Sampling temperature per purpose, the same for both adapters.
TEMPERATURE = {PURPOSE_CLASSIFY: 0.0, PURPOSE_SUMMARIZE: 0.2, PURPOSE_HEALTH: 0.0}

BUYER, SELLER, SERBERO = "buyer", "seller", "serbero"
PARTIES = (BUYER, SELLER, SERBERO)


class RationaleText:
    """A model's rationale: stored only in the rationale table (RAT-3), so its repr and str
    never show the text and it cannot slip into a log line or an event payload."""

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text = text

    def reveal(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"RationaleText(<{len(self._text.encode())} bytes redacted>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RationaleText) and other._text == self._text

    def __hash__(self) -> int:
        return hash(self._text)


@dataclass(frozen=True)
class TranscriptEntry:
    """One chat message; `content` is party text, which is data and never instructions."""

    party: str
    inner_event_created_at: int
    content: str


@dataclass(frozen=True)
class ClassificationRequest:
    """What a classification is about. On the opening call `session_id` is the dispute id and
    the transcript is empty (spec §5.3)."""

    session_id: str
    dispute_id: str
    initiator_role: str
    transcript: tuple[TranscriptEntry, ...] = ()
    round_count: int = 0


@dataclass(frozen=True)
class ClassificationResponse:
    """A parsed verdict (RP-17). Clarifications are set, non-blank and trimmed exactly when the
    action is `ask_clarification`. Languages are BCP-47 codes or None."""

    classification: str
    confidence: float
    suggested_action: str
    rationale: RationaleText
    flags: frozenset[str] = frozenset()
    buyer_clarification: str | None = None
    seller_clarification: str | None = None
    human_requested: bool = False
    buyer_language: str | None = None
    seller_language: str | None = None


@dataclass(frozen=True)
class SummaryRequest:
    session_id: str
    dispute_id: str
    classification: str
    confidence: float
    transcript: tuple[TranscriptEntry, ...] = ()


@dataclass(frozen=True)
class SummaryResponse:
    """A parsed summary (RP-18): text for the solver, the suggested next step, the rationale."""

    summary_text: str
    suggested_next_step: str
    rationale: RationaleText


@dataclass(frozen=True)
class Completion:
    """A provider's raw answer: the model's text and what the call cost."""

    text: str = field(repr=False)
    input_tokens: int | None = None
    output_tokens: int | None = None
    attempts: int = 1
    latency_ms: int = 0
    http_status: int | None = None

    @property
    def fingerprint(self) -> str:
        """What logs may say about model output (RP-5): the first 16 hex of its SHA-256."""
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    @property
    def size(self) -> int:
        return len(self.text.encode())
