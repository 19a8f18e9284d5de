"""A session's chat as a transcript: for the model (`for_model`: fresh messages, oldest first,
capped, FU-10) and for solvers, who cannot read Serbero's chat channels: one line per message,
`[hh:mm] buyer: …`, times UTC, party words quoted as they wrote them. After a handoff the
transcript follows the `escalation_handoff/v1` DM to the same solvers (`send`, which the
dispatcher finds by name: it imports no mediation module).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from nostr_sdk import Keys

from serbero.config import Settings
from serbero.followup import Publish
from serbero.mediation import solver_dms
from serbero.mediation.models import INBOUND, MediationMessage, MediationSession
from serbero.messages import message as subjects
from serbero.messages.message import SolverMessage
from serbero.reasoning.prompts import escape_line
from serbero.reasoning.types import SERBERO, TranscriptEntry

#: Messages the model sees per evaluation (FU-4).
MODEL_MESSAGES = 40
#: A solver's line is cut after this many characters; the whole transcript after this many,
#: keeping the newest lines (`serbero mediation show` has everything).
LINE_CHARS = 500
TOTAL_CHARS = 24_000


def messages(session_id: str, *, through: int | None = None) -> list[MediationMessage]:
    """The session's messages in the order they were written (inner time, then row)."""
    query = MediationMessage.select().where(MediationMessage.session_id == session_id)
    if through is not None:
        query = query.where(MediationMessage.id <= through)
    return list(query.order_by(MediationMessage.inner_event_created_at, MediationMessage.id))


def for_model(session_id: str) -> tuple[tuple[TranscriptEntry, ...], int]:
    """The newest fresh messages for a classification, oldest first, and the id of the newest
    inbound one among them (what this evaluation has seen)."""
    rows = [m for m in messages(session_id) if not m.stale][-MODEL_MESSAGES:]
    entries = tuple(TranscriptEntry(party=m.party if m.direction == INBOUND else SERBERO,
                                    inner_event_created_at=m.inner_event_created_at,
                                    content=_model_text(m)) for m in rows)
    through = max((m.id for m in rows if m.direction == INBOUND), default=0)
    return entries, through


def _model_text(m: MediationMessage) -> str:
    return "[an attachment: a file or image]" if m.attachment else m.content


def _hhmm(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M")


def _day(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def line(m: MediationMessage) -> str:
    """`[hh:mm] buyer: …`, or `[hh:mm] serbero → seller: …` for Serbero's own."""
    who = f"{m.party}" if m.direction == INBOUND else f"serbero → {m.party}"
    text = "(an attachment: a file or image)" if m.attachment else escape_line(m.content)
    if len(text) > LINE_CHARS:
        text = text[:LINE_CHARS] + f" [… {len(text) - LINE_CHARS} characters cut]"
    late = " (sent late)" if m.stale else ""
    return f"[{_hhmm(m.inner_event_created_at)}] {who}{late}: {text}"


def lines(rows: Sequence[MediationMessage], *, session_id: str) -> list[str]:
    """Solver lines with a date line wherever the day changes, newest kept within the cap."""
    out: list[str] = []
    day = None
    for m in rows:
        if _day(m.inner_event_created_at) != day:
            day = _day(m.inner_event_created_at)
            out.append(f"— {day} (UTC) —")
        out.append(line(m))
    kept, used = [], 0
    for text in reversed(out):
        if used + len(text) + 1 > TOTAL_CHARS:
            kept.append(f"[{len(out) - len(kept)} earlier lines left out; `serbero mediation "
                        f"show {session_id}` has them all]")
            break
        kept.append(text)
        used += len(text) + 1
    return list(reversed(kept))


def solver_message(dispute_id: str, session_id: str, rows: Sequence[MediationMessage], *,
                   lifecycle_state: str, now: int) -> SolverMessage:
    body = "\n".join([f"Session: {session_id}", *lines(rows, session_id=session_id)])
    return SolverMessage(dispute_id=dispute_id, subject=subjects.transcript(len(rows)),
                         body=body, original=body, notice_type=solver_dms.TRANSCRIPT,
                         lifecycle_state=lifecycle_state, occurred_at=now)


def send(dispute_id: str, session_id: str, recipients: Sequence[str], *, settings: Settings,
         signer: Keys, lifecycle_state: str, now: int) -> list[Publish]:
    """The whole transcript as one DM to each recipient, dated a second after `now`; nothing
    for a session id that names no mediation session (an operator's `--session` typo)."""
    if not MediationSession.select().where(MediationSession.session_id == session_id).exists():
        return []
    rows = messages(session_id)
    message = solver_message(dispute_id, session_id, rows, lifecycle_state=lifecycle_state,
                             now=now)
    return solver_dms.write(message, recipients, notif_type=solver_dms.TRANSCRIPT,
                            settings=settings, signer=signer, now=now, stamp=now + 1)

