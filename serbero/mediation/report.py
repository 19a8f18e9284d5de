"""The `mediation_resolution_report/v1` (XRES-4, XRES-5): when Mostro closes a dispute Serbero
mediated, every solver gets one report of what Serbero did — the session, its last
classification, whether it wrote to the parties — in the original's format, rendered by code;
never a rationale, never party text. Pure but for the counts it reads.
"""

from __future__ import annotations

from peewee import fn

from serbero.mediation import sessions
from serbero.mediation.models import OUTBOUND, MediationMessage, MediationSession

HEADER = "mediation_resolution_report/v1"


def outbound_parties(session: MediationSession) -> int:
    """How many of the two parties Serbero wrote to (0…2)."""
    return (MediationMessage.select(fn.COUNT(MediationMessage.party.distinct()))
            .where((MediationMessage.session_id == session.session_id)
                   & (MediationMessage.direction == OUTBOUND)).scalar() or 0)


def _session_clause(session: MediationSession, state: str) -> str:
    if session.opened_at is not None:
        return f"Session {session.session_id} was in state `{state}`."
    if state == sessions.FAILED:
        return ("No mediation session was opened — reasoning cleared the dispute for mediation "
                "but the take-dispute exchange with Mostro did not complete.")
    if session.end_reason:
        return ("No mediation session was opened — the dispute was handed to a person before "
                f"any take completed (trigger `{session.end_reason}`).")
    return "No mediation session was opened for this dispute."


def text(session: MediationSession, *, state_before: str, final_status: str) -> str:
    """The report's body, lines joined by `\\n`."""
    label, confidence = session.current_classification, session.current_confidence
    written = min(2, outbound_parties(session))
    if label is not None and confidence is not None:
        classification_line = f"Classification: {label} (confidence {confidence:.2f})"
        classification_clause = (f"Serbero's last recorded classification was `{label}` "
                                 f"(confidence {confidence:.2f}).")
    else:
        classification_line = "Classification: <none recorded>"
        classification_clause = "No classification was recorded."
    outbound_clause = {
        0: "No outbound party-facing messages were dispatched.",
        1: "Serbero messaged one party before the dispute was resolved externally.",
        2: "Serbero messaged both parties before the dispute was resolved externally.",
    }[written]
    narrative = " ".join([f"Dispute closed with final status `{final_status}`.",
                          _session_clause(session, state_before), classification_clause,
                          outbound_clause])
    return "\n".join([
        HEADER,
        f"Dispute: {session.dispute_id}",
        f"Session: {session.session_id}",
        classification_line,
        f"Outbound party messages: {written}",
        f"Final dispute status: {final_status}",
        "",
        narrative,
    ])
