"""Matching what Mostro sends Serbero to the take requests it answers.

A reply counts only when its `request_id` names a stored request *and* its dispute id is that
request's dispute, so a relay replaying an old reply (for this dispute or another) can never
satisfy a new request (the original's GAP-30). Every refusal is a typed reason, a log line and
no state change; state moves are conditional UPDATEs, so a reply delivered twice, or to two
workers, is applied once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nostr_sdk import Keys

from serbero.db.connection import database
from serbero.db.models import audit
from serbero.errors import EventRejected
from serbero.mostro import replies, signing, transport
from serbero.mostro.models import TakeRequest
from serbero.mostro.replies import CantDo, ClosedByUsers, TextDM, TookDispute
from serbero.mostro.take import ANSWERABLE, REFUSED, TAKEN

log = logging.getLogger(__name__)

#: A reply dated this long before its request cannot be its answer.
REPLY_SKEW_S = 60


@dataclass(frozen=True)
class ReplyOutcome:
    """`outcome`: taken, refused, closed_by_users, text_dm, duplicate or rejected."""

    outcome: str
    reason: str | None = None
    dispute_id: str | None = None
    request_id: int | None = None


def _reject(reason: str, detail: str = "", *, dispute_id: str | None = None,
            request_id: int | None = None) -> ReplyOutcome:
    log.warning("mostro_reply_rejected", extra={
        "reason": reason, "detail": detail[:120], "dispute_id": dispute_id,
        "request_id": request_id})
    return ReplyOutcome("rejected", reason, dispute_id, request_id)


def ingest_reply(raw: str, *, keys: Keys, node_pubkey: str, now: int) -> ReplyOutcome:
    """Open, check and apply one kind-14 / kind-1059 event addressed to Serbero."""
    try:
        opened = transport.open_event(raw, keys=keys, now=now, expected_sender=node_pubkey)
        content = signing.decode(opened.content, transport=opened.transport,
                                 author=opened.author)
        reply = replies.solver_reply(content.message)
    except EventRejected as rejected:
        return _reject(rejected.reason, rejected.detail)
    if isinstance(reply, TookDispute | CantDo):
        return _answer(reply, opened, now)
    if isinstance(reply, ClosedByUsers):
        return _closed(reply, now)
    assert isinstance(reply, TextDM)
    log.info("mostro_dm_received", extra={"id": reply.id, "event_id": opened.event_id})
    return ReplyOutcome("text_dm", dispute_id=reply.id)


def _answer(reply: TookDispute | CantDo, opened: transport.Opened, now: int) -> ReplyOutcome:
    if reply.request_id is None:
        return _reject("missing_request_id", opened.event_id)
    request = TakeRequest.get_or_none(TakeRequest.request_id == reply.request_id)
    if request is None:
        return _reject("unknown_request", opened.event_id, request_id=reply.request_id)
    ids = {"dispute_id": request.dispute_id, "request_id": request.request_id}
    replied_for = reply.dispute_id if isinstance(reply, TookDispute) else reply.id
    if replied_for != request.dispute_id:
        return _reject("dispute_mismatch", f"reply names {replied_for}", **ids)
    if opened.created_at < request.created_at - REPLY_SKEW_S:
        return _reject("reply_predates_request", opened.event_id, **ids)
    if isinstance(reply, CantDo):
        return _refused(request, reply, opened, now)
    info = reply.info
    if info.buyer_pubkey is None or info.seller_pubkey is None:
        return _reject("incomplete_solver_info", "buyer or seller pubkey missing", **ids)
    if info.buyer_pubkey == info.seller_pubkey:
        return _reject("identical_parties", "buyer and seller trade keys are equal", **ids)
    with database.atomic():
        won = (TakeRequest.update(status=TAKEN, resolved_at=now, reply_event_id=opened.event_id,
                                  order_id=info.order_id, buyer_pubkey=info.buyer_pubkey,
                                  seller_pubkey=info.seller_pubkey, reason=None)
               .where((TakeRequest.id == request.id) & TakeRequest.status.in_(ANSWERABLE))
               .execute()) == 1
        if won:
            audit("take_accepted", dispute_id=request.dispute_id, at=now,
                  request_id=request.request_id, order_id=info.order_id,
                  was=request.status, event_id=opened.event_id)
    if not won:
        return ReplyOutcome("duplicate", None, request.dispute_id, request.request_id)
    log.info("take_accepted", extra={**ids, "order_id": info.order_id, "was": request.status})
    return ReplyOutcome(TAKEN, None, request.dispute_id, request.request_id)


def _refused(request: TakeRequest, reply: CantDo, opened: transport.Opened,
             now: int) -> ReplyOutcome:
    ids = {"dispute_id": request.dispute_id, "request_id": request.request_id}
    reason = reply.reason or "unspecified"
    with database.atomic():
        won = (TakeRequest.update(status=REFUSED, resolved_at=now, reason=reason,
                                  reply_event_id=opened.event_id)
               .where((TakeRequest.id == request.id) & TakeRequest.status.in_(ANSWERABLE))
               .execute()) == 1
        if won:
            audit("take_refused", dispute_id=request.dispute_id, at=now,
                  request_id=request.request_id, reason=reason, event_id=opened.event_id)
    if not won:
        return ReplyOutcome("duplicate", reason, request.dispute_id, request.request_id)
    log.warning("take_refused", extra={**ids, "reason": reason})
    return ReplyOutcome(REFUSED, reason, request.dispute_id, request.request_id)


def _closed(reply: ClosedByUsers, now: int) -> ReplyOutcome:
    """mostrod #945: the parties closed a dispute Serbero had taken."""
    query = TakeRequest.select().where((TakeRequest.dispute_id == reply.dispute_id)
                                       & (TakeRequest.status == TAKEN))
    request = query.first()
    if request is None:
        return _reject("unknown_dispute", reply.dispute_id)
    if reply.order_id is not None and request.order_id not in (None, reply.order_id):
        return _reject("order_mismatch", reply.order_id, dispute_id=reply.dispute_id)
    with database.atomic():
        won = (TakeRequest.update(closed_status=reply.status)
               .where((TakeRequest.id == request.id) & TakeRequest.closed_status.is_null())
               .execute()) == 1
        if won:
            audit("dispute_closed_by_users", dispute_id=reply.dispute_id, at=now,
                  status=reply.status, request_id=request.request_id)
    if won:
        log.info("dispute_closed_by_users", extra={"dispute_id": reply.dispute_id,
                                                    "status": reply.status})
    return ReplyOutcome("closed_by_users" if won else "duplicate", reply.status,
                        reply.dispute_id, request.request_id)
