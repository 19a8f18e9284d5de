"""`serbero reasoning check`: for every configured provider, one health check and one
classification of a built-in sample transcript, with the policy's decision, as a report that
prints the same whether it ran in the command or on a `mediation` worker.

The sample is synthetic, written for this purpose; it includes an npub so the report can show
that identifiers are redacted before leaving the host. No call here touches a real dispute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from serbero.config import Settings
from serbero.db.connection import database
from serbero.db.models import AuditEvent, audit
from serbero.errors import ConfigError, ReasoningError
from serbero.mediation import policy
from serbero.mediation.policy import Escalate
from serbero.reasoning import bundle, calls
from serbero.reasoning.bundle import PromptBundleError
from serbero.reasoning.calls import CallScope
from serbero.reasoning.setup import Reasoning, build_chain
from serbero.reasoning.types import ClassificationRequest, TranscriptEntry

#: A random npub (no one's) pasted by a party, which must reach the model as `[redacted]`.
SAMPLE_NPUB = "npub1f70xglkskd77cv7um0ws9nf8jtnwvr8d9um6x4y0844s8rdc59rqezy70k"
SAMPLE = ClassificationRequest(
    session_id="reasoning-check", dispute_id="reasoning-check", initiator_role="buyer",
    transcript=(
        TranscriptEntry("buyer", 1_700_000_000,
                        "I sent the 150 EUR bank transfer yesterday at 18:40, reference "
                        f"MOSTRO-7731. My key is {SAMPLE_NPUB} if you need it."),
        TranscriptEntry("seller", 1_700_000_300,
                        "Nothing has arrived in my account yet, I checked this morning."),
        TranscriptEntry("buyer", 1_700_000_600,
                        "My bank says transfers to other banks can take one working day."),
    ))


@dataclass(frozen=True)
class ProviderCheck:
    """One provider's result, as plain values (stored as JSON when run on a worker)."""

    provider: str
    model: str
    endpoint: str
    health: str  # ok or an error category
    health_ms: int | None
    health_error: str | None
    outcome: str  # ok or an error category
    latency_ms: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    classification: str | None = None
    confidence: float | None = None
    flags: tuple[str, ...] = ()
    action: str | None = None
    decision: str | None = None
    trigger: str | None = None
    error: str | None = None
    error_detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.health == "ok" and self.outcome == "ok"

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in vars(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProviderCheck:
        return cls(**{**data, "flags": tuple(data.get("flags", ()))})


def run(reasoning: Reasoning, *, origin: str = calls.CHECK,
        with_detail: bool = True) -> list[ProviderCheck]:
    """Check each provider of the chain in order; every call is recorded with `origin`.
    `with_detail` keeps the provider's own error text (for the operator's terminal only)."""
    results = []
    for spec in reasoning.chain.specs:
        health, health_ms, health_error = "ok", None, None
        try:
            health_ms = reasoning.chain.check(spec, origin=origin).latency_ms
        except ReasoningError as exc:
            health, health_error = exc.category, _message(exc, with_detail)
        base = {"provider": spec.provider, "model": spec.model, "endpoint": spec.endpoint,
                "health": health, "health_ms": health_ms, "health_error": health_error}
        try:
            answer = reasoning.chain.only(spec).classify(SAMPLE, reasoning.bundle,
                                                          scope=CallScope(origin=origin))
        except ReasoningError as exc:
            results.append(ProviderCheck(**base, outcome=exc.category, error=str(exc),
                                         error_detail=exc.detail if with_detail else None))
            continue
        verdict = answer.value
        decision = policy.decide(verdict, policy.OPENING)
        results.append(ProviderCheck(
            **base, outcome="ok", latency_ms=answer.latency_ms,
            input_tokens=answer.completion.input_tokens,
            output_tokens=answer.completion.output_tokens,
            classification=verdict.classification, confidence=verdict.confidence,
            flags=tuple(sorted(verdict.flags)), action=verdict.suggested_action,
            decision=policy.decision_name(decision),
            trigger=decision.trigger if isinstance(decision, Escalate) else None))
    return results


def _message(exc: ReasoningError, with_detail: bool) -> str:
    return f"{exc}: {exc.detail}" if with_detail and exc.detail else str(exc)


#: Audit kind of a check run on a worker; the command polls for it by check id.
CHECK_KIND = "reasoning_check"


def record(settings: Settings, check_id: str, *, now: int) -> None:
    """Run the check with this process's configuration and store the report as an audit row
    (errors without the provider's own text, which stays out of the database)."""
    try:
        reasoning = Reasoning(bundle.load(settings.prompts), build_chain(settings))
    except (PromptBundleError, ConfigError) as exc:
        with database.atomic():
            audit(CHECK_KIND, dispute_id=None, at=now, check_id=check_id, error=str(exc))
        return
    try:
        results = run(reasoning, with_detail=False)
    finally:
        reasoning.chain.close()
    with database.atomic():
        audit(CHECK_KIND, dispute_id=None, at=now, check_id=check_id,
              results=[r.as_dict() for r in results])


def recorded(check_id: str) -> dict[str, Any] | None:
    """The stored report of a check run on a worker, once it exists."""
    for row in (AuditEvent.select().where((AuditEvent.kind == CHECK_KIND)
                                          & AuditEvent.dispute_id.is_null())
                .order_by(AuditEvent.id.desc()).limit(50)):
        if row.payload.get("check_id") == check_id:
            return row.payload
    return None
