"""What a party writes, from the relay to the session (ING-*): runs on the `events` queue and
never calls a model. The event is first recognised by its id — Serbero's own messages come back
on the same subscription (it follows the channel's signing key), and relays replay what they
hold — so neither warns nor uses the conversation's rate limit. Then the channel's thirteen
checks (`chat_store.receive`, durable inner-id dedup), and, in the same transaction as the
accepted message: stale marking, the party's clock stopped, and what comes next — the quiet
period before an evaluation (one evaluation for three quick messages), forwarding after a
handoff, or a handoff for a flood. Rejections change nothing and are logged by reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nostr_sdk import Event, Keys, NostrSdkError

from serbero import rejections
from serbero.config import Settings
from serbero.db.models import audit
from serbero.followup import NOTHING, FollowUp
from serbero.mediation import escalate, outbound, replies, sessions, timers
from serbero.mediation.models import INBOUND, MediationMessage, MediationSession
from serbero.mostro import chat_store
from serbero.mostro.chat_receive import MAX_RAW_CHARS, ChatGuard, ChatMessage

log = logging.getLogger(__name__)

#: Checks 5 and 6 of the chat protocol remember per worker process.
GUARD = ChatGuard()
FLOOD_WINDOW_S = 60


@dataclass(frozen=True, kw_only=True)
class ChatIngested(FollowUp):
    """`outcome`: accepted, own_message, known, no_session, session_ended or rejected:<reason>."""

    outcome: str
    session_id: str | None = None


def _result(outcome: str, session: MediationSession | None = None,
            follow_up: FollowUp = NOTHING) -> ChatIngested:
    return ChatIngested(outcome=outcome, session_id=session.session_id if session else None,
                        **follow_up.parts())


def ingest(raw: str, *, settings: Settings, signer: Keys, now: int) -> ChatIngested:
    """Apply one kind-14 event from a followed channel; never raises on input."""
    if not isinstance(raw, str) or len(raw) > MAX_RAW_CHARS:
        return _rejected(settings, "oversized_event")
    try:
        event = Event.from_json(raw)
    except (NostrSdkError, ValueError, TypeError, OverflowError):
        return _rejected(settings, "malformed_event")
    known = (MediationMessage.select(MediationMessage.direction)
             .where(MediationMessage.outer_event_id == event.id().to_hex()).scalar())
    if known is not None:  # Serbero's own message, or a replay of one already accepted
        log.debug("chat_event_known", extra={"outer_id": event.id().to_hex(),
                                             "direction": known})
        return _result("own_message" if known != INBOUND else "known")
    found = sessions.by_author(event.author().to_hex())
    if found is None:
        log.info("chat_event_without_session", extra={"author": event.author().to_hex()})
        return _result("no_session")
    session, party = found
    if session.state in sessions.ENDED or not session.opened:
        audit("chat_after_close", dispute_id=session.dispute_id, session_id=session.session_id,
              at=now, party=party, outer_id=event.id().to_hex(), state=session.state)
        log.info("chat_after_close", extra={"session_id": session.session_id,
                                            "state": session.state})
        return _result("session_ended", session)
    keys = outbound.channel_keys(session, party, signer)
    after: list[tuple[FollowUp, bool]] = []
    receipt = chat_store.receive(
        raw, keys, allowed_signers={session.of(party, "trade_pubkey")}, now=now, guard=GUARD,
        on_accept=lambda message: after.append(_accepted(session, party, message,
                                                         settings=settings, now=now)))
    if receipt.outcome != "accepted":
        rejections.count(settings, f"chat_{receipt.reason}")
        if receipt.reason == "rate_limited" and session.state in sessions.LIVE:
            return _result("rejected:rate_limited", session,
                           escalate.hand_off(session, escalate.FLOOD, signer=signer, now=now))
        return _result(f"rejected:{receipt.reason}", session)
    follow_up, flood = after[0] if after else (NOTHING, False)
    if flood:  # the message is stored; the party wrote too much to be worth model calls
        follow_up = escalate.hand_off(session, escalate.FLOOD, signer=signer, now=now)
    return _result("accepted", session, follow_up)


def _rejected(settings: Settings, reason: str) -> ChatIngested:
    rejections.count(settings, f"chat_{reason}")
    log.warning("chat_message_rejected", extra={"reason": reason})
    return _result(f"rejected:{reason}")


def _accepted(session: MediationSession, party: str, message: ChatMessage, *,
              settings: Settings, now: int) -> tuple[FollowUp, bool]:
    """Store an accepted message and decide what follows (and whether it is a flood); inside
    `receive`'s transaction."""
    sessions.refresh(session, "state", f"{party}_last_seen_inner_ts", "buyer_waiting_since",
                     "seller_waiting_since", "buyer_reminded_at", "seller_reminded_at")
    last_seen = session.of(party, "last_seen_inner_ts")
    stale = last_seen is not None and message.inner_created_at < last_seen
    MediationMessage.create(
        session_id=session.session_id, direction=INBOUND, party=party,
        shared_pubkey=message.conversation, inner_event_id=message.inner_id,
        inner_event_created_at=message.inner_created_at, outer_event_id=message.outer_id,
        content=message.content, attachment=int(message.attachment is not None),
        stale=int(stale), persisted_at=now)
    if stale:  # kept for the record; the party's clock and the rounds ignore it (ING-4)
        return NOTHING, False
    (MediationSession.update(**{f"{party}_last_seen_inner_ts": message.inner_created_at})
     .where(MediationSession.session_id == session.session_id).execute())
    if session.state in sessions.FORWARDING:
        return timers.arm_unless_armed(session.session_id, timers.FORWARD,
                                       now + settings.mediation.forward_batch_seconds), False
    if session.state != sessions.AWAITING:
        return NOTHING, False  # a summary is being written: forwarded once it is delivered
    if _flooding(session, party, settings.mediation.max_messages_per_minute, now):
        return NOTHING, True
    answered = replies.answered(session, party)
    return answered.then(timers.arm(session.session_id, timers.EVALUATE,
                                    now + session.quiet_period_s)), False


def _flooding(session: MediationSession, party: str, limit: int, now: int) -> bool:
    """More messages from the party in the last minute than `limit`."""
    recent = (MediationMessage.select()
              .where((MediationMessage.session_id == session.session_id)
                     & (MediationMessage.direction == INBOUND)
                     & (MediationMessage.party == party)
                     & (MediationMessage.persisted_at > now - FLOOD_WINDOW_S)).count())
    return recent > limit
