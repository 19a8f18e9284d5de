"""The one entry point for events the listener hands over from the Mostro node: its info event
(kind 38385, recorded) and the replies addressed to Serbero (kind 14 / 1059, matched to take
requests). Returns what happened as a short string; bad input is logged, never raised."""

from __future__ import annotations

import logging

from nostr_sdk import Filter, Keys

from serbero.errors import EventRejected
from serbero.mostro import info, protocols, take_replies
from serbero.mostro.messages import loads
from serbero.mostro.transport import MAX_EVENT_CHARS

log = logging.getLogger(__name__)


def reply_filters(*, mostro_pubkey: str, serbero_pubkey: str, since: int) -> list[Filter]:
    """What to subscribe to for the node's replies, over every protocol version."""
    return [v.reply_filter(mostro_pubkey, serbero_pubkey, since) for v in protocols.every()]


def node_filters(*, mostro_pubkey: str) -> list[Filter]:
    """The node's info event (addressable: relays keep the newest)."""
    return [info.info_filter(mostro_pubkey)]


def ingest(raw: str, *, signer: Keys, mostro_pubkey: str, now: int) -> str:
    """Apply one raw event from the node's subscriptions."""
    try:
        value = loads(raw, max_chars=MAX_EVENT_CHARS)
        kind = value.get("kind") if isinstance(value, dict) else None
        if kind == info.INFO_KIND:
            node_info = info.parse_info_event(raw, node_pubkey=mostro_pubkey)
            recorded = info.record(node_info, now=now)
            info.warn_if_foreign(node_info, signer.public_key().to_hex())
            return "info_recorded" if recorded else "info_unchanged"
        if kind in protocols.kinds():
            reply = take_replies.ingest_reply(raw, keys=signer, node_pubkey=mostro_pubkey,
                                              now=now)
            return f"rejected:{reply.reason}" if reply.outcome == "rejected" else reply.outcome
        raise EventRejected("wrong_kind", str(kind)[:16])
    except EventRejected as rejected:
        log.warning("mostro_event_rejected", extra={"reason": rejected.reason,
                                                    "detail": rejected.detail[:120]})
        return f"rejected:{rejected.reason}"
