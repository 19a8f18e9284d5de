"""The chat channels the listener follows for mediation: one wanted subscription per opened
session, with a filter per party by the channel's author pub(K_sign), never by `#p` (anyone can
flood a `p` tag). Kept in the database (`serbero.wanted_subscriptions`), so a restarted
listener holds them again; `reconcile` makes the rows match the sessions that need them.
"""

from __future__ import annotations

import logging

from serbero.mediation import sessions
from serbero.mediation.models import MediationSession
from serbero.mostro.chat import author_filter
from serbero.wanted_subscriptions import WantedSubscription, drop, want

log = logging.getLogger(__name__)

#: The actor the listener hands chat events to (serbero_workers/actors.py, EVENT_TARGETS).
TARGET = "ingest_chat_event"
PREFIX = "med:"
#: How far before the session opened the subscription starts: parties may write at once.
LOOKBACK_S = 600


def name(session_id: str) -> str:
    return f"{PREFIX}{session_id}"


def follow(session: MediationSession, now: int) -> None:
    """Ask the listener to hold the session's two channels (safe to repeat)."""
    since = max(0, (session.opened_at or now) - LOOKBACK_S)
    want(name(session.session_id),
         [author_filter(session.buyer_sign_pubkey, since),
          author_filter(session.seller_sign_pubkey, since)], target=TARGET, now=now)


def unfollow(session: MediationSession) -> None:
    if drop(name(session.session_id)):
        log.info("mediation_channels_dropped", extra={"session_id": session.session_id})


def reconcile(now: int) -> tuple[int, int]:
    """Want every followed session's channels, drop the rest; return (added, dropped)."""
    held = {row.name for row in WantedSubscription.select(WantedSubscription.name)
            .where(WantedSubscription.name.startswith(PREFIX))}
    needed = {name(s.session_id): s for s in sessions.followed()}
    for missing in needed.keys() - held:
        follow(needed[missing], now)
    stale = held - needed.keys()
    for extra in stale:
        drop(extra)
    return len(needed.keys() - held), len(stale)
