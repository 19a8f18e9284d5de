"""What Serbero writes to a party, from template to outbox: render the catalog entry in the
party's language (the identity line first, the first time), check the finished text with the
authority-boundary guard, sign the kind-14 envelope on the party's channel (keys re-derived from
the stored trade pubkey, GAP-2), and store the message and its outbox row in the transaction
that decided to send it (OUT-3, DESIGN invariant 4). The outbox republishes the same signed
event until a relay takes it (GAP-12). Never sends anything itself.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from nostr_sdk import Event, Keys

from serbero import outbox
from serbero.db.models import audit
from serbero.followup import FollowUp
from serbero.mediation import catalog, guard
from serbero.mediation.guard import GuardHit
from serbero.mediation.models import OUTBOUND, PARTIES, MediationMessage, MediationSession
from serbero.mostro.chat import ChatKeys, build_envelope, derive_chat_keys
from serbero.outbox import NOSTR, NewRow

log = logging.getLogger(__name__)

#: The outbox purpose of a message to a party (hooks in `delivery`).
PURPOSE_NAME = "mediation_chat"
#: Before the outbox tick re-sends a fresh message whose publish job may have been lost.
REPUBLISH_AFTER_S = 5


@dataclass(frozen=True)
class Draft:
    """A finished text for one party, not yet signed."""

    party: str
    entry: str
    text: str
    language: str


def channel_keys(session: MediationSession, party: str, signer: Keys) -> ChatKeys:
    """The party's channel, derived again from Serbero's key and the stored trade pubkey."""
    trade = session.of(party, "trade_pubkey")
    if not isinstance(trade, str):
        raise ValueError(f"session {session.session_id} has no {party} trade key yet")
    return derive_chat_keys(signer.secret_key().to_hex(), trade)


def _written_to(session: MediationSession) -> set[str]:
    """The parties Serbero has written to in this session."""
    return {party for (party,) in MediationMessage.select(MediationMessage.party).distinct()
            .where((MediationMessage.session_id == session.session_id)
                   & (MediationMessage.direction == OUTBOUND)).tuples()}


def drafts(session: MediationSession, entry: str,
           questions: dict[str, str | None]) -> list[Draft]:
    """The catalog entry for each party in `questions` (party → the question it frames, or
    None), in the party's language, with the identity line for a party Serbero has not
    written to before."""
    written = _written_to(session)
    out = []
    for party, question in questions.items():
        language = catalog.language_for(session.of(party, "language"), session.default_language)
        text = catalog.render(language, entry, question=question, first=party not in written)
        out.append(Draft(party, entry, text, language))
    return out


@lru_cache(maxsize=4096)
def _checked(text: str) -> GuardHit | None:
    """The guard's verdict on a finished text; the same text (a template's notice, a question
    checked before it is stored) is scanned once."""
    return guard.check(text)


def refusal(drafts: Sequence[Draft]) -> GuardHit | None:
    """Why these texts may not be sent (a guard hit, or one too long for a phone), if so:
    a model's question inside a template is checked again as the party would read it."""
    for d in drafts:
        hit = _checked(d.text)
        if hit is not None:
            log.warning("authority_boundary_suppressed", extra={
                "text": d.entry, "party": d.party, "guard_category": hit.category,
                "guard_rule": hit.rule})
            return hit
        if not catalog.fits_a_phone(d.text):
            return GuardHit("too_long", "any", f"longer than {catalog.MAX_MESSAGE_CHARS} chars")
    return None


def write(session: MediationSession, drafts: Sequence[Draft], *, signer: Keys,
          now: int) -> FollowUp:
    """Sign each draft on its party's channel and store it with its outbox row; return what
    to publish after commit. Call inside the deciding transaction; a caller whose texts hold
    a model's words checks `refusal` first (to hand the dispute over instead). Whatever the
    caller, a text the guard refuses is never stored: it is left out, with an audit row."""
    built: list[tuple[Draft, ChatKeys, Event, Event]] = []
    for d in drafts:
        hit = refusal([d])
        if hit is not None:
            audit("party_message_suppressed", dispute_id=session.dispute_id,
                  session_id=session.session_id, at=now, party=d.party, entry=d.entry,
                  guard_category=hit.category, guard_rule=hit.rule)
            continue
        keys = channel_keys(session, d.party, signer)
        # A nonce tag, as mobile adds: the same notice to both parties in the same second must
        # not be the same inner event (OUT-2), or one would read as a replay of the other.
        inner, outer = build_envelope(signer, keys, d.text, now=now,
                                      inner_tags=[["u", secrets.token_hex(8)]])
        built.append((d, keys, inner, outer))
    if not built:
        return FollowUp()
    queued = outbox.write([NewRow(channel=NOSTR, purpose=PURPOSE_NAME, recipient=keys.conv_pubkey,
                                  message_id=outer.id().to_hex(), body=outer.as_json(),
                                  republish_after_s=REPUBLISH_AFTER_S,
                                  dispute_id=session.dispute_id, notice_type=d.entry)
                           for d, keys, _, outer in built], now=now)
    MediationMessage.insert_many([dict(
        session_id=session.session_id, direction=OUTBOUND, party=d.party,
        shared_pubkey=keys.conv_pubkey, inner_event_id=inner.id().to_hex(),
        inner_event_created_at=now, outer_event_id=outer.id().to_hex(), content=d.text,
        template=d.entry, language=d.language, outbox_id=publish.row_id, persisted_at=now,
        **session.pinned()) for (d, keys, inner, outer), publish in zip(built, queued, strict=True)
    ]).execute()
    log.info("mediation_messages_written", extra={
        "session_id": session.session_id, "entries": ",".join(d.entry for d in drafts)})
    return FollowUp(publish=tuple(queued), signed={o.id().to_hex(): o for _, _, _, o in built})


def to_both(session: MediationSession, entry: str, *, signer: Keys, now: int) -> FollowUp:
    """One notice (no question) to each party, if Serbero has their channels: what it writes
    when it stops (handed off, taken over, summary delivered, resolved)."""
    if not session.opened:
        return FollowUp()
    return write(session, drafts(session, entry, dict.fromkeys(PARTIES)), signer=signer,
                 now=now)
