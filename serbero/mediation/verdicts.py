"""What one classification leaves behind (START-8, POL-5): the rationale, whose text is kept in
its table only (RAT-3), and the audit rows citing it by id (EVT-3, EVT-7, EVT-11); the languages
the model detected for each party, which choose the catalog a party reads.
"""

from __future__ import annotations

from serbero.db.models import audit
from serbero.mediation import evaluate, policy, rationale
from serbero.mediation.models import MediationSession
from serbero.mediation.policy import Escalate


def record(session: MediationSession, verdict: evaluate.Evaluation, *, now: int) -> str | None:
    """Store what `verdict` says about `session`; return the rationale id (None when no
    provider answered). Call inside the transaction that acts on the verdict."""
    ids = {"dispute_id": session.dispute_id, "session_id": session.session_id, "at": now,
           **session.pinned()}
    decision = verdict.decision
    if verdict.error_category is not None:
        audit("reasoning_call_failed", **ids, error_category=verdict.error_category)
    rid = None
    response = verdict.response
    if response is not None and verdict.provenance is not None:
        rid = rationale.store(response.rationale, verdict.provenance,
                              dispute_id=session.dispute_id, session_id=session.session_id,
                              at=now)
        audit("classification_produced", **ids, classification=response.classification,
              confidence=response.confidence, rationale_id=rid)
        languages = {f"{p}_language": lang for p, lang in
                     (("buyer", response.buyer_language), ("seller", response.seller_language))
                     if lang}
        MediationSession.update(current_classification=response.classification,
                                current_confidence=response.confidence,
                                evaluations=MediationSession.evaluations + 1, **languages).where(
            MediationSession.session_id == session.session_id).execute()
        session.current_classification = response.classification
        session.current_confidence = response.confidence
        session.evaluations += 1
        for name, value in languages.items():
            setattr(session, name, value)
    extra = {"trigger": decision.trigger} if isinstance(decision, Escalate) else {}
    audit("reasoning_verdict", **ids, decision=policy.decision_name(decision), **extra)
    return rid
