"""Receiving dispute chat durably: the inner-id dedup table (a restart or a second worker never
ingests a message twice), the per-conversation cursor, and `receive()`, which runs the checks
and, for an accepted message, records it and the caller's own writes in one transaction.

A rejected envelope changes nothing in the database; it is logged with its reason (never its
content: decrypted party text is logged only at debug level).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass

from serbero.db.connection import database
from serbero.errors import EventRejected
from serbero.mostro.chat import ChatKeys
from serbero.mostro.chat_receive import ChatGuard, ChatMessage, open_chat_event, open_legacy_event
from serbero.mostro.models import ChatCursor, ChatSeen

log = logging.getLogger(__name__)

#: Where a conversation without a cursor starts (mobile's `chatDefaultLookback`, 7 days).
DEFAULT_LOOKBACK_S = 7 * 86400
#: How far before the cursor a re-subscription starts (mobile re-subscribes 10 min back).
RESUBSCRIBE_OVERLAP_S = 600


@dataclass(frozen=True)
class ChatReceipt:
    """`outcome` is accepted or rejected; `reason` says why a message was refused."""

    outcome: str
    reason: str | None = None
    message: ChatMessage | None = None


def is_new_inner(inner_id: str) -> bool:
    return not ChatSeen.select().where(ChatSeen.inner_id == inner_id).exists()


def cursor(conversation: str) -> int | None:
    return ChatCursor.select(ChatCursor.since).where(
        ChatCursor.conversation == conversation).scalar()


def resume_since(conversation: str, now: int) -> int:
    """`since` for (re)subscribing: the cursor minus an overlap, or seven days back."""
    saved = cursor(conversation)
    return now - DEFAULT_LOOKBACK_S if saved is None else max(0, saved - RESUBSCRIBE_OVERLAP_S)


def advance_cursor(conversation: str, accepted_at: int, now: int) -> None:
    """Move the cursor forward to min(accepted_at, now); never backwards, never past the clock."""
    value = min(accepted_at, now)
    inserted = (ChatCursor.insert(conversation=conversation, since=value, updated_at=now)
                .on_conflict_ignore().as_rowcount().execute())
    if not inserted:
        (ChatCursor.update(since=value, updated_at=now)
         .where((ChatCursor.conversation == conversation) & (ChatCursor.since < value)).execute())


def receive(raw: str, keys: ChatKeys, *, allowed_signers: Collection[str], now: int,
            guard: ChatGuard, legacy: bool = False,
            on_accept: Callable[[ChatMessage], None] | None = None) -> ChatReceipt:
    """Check one envelope; on acceptance record its inner id, advance the cursor (kind 14 only:
    a legacy envelope's date is randomised) and call `on_accept` in the same transaction."""
    opener = open_legacy_event if legacy else open_chat_event
    try:
        message = opener(raw, keys, allowed_signers=allowed_signers, now=now, guard=guard,
                         is_new_inner=is_new_inner)
    except EventRejected as rejected:
        log.warning("chat_message_rejected", extra={
            "reason": rejected.reason, "detail": rejected.detail[:120],
            "conversation": keys.conversation})
        return ChatReceipt("rejected", rejected.reason)
    with database.atomic():
        inserted = (ChatSeen.insert(
            inner_id=message.inner_id, conversation=message.conversation,
            outer_id=message.outer_id, sender=message.sender,
            inner_created_at=message.inner_created_at,
            content_kind="attachment" if message.attachment else "text", accepted_at=now,
        ).on_conflict_ignore().as_rowcount().execute()) == 1
        if not inserted:  # another worker accepted the same message a moment ago
            log.info("chat_message_duplicate", extra={"inner_id": message.inner_id})
            return ChatReceipt("rejected", "duplicate_inner")
        if not legacy:
            advance_cursor(message.conversation, message.outer_created_at, now)
        if on_accept is not None:
            on_accept(message)
    log.info("chat_message_accepted", extra={
        "conversation": message.conversation, "inner_id": message.inner_id,
        "attachment": message.attachment is not None, "legacy": legacy})
    log.debug("chat_message_content", extra={"inner_id": message.inner_id,
                                             "content": message.content})
    return ChatReceipt("accepted", None, message)
