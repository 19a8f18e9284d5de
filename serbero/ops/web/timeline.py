"""A dispute's whole story for its web page, as a list of timeline sources: one small function
per table, each turning that table's rows into events, merged oldest first. A new table is one
function added to SOURCES.

Party text (the chat's messages, the summaries drawn from them) appears only when the operator
asks for it (`party_text`); rationale text never does, only its id. Audit payloads are shown
without their free-text keys.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from serbero.acks.models import SolverAcknowledgement
from serbero.db.models import AuditEvent, Dispute, Notification, Outbox, Transition
from serbero.escalation.models import EscalationHandoff
from serbero.mediation.models import MediationMessage, MediationSession, MediationSummary
from serbero.mostro.models import TakeRequest
from serbero.nostr.keys import short
from serbero.outbox.requeue import requeueable

#: Outbox purposes shown as notices (chat messages to the parties are mediation's; take
#: requests are shown from their own table).
NOTICE_PURPOSES = ("solver_dm", "observer_notice", "webhook_notice", "handoff_dm",
                   "mediation_dm")
#: Audit payload keys never shown: they may hold free text, or repeat the page's dispute.
HIDDEN_KEYS = frozenset({"dispute_id", "rationale", "text", "content", "summary",
                         "summary_text", "prompt"})
#: Longest audit value shown; the page is an overview, the database has the rest.
MAX_VALUE_CHARS = 160
_EVENT_ID = re.compile(r"^(detected:)?[0-9a-f]{64}$")


@dataclass(frozen=True)
class Event:
    """One line of the timeline. `status` picks its colour (sent, failed, pending, …);
    `outbox_id` is set when it can be requeued; `text` is party text, only when asked."""

    at: int
    source: str
    title: str
    detail: str = ""
    status: str = ""
    outbox_id: int | None = None
    text: str | None = None


Source = Callable[[Dispute, bool], Iterable[Event]]


def lifecycle(dispute: Dispute, party_text: bool) -> Iterable[Event]:
    """State transitions; those a Mostro revision caused are that revision's events."""
    for t in (Transition.select().where(Transition.dispute == dispute.dispute_id)
              .order_by(Transition.id)):
        trigger = t.trigger or ""
        revision = _EVENT_ID.match(trigger)
        yield Event(t.transitioned_at, "mostro" if revision else "lifecycle",
                    f"{t.from_state or 'detected'} → {t.to_state}",
                    f"Mostro revision {short(trigger.split(':')[-1])}" if revision else trigger)


def mostro_status(dispute: Dispute, party_text: bool) -> Iterable[Event]:
    """The newest Mostro revision applied (only the newest is kept)."""
    yield Event(dispute.status_event_at, "mostro", f"Mostro status {dispute.dispute_status}",
                f"revision {short(dispute.status_event_id)}")


def notices(dispute: Dispute, party_text: bool) -> Iterable[Event]:
    """Every notice per recipient and channel, sent, pending or failed; notices that never
    reached the outbox (a solver key that does not parse) too."""
    for row in (Outbox.select().where((Outbox.dispute == dispute.dispute_id)
                                      & Outbox.purpose.in_(NOTICE_PURPOSES))
                .order_by(Outbox.id)):
        what = row.notice_type or row.purpose
        detail = f"{row.purpose}, attempts {row.attempts}"
        if row.last_error:
            detail += f": {row.last_error[:MAX_VALUE_CHARS]}"
        yield Event(row.sent_at or row.created_at, "notice",
                    f"{what} to {_who(row.recipient)} via {row.channel}", detail, row.status,
                    outbox_id=row.id if requeueable(row) else None)
    for n in Notification.select().where((Notification.dispute == dispute.dispute_id)
                                         & Notification.outbox.is_null()):
        yield Event(n.created_at, "notice", f"{n.notif_type} to {_who(n.solver_pubkey)}",
                    (n.error_message or "")[:MAX_VALUE_CHARS], n.status)


def takes(dispute: Dispute, party_text: bool) -> Iterable[Event]:
    """Serbero's own take requests (mediation) and what came of them."""
    for t in TakeRequest.select().where(TakeRequest.dispute_id == dispute.dispute_id):
        yield Event(t.created_at, "take", f"take request #{t.request_id} ({t.transport})",
                    t.reason or "", t.status)


