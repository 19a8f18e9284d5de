"""One evaluation, as mediation runs it: classify through the provider chain, decide with the
policy table (guard included), and report what to store — or summarise and guard the summary.

Nothing here writes mediation state: the caller stores the rationale (serbero.mediation.rationale)
and its audit row in its own transaction. A provider failure is not an exception here but the
decision `Escalate(reasoning_unavailable)` with its error category, since that is what the
policy does with it (§6.1).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from serbero.errors import ReasoningError
from serbero.mediation import guard, policy
from serbero.mediation.guard import GuardHit
from serbero.mediation.policy import Decision, Escalate, Round
from serbero.mediation.rationale import Provenance
from serbero.reasoning.bundle import PromptBundle
from serbero.reasoning.calls import CallScope
from serbero.reasoning.chain import Answer, ProviderChain
from serbero.reasoning.types import (
    ClassificationRequest,
    ClassificationResponse,
    SummaryRequest,
    SummaryResponse,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Evaluation:
    """The decision, and — when a provider answered — the verdict (its rationale to be stored
    under `provenance`) and the answer's cost; else the error category (EVT-11)."""

    decision: Decision
    response: ClassificationResponse | None = None
    provenance: Provenance | None = None
    answer: Answer[ClassificationResponse] | None = None
    error_category: str | None = None


@dataclass(frozen=True)
class SummaryOutcome:
    """A summary that may be sent, or the escalation that replaces it (SUM-2…SUM-4)."""

    summary: SummaryResponse | None = None
    escalate: Escalate | None = None
    provenance: Provenance | None = None
    answer: Answer[SummaryResponse] | None = None
    error_category: str | None = None


def _provenance(answer: Answer[object], bundle: PromptBundle) -> Provenance:
    return Provenance(answer.spec.provider, answer.spec.model, bundle.bundle_id,
                      bundle.policy_hash)


def _log_guard(hit: GuardHit | None, where: str, scope: CallScope) -> None:
    if hit is not None:
        log.warning("authority_boundary_suppressed", extra={
            "text": where, "guard_category": hit.category, "guard_lang": hit.lang,
            "guard_rule": hit.rule, "dispute_id": scope.dispute_id,
            "session_id": scope.session_id})


def classify(chain: ProviderChain, bundle: PromptBundle, request: ClassificationRequest,
             round_: Round, *, scope: CallScope | None = None) -> Evaluation:
    """Classify `request` and decide; never raises ReasoningError."""
    scope = scope or CallScope(dispute_id=request.dispute_id,
                               session_id=None if round_.opening else request.session_id)
    try:
        answer = chain.classify(request, bundle, scope=scope)
    except ReasoningError as exc:
        return Evaluation(Escalate(policy.REASONING_UNAVAILABLE), error_category=exc.category)
    decision = policy.decide(answer.value, round_)
    if isinstance(decision, Escalate):
        _log_guard(decision.guard_hit, "clarification", scope)
    log.info("reasoning_verdict", extra={
        "dispute_id": scope.dispute_id, "session_id": scope.session_id,
        "decision": policy.decision_name(decision),
        "trigger": decision.trigger if isinstance(decision, Escalate) else None,
        "classification": answer.value.classification, "confidence": answer.value.confidence,
        "provider": answer.spec.provider, "model": answer.spec.model})
    return Evaluation(decision, answer.value, _provenance(answer, bundle), answer)


def summarize(chain: ProviderChain, bundle: PromptBundle, request: SummaryRequest, *,
              scope: CallScope | None = None) -> SummaryOutcome:
    """Summarise and guard; a failure or a suppressed text becomes the escalation to make."""
    scope = scope or CallScope(dispute_id=request.dispute_id, session_id=request.session_id)
    try:
        answer = chain.summarize(request, bundle, scope=scope)
    except ReasoningError as exc:
        return SummaryOutcome(escalate=Escalate(policy.REASONING_UNAVAILABLE),
                              error_category=exc.category)
    hit = guard.check_summary(answer.value)
    provenance = _provenance(answer, bundle)
    if hit is not None:
        _log_guard(hit, "summary", scope)
        return SummaryOutcome(escalate=Escalate(guard.TRIGGER, guard_hit=hit),
                              provenance=provenance, answer=answer)
    return SummaryOutcome(summary=answer.value, provenance=provenance, answer=answer)
