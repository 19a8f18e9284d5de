"""Copies of a solver message for bystanders: the first line to each observer (in the Mostro v2
form, so mostro-watchdog can alert a Telegram group; never the lines below, which may carry
party words or a handoff's body) and a JSON notice to each webhook subscribed to its subject.

Also the two outbox purposes of those copies. A copy changes no dispute state: its outcome is
recorded on its row, a failure or cancellation also as an audit row.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable

from nostr_sdk import Keys

from serbero import outbox
from serbero.config import Settings
from serbero.db.models import Outbox, audit
from serbero.disputes.relevance import unwanted
from serbero.followup import WEBHOOKS, FollowUp, Publish
from serbero.messages import formats
from serbero.messages.message import SolverMessage
from serbero.nostr.keys import short
from serbero.outbox import NOSTR, WEBHOOK, NewRow
from serbero.outbox.purposes import Purpose, nothing_to_undo

log = logging.getLogger(__name__)

#: Before the outbox tick re-sends a copy whose publish job may have been lost.
REPUBLISH_AFTER_S = 15


def rows(message: SolverMessage, *, settings: Settings, signer: Keys, now: int) -> list[NewRow]:
    """Signed first lines for the observers whose key parses, and a JSON notice per webhook
    that asked for this subject. Touches no state (a notice may be signed before the
    transaction that stores it)."""
    out = []
    for observer in settings.observers:
        hex_pubkey = observer.hex_pubkey
        if hex_pubkey is None:
            continue
        event = formats.first_line(message, signer=signer, recipient=hex_pubkey, now=now)
        out.append(NewRow(channel=NOSTR, purpose=OBSERVER_NOTICE.name, recipient=hex_pubkey,
                          message_id=event.id().to_hex(), body=event.as_json(),
                          republish_after_s=REPUBLISH_AFTER_S, dispute_id=message.dispute_id,
                          notice_type=message.notice_type))
    for webhook in settings.webhooks:
        if message.event not in webhook.events:
            continue
        key = str(uuid.uuid4())
        out.append(NewRow(channel=WEBHOOK, purpose=WEBHOOK_NOTICE.name, recipient=webhook.name,
                          message_id=key, body=webhook_body(message, key),
                          republish_after_s=REPUBLISH_AFTER_S, dispute_id=message.dispute_id,
                          notice_type=message.notice_type))
    return out


def write(message: SolverMessage, copies: list[NewRow], *, settings: Settings,
          now: int) -> list[Publish]:
    """Store the copies of a message (in the transaction that stores the message) and record,
    for each observer whose key does not parse, that it was not told."""
    for observer in settings.observers:
        if observer.hex_pubkey is None:
            audit("notice_not_sent", dispute_id=message.dispute_id, at=now, role="observer",
                  recipient=observer.pubkey[:100], notice_type=message.notice_type,
                  reason="invalid pubkey")
            log.warning("observer_notice_failed: invalid observer pubkey", extra={
                "dispute_id": message.dispute_id, "notice_type": message.notice_type})
    return outbox.write(copies, now=now)


def webhook_body(message: SolverMessage, idempotency_key: str) -> str:
    """The JSON a webhook receives; the same bytes on every retry."""
    return json.dumps({"idempotency_key": idempotency_key, "dispute_id": message.dispute_id,
                       "event": message.event, "subject": message.subject, "text": message.text,
                       "lifecycle_state": message.lifecycle_state,
                       "occurred_at": message.occurred_at},
                      separators=(",", ":"), ensure_ascii=False)


def _failed(kind: str) -> Callable[[Outbox, str, int], FollowUp | None]:
    def on_failed(row: Outbox, error: str, now: int) -> FollowUp | None:
        audit(f"{kind}_failed", dispute_id=row.dispute_id, at=now, outbox_id=row.id,
              recipient=row.recipient if kind == "webhook_notice" else short(row.recipient),
              notice_type=row.notice_type, error=error[:300])
        log.warning(f"{kind}_failed", extra={"dispute_id": row.dispute_id, "outbox_id": row.id,
                                             "error": error[:200]})
        return None
    return on_failed


def _cancelled(kind: str) -> Callable[[Outbox, str, int], FollowUp | None]:
    def on_cancelled(row: Outbox, reason: str, now: int) -> FollowUp | None:
        audit(f"{kind}_cancelled", dispute_id=row.dispute_id, at=now, outbox_id=row.id,
              notice_type=row.notice_type, reason=reason)
        return None
    return on_cancelled


OBSERVER_NOTICE = Purpose("observer_notice", unwanted=unwanted,
                          on_failed=_failed("observer_notice"),
                          on_cancelled=_cancelled("observer_notice"),
                          on_requeued=nothing_to_undo)
WEBHOOK_NOTICE = Purpose("webhook_notice", lane=WEBHOOKS, unwanted=unwanted,
                         on_failed=_failed("webhook_notice"),
                         on_cancelled=_cancelled("webhook_notice"),
                         on_requeued=nothing_to_undo)