def acknowledgements(dispute: Dispute, party_text: bool) -> Iterable[Event]:
    """Who acknowledged the dispute (or its handoff), and how: a reply or a take."""
    for a in (SolverAcknowledgement.select()
              .where(SolverAcknowledgement.dispute_id == dispute.dispute_id)
              .order_by(SolverAcknowledgement.id)):
        first = a.scope == "dispute" and a.solver_pubkey == dispute.acknowledged_by
        yield Event(a.acknowledged_at, "ack", f"acknowledged by {short(a.solver_pubkey)}",
                    f"{a.scope}, by {a.source}" + (", first" if first else ""))


def escalations(dispute: Dispute, party_text: bool) -> Iterable[Event]:
    """Handoffs to humans, from preparation to delivery."""
    for h in (EscalationHandoff.select().where(EscalationHandoff.dispute_id == dispute.dispute_id)
              .order_by(EscalationHandoff.handoff_event_id)):
        who = f", by {h.requested_by}" if h.requested_by else ""
        to = ", ".join(_who(r) for r in h.recipient_list)
        yield Event(h.created_at, "escalation", f"handoff #{h.handoff_event_id} ({h.trigger})",
                    f"route {h.route or '-'}{who}; to {to or '-'}; attempts {h.attempts}",
                    h.status)
        if h.delivered_at:
            yield Event(h.delivered_at, "escalation",
                        f"handoff #{h.handoff_event_id} delivered", "", "sent")


def mediation(dispute: Dispute, party_text: bool) -> Iterable[Event]:
    """The session's start, opening and end, each chat message's metadata (its text only when
    asked) and the summaries' verdicts (their text only when asked)."""
    session = MediationSession.get_or_none(MediationSession.dispute_id == dispute.dispute_id)
    if session is None:
        return
    yield Event(session.started_at, "mediation", "mediation started",
                f"by {session.started_by}, bundle {session.prompt_bundle_id}", session.state)
    if session.opened_at:
        yield Event(session.opened_at, "mediation", "chat opened with both parties")
    if session.ended_at:
        yield Event(session.ended_at, "mediation", f"mediation ended: {session.state}",
                    session.end_reason or "")
    for m in (MediationMessage.select().where(MediationMessage.session_id == session.session_id)
              .order_by(MediationMessage.id)):
        way = "from" if m.direction == "inbound" else "to"
        detail = f"{len(m.content)} characters" + (f", template {m.template}" if m.template
                                                   else "")
        yield Event(m.persisted_at, "mediation", f"message {way} {m.party}", detail,
                    "stale" if m.stale else "", text=m.content if party_text else None)
    for s in MediationSummary.select().where(MediationSummary.session_id == session.session_id):
        yield Event(s.generated_at, "mediation", f"summary: {s.classification}",
                    f"confidence {s.confidence:.2f}, next step {s.suggested_next_step}"
                    + (f", rationale {s.rationale_id}" if s.rationale_id else ""),
                    text=s.summary_text if party_text else None)


def audit_rows(dispute: Dispute, party_text: bool) -> Iterable[Event]:
    """Why things happened or did not (every audit row of the dispute)."""
    for a in (AuditEvent.select().where(AuditEvent.dispute_id == dispute.dispute_id)
              .order_by(AuditEvent.id)):
        yield Event(a.occurred_at, "audit", a.kind, _payload(a.payload_json))


def _payload(raw: str) -> str:
    try:
        doc = json.loads(raw)
    except ValueError:
        return ""
    if not isinstance(doc, dict):
        return ""
    parts = []
    for key, value in doc.items():
        if key in HIDDEN_KEYS:
            continue
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}={shown[:MAX_VALUE_CHARS]}")
    return ", ".join(parts)


def _who(recipient: str) -> str:
    return short(recipient) if len(recipient) == 64 else recipient


#: Every source of the timeline, in the order equal times are shown.
SOURCES: tuple[Source, ...] = (lifecycle, mostro_status, notices, acknowledgements, takes,
                               escalations, mediation, audit_rows)


def timeline(dispute: Dispute, *, party_text: bool = False,
             sources: tuple[Source, ...] = SOURCES) -> list[Event]:
    """The dispute's events from every source, oldest first."""
    merged = [(e.at, rank, e) for rank, source in enumerate(sources)
              for e in source(dispute, party_text)]
    return [e for _, _, e in sorted(merged, key=lambda item: (item[0], item[1]))]
