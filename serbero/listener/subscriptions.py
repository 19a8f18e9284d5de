"""The listener's subscriptions, as data: each names its relay subscription, the filters it
asks for, the cheap check an event must pass before it is handed over, and the target (a job)
it is handed to. A new subscription is one entry in `deployment()`.

Checks are pure and cheap (parse, verify, is it addressed to this deployment?); the real work
happens in the worker that gets the event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nostr_sdk import Filter, Kind, PublicKey, Timestamp

from serbero import clock
from serbero.config import Settings
from serbero.disputes.events import DISPUTE_KIND, load_verified_event, parse_dispute_event
from serbero.errors import EventRejected
from serbero.mostro import daemon as mostro_daemon
from serbero.mostro.transport import MAX_EVENT_CHARS

#: Targets: the jobs events are handed to (the wiring maps each to an actor).
INGEST_DISPUTE_EVENT = "ingest_dispute_event"
INGEST_MOSTRO_EVENT = "ingest_mostro_event"
INGEST_SOLVER_REPLY = "ingest_solver_reply"

DISPUTES = "serbero-disputes"
MOSTRO = mostro_daemon.SUBSCRIPTION_ID
SOLVERS = "serbero-solvers"
#: The kind of a v2 `send-dm` a solver's client sends.
SOLVER_DM_KIND = 14
#: Replies older than this are not read on (re)subscribing: an acknowledgement is about now.
SOLVER_REPLY_LOOKBACK_S = 3600


@dataclass(frozen=True)
class Checked:
    """An event that passed its subscription's check. `created_at` is set for subscriptions that
    follow the resume cursor; `facts` are logged when the event is handed over."""

    event_id: str
    created_at: int | None = None
    facts: dict[str, Any] | None = None


@dataclass(frozen=True)
class Subscription:
    name: str
    #: Filters, given where to start (`since`, from the resume cursor when it `resumes`).
    filters: Callable[[int], list[Filter]]
    #: Cheap check of a raw event; raises EventRejected.
    check: Callable[[str], Checked]
    target: str
    #: Follows the resume cursor, and the periodic reconcile re-reads it.
    resumes: bool = False
    #: Log line and counter prefix of a rejected event.
    rejected_as: str = "event_rejected"
    counter_prefix: str = ""
    #: Log line of an event handed over (with its `facts`), if any.
    received_as: str | None = None
    #: Run once in the background after subscribing (it gets the relay client).
    at_start: Callable[[Any], Awaitable[Any]] | None = None


def disputes(settings: Settings) -> Subscription:
    """The Mostro node's dispute events (kind 38386)."""
    mostro = PublicKey.parse(settings.mostro_pubkey)

    def filters(since: int) -> list[Filter]:
        return [Filter().kind(Kind(DISPUTE_KIND)).author(mostro).since(Timestamp.from_secs(since))]

    def check(raw: str) -> Checked:
        event = parse_dispute_event(raw, mostro_pubkey=settings.mostro_pubkey, now=clock.now())
        return Checked(event.event_id, event.created_at, {
            "dispute_id": event.dispute_id, "status": event.status, "event_id": event.event_id})

    return Subscription(DISPUTES, filters, check, INGEST_DISPUTE_EVENT, resumes=True,
                        rejected_as="dispute_event_rejected",
                        received_as="dispute event received")


def mostro_node(settings: Settings) -> Subscription:
    """The node's info event and everything it sends Serbero; at start-up the listener reads
    the node's announcement once (a foreign `serbero` key is logged loudly there)."""
    return Subscription(
        MOSTRO, lambda since: mostro_daemon.subscription_filters(settings, clock.now()),
        lambda raw: Checked(mostro_daemon.precheck(raw, settings)), INGEST_MOSTRO_EVENT,
        rejected_as="mostro_event_rejected", counter_prefix="mostro_",
        at_start=lambda client: mostro_daemon.startup_check(client, settings, clock.now()))


def solver_replies(settings: Settings) -> Subscription | None:
    """What configured solvers send Serbero as v2 `send-dm`s (kind 14 from their own keys):
    acknowledgements (issue 9). Their NIP-17 gift wraps come on the node's subscription, which
    already selects every wrap to Serbero by `#p`. None without a solver key to follow."""
    keys = sorted({s.hex_pubkey for s in settings.solvers if s.hex_pubkey})
    if not keys:
        return None
    authors = [PublicKey.parse(k) for k in keys]
    me = PublicKey.parse(settings.serbero_pubkey)

    def filters(since: int) -> list[Filter]:
        start = Timestamp.from_secs(max(0, clock.now() - SOLVER_REPLY_LOOKBACK_S))
        return [Filter().kind(Kind(SOLVER_DM_KIND)).authors(authors).pubkey(me).since(start)]

    def check(raw: str) -> Checked:
        event = load_verified_event(raw, max_bytes=MAX_EVENT_CHARS)
        author = event.author().to_hex()
        if event.kind().as_u16() != SOLVER_DM_KIND or author not in keys:
            raise EventRejected("not_a_solver", f"kind {event.kind().as_u16()}")
        if settings.serbero_pubkey not in {t.content() for t in event.tags() if t.kind() == "p"}:
            raise EventRejected("not_addressed_to_us", "p tag names another key")
        return Checked(event.id().to_hex())

    return Subscription(SOLVERS, filters, check, INGEST_SOLVER_REPLY,
                        rejected_as="solver_reply_rejected", counter_prefix="solver_reply_")


def deployment(settings: Settings) -> list[Subscription]:
    """Every subscription the listener holds from start to stop."""
    replies = solver_replies(settings)
    return [disputes(settings), mostro_node(settings), *([replies] if replies else [])]
