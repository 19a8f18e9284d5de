"""Sending `admin-take-dispute`: the pending request (with its random `request_id`) and the
signed event are written in one transaction, the event goes out through the outbox, and the
reply is matched later, in any worker (`take_replies`), or the request times out
(`take_timeouts`).

Also the outbox hooks of the `mostro_take` purpose: mostrod silently drops a request whose inner
timestamp is more than 10 s old, so a request that could not be published promptly is not
retried; it is recorded as unsent and a new take must be asked for.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from nostr_sdk import Event, Keys

from serbero import clock, outbox
from serbero.config import Settings
from serbero.db.connection import database
from serbero.db.models import Dispute, Outbox, audit
from serbero.followup import FollowUp
from serbero.mostro import protocols, signing, transport
from serbero.mostro.info import NodeProfile
from serbero.mostro.messages import take_dispute_request
from serbero.mostro.models import TakeRequest
from serbero.nostr.keys import short
from serbero.outbox import NOSTR, NewRow
from serbero.outbox.purposes import Purpose, each, per_row

log = logging.getLogger(__name__)

#: The outbox purpose of take requests.
PURPOSE_NAME = "mostro_take"
PENDING, TAKEN, REFUSED = "pending", "taken", "refused"
TIMED_OUT, UNSENT, POSSIBLE_SILENT_TAKE = "timed_out", "unsent", "possible_silent_take"
#: A reply may still arrive after these; it then records the take that did happen.
ANSWERABLE = (PENDING, TIMED_OUT, UNSENT, POSSIBLE_SILENT_TAKE)
#: How long to wait for `admin-took-dispute` or `cant-do` when nothing is configured.
DEFAULT_TIMEOUT_S = 30
#: mostrod drops a request whose inner `created_at` is older than this (app.rs freshness).
NODE_FRESHNESS_S = 10
#: A request older than this once mined is re-mined: the rest of the 10 s is for publishing.
FRESH_AFTER_MINING_S = 4
MINING_ATTEMPTS = 3
#: Relays may delete the request after this; it is worthless seconds after it was sent anyway.
REQUEST_EXPIRATION_S = 3600
#: Before the outbox tick re-sends a fresh row whose publish job may have been lost.
FIRST_RETRY_AFTER_S = 2
#: `request_id` stays below 2^53 so that every JSON reader (mobile is Dart/JS) keeps it exact.
REQUEST_ID_LIMIT = 2**53 - 1


@dataclass(frozen=True, kw_only=True)
class TakeStart(FollowUp):
    """`outcome` is `sent`, or why no request was sent; its follow-up publishes the request."""

    outcome: str
    request_id: int | None = None


def _refused(dispute_id: str, reason: str, now: int) -> TakeStart:
    audit("take_not_attempted", dispute_id=dispute_id, at=now, reason=reason)
    log.warning("take_not_attempted", extra={"dispute_id": dispute_id, "reason": reason})
    return TakeStart(outcome=reason)


def begin(dispute_id: str, *, signer: Keys, node_pubkey: str, profile: NodeProfile,
          now: int, timeout_s: int = DEFAULT_TIMEOUT_S) -> TakeStart:
    """Ask Mostro to assign `dispute_id` to Serbero. Refuses when the node trusts another
    Serbero key, when the dispute is unknown or no longer `initiated` (a read solver can take
    nothing else), or when a request for it is already pending."""
    if not profile.can_take:
        return _refused(dispute_id, profile.refusal or "refused", now)
    status = Dispute.select(Dispute.dispute_status).where(
        Dispute.dispute_id == dispute_id).scalar()
    if status is None:
        return _refused(dispute_id, "unknown_dispute", now)
    if status != "initiated":
        return _refused(dispute_id, "not_takeable", now)
    request_id = secrets.randbelow(REQUEST_ID_LIMIT) + 1
    message = take_dispute_request(dispute_id, request_id=request_id,
                                   version=protocols.get(profile.transport).number)
    content = signing.encode(message, transport=profile.transport)
    # Mined before the transaction: proof of work may take seconds, a write lock must not.
    event = _fresh_request(content, profile, signer, node_pubkey, now)
    if event is None:
        return _refused(dispute_id, "pow_too_slow", now)
    event_id = event.id().to_hex()
    with database.atomic():
        inserted = (TakeRequest.insert(
            request_id=request_id, dispute_id=dispute_id, status=PENDING,
            transport=profile.transport, pow_bits=profile.pow_bits, event_id=event_id,
            created_at=now, deadline_at=now + timeout_s,
        ).on_conflict_ignore().as_rowcount().execute()) == 1
        if not inserted:
            log.info("take_already_pending", extra={"dispute_id": dispute_id})
            return TakeStart(outcome="already_pending")
        queued = outbox.write([NewRow(channel=NOSTR, purpose=PURPOSE_NAME, recipient=node_pubkey,
                                      message_id=event_id, body=event.as_json(),
                                      republish_after_s=FIRST_RETRY_AFTER_S,
                                      dispute_id=dispute_id)], now=now)
        (TakeRequest.update(outbox_id=queued[0].row_id)
         .where(TakeRequest.request_id == request_id).execute())
        audit("take_requested", dispute_id=dispute_id, at=now, request_id=request_id,
              transport=profile.transport, pow_bits=profile.pow_bits, event_id=event_id)
    log.info("take_requested", extra={"dispute_id": dispute_id, "request_id": request_id,
                                      "transport": profile.transport, "node": short(node_pubkey)})
    return TakeStart(outcome="sent", request_id=request_id, publish=tuple(queued),
                     signed={event_id: event})


def _fresh_request(content: str, profile: NodeProfile, signer: Keys, node_pubkey: str,
                   now: int) -> Event | None:
    """The request, mined, and still fresh when mining ends. The timestamp is part of what is
    mined, so a slow attempt is redone stamped as far ahead as it took (mostrod bounds only
    how old a request may be); None when mining keeps outlasting the margin."""
    stamp = now
    for _ in range(MINING_ATTEMPTS):
        started = clock.now()
        event = transport.wrap(content, transport=profile.transport, sender=signer,
                               recipient=node_pubkey, now=stamp, pow_bits=profile.pow_bits,
                               expiration=stamp + REQUEST_EXPIRATION_S)
        finished = clock.now()
        if finished - stamp <= FRESH_AFTER_MINING_S:
            return event
        log.warning("take_request_mined_too_slowly", extra={
            "pow_bits": profile.pow_bits, "mining_s": finished - started})
        stamp = finished + (finished - started)
    return None


def latest(dispute_id: str) -> TakeRequest | None:
    """The newest take request for a dispute."""
    return (TakeRequest.select().where(TakeRequest.dispute_id == dispute_id)
            .order_by(TakeRequest.id.desc()).first())


def _request_of(row: Outbox) -> TakeRequest | None:
    return TakeRequest.get_or_none(TakeRequest.outbox_id == row.id)


def still_wanted(row: Outbox) -> str | None:
    """None to publish; otherwise why this request is worthless now."""
    request = _request_of(row)
    if request is not None and request.status != PENDING:
        return f"take is {request.status}"
    if clock.now() - row.created_at > NODE_FRESHNESS_S:
        return f"stale: mostrod ignores requests older than {NODE_FRESHNESS_S}s"
    return None


def on_sent(row: Outbox, now: int, settings: Settings) -> None:
    (TakeRequest.update(sent_at=now)
     .where((TakeRequest.outbox_id == row.id) & TakeRequest.sent_at.is_null()).execute())


def _unsent(row: Outbox, reason: str, now: int) -> None:
    request = _request_of(row)
    if request is None:
        return
    moved = (TakeRequest.update(status=UNSENT, reason=reason[:200], resolved_at=now)
             .where((TakeRequest.id == request.id) & (TakeRequest.status == PENDING)).execute())
    if moved:
        audit("take_unsent", dispute_id=request.dispute_id, at=now,
              request_id=request.request_id, reason=reason[:200])
        log.warning("take_unsent", extra={"dispute_id": request.dispute_id,
                                          "request_id": request.request_id})


def on_failed(row: Outbox, error: str, now: int) -> FollowUp | None:
    _unsent(row, error, now)
    return None


def on_cancelled(row: Outbox, reason: str, now: int) -> FollowUp | None:
    _unsent(row, reason, now)
    return None


PURPOSE = Purpose(PURPOSE_NAME, unwanted=per_row(still_wanted), on_sent=each(on_sent),
                  on_failed=on_failed, on_cancelled=on_cancelled)
