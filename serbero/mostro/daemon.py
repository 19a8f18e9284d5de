"""What the daemon calls into the Mostro layer: the listener's extra subscription and its cheap
check, the actor's one function, the ticker's sweep, and the start-up look at the node's info
event (which warns loudly when the node trusts another Serbero key).

Kept apart from the listener and the workers so that wiring it in costs a few lines there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nostr_sdk import Client, Filter, Keys

from serbero import rejections
from serbero.config import Settings
from serbero.disputes.events import load_verified_event
from serbero.errors import EventRejected
from serbero.followup import NOTHING, FollowUp
from serbero.mostro import inbox, info, protocols, take_timeouts
from serbero.mostro.transport import MAX_EVENT_CHARS

if TYPE_CHECKING:
    from serbero.runtime import Runtime

log = logging.getLogger(__name__)

SUBSCRIPTION_ID = "serbero-mostro"
#: Replies older than this are of no use on (re)subscribing: a take waits seconds, not hours.
REPLY_LOOKBACK_S = 3600
#: Seconds between sweeps for unanswered takes and possible silent takes.
SWEEP_PERIOD_S = 5


def subscription_filters(settings: Settings, now: int) -> list[Filter]:
    """The node's info event and everything it may send Serbero."""
    return [*inbox.node_filters(mostro_pubkey=settings.mostro_pubkey),
            *inbox.reply_filters(mostro_pubkey=settings.mostro_pubkey,
                                 serbero_pubkey=settings.serbero_pubkey,
                                 since=now - REPLY_LOOKBACK_S)]


def precheck(raw: str, settings: Settings) -> str:
    """The listener's check before enqueueing: a verified event of a kind this layer reads,
    from the node or addressed to Serbero. Returns the event id; raises EventRejected."""
    event = load_verified_event(raw, max_bytes=MAX_EVENT_CHARS)
    kind, author = event.kind().as_u16(), event.author().to_hex()
    if kind == info.INFO_KIND and author == settings.mostro_pubkey:
        return event.id().to_hex()
    recipients = {t.content() for t in event.tags() if t.kind() == "p"}
    version = protocols.by_kind(kind)
    if version is not None and settings.serbero_pubkey in recipients:
        if version.author_is_sender and author != settings.mostro_pubkey:
            raise EventRejected("wrong_sender", author)
        return event.id().to_hex()
    raise EventRejected("not_for_mostro_layer", f"kind {kind}")


@dataclass(frozen=True, kw_only=True)
class Handled(FollowUp):
    """What an event from the node did (`info_recorded`, `taken`, `rejected:<reason>`, …)."""

    outcome: str


def handle(raw: str, *, settings: Settings, signer: Keys, now: int) -> Handled:
    """The actor's one call: record an info event or apply a reply; never raises on input."""
    outcome = inbox.ingest(raw, signer=signer, mostro_pubkey=settings.mostro_pubkey, now=now)
    if outcome.startswith("rejected:"):
        rejections.count(settings, "mostro_" + outcome.removeprefix("rejected:"))
    return Handled(outcome=outcome)


def sweep(rt: Runtime, now: int) -> FollowUp:
    """The ticker job: time out unanswered takes, report possible silent takes. Writes no
    outbox rows, so nothing follows."""
    take_timeouts.expire_due(now)
    take_timeouts.scan_silent_takes(rt.settings.serbero_pubkey, now)
    return NOTHING


async def startup_check(client: Client, settings: Settings, now: int) -> info.NodeProfile:
    """Read the node's announcement from the relays, record it, and log what Serbero will do;
    a foreign `serbero` key is logged as an error and the profile refuses every take."""
    node, _ = await info.fetch(client, settings.mostro_pubkey)
    if node is None:
        log.warning("mostro_node_info_missing: no kind-38385 event from the node on the relays",
                    extra={"node": settings.mostro_pubkey})
    else:
        info.record(node, now=now)
        info.warn_if_foreign(node, settings.serbero_pubkey)
    profile = info.current_profile(settings)
    log.info("mostro_profile", extra={"transport": profile.transport, "pow_bits": profile.pow_bits,
                                      "serbero_key": profile.serbero_status,
                                      "refusal": profile.refusal or "none"})
    return profile
