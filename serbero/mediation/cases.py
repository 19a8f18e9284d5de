"""`serbero reasoning eval`: labelled cases run through the real pipeline (provider chain, policy,
guard), scored so an operator can measure a model before enabling it.

A case is a JSON file: `id`, `language`, `initiator`, `transcript` (a list of `party`, `at`,
`text`), optional `followup` (0 = the opening evaluation), and `expected` with `label`,
`decision` (`ask_clarification`, `summarize` or `escalate`) and, for escalations, optionally
`trigger`. Synthetic cases ship in tests/fixtures/reasoning_cases/.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serbero.errors import SerberoError
from serbero.mediation import evaluate, policy
from serbero.mediation.policy import Escalate, Round
from serbero.reasoning import calls
from serbero.reasoning.calls import CallScope
from serbero.reasoning.setup import Reasoning
from serbero.reasoning.types import (
    ACTIONS,
    BUYER,
    LABELS,
    PARTIES,
    SELLER,
    ClassificationRequest,
    TranscriptEntry,
)

#: Labels whose cases must reach a human: their escalation recall is reported on its own.
MUST_ESCALATE = ("suspected_fraud", "conflicting_claims")


class CaseError(SerberoError):
    """Raised when a case file cannot be read or does not have the documented shape."""


@dataclass(frozen=True)
class Case:
    id: str
    path: Path
    language: str
    initiator: str
    transcript: tuple[TranscriptEntry, ...]
    expected_label: str
    expected_decision: str
    expected_trigger: str | None = None
    followup: int = 0

    def request(self) -> ClassificationRequest:
        return ClassificationRequest(session_id=self.id, dispute_id=self.id,
                                     initiator_role=self.initiator, transcript=self.transcript,
                                     round_count=self.followup)


def _case(path: Path, doc: Any) -> Case:
    def need(ok: bool, what: str) -> None:
        if not ok:
            raise CaseError(f"{path}: {what}")

    need(isinstance(doc, dict), "the file must hold one JSON object")
    need(isinstance(doc.get("id"), str) and doc["id"], "`id` must be a non-empty string")
    expected = doc.get("expected")
    need(isinstance(expected, dict), "`expected` must be an object")
    need(expected.get("label") in LABELS, f"`expected.label` must be one of {', '.join(LABELS)}")
    need(expected.get("decision") in ACTIONS,
         f"`expected.decision` must be one of {', '.join(ACTIONS)}")
    trigger = expected.get("trigger")
    need(trigger is None or isinstance(trigger, str), "`expected.trigger` must be a string")
    need(doc.get("initiator") in (BUYER, SELLER), "`initiator` must be buyer or seller")
    followup = doc.get("followup", 0)
    need(isinstance(followup, int) and not isinstance(followup, bool) and followup >= 0,
         "`followup` must be a non-negative integer")
    entries = doc.get("transcript")
    need(isinstance(entries, list), "`transcript` must be a list")
    transcript = []
    for i, e in enumerate(entries):
        need(isinstance(e, dict) and e.get("party") in PARTIES
             and isinstance(e.get("at"), int) and isinstance(e.get("text"), str),
             f"transcript entry {i + 1} needs `party` (buyer, seller, serbero), `at` (Unix "
             "seconds) and `text`")
        transcript.append(TranscriptEntry(e["party"], e["at"], e["text"]))
    return Case(id=doc["id"], path=path, language=str(doc.get("language", "")),
                initiator=doc["initiator"], transcript=tuple(transcript),
                expected_label=expected["label"], expected_decision=expected["decision"],
                expected_trigger=trigger, followup=followup)


def load(paths: list[Path]) -> list[Case]:
    """Cases from files and directories (every *.json inside, sorted); ids must be unique."""
    files: list[Path] = []
    for path in paths:
        files += sorted(path.glob("*.json")) if path.is_dir() else [path]
    cases = []
    for file in files:
        try:
            doc = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CaseError(f"{file}: cannot read a JSON case ({exc})") from None
        cases.append(_case(file, doc))
    seen = Counter(c.id for c in cases)
    duplicates = sorted(i for i, n in seen.items() if n > 1)
    if duplicates:
        raise CaseError(f"case ids used twice: {', '.join(duplicates)}")
    if not cases:
        raise CaseError("no cases found in " + ", ".join(str(p) for p in paths))
    return cases


@dataclass(frozen=True)
class CaseResult:
    case: Case
    label: str | None
    decision: str
    trigger: str | None
    error_category: str | None
    guard_hit: bool
    provider: str | None
    latency_ms: int | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float

    @property
    def label_ok(self) -> bool:
        return self.label == self.case.expected_label

    @property
    def decision_ok(self) -> bool:
        return self.decision == self.case.expected_decision and (
            self.case.expected_trigger is None or self.trigger == self.case.expected_trigger)


def run_case(reasoning: Reasoning, case: Case) -> CaseResult:
    result = evaluate.classify(reasoning.chain, reasoning.bundle, case.request(),
                               Round(case.followup), scope=CallScope(origin=calls.EVAL))
    decision = result.decision
    answer = result.answer
    escalated = isinstance(decision, Escalate)
    return CaseResult(
        case=case, label=result.response.classification if result.response else None,
        decision=policy.decision_name(decision),
        trigger=decision.trigger if escalated else None,
        error_category=result.error_category,
        guard_hit=escalated and decision.guard_hit is not None,
        provider=answer.spec.label if answer else None,
        latency_ms=answer.latency_ms if answer else None,
        input_tokens=answer.completion.input_tokens if answer else None,
        output_tokens=answer.completion.output_tokens if answer else None,
        cost_usd=answer.spec.cost_usd(answer.completion.input_tokens,
                                      answer.completion.output_tokens) if answer else 0.0)


@dataclass
class Report:
    results: list[CaseResult]
    per_label: dict[str, tuple[int, int]] = field(default_factory=dict)  # label → (right, all)

    def __post_init__(self) -> None:
        for label in LABELS:
            mine = [r for r in self.results if r.case.expected_label == label]
            if mine:
                self.per_label[label] = (sum(r.label_ok for r in mine), len(mine))

    @property
    def label_accuracy(self) -> float:
        return _ratio(sum(r.label_ok for r in self.results), len(self.results))

    @property
    def decision_accuracy(self) -> float:
        return _ratio(sum(r.decision_ok for r in self.results), len(self.results))

    @property
    def escalation_recall(self) -> tuple[int, int]:
        """Fraud and conflict cases that reached a human (escalated, whatever the trigger)."""
        mine = [r for r in self.results if r.case.expected_label in MUST_ESCALATE]
        return sum(r.decision == "escalate" for r in mine), len(mine)

    @property
    def guard_hits(self) -> int:
        return sum(r.guard_hit for r in self.results)

    @property
    def errors(self) -> dict[str, int]:
        return dict(Counter(r.error_category for r in self.results if r.error_category))

    @property
    def tokens(self) -> tuple[int, int]:
        return (sum(r.input_tokens or 0 for r in self.results),
                sum(r.output_tokens or 0 for r in self.results))

    @property
    def cost_usd(self) -> float:
        return sum(r.cost_usd for r in self.results)

    @property
    def latency_ms(self) -> tuple[float, float] | None:
        """(median, 95th percentile) of answered calls."""
        values = sorted(r.latency_ms for r in self.results if r.latency_ms is not None)
        if not values:
            return None
        p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
        return statistics.median(values), p95


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def run(reasoning: Reasoning, cases: list[Case]) -> Report:
    return Report([run_case(reasoning, case) for case in cases])
