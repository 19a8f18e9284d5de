"""The one writer of outbox rows: every side effect is stored here, with the same columns,
inside the transaction of the state change that decided it (DESIGN invariant 4).

Rows are written ready to send (a Nostr event already signed, a webhook body already
serialised), so a retry sends the same bytes. Never sends anything: the caller returns the
`Publish` entries in its FollowUp, and they are published after commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from serbero import clock
from serbero.db import bulk
from serbero.db.models import Outbox
from serbero.followup import Publish
from serbero.outbox import purposes

NOSTR, WEBHOOK = "nostr", "webhook"


@dataclass(frozen=True)
class NewRow:
    """One row to store. `message_id` is unique across the outbox (an event id, or a webhook
    notice's idempotency key); `republish_after_s` is when the outbox tick may send it again
    if the publish job after commit was lost."""

    channel: str
    purpose: str
    recipient: str
    message_id: str
    body: str
    republish_after_s: int
    dispute_id: str | None = None
    notice_type: str | None = None


def write(rows: Sequence[NewRow], *, now: int) -> list[Publish]:
    """Store `rows` (one statement) and return, in order, what to publish after commit."""
    if not rows:
        return []
    now_ms = clock.now_ms()
    stored = {message_id: row_id for row_id, message_id in bulk.insert_rows(Outbox, [
        dict(channel=r.channel, purpose=r.purpose, notice_type=r.notice_type,
             dispute=r.dispute_id, recipient=r.recipient, message_id=r.message_id, body=r.body,
             created_at=now, created_at_ms=now_ms, next_attempt_at=now + r.republish_after_s)
        for r in rows], returning=[Outbox.id, Outbox.message_id])}
    return [Publish(stored[r.message_id], purposes.get(r.purpose).lane) for r in rows]
