"""Opening a session once Serbero's take landed (START-11, START-13), in one transaction: the
trade pubkeys and the channels' public keys stored (GAP-2), the dispute marked taken by Serbero,
the channels followed, the solvers told Serbero is mediating (not "taken by unknown"), and the
opening questions written to both parties behind the identity line — or, when the opening verdict
was a summary, the summary job armed (GAP-1: the summary is delivered on this path too).
"""

from __future__ import annotations

import logging

from nostr_sdk import Keys

from serbero.config import Settings
from serbero.db.connection import database
from serbero.db.models import Dispute, audit
from serbero.disputes import lifecycle, notify
from serbero.disputes import notices as notice_types
from serbero.followup import NOTHING, FollowUp
from serbero.mediation import (
    catalog,
    escalate,
    guard,
    outbound,
    replies,
    sessions,
    subscriptions,
    timers,
)
from serbero.mediation.models import MediationSession
from serbero.mostro.chat import derive_chat_keys
from serbero.mostro.models import TakeRequest
from serbero.reasoning.types import ASK, BUYER, SELLER

log = logging.getLogger(__name__)


def open_session(session: MediationSession, accepted: TakeRequest, *, settings: Settings,
                 signer: Keys, now: int) -> FollowUp:
    """Open a session in `taking` whose take request Mostro accepted; a repeat is a no-op."""
    secret = signer.secret_key().to_hex()
    buyer = derive_chat_keys(secret, accepted.buyer_pubkey)
    seller = derive_chat_keys(secret, accepted.seller_pubkey)
    asking = session.opening_decision == ASK
    with database.atomic():
        target = sessions.AWAITING if asking else sessions.SUMMARY_PENDING
        if not sessions.transition(
                session, target, at=now, reason="taken", order_id=accepted.order_id,
                buyer_trade_pubkey=accepted.buyer_pubkey,
                seller_trade_pubkey=accepted.seller_pubkey,
                buyer_sign_pubkey=buyer.sign_pubkey, seller_sign_pubkey=seller.sign_pubkey,
                buyer_conv_pubkey=buyer.conv_pubkey, seller_conv_pubkey=seller.conv_pubkey,
                opened_at=now):
            return NOTHING
        audit("take_dispute_issued", dispute_id=session.dispute_id,
              session_id=session.session_id, at=now, outcome="success",
              request_id=accepted.request_id, **session.pinned())
        audit("session_opened", dispute_id=session.dispute_id, session_id=session.session_id,
              at=now, **session.pinned())
        lifecycle.transition(session.dispute_id, lifecycle.TAKEN,
                             trigger=f"serbero_take:{accepted.request_id}", at=now,
                             from_states=lifecycle.FIRST_TAKE_FROM,
                             assigned_solver=settings.serbero_pubkey, next_renotify_at=None,
                             next_notify_at=None)
        subscriptions.follow(session, now)
        mediating = notify.fan_out(Dispute.get_by_id(session.dispute_id), notice_types.MEDIATING,
                                   settings=settings, signer=signer, now=now)
        if asking:
            work = _ask(session, signer=signer, now=now)
        else:
            work = timers.arm(session.session_id, timers.SUMMARIZE, now)
    log.info("mediation_session_opened", extra={
        "session_id": session.session_id, "dispute_id": session.dispute_id,
        "decision": session.opening_decision})
    return mediating.then(work)


def _ask(session: MediationSession, *, signer: Keys, now: int) -> FollowUp:
    """The opening round: each party their own question, identity line first (OUT-1)."""
    drafts = outbound.drafts(session, catalog.OPENING_QUESTION,
                             {BUYER: session.opening_buyer_text,
                              SELLER: session.opening_seller_text})
    hit = outbound.refusal(drafts)
    if hit is not None:
        return escalate.hand_off(session, guard.TRIGGER, signer=signer, now=now)
    written = outbound.write(session, drafts, signer=signer, now=now)
    return written.then(replies.asked(session, now=now))
