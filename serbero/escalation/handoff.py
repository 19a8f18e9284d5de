"""Writing a handoff exactly once (ESC-1…ESC-4): `escalation_recommended`, `handoff_prepared`
and the handoff's tracking row in one transaction, with the dispute's conditional move to
`escalated`; and adopting escalations other writers left without a dispatchable handoff, so
that every escalation reaches a human (GAP-4).

Never sends anything: dispatch (`dispatch.py`) reads what this module writes.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from peewee import Value, fn

from serbero.db.connection import database
from serbero.db.models import AuditEvent
from serbero.disputes import lifecycle
from serbero.escalation.models import (
    ESCALATION_RECOMMENDED,
    HANDOFF_PREPARED,
    PENDING,
    EscalationHandoff,
    compact,
)
from serbero.escalation.package import HandoffPackage
from serbero.escalation.routing import Route

log = logging.getLogger(__name__)

#: An evidence or rationale reference: an id or a hash, never prose (DESIGN invariant 7).
REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_:.\-]{0,127}")
TRIGGER = re.compile(r"[a-z][a-z0-9_]{0,63}")
#: Handoffs adopted per scan; the next scan takes the rest.
ADOPT_BATCH = 500


@dataclass(frozen=True)
class Prepared:
    """The handoff an escalation produced, or the one an earlier identical escalation made."""

    handoff_id: int
    created: bool
    status: str


class _Duplicate(Exception):
    """Raised inside the transaction to undo it when a concurrent writer won the same key."""


def reference(text: str) -> str:
    """`text` if it is an id or a hash; otherwise its SHA-256, so prose never travels."""
    if REFERENCE.fullmatch(text):
        return text
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def dedup_key(dispute_id: str, session_id: str | None) -> str:
    """One handoff per session (ESC-2), or per dispute when there is no session, whatever the
    trigger (ESC-3; issue 10, defect 5: it was per trigger, so a second trigger meant a second
    DM to every solver)."""
    return f"session:{session_id}" if session_id else f"dispute:{dispute_id}"


def prepare(dispute_id: str, *, trigger: str, now: int, session_id: str | None = None,
            evidence_refs: Iterable[str] = (), rationale_refs: Iterable[str] = (),
            prompt_bundle_id: str = "", policy_hash: str = "", again: bool = False,
            pinned: Route | None = None, requested_by: str | None = None,
            details: dict[str, Any] | None = None) -> Prepared:
    """Record one escalation and its handoff package; a repeat of the same session, or a
    dispute-scoped escalation of a dispute that already has one, writes nothing and returns the
    first handoff (`created=False`) unless `again`. `pinned` fixes the recipients now
    (`--to`); `details` join the `escalation_recommended` payload (an operator's name and
    note)."""
    if not TRIGGER.fullmatch(trigger):
        raise ValueError(f"trigger {trigger!r} is not a snake_case token")
    key = None if again else dedup_key(dispute_id, session_id)
    package = HandoffPackage(
        dispute_id=dispute_id, session_id=session_id, trigger=trigger,
        evidence_refs=tuple(reference(r) for r in evidence_refs),
        prompt_bundle_id=prompt_bundle_id, policy_hash=policy_hash,
        rationale_refs=tuple(reference(r) for r in rationale_refs), assembled_at=now)
    try:
        with database.atomic():
            earlier = _existing(key, dispute_id)
            if earlier is not None:
                return earlier
            recommended = AuditEvent.create(
                kind=ESCALATION_RECOMMENDED, dispute_id=dispute_id, session_id=session_id,
                payload_json=compact({"dispute_id": dispute_id, "trigger": trigger,
                                      "evidence_refs": list(package.evidence_refs),
                                      "rationale_refs": list(package.rationale_refs),
                                      **(details or {})}),
                prompt_bundle_id=prompt_bundle_id or None, policy_hash=policy_hash or None,
                occurred_at=now)
            handoff_id = _write(package, recommended_id=recommended.id, key=key, pinned=pinned,
                                requested_by=requested_by, now=now)
    except _Duplicate:
        earlier = _existing(key, dispute_id)
        if earlier is None:  # a duplicate key means the first handoff has committed
            raise RuntimeError(f"handoff for {key} vanished after a duplicate write") from None
        return earlier
    log.warning("escalation_recommended", extra={"dispute_id": dispute_id, "trigger": trigger,
                                                 "session_id": session_id or "<none>"})
    log.info("handoff_prepared", extra={"dispute_id": dispute_id, "handoff_id": handoff_id})
    return Prepared(handoff_id, True, PENDING)


def _existing(key: str | None, dispute_id: str) -> Prepared | None:
    """The handoff holding `key`; for a dispute-scoped key, else the dispute's first
    dispute-scoped handoff of any origin (keyed per trigger by an earlier version, or adopted
    from another writer's recommendation)."""
    if key is None:
        return None
    row = EscalationHandoff.get_or_none(EscalationHandoff.dedup_key == key)
    if row is None and key.startswith("dispute:"):
        row = (EscalationHandoff.select()
               .where((EscalationHandoff.dispute_id == dispute_id)
                      & EscalationHandoff.session_id.is_null())
               .order_by(EscalationHandoff.handoff_event_id).first())
    return Prepared(row.handoff_event_id, False, row.status) if row else None


def _write(package: HandoffPackage, *, recommended_id: int | None, key: str | None,
           pinned: Route | None, requested_by: str | None, now: int) -> int:
    """`handoff_prepared`, its tracking row and the lifecycle move; raises _Duplicate (to undo
    the transaction) when a concurrent writer already holds the same key."""
    event = AuditEvent.create(
        kind=HANDOFF_PREPARED, dispute_id=package.dispute_id, session_id=package.session_id,
        payload_json=package.to_json(), prompt_bundle_id=package.prompt_bundle_id or None,
        policy_hash=package.policy_hash or None, occurred_at=now)
    inserted = EscalationHandoff.insert(
        handoff_event_id=event.id, recommended_event_id=recommended_id, dedup_key=key,
        dispute_id=package.dispute_id, session_id=package.session_id, trigger=package.trigger,
        status=PENDING, route=pinned.kind if pinned else None,
        recipients=compact(list(pinned.recipients)) if pinned else None,
        requested_by=requested_by, next_attempt_at=now, created_at=now, updated_at=now,
    ).on_conflict_ignore().as_rowcount().execute()
    if not inserted:
        raise _Duplicate(key)
    lifecycle.transition(package.dispute_id, lifecycle.ESCALATED,
                         trigger=f"escalation:{package.trigger}", at=now)
    return event.id


def adopt(now: int) -> int:
    """Give every escalation a dispatchable handoff: track `handoff_prepared` rows written by
    other code, and build one for each `escalation_recommended` row that has none (GAP-4: the
    original's summary path writes only the recommendation, so nobody is told)."""
    linked = (EscalationHandoff.select(EscalationHandoff.recommended_event_id)
              .where(EscalationHandoff.recommended_event_id.is_null(False)))
    bare = list(AuditEvent.select()
                .where((AuditEvent.kind == ESCALATION_RECOMMENDED) & AuditEvent.id.not_in(linked))
                .order_by(AuditEvent.id).limit(ADOPT_BATCH))
    for recommended in bare:
        try:
            with database.atomic():
                _write(_package_for(recommended), recommended_id=recommended.id, key=None,
                       pinned=None, requested_by=None, now=now)
        except _Duplicate:
            continue  # another scan adopted it first
        log.warning("escalation_adopted", extra={"dispute_id": recommended.dispute_id,
                                                 "recommended_event_id": recommended.id})
    tracked = EscalationHandoff.select(EscalationHandoff.handoff_event_id)
    untracked = (AuditEvent.select(
        AuditEvent.id, fn.COALESCE(AuditEvent.dispute_id, "unknown"), AuditEvent.session_id,
        Value(PENDING), AuditEvent.occurred_at, Value(now), Value(now))
        .where((AuditEvent.kind == HANDOFF_PREPARED) & AuditEvent.id.not_in(tracked))
        .order_by(AuditEvent.id).limit(ADOPT_BATCH))
    f = EscalationHandoff
    return len(bare) + (f.insert_from(untracked, [
        f.handoff_event_id, f.dispute_id, f.session_id, f.status, f.next_attempt_at,
        f.created_at, f.updated_at]).on_conflict_ignore().as_rowcount().execute() or 0)


def _package_for(recommended: AuditEvent) -> HandoffPackage:
    """The handoff of a bare recommendation, from whatever of the package it recorded."""
    try:
        payload = recommended.payload
    except (ValueError, RecursionError):
        payload = {}
    payload = payload if isinstance(payload, dict) else {}

    def refs(key: str) -> tuple[str, ...]:
        value = payload.get(key)
        items = value if isinstance(value, list) else []
        return tuple(reference(str(item)) for item in items)

    dispute_id = recommended.dispute_id or payload.get("dispute_id")
    trigger = payload.get("trigger")
    return HandoffPackage(
        dispute_id=dispute_id if isinstance(dispute_id, str) and dispute_id else "unknown",
        session_id=recommended.session_id,
        trigger=trigger if isinstance(trigger, str) and TRIGGER.fullmatch(trigger) else "unknown",
        evidence_refs=refs("evidence_refs"), prompt_bundle_id=recommended.prompt_bundle_id or "",
        policy_hash=recommended.policy_hash or "", rationale_refs=refs("rationale_refs"),
        assembled_at=recommended.occurred_at)
