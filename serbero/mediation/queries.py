"""Read-only views of mediation for operators (`serbero mediation list|show`) and for status
and metrics: sessions by state, one session's transcript (inner timestamps), its
classifications with their confidences, the decisions taken and the rationale ids (the text
stays in the rationale store: `serbero.mediation.rationale.text_of`, on request only).
"""

from __future__ import annotations

from dataclasses import dataclass

from peewee import fn

from serbero.db.connection import database
from serbero.db.models import AuditEvent
from serbero.errors import NotFound
from serbero.mediation import sessions, timers, transcript
from serbero.mediation.models import INBOUND, MediationMessage, MediationSession


@dataclass(frozen=True)
class SessionRow:
    session: MediationSession
    inbound: int
    outbound: int


@dataclass(frozen=True)
class Verdict:
    at: int
    kind: str  # classification_produced, reasoning_verdict, summary_generated, …
    detail: str
    rationale_id: str | None


@dataclass(frozen=True)
class SessionView:
    session: MediationSession
    messages: list[MediationMessage]
    verdicts: list[Verdict]
    timers: dict[str, int]


#: Audit rows `show` lists as the session's decisions, in the order written.
DECISION_KINDS = ("classification_produced", "reasoning_verdict", "reasoning_call_failed",
                  "summary_generated", "summary_suppressed", "round_held",
                  "mediation_transition", "escalation_recommended", "party_unresponsive",
                  "resolved_externally_reported")


def by_state() -> dict[str, int] | None:
    """Sessions per state (every state listed), or None before mediation's migration."""
    if not database.table_exists(MediationSession._meta.table_name):
        return None
    counts = dict.fromkeys(sessions.STATES, 0)
    for state, n in (MediationSession.select(MediationSession.state,
                                             fn.COUNT(MediationSession.session_id))
                     .group_by(MediationSession.state).tuples()):
        counts[state] = n
    return counts


def list_sessions(*, state: str | None = None, limit: int = 50) -> list[SessionRow]:
    query = (MediationSession.select().order_by(MediationSession.started_at.desc(),
                                                MediationSession.session_id).limit(limit))
    if state:
        query = query.where(MediationSession.state == state)
    rows = list(query)
    counts: dict[tuple[str, str], int] = {
        (sid, direction): n for sid, direction, n in
        MediationMessage.select(MediationMessage.session_id, MediationMessage.direction,
                                fn.COUNT(MediationMessage.id))
        .where(MediationMessage.session_id.in_([r.session_id for r in rows]))
        .group_by(MediationMessage.session_id, MediationMessage.direction).tuples()}
    return [SessionRow(r, counts.get((r.session_id, INBOUND), 0),
                       counts.get((r.session_id, "outbound"), 0)) for r in rows]


def find(session_or_dispute: str) -> MediationSession:
    found = sessions.get(session_or_dispute) or sessions.of_dispute(session_or_dispute)
    if found is None:
        raise NotFound(f"no mediation session, nor a dispute mediated, with id "
                       f"{session_or_dispute!r}; `serbero mediation list` shows them.")
    return found


def show(session_or_dispute: str) -> SessionView:
    session = find(session_or_dispute)
    audit_rows = (AuditEvent.select()
                  .where(((AuditEvent.session_id == session.session_id)
                          | ((AuditEvent.dispute_id == session.dispute_id)
                             & AuditEvent.session_id.is_null()))
                         & AuditEvent.kind.in_(DECISION_KINDS))
                  .order_by(AuditEvent.id))
    verdicts = [Verdict(a.occurred_at, a.kind, _detail(a), a.rationale_id) for a in audit_rows]
    return SessionView(session, transcript.messages(session.session_id), verdicts,
                       timers.pending(session.session_id))


def _detail(row: AuditEvent) -> str:
    try:
        payload = row.payload
    except ValueError:
        return "?"
    payload.pop("dispute_id", None)
    payload.pop("rationale_id", None)
    return ", ".join(f"{k}={v}" for k, v in payload.items())
