"""The rationale store (RAT-1…RAT-5): model rationales, content-addressed, kept in one table and
referred to everywhere else by id only — events, DMs, handoff packages and logs never carry the
text (RAT-3).

Provenance is kept per reference (GAP-17): the same text produced in two sessions, or by two
providers of a fallback chain, gets one text row and one reference each, so identical rationales
(an empty one, say) never derail a flow. What stays a conflict, as RAT-2 says, is one reference
claimed under two bundles: a scope (a session, or a dispute before its session opens) pins its
prompt bundle, so the same rationale from the same model under another bundle id or policy hash
means the pin was broken, and the first writer's row is kept.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from serbero.db.connection import database
from serbero.errors import SerberoError
from serbero.reasoning.models import Rationale, RationaleRef
from serbero.reasoning.types import RationaleText


class RationaleConflict(SerberoError):
    """Raised when a reference already exists with a different pinned bundle (RAT-2)."""


@dataclass(frozen=True)
class Provenance:
    """Who produced a rationale under which bundle (RAT-4): the provider and model that
    answered, and the bundle id and policy hash the scope pinned."""

    provider: str
    model: str
    prompt_bundle_id: str
    policy_hash: str


def rationale_id(text: str) -> str:
    """RAT-1: lowercase hex SHA-256 of the UTF-8 text."""
    return hashlib.sha256(text.encode()).hexdigest()


def _scope(dispute_id: str, session_id: str | None) -> str:
    return f"session:{session_id}" if session_id else f"dispute:{dispute_id}"


def store(text: RationaleText, provenance: Provenance, *, dispute_id: str,
          session_id: str | None, at: int) -> str:
    """Insert-or-ignore the text and this scope's reference to it; return the id. Runs in the
    caller's transaction (POL-5, SUM-5), so the reference lands with the event citing it.
    Raises RationaleConflict when this scope already refers to it under another bundle."""
    rid = rationale_id(text.reveal())
    with database.atomic():
        Rationale.insert(rationale_id=rid, session_id=session_id, provider=provenance.provider,
                         model=provenance.model, prompt_bundle_id=provenance.prompt_bundle_id,
                         policy_hash=provenance.policy_hash, rationale_text=text.reveal(),
                         generated_at=at).on_conflict_ignore().execute()
        scope = _scope(dispute_id, session_id)
        inserted = RationaleRef.insert(
            rationale_id=rid, scope=scope, session_id=session_id, dispute_id=dispute_id,
            provider=provenance.provider, model=provenance.model,
            prompt_bundle_id=provenance.prompt_bundle_id, policy_hash=provenance.policy_hash,
            generated_at=at).on_conflict_ignore().as_rowcount().execute()
        if not inserted:
            _check_pin(rid, scope, provenance)
    return rid


def _check_pin(rid: str, scope: str, provenance: Provenance) -> None:
    ref = RationaleRef.get((RationaleRef.rationale_id == rid) & (RationaleRef.scope == scope)
                           & (RationaleRef.provider == provenance.provider)
                           & (RationaleRef.model == provenance.model))
    differing = [name for name in ("prompt_bundle_id", "policy_hash")
                 if getattr(ref, name) != getattr(provenance, name)]
    if differing:
        raise RationaleConflict(f"rationale provenance conflict: rationale {rid} already "
                                f"persisted with different {', '.join(differing)}")


def rebind(rid: str, *, dispute_id: str, session_id: str, at: int) -> None:
    """START-12: once the session of a dispute opens, its opening rationale also becomes the
    session's, with the provenance it was produced under."""
    with database.atomic():
        for ref in RationaleRef.select().where((RationaleRef.rationale_id == rid)
                                               & (RationaleRef.scope == f"dispute:{dispute_id}")):
            RationaleRef.insert(
                rationale_id=rid, scope=_scope(dispute_id, session_id), session_id=session_id,
                dispute_id=dispute_id, provider=ref.provider, model=ref.model,
                prompt_bundle_id=ref.prompt_bundle_id, policy_hash=ref.policy_hash,
                generated_at=at).on_conflict_ignore().execute()
        (Rationale.update(session_id=session_id)
         .where((Rationale.rationale_id == rid) & Rationale.session_id.is_null()).execute())


def text_of(rid: str) -> RationaleText | None:
    """The stored text, for an operator who asks for it explicitly."""
    row = Rationale.get_or_none(Rationale.rationale_id == rid)
    return RationaleText(row.rationale_text) if row else None
